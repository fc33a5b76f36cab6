"""How fast files go through the real Add Assets page, against a direct upload to the same storage: prints JSON.

    .venv/bin/python bench/upload.py [--files 1500] [--repeat 1] [--modes embedded,s3] [--threads 8]

For each storage mode, in one invocation:

* portal: a fresh portal (temp PORTAL_VAR_DIR, SQLite there unless DATABASE_URL is set, migrated, one
  user + organization + project) served by gunicorn started from the Procfile's `web` line (127.0.0.1,
  a free port, 2 workers x 8 threads, access log to a file, plus `--config bench/gunicorn_bench.py`
  for SQL query counting) and a Celery worker from the Procfile's `worker` line consuming only the
  `default` queue (upload verification; media processing stays out of the measurement). Headless
  Debian Chromium logs in, opens Add Assets (Image, view name, capture date, Continue) and drops the
  files on the drop zone in drops of 100, each after the previous drop's rows are registered. The
  clock runs from the first drop until the database holds every file as at least Uploaded (the
  worker checked the stored object).
* baseline: the same files uploaded straight to the same storage by 8 threads of this machine
  (S3: boto3 put_object to the same moto endpoint and bucket; embedded: requests.put to URLs signed
  by assets.storage.presign in a process with the same settings, served by the same gunicorn).

Modes: `embedded` (the portal's own signed-upload endpoint, files under var/media) and `s3` (moto's
S3 server in its own process on 127.0.0.1). Each measurement is repeated --repeat times on a fresh
portal and the medians are reported; every run is kept under "runs". With the defaults (1,500 files
of 1 MiB, once per mode) the whole invocation takes several minutes on 2 cores and needs about
4.5 GB free in the temp folder. The JSON goes to stdout and to bench/results/upload-<timestamp>.json;
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from load_helpers import busiest_cores  # noqa: E402

MiB = 1024 * 1024
# The portal's defaults (portal/settings.py), or what the environment sets for it: files from this size go in parts.
MULTIPART_THRESHOLD = int(os.environ.get("UPLOAD_MULTIPART_THRESHOLD", 64 * MiB))
PART_SIZE = int(os.environ.get("UPLOAD_PART_SIZE", 16 * MiB))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
AT_LEAST_UPLOADED = ("uploaded", "pending_preprocessing", "preprocessing", "recovering_preprocessing", "ready")
BROWSER_ACTIVE = ("hashing", "registering", "queued", "uploading")
PROJECT_NAME = "Bench project"
VIEW_NAME = "Bench view, camera 1"

_started = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- input files -------------------------------------------------------------------------------

def make_jpeg(rng: random.Random, total_size: int) -> bytes:
    """A real, distinct JPEG (random noise) padded to exactly `total_size` bytes with COM segments.

    The padding sits right after the JFIF APP0 segment, where decoders skip it by its length; the file
    still starts with the JPEG magic bytes and decodes with Pillow.
    """
    from PIL import Image

    width, height = 256, 192
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=85)
    data = buffer.getvalue()
    insert_at = 2
    if data[2:4] == b"\xff\xe0":
        insert_at = 4 + int.from_bytes(data[4:6], "big")
    padding = total_size - len(data)
    if padding < 4:
        raise ValueError(f"{total_size} bytes is too small for the noise JPEG ({len(data)} bytes)")
    segments = -(-padding // (65533 + 4))
    payload = padding - 4 * segments
    parts = []
    for index in range(segments):
        size = payload // segments + (1 if index < payload % segments else 0)
        parts.append(b"\xff\xfe" + (size + 2).to_bytes(2, "big") + rng.randbytes(size))
    result = data[:insert_at] + b"".join(parts) + data[insert_at:]
    assert len(result) == total_size
    return result


def generate_files(folder: Path, count: int, size: int, seed: int) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    manifest = []
    for index in range(count):
        data = make_jpeg(rng, size)
        path = folder / f"bench_{index:04}.jpg"
        path.write_bytes(data)
        manifest.append({"path": str(path), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    from PIL import Image

    with Image.open(manifest[0]["path"]) as check:
        check.load()
    if len({entry["sha256"] for entry in manifest}) != count:
        raise RuntimeError("generated files are not distinct")
    return manifest


# An MP4's first box (ftyp, brand isom): verification identifies the file as a video from its first bytes.
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def generate_video(folder: Path, size: int) -> list[dict]:
    """One file of `size` bytes that starts like an MP4 and is sparse after its head (it takes no disk space, and
    every reader gets zeros from the page cache): for the multipart path, where the bytes' content does not matter."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench_video.mp4"
    with open(path, "wb") as out:
        out.write(MP4_HEAD)
        out.truncate(size)
    digest = hashlib.sha256()
    with open(path, "rb") as stored:
        while chunk := stored.read(8 * MiB):
            digest.update(chunk)
    return [{"path": str(path), "size": size, "sha256": digest.hexdigest(), "content_type": "video/mp4"}]


# --- processes -----------------------------------------------------------------------------------

def procfile_command(kind: str, env: dict[str, str]) -> list[str]:
    """The Procfile's command for `kind`, with ${NAME:-default} and $NAME expanded from `env`."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            command = line.split(":", 1)[1].strip()
            break
    else:
        raise RuntimeError(f"No {kind}: line in the Procfile")
    command = re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1)) or (m.group(2) or ""), command)
    command = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), command)
    argv = shlex.split(command)
    if (VENV_BIN / argv[0]).exists():
        argv[0] = str(VENV_BIN / argv[0])
    return argv


class Service:
    """A subprocess of the benchmark (its own process group), logging to a file, stopped with bounded waits."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> str:
        how = "already exited"
        if self.alive():
            how = "SIGTERM"
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                how = "SIGKILL after timeout"
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(10)
        # Children left behind by a killed parent (pool processes) are in the same group.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        return how

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_for(check, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # the thing waited for is not up yet
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"Timed out after {timeout:.0f} s waiting for {what} ({last_error})")


def http_ok(url: str) -> bool:
    import requests

    return requests.get(url, timeout=5).status_code == 200


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- measuring processes --------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Samples CPU time and RSS of groups of processes (a root and its descendants) with psutil."""

    # Who belongs to a group is looked up again at most this often (each lookup walks /proc, which costs more
    # than reading the members' counters: done on every sample it made the bench itself load the machine).
    MEMBERS_REFRESH_SECONDS = 2.0

    def __init__(self, groups: dict, interval: float = 0.25):
        super().__init__(daemon=True)
        self.groups = groups  # name -> callable returning a list of psutil.Process
        self.interval = interval
        self.members: dict[str, list] = {}
        self.members_at = float("-inf")
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.peak_rss: dict[str, int] = {name: 0 for name in groups}
        self.peak_processes: dict[str, int] = {name: 0 for name in groups}
        self.rss_series: dict[str, list[int]] = {name: [] for name in groups}
        # (time, CPU seconds the group has used since the first sample) per sample: its busiest stretch.
        self.cpu_series: dict[str, list[tuple[float, float]]] = {name: [] for name in groups}
        self.samples = 0
        self._stop = threading.Event()

    def sample(self) -> None:
        if time.monotonic() - self.members_at >= self.MEMBERS_REFRESH_SECONDS:
            self.members_at = time.monotonic()
            for name, members in self.groups.items():
                try:
                    self.members[name] = members()
                except Exception:
                    self.members[name] = []
        for name in self.groups:
            processes = self.members[name]
            rss = 0
            alive = 0
            for process in processes:
                try:
                    with process.oneshot():
                        times = process.cpu_times()
                        memory = process.memory_info().rss
                except Exception:  # exited between listing and reading
                    continue
                cpu = times.user + times.system
                key = (name, process.pid)
                if key not in self.first:
                    self.first[key] = cpu if self.samples == 0 else 0.0
                self.last[key] = cpu
                rss += memory
                alive += 1
            self.peak_rss[name] = max(self.peak_rss[name], rss)
            self.rss_series[name].append(rss)
            used = sum(self.last[key] - self.first[key] for key in self.last if key[0] == name)
            self.cpu_series[name].append((time.monotonic(), used))
            self.peak_processes[name] = max(self.peak_processes[name], alive)
        self.samples += 1

    def start(self) -> None:
        import psutil

        self.machine_first = psutil.cpu_times()
        self.sample()
        super().start()

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def finish(self) -> dict:
        import psutil

        self._stop.set()
        self.join(5)
        self.sample()
        machine_last = psutil.cpu_times()
        result = {}
        for name in self.groups:
            cpu = sum(self.last[key] - self.first[key] for key in self.last if key[0] == name)
            series = self.rss_series[name]
            quarters = [series[len(series) * q // 4:len(series) * (q + 1) // 4] for q in range(4)]
            result[name] = {
                "cpu_seconds": round(cpu, 2),
                "peak_rss_mb": round(self.peak_rss[name] / 1e6, 1),
                # The first sample, taken as the window opened (the processes idle, warmed up by the set-up).
                "rss_mb_at_start": round(series[0] / 1e6, 1) if series else None,
                # Peak RSS in each quarter of the window: flat when it does not grow with the files that went through.
                "peak_rss_mb_by_quarter": [round(max(part) / 1e6, 1) if part else None for part in quarters],
                "processes": self.peak_processes[name],
                "busiest_5s_cores": busiest_cores(self.cpu_series[name], 5.0),
            }
        busy = _busy(machine_last) - _busy(self.machine_first)
        total = busy + _idle(machine_last) - _idle(self.machine_first)
        # "chromium <kind>" groups are parts of "chromium": counted once.
        measured = sum(entry["cpu_seconds"] for name, entry in result.items() if " " not in name)
        result["machine"] = {
            "busy_fraction": round(busy / total, 3) if total else None,
            "busy_cpu_seconds": round(busy, 1),
            # CPU used by processes outside the groups above (other work on the machine, the kernel's own threads).
            "other_cpu_seconds": round(max(busy - measured, 0), 1),
        }
        result["samples"] = self.samples
        return result


def _busy(times) -> float:
    # guest time is already part of user time on Linux: not added twice.
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


def _idle(times) -> float:
    return times.idle + getattr(times, "iowait", 0.0)


def wait_for_quiet_machine(limit: float, threshold: float = 0.25) -> dict:
    """Waits (at most `limit` seconds) until the machine's CPUs are mostly idle for 2 s; returns what it saw."""
    import psutil

    started = time.monotonic()
    busy = 1.0
    while True:
        busy = psutil.cpu_percent(interval=2.0) / 100
        waited = time.monotonic() - started
        if busy <= threshold or waited >= limit:
            break
        log(f"  machine busy ({busy:.0%} of its CPUs, other work?); waiting for it to quieten ({waited:.0f}/{limit:.0f} s)")
    return {"busy_fraction_before_start": round(busy, 2), "waited_seconds": round(time.monotonic() - started, 1),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def tree(pid: int):
    import psutil

    def members():
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]

    return members


def chromium_processes(kind: str | None = None):
    """Chromium's processes; with `kind`, only those of one type (browser, renderer, gpu-process, utility:<service>)."""
    import psutil

    def process_kind(process) -> str:
        arguments = process.cmdline()
        kind_argument = next((a.split("=", 1)[1] for a in arguments if a.startswith("--type=")), "browser")
        if kind_argument == "utility":
            service = next((a.split("=", 1)[1] for a in arguments if a.startswith("--utility-sub-type=")), "")
            kind_argument = f"utility:{service.rsplit('.', 1)[-1]}"
        return kind_argument

    def members():
        found = [p for p in psutil.Process().children(recursive=True) if p.name().startswith("chrom")]
        if kind is None:
            return found
        chosen = []
        for process in found:
            try:
                # A process keeps its type: read its command line once, not on every sample.
                identity = (process.pid, process.create_time())
                if identity not in _CHROMIUM_KIND:
                    _CHROMIUM_KIND[identity] = process_kind(process)
                if _CHROMIUM_KIND[identity] == kind:
                    chosen.append(process)
            except psutil.Error:
                continue
        return chosen

    return members


_CHROMIUM_KIND: dict[tuple[int, float], str] = {}
CHROMIUM_KINDS = ("browser", "renderer", "gpu-process", "utility:NetworkService", "utility:StorageService")


def playwright_driver():
    import psutil

    def members():
        return [p for p in psutil.Process().children(recursive=True) if p.name().startswith("node")]

    return members


def this_process():
    import psutil

    me = psutil.Process()
    return lambda: [me]


# --- the portal's database -----------------------------------------------------------------------

class StatusProbe:
    """Counts a project's assets per status straight from the database (SQLite file or DATABASE_URL)."""

    def __init__(self, database_url: str, var_dir: Path, project_id: str):
        self.database_url = database_url
        if database_url:
            import psycopg

            self.connection = psycopg.connect(database_url, autocommit=True)
            self.project = project_id
            self.sql = "SELECT status, COUNT(*) FROM assets_asset WHERE project_id = %s GROUP BY status"
        else:
            self.connection = sqlite3.connect(var_dir / "db.sqlite3", timeout=30)
            self.project = uuid.UUID(project_id).hex  # Django keeps UUIDs as 32 hex digits in SQLite
            self.sql = "SELECT status, COUNT(*) FROM assets_asset WHERE project_id = ? GROUP BY status"

    def counts(self) -> dict[str, int]:
        return dict(self.connection.execute(self.sql, (self.project,)).fetchall())

    def close(self) -> None:
        self.connection.close()


# --- access log and query counts ------------------------------------------------------------------

_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) [^"]*" (?P<status>\d{3}) \S+ ".*" ".*" (?P<seconds>[\d.]+)\s*$')


def read_access_log(path: Path, start: int, end: int, files: int) -> dict:
    from querycount import route

    with open(path, "rb") as handle:
        handle.seek(start)
        text = handle.read(end - start).decode(errors="replace")
    routes: dict[str, dict] = {}
    statuses: dict[str, int] = {}
    total = static = storage = 0
    for line in text.splitlines():
        match = _ACCESS.search(line)
        if not match:
            continue
        path_only = match["target"].split("?", 1)[0]
        if path_only.startswith("/static/"):
            static += 1
            continue
        total += 1
        key = f"{match['method']} {route(path_only)}"
        storage += path_only.startswith("/storage/")
        entry = routes.setdefault(key, {"requests": 0, "server_seconds": 0.0})
        entry["requests"] += 1
        entry["server_seconds"] += float(match["seconds"])
        statuses[match["status"]] = statuses.get(match["status"], 0) + 1
    for entry in routes.values():
        entry["per_file"] = round(entry["requests"] / files, 3)
        entry["mean_ms"] = round(1000 * entry["server_seconds"] / entry["requests"], 1)
        entry["server_seconds"] = round(entry["server_seconds"], 2)
    return {
        "requests": total,
        "requests_per_file": round(total / files, 3),
        "requests_per_file_without_storage_endpoint": round((total - storage) / files, 3),
        "static_requests_excluded": static,
        "status_codes": dict(sorted(statuses.items())),
        "by_route": dict(sorted(routes.items(), key=lambda item: -item[1]["requests"])),
    }


_MOTO = re.compile(r'"(?:\x1b\[[0-9;]*m)*(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[^"]*" (?:\x1b\[[0-9;]*m)*(?P<status>\d{3})')


class LogWindow:
    """The part of a growing log file written between start() and stop()."""

    def __init__(self, path: Path | None):
        self.path = path
        self.begin = self.end = 0

    def start(self) -> None:
        self.begin = self.path.stat().st_size if self.path else 0

    def stop(self) -> None:
        self.end = self.path.stat().st_size if self.path else 0

    def text(self) -> str:
        if not self.path:
            return ""
        with open(self.path, "rb") as handle:
            handle.seek(self.begin)
            return handle.read(self.end - self.begin).decode(errors="replace")


def read_moto_log(window: LogWindow, files: int) -> dict | None:
    """Requests moto's S3 server logged during a window, by method (OPTIONS are the browsers' CORS preflights)."""
    if not window.path:
        return None
    methods: dict[str, int] = {}
    for line in window.text().splitlines():
        match = _MOTO.search(line)
        if match:
            methods[match["method"]] = methods.get(match["method"], 0) + 1
    total = sum(methods.values())
    return {
        "requests": total,
        "requests_per_file": round(total / files, 3),
        "by_method_per_file": {m: round(n / files, 3) for m, n in sorted(methods.items())},
    }


def read_query_counts(folder: Path, phase: str, files: int) -> dict:
    result = {}
    for kind in ("web", "worker"):
        queries: dict[str, int] = {}
        units: dict[str, int] = {}
        cpu: dict[str, float] = {}
        gc_runs: dict[str, int] = {}
        gc_seconds = 0.0
        processes = 0
        for path in folder.glob(f"{kind}-*.json"):
            data = json.loads(path.read_text())
            processes += 1
            for key, count in data.get("gc_runs", {}).items():
                if key.startswith(f"{phase} "):
                    generation = key.rpartition(" ")[2]
                    gc_runs[generation] = gc_runs.get(generation, 0) + count
            gc_seconds += sum(seconds for key, seconds in data.get("gc_seconds", {}).items() if key.startswith(f"{phase} "))
            for key, count in data["queries"].items():
                queries[key] = queries.get(key, 0) + count
            for key, count in data["units"].items():
                units[key] = units.get(key, 0) + count
            for key, seconds in data.get("cpu", {}).items():
                cpu[key] = cpu.get(key, 0) + seconds
        prefix = f"{phase} "
        by_unit = {}
        for key in set(queries) | set(units):
            if not key.startswith(prefix):
                continue
            unit = key[len(prefix):]
            count, calls = queries.get(key, 0), units.get(key, 0)
            by_unit[unit] = {
                "queries": count,
                "calls": calls,
                "per_call": round(count / calls, 2) if calls else None,
                "per_file": round(count / files, 3),
                "thread_cpu_seconds": round(cpu.get(key, 0.0), 2),
            }
        total = sum(entry["queries"] for entry in by_unit.values())
        result[kind] = {
            "queries": total,
            "thread_cpu_seconds": round(sum(entry["thread_cpu_seconds"] for entry in by_unit.values()), 2),
            "per_file": round(total / files, 3),
            "processes_reporting": processes,
            "garbage_collector": {"cpu_seconds": round(gc_seconds, 3), "collections_by_generation": dict(sorted(gc_runs.items()))},
            "by_unit": dict(sorted(by_unit.items(), key=lambda item: -item[1]["queries"])),
        }
    return result


# --- one run ---------------------------------------------------------------------------------------

SETUP_CODE = """
import json, os
from django.contrib.auth import get_user_model
from projects import services
user = get_user_model().objects.create_user(
    os.environ["BENCH_USERNAME"], email="bench@example.com", password=os.environ["BENCH_PASSWORD"],
    first_name="Bench", last_name="Runner",
)
organization = services.organization_create(name=os.environ["BENCH_ORGANIZATION"], owner=user)
project = services.project_create(
    organization=organization, created_by=user, name=os.environ["BENCH_PROJECT"],
    description="Created by bench/upload.py.",
)
print("BENCH-SETUP " + json.dumps({"project_id": str(project.pk)}))
"""


def portal_environment(var_dir: Path, work: Path, extra: dict[str, str]) -> dict[str, str]:
    drop = ("PORTAL_ENV", "DEBUG", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE", "PORTAL_VAR_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BENCH_")) and k not in drop}
    env.update(
        PORTAL_VAR_DIR=str(var_dir),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        BENCH_PHASE_FILE=str(work / "phase"),
        BENCH_QUERY_DIR=str(work / "queries"),
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args[:1])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def set_phase(work: Path, phase: str) -> None:
    temporary = work / "phase.tmp"
    temporary.write_text(phase)
    os.replace(temporary, work / "phase")


def run_once(mode: str, run_index: int, manifest: list[dict], options, root: Path) -> dict:
    work = root / f"{mode}-{run_index}"
    var_dir = work / "var"
    (work / "queries").mkdir(parents=True)
    set_phase(work, "setup")
    services: list[Service] = []
    moto = None
    result: dict = {"mode": mode, "run": run_index + 1, "loadavg_at_start": [round(v, 2) for v in os.getloadavg()]}
    try:
        extra: dict[str, str] = {}
        if mode == "s3":
            from tests import s3

            moto_port = free_port()
            moto_server = VENV_BIN / "moto_server"
            argv = [str(moto_server)] if moto_server.exists() else [sys.executable, "-m", "moto.server"]
            moto = Service("moto", [*argv, "-H", "127.0.0.1", "-p", str(moto_port)],
                           {**os.environ, "PYTHONUNBUFFERED": "1"}, work / "moto.log")
            endpoint = f"http://127.0.0.1:{moto_port}"
            wait_for(lambda: port_open(moto_port), 60, "moto's S3 server")
            bucket = s3.create_bucket(endpoint)
            extra = s3.environment(endpoint, bucket)
            result["storage"] = {"kind": "moto S3 server (own process)", "endpoint": endpoint, "bucket": bucket}
        else:
            result["storage"] = {"kind": "embedded (portal's signed-upload endpoint, files under PORTAL_VAR_DIR/media)"}
        env = portal_environment(var_dir, work, extra)
        password = secrets.token_urlsafe(16)
        username = f"bench-{secrets.token_hex(4)}"
        log(f"{mode} run {run_index + 1}: migrating a fresh database in {var_dir}")
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        setup_env = {**env, "BENCH_USERNAME": username, "BENCH_PASSWORD": password,
                     "BENCH_ORGANIZATION": f"Bench {username}", "BENCH_PROJECT": PROJECT_NAME}
        # --no-imports: Django's shell would otherwise announce its automatic model imports.
        output = manage(setup_env, "shell", "--no-imports", "-c", SETUP_CODE)
        project_id = json.loads(output.split("BENCH-SETUP ", 1)[1].splitlines()[0])["project_id"]

        web_port = free_port()
        access_log = work / "access.log"
        access_log.touch()
        service_env = {**env, "BIND_HOST": "127.0.0.1", "PORT": str(web_port), "WEB_CONCURRENCY": "2",
                       "WEB_THREADS": "8", "CELERY_QUEUES": "default",
                       **({"BENCH_WEB_PROFILE": "1"} if options.profile_web else {})}
        web_argv = procfile_command("web", service_env)
        web_argv[web_argv.index("--access-logfile") + 1] = str(access_log)
        web_argv += ["--config", str(BENCH / "gunicorn_bench.py")]
        worker_argv = procfile_command("worker", service_env)
        worker_argv[worker_argv.index("-A") + 1] = "bench.celery_bench"
        web = Service("web", web_argv, service_env, work / "web.log")
        services.append(web)
        worker = Service("worker", worker_argv, service_env, work / "worker.log")
        services.append(worker)
        base_url = f"http://127.0.0.1:{web_port}"
        try:
            wait_for(lambda: http_ok(f"{base_url}/healthz"), 90, "the portal's /healthz")
            wait_for(lambda: "ready" in worker.tail(200), 90, "the Celery worker")
        except TimeoutError:
            raise RuntimeError(f"portal did not start:\n{web.tail()}\n{worker.tail()}") from None
        result["commands"] = {"web": shlex.join(web_argv), "worker": shlex.join(worker_argv)}
        log(f"{mode} run {run_index + 1}: portal on {base_url} (web pid {web.pid}, worker pid {worker.pid})")

        probe = StatusProbe(env.get("DATABASE_URL", ""), var_dir, project_id)
        groups = {"web": tree(web.pid), "worker": tree(worker.pid), "chromium": chromium_processes(),
                  **{f"chromium {kind}": chromium_processes(kind) for kind in CHROMIUM_KINDS},
                  "playwright_driver": playwright_driver(), "bench": this_process()}
        if moto is not None:
            groups["moto"] = tree(moto.pid)
        moto_log = moto.log_path if moto is not None else None
        result["portal"] = browser_run(
            base_url, username, password, manifest, options, probe, groups, access_log, work, moto_log
        )
        probe.close()
        set_phase(work, "baseline")
        time.sleep(0.5)
        result["baseline"] = baseline_run(mode, manifest, options, env, base_url, work, web, moto)
        set_phase(work, "browser-floor")
        time.sleep(0.5)
        result["browser_floor"] = browser_floor_run(mode, manifest, options, env, base_url, work, web, moto)
        set_phase(work, "teardown")
    finally:
        stops = {}
        for service in [*reversed(services), *([moto] if moto is not None else [])]:
            stopping = time.perf_counter()
            how = service.stop(timeout=30 if service is not moto else 15)
            stops[service.name] = f"{how} in {time.perf_counter() - stopping:.1f} s"
        result["stopped"] = stops
    portal = result["portal"]
    files = len(manifest)
    portal["sql_queries"] = read_query_counts(work / "queries", "portal", files)
    result["baseline"]["sql_queries_web"] = read_query_counts(work / "queries", "baseline", files)["web"]["queries"]
    if not options.keep:
        shutil.rmtree(var_dir / "media", ignore_errors=True)
    return result


# --- the browser -------------------------------------------------------------------------------------

STATE_JS = """() => {
  const counts = {};
  let total = 0;
  for (const record of window.portalUploads.records.values()) {
    counts[record.state] = (counts[record.state] || 0) + 1;
    total += 1;
  }
  const alert = document.querySelector('[data-upload-alert]');
  return { total, counts, alert: alert && !alert.hidden ? alert.textContent : null };
}"""

# True once `expected` files are known and none is still hashed or registered, or once the page refused a drop.
REGISTERED_JS = """(expected) => {
  let total = 0, pending = 0;
  for (const record of window.portalUploads.records.values()) {
    total += 1;
    if (record.state === 'hashing' || record.state === 'registering') pending += 1;
  }
  const alert = document.querySelector('[data-upload-alert]');
  return (total >= expected && pending === 0) || (alert && !alert.hidden && total < expected);
}"""

DROP_JS = """(index) => {
  const input = document.getElementById('bench-drop-' + index);
  const transfer = new DataTransfer();
  for (const file of input.files) transfer.items.add(file);
  const now = performance.now();
  document.querySelector('[data-dropzone]').dispatchEvent(
    new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  return now;
}"""

RESOURCES_JS = """(t0) => {
  const groups = {};
  for (const entry of performance.getEntriesByType('resource')) {
    if (entry.startTime < t0) continue;
    const url = new URL(entry.name);
    let kind;
    if (url.pathname.startsWith('/static/')) continue;
    if (url.origin !== location.origin || url.pathname.startsWith('/storage/')) kind = 'storage PUT';
    else kind = url.pathname.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
    (groups[kind] ||= []).push(entry);
  }
  const result = {};
  for (const [kind, list] of Object.entries(groups)) {
    const durations = list.map((e) => e.duration).sort((a, b) => a - b);
    const edges = [];
    for (const e of list) edges.push([e.startTime, 1], [e.startTime + e.duration, -1]);
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let open = 0, most = 0;
    for (const [, step] of edges) { open += step; most = Math.max(most, open); }
    const first = Math.min(...list.map((e) => e.startTime));
    const last = Math.max(...list.map((e) => e.startTime + e.duration));
    const sum = durations.reduce((a, b) => a + b, 0);
    const at = (q) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))];
    result[kind] = {
      count: list.length,
      mean_ms: Math.round(sum / list.length),
      median_ms: Math.round(at(0.5)),
      p95_ms: Math.round(at(0.95)),
      max_concurrent: most,
      mean_concurrent: last > first ? Math.round((sum / (last - first)) * 100) / 100 : null,
      first_start_s: Math.round(first - t0) / 1000,
      last_end_s: Math.round(last - t0) / 1000,
    };
  }
  return result;
}"""

ROWS_JS = """(statuses) => {
  const rows = [...document.querySelectorAll('#file-rows tr[data-asset-id]')];
  return { rows: rows.length, done: rows.filter(row => statuses.includes(row.dataset.status)).length };
}"""


def browser_run(base_url, username, password, manifest, options, probe, groups, access_log, work, moto_log) -> dict:
    from playwright.sync_api import sync_playwright

    files = len(manifest)
    per_drop = options.per_drop
    drops = [manifest[i:i + per_drop] for i in range(0, files, per_drop)]
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.set_default_timeout(60_000)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            chromium_version = browser.version

            page.goto(f"{base_url}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/projects/")
            page.locator("a.project-card", has_text=PROJECT_NAME).first.click()
            page.wait_for_url("**/assets/")
            page.locator(".page-header").get_by_role("link", name="Add Assets").click()
            page.wait_for_selector("#drawer-root .panel-body")
            page.locator("label.choice", has_text="Video" if options.video_bytes else "Image").click()
            page.fill("#id_view_name", VIEW_NAME)
            page.fill("#id_capture_date", "2026-11-20")
            page.locator("[data-continue]").click()
            page.wait_for_selector("[data-dropzone]")
            session_id = page.get_attribute("[data-upload-session]", "data-upload-session")
            # Resource timing of every request the page makes during the run (the default buffer keeps 250).
            page.evaluate("() => performance.setResourceTimingBufferSize(100000)")
            # Counts of htmx's out-of-band swap events (the polled rows), for the notes; listeners only count.
            page.evaluate("""() => { window.__bench = { oobBefore: 0, oobAfter: 0, polls: 0, polledRows: 0 };
                document.addEventListener('htmx:oobBeforeSwap', () => window.__bench.oobBefore++);
                document.addEventListener('htmx:oobAfterSwap', () => window.__bench.oobAfter++);
                document.addEventListener('htmx:afterRequest', (event) => {
                  window.__bench.polls++;
                  const text = event.detail.xhr?.responseText || '';
                  window.__bench.polledRows += (text.match(/<tr id="asset-/g) || []).length; }); }""")

            # The files of every drop are chosen before the clock starts: only the drops are timed.
            staged = time.perf_counter()
            page.evaluate(
                """(count) => { for (let i = 0; i < count; i++) { const input = document.createElement('input');
                   input.type = 'file'; input.multiple = true; input.hidden = true; input.id = 'bench-drop-' + i;
                   document.body.append(input); } }""",
                len(drops),
            )
            for index, drop in enumerate(drops):
                page.set_input_files(f"#bench-drop-{index}", [entry["path"] for entry in drop])
            staging_seconds = time.perf_counter() - staged
            log(f"  browser ready (session {session_id}); {len(drops)} drops of up to {per_drop} staged in {staging_seconds:.1f} s")

            quiet = wait_for_quiet_machine(options.quiet_wait)
            set_phase(work, "portal")
            sampler = Sampler(groups)
            log_start = access_log.stat().st_size
            moto_window = LogWindow(moto_log)
            moto_window.start()
            profiler = None
            if options.profile:
                profiler = context.new_cdp_session(page)
                profiler.send("Profiler.enable")
                profiler.send("Profiler.setSamplingInterval", {"interval": 1000})
                profiler.send("Profiler.start")
            if options.trace:
                browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
            sampler.start()
            t0 = time.perf_counter()
            drop_times = []
            states_seen = {"max_queued": 0, "max_verifying": 0}
            page_t0 = None
            for index, drop in enumerate(drops):
                dispatched = time.perf_counter() - t0
                dropped = page.evaluate(DROP_JS, index)
                page_t0 = dropped if page_t0 is None else page_t0
                expected = sum(len(d) for d in drops[: index + 1])
                # Polled inside the page (every 50 ms), not by a round trip through Playwright each time.
                try:
                    page.wait_for_function(REGISTERED_JS, arg=expected, polling=50, timeout=options.timeout * 1000)
                except Exception:
                    raise TimeoutError(f"drop {index + 1} not registered in {options.timeout} s: {page.evaluate(STATE_JS)}") from None
                state = page.evaluate(STATE_JS)
                if state["alert"] and state["total"] < expected:
                    raise RuntimeError(f"drop {index + 1} was refused: {state['alert']}")
                registered = time.perf_counter() - t0
                _track(states_seen, state["counts"])
                drop_times.append({"dropped_at": round(dispatched, 2), "registered_at": round(registered, 2),
                                   "drop_to_registered_seconds": round(registered - dispatched, 2)})
                log(f"  drop {index + 1}/{len(drops)} registered at {registered:.1f} s ({state['counts']})")

            all_registered = time.perf_counter() - t0
            all_sent = None
            done = errors_db = 0
            last_log = last_page = 0.0
            deadline = time.monotonic() + options.timeout
            timed_out = False
            while True:
                counts = probe.counts()
                done = sum(counts.get(status, 0) for status in AT_LEAST_UPLOADED)
                errors_db = counts.get("upload_error", 0)
                now = time.perf_counter() - t0
                if all_sent is None and now - last_page >= 0.5:
                    last_page = now
                    state = page.evaluate(STATE_JS)
                    _track(states_seen, state["counts"])
                    if not any(state["counts"].get(s, 0) for s in BROWSER_ACTIVE):
                        all_sent = now
                if done + errors_db >= files:
                    break
                if now - last_log >= 5:
                    last_log = now
                    log(f"  {now:6.1f} s: {done} uploaded, {errors_db} failed, db {counts}")
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                time.sleep(0.1)
            total = time.perf_counter() - t0
            log_end = access_log.stat().st_size
            moto_window.stop()
            usage = sampler.finish()
            profile = profiler.send("Profiler.stop")["profile"] if profiler is not None else None
            trace = summarize_trace(browser.stop_tracing()) if options.trace else None
            set_phase(work, "after-portal")
            if all_sent is None:
                state = page.evaluate(STATE_JS)
                if not any(state["counts"].get(s, 0) for s in BROWSER_ACTIVE):
                    all_sent = total
            log(f"  {mode_label(groups)}: {done} files uploaded in {total:.1f} s ({errors_db} failed)")

            # Not timed: how long the page's rows (polled every UPLOAD_POLL_INTERVAL_MS) take to show it too.
            rows_settled = None
            try:
                page.wait_for_function(
                    f"() => {{ const r = ({ROWS_JS})({json.dumps(list(AT_LEAST_UPLOADED))}); return r.rows === {files} && r.done === {files}; }}",
                    timeout=30_000, polling=200,
                )
                rows_settled = round(time.perf_counter() - t0 - total, 2)
            except Exception:
                pass
            rows = page.evaluate(ROWS_JS, list(AT_LEAST_UPLOADED))
            resources = page.evaluate(RESOURCES_JS, page_t0)
            htmx_events = page.evaluate("() => window.__bench")
            final_state = page.evaluate(STATE_JS)
        finally:
            browser.close()

    size = sum(entry["size"] for entry in manifest)
    return {
        "total_seconds": round(total, 2),
        "files_per_second": round(done / total, 1),
        "mb_per_second": round(size * done / files / total / 1e6, 1),
        "files_uploaded": done,
        "files_failed": errors_db,
        "timed_out": timed_out,
        "timeline_seconds": {
            "all_drops_registered": round(all_registered, 2),
            "all_bytes_sent_browser": round(all_sent, 2) if all_sent is not None else None,
            "all_verified_uploaded": round(total, 2),
            "page_rows_show_uploaded_after_end": rows_settled,
        },
        "drops": _drop_summary(drop_times),
        "browser_states_max": states_seen,
        "browser_requests": resources,
        "htmx_events": {
            "requests_done": htmx_events["polls"],
            "oob_before_swap": htmx_events["oobBefore"],
            "oob_after_swap": htmx_events["oobAfter"],
            "rows_carried": htmx_events["polledRows"],
            "note": "from page start to the end of the run: file rows the polls carried (rows_carried), the "
                    "out-of-band swaps they made (summary and poller) and the htmx:oobAfterSwap events they fired",
        },
        "browser_final_states": final_state["counts"],
        "page_rows": rows,
        "javascript_errors": errors[:10],
        "requests": read_access_log(access_log, log_start, log_end, files),
        "moto_requests": read_moto_log(moto_window, files),
        "processes": usage,
        "web_cpu_ms_per_file": round(1000 * usage["web"]["cpu_seconds"] / files, 2),
        "staging_seconds_not_timed": round(staging_seconds, 2),
        "machine_before_start": quiet,
        "chromium": chromium_version,
        **({"page_main_thread_profile": summarize_profile(profile)} if profile else {}),
        **({"chromium_trace": trace} if trace else {}),
    }


def mode_label(groups) -> str:
    return "s3" if "moto" in groups else "embedded"


def _track(seen: dict, counts: dict) -> None:
    seen["max_queued"] = max(seen["max_queued"], counts.get("queued", 0))
    seen["max_verifying"] = max(seen["max_verifying"], counts.get("verifying", 0))


def _drop_summary(drop_times: list[dict]) -> dict:
    spans = [d["drop_to_registered_seconds"] for d in drop_times]
    return {
        "count": len(drop_times),
        "drop_to_registered_seconds_median": round(statistics.median(spans), 2),
        "drop_to_registered_seconds_max": round(max(spans), 2),
        "drop_to_registered_seconds_sum": round(sum(spans), 2),
        "each": drop_times,
    }


# --- Chromium's timeline trace (--trace) ---------------------------------------------------------------

TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "blink", "loading"]


def summarize_trace(raw: bytes, top: int = 12) -> dict:
    """Wall time of Chromium's traced events per thread and event name (inclusive: nested events count in both).

    Complete events ("X") and begin/end pairs ("B"/"E") are summed; threads are named from the trace's
    metadata, so the renderer's main thread shows as CrRendererMain and workers as DedicatedWorker thread.
    """
    events = json.loads(raw)
    events = events.get("traceEvents", events) if isinstance(events, dict) else events
    names: dict[tuple, str] = {}
    for event in events:
        if event.get("ph") == "M" and event.get("name") == "thread_name":
            names[(event["pid"], event["tid"])] = event["args"]["name"]
    sums: dict[str, dict[str, float]] = {}
    open_events: dict[tuple, list] = {}
    for event in events:
        phase = event.get("ph")
        thread = names.get((event.get("pid"), event.get("tid")), f"thread {event.get('tid')}")
        if phase == "X":
            duration = event.get("dur", 0) / 1e6
        elif phase == "B":
            open_events.setdefault((event.get("pid"), event.get("tid")), []).append(event)
            continue
        elif phase == "E":
            stack = open_events.get((event.get("pid"), event.get("tid")))
            if not stack:
                continue
            begin = stack.pop()
            duration = (event["ts"] - begin["ts"]) / 1e6
            event = begin
        else:
            continue
        per_thread = sums.setdefault(thread, {})
        per_thread[event["name"]] = per_thread.get(event["name"], 0.0) + duration
    result = {}
    for thread, per_name in sums.items():
        ranked = sorted(per_name.items(), key=lambda item: -item[1])[:top]
        if ranked and ranked[0][1] >= 0.05:
            result[thread] = {name: round(seconds, 2) for name, seconds in ranked}
    return dict(sorted(result.items(), key=lambda item: -max(item[1].values())))


# --- the page's CPU profile (--profile) ---------------------------------------------------------------

_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _vlq(segment: str) -> list[int]:
    values, shift, value = [], 0, 0
    for char in segment:
        digit = _BASE64[char]
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
        else:
            values.append(-(value >> 1) if value & 1 else value >> 1)
            value = shift = 0
    return values


class SourceMaps:
    """Maps positions in the served (minified) bundle back to source files and lines, from var/static's source maps."""

    def __init__(self):
        self.maps: dict[str, tuple | None] = {}

    def _load(self, url: str):
        if url in self.maps:
            return self.maps[url]
        self.maps[url] = None
        path = url.split("/static/", 1)[1].split("?", 1)[0] if "/static/" in url else None
        if not path:
            return None
        script = ROOT / "var" / "static" / path
        try:
            tail = script.read_text(errors="replace")[-300:]
            name = re.search(r"sourceMappingURL=(\S+)", tail)[1]
            data = json.loads((script.parent / name).read_text())
        except (OSError, TypeError, ValueError):
            return None
        lines, source, src_line, src_col, name_index = [], 0, 0, 0, 0
        for line in data["mappings"].split(";"):
            column, segments = 0, []
            for segment in filter(None, line.split(",")):
                values = _vlq(segment)
                column += values[0]
                if len(values) >= 4:
                    source += values[1]
                    src_line += values[2]
                    src_col += values[3]
                    if len(values) >= 5:
                        name_index += values[4]
                    segments.append((column, source, src_line))
            lines.append(segments)
        self.maps[url] = (data["sources"], lines)
        return self.maps[url]

    def where(self, url: str, line: int, column: int) -> str:
        loaded = self._load(url) if url else None
        if not loaded:
            return url.rsplit("/", 1)[-1] if url else ""
        sources, lines = loaded
        segments = lines[line] if 0 <= line < len(lines) else []
        best = None
        for segment in segments:
            if segment[0] > column:
                break
            best = segment
        if best is None:
            return url.rsplit("/", 1)[-1]
        source = re.sub(r"^(\.\./)+", "", sources[best[1]])
        return f"{source}:{best[2] + 1}"


def summarize_profile(profile: dict, top: int = 15) -> dict:
    """Self and inclusive time of the page's main thread per function (source-mapped) and per source file."""
    maps = SourceMaps()
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {}
    for node in profile["nodes"]:
        for child in node.get("children", []):
            parent[child] = node["id"]
    labels = {}
    files = {}
    for node_id, node in nodes.items():
        frame = node["callFrame"]
        name = frame.get("functionName") or "(anonymous)"
        if not frame.get("url"):
            labels[node_id] = files[node_id] = name if name.startswith("(") else f"{name} (native)"
            continue
        where = maps.where(frame["url"], frame.get("lineNumber", 0), frame.get("columnNumber", 0))
        labels[node_id] = f"{name} @ {where}"
        source = where.rsplit(":", 1)[0]
        package = re.match(r"node_modules/((?:@[^/]+/)?[^/]+)", source)
        files[node_id] = f"npm {package[1]}" if package else source
    samples, deltas = profile.get("samples", []), profile.get("timeDeltas", [])
    self_ms: dict[str, float] = {}
    inclusive_ms: dict[str, float] = {}
    by_file: dict[str, float] = {}
    total = 0.0
    for index, node_id in enumerate(samples):
        ms = (deltas[index + 1] if index + 1 < len(deltas) else 0) / 1000
        total += ms
        self_ms[labels[node_id]] = self_ms.get(labels[node_id], 0) + ms
        by_file[files[node_id]] = by_file.get(files[node_id], 0) + ms
        seen = set()
        current = node_id
        while current is not None:
            label = labels[current]
            if label not in seen:
                seen.add(label)
                inclusive_ms[label] = inclusive_ms.get(label, 0) + ms
            current = parent.get(current)

    def table(counter: dict, skip=()) -> list:
        rows = sorted(((k, v) for k, v in counter.items() if k not in skip), key=lambda item: -item[1])[:top]
        return [{"what": k, "seconds": round(v / 1000, 2), "share": round(v / total, 3)} for k, v in rows]

    idle = self_ms.get("(idle)", 0)
    return {
        "sampled_seconds": round(total / 1000, 1),
        "busy_seconds": round((total - idle) / 1000, 1),
        "self_by_source": table(by_file, skip=("(idle)",)),
        "self_by_function": table(self_ms, skip=("(idle)",)),
        "inclusive_by_function": table(inclusive_ms, skip=("(idle)", "(root)", "(program)")),
    }


# --- the baseline ----------------------------------------------------------------------------------

def baseline_run(mode, manifest, options, env, base_url, work, web, moto) -> dict:
    job = {
        "mode": mode, "threads": options.threads, "base_url": base_url, "manifest": manifest,
        "prefix": f"bench-baseline/{uuid.uuid4().hex[:8]}",
        # The child sets itself up (imports, Django), says so in `ready`, and starts uploading once `go` exists.
        "ready": str(work / "baseline-ready"), "go": str(work / "baseline-go"),
    }
    if mode == "s3":
        job["endpoint"] = env["AWS_S3_ENDPOINT_URL"]
        job["bucket"] = env["AWS_STORAGE_BUCKET_NAME"]
    job_path = work / "baseline-job.json"
    job_path.write_text(json.dumps(job))
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--baseline-worker", str(job_path)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    groups = {"web": tree(web.pid), "baseline_client": tree(process.pid)}
    if moto is not None:
        groups["moto"] = tree(moto.pid)
    try:
        wait_for(lambda: os.path.exists(job["ready"]) or process.poll() is not None, 120, "the baseline's set-up", 0.02)
    except TimeoutError:
        process.kill()
        raise
    quiet = wait_for_quiet_machine(options.quiet_wait)
    sampler = Sampler(groups)
    moto_window = LogWindow(moto.log_path if moto is not None else None)
    moto_window.start()
    access_log = work / "access.log"
    log_start = access_log.stat().st_size
    sampler.start()
    Path(job["go"]).touch()
    try:
        stdout, stderr = process.communicate(timeout=options.timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)
        raise RuntimeError(f"the {mode} baseline took more than {options.timeout} s") from None
    usage = sampler.finish()
    moto_window.stop()
    if process.returncode:
        raise RuntimeError(f"the {mode} baseline failed:\n{stderr[-4000:]}")
    figures = json.loads(stdout)
    figures["processes"] = usage
    figures["machine_before_start"] = quiet
    files = len(manifest)
    figures["requests_to_portal_per_file"] = read_access_log(access_log, log_start, access_log.stat().st_size, files)[
        "requests_per_file"]
    figures["moto_requests"] = read_moto_log(moto_window, files)
    log(f"  baseline {mode}: {figures['files_uploaded']} files in {figures['total_seconds']:.1f} s")
    return figures


def baseline_worker(job_path: str) -> None:
    """Runs in a child process with the mode's portal environment: uploads the files straight to storage."""
    job = json.loads(Path(job_path).read_text())
    manifest = job["manifest"]
    threads = job["threads"]
    local = threading.local()
    if job["mode"] == "s3":
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        from tests import s3

        import boto3

        # tests/s3.client's configuration, with a connection pool as large as the threads.
        client = boto3.client(
            "s3", endpoint_url=job["endpoint"], region_name=s3.REGION, aws_access_key_id=s3.ACCESS_KEY,
            aws_secret_access_key=s3.SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required", response_checksum_validation="when_required",
                          max_pool_connections=threads * 2,
                          # moto assembles a completed multipart upload of gigabytes before it answers.
                          read_timeout=900),
        )
        method = (f"boto3 put_object ({threads} threads, one client) to the same moto endpoint and bucket, "
                  "with ContentType and the precomputed ChecksumSHA256 like the browser's signed PUT; files from "
                  "UPLOAD_MULTIPART_THRESHOLD on with upload_file in parts of UPLOAD_PART_SIZE, as many parts at once "
                  "as threads")

        def upload(index: int) -> int:
            entry = manifest[index]
            if entry["size"] >= MULTIPART_THRESHOLD:
                # In parts of the portal's part size, `threads` at a time (boto3's managed transfer).
                config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=PART_SIZE,
                                        max_concurrency=threads)
                client.upload_file(entry["path"], job["bucket"], f"{job['prefix']}/{index:04}.mp4",
                                   ExtraArgs={"ContentType": entry.get("content_type", "video/mp4")}, Config=config)
                return entry["size"]
            data = Path(entry["path"]).read_bytes()
            client.put_object(
                Bucket=job["bucket"], Key=f"{job['prefix']}/{index:04}.jpg", Body=data, ContentType="image/jpeg",
                ChecksumSHA256=base64.b64encode(bytes.fromhex(entry["sha256"])).decode(),
            )
            return len(data)
    else:
        import django
        import requests

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        django.setup()
        from assets import storage

        hold_keys([f"{job['prefix']}/{index:04}.jpg" for index in range(len(manifest))], manifest)
        method = (f"requests.put ({threads} threads, one keep-alive session each) to URLs signed in this process by "
                  "assets.storage.presign('put', key, size, sha256, content_type) with the portal's settings, "
                  "served by the same gunicorn (the embedded storage has no S3 API); sha256 precomputed")

        def upload(index: int) -> int:
            entry = manifest[index]
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            signed = storage.presign("put", f"{job['prefix']}/{index:04}.jpg", size=entry["size"],
                                     sha256=entry["sha256"], content_type="image/jpeg")
            data = Path(entry["path"]).read_bytes()
            response = session.put(job["base_url"] + signed["url"], data=data, headers=signed["headers"], timeout=120)
            if response.status_code != 200:
                raise RuntimeError(f"PUT answered {response.status_code}: {response.text[:300]}")
            return len(data)

    Path(job["ready"]).touch()
    while not os.path.exists(job["go"]):
        time.sleep(0.005)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        sizes = list(pool.map(upload, range(len(manifest))))
    total = time.perf_counter() - started
    print(json.dumps({
        "method": method,
        "threads": threads,
        "total_seconds": round(total, 2),
        "files_uploaded": len(sizes),
        "files_per_second": round(len(sizes) / total, 1),
        "mb_per_second": round(sum(sizes) / total / 1e6, 1),
    }))


# --- browser floor: the same browser, no portal -------------------------------------------------------

FLOOR_JS = """async ({ signed, concurrency }) => {
  const files = [];
  for (const input of document.querySelectorAll('input[data-floor]')) files.push(...input.files);
  // One task per single PUT, one per part of a file sent in parts; `concurrency` requests at a time in all.
  const tasks = [];
  const etags = files.map(() => []);
  files.forEach((file, index) => {
    const entry = signed[index];
    if (entry.parts) entry.parts.forEach((part, n) => tasks.push({ index, n, part }));
    else tasks.push({ index, put: entry });
  });
  let next = 0, failed = 0;
  const started = performance.now();
  async function lane() {
    while (next < tasks.length) {
      const task = tasks[next++];
      const file = files[task.index];
      if (task.put) {
        const response = await fetch(task.put.url, { method: 'PUT', body: file, headers: task.put.headers });
        if (!response.ok) failed += 1;
        continue;
      }
      const { url, headers, start, end } = task.part;
      const response = await fetch(url, { method: 'PUT', body: file.slice(start, end), headers });
      if (!response.ok) { failed += 1; continue; }
      const entry = signed[task.index];
      const tags = etags[task.index];
      tags[task.n] = response.headers.get('ETag');
      if (tags.filter(Boolean).length === entry.parts.length) {
        const body = '<CompleteMultipartUpload>' + tags.map((etag, n) =>
          `<Part><PartNumber>${n + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('') + '</CompleteMultipartUpload>';
        const done = await fetch(entry.complete.url, { method: 'POST', body, headers: entry.complete.headers });
        if (!done.ok) failed += 1;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { seconds: (performance.now() - started) / 1000, files: files.length, failed };
}"""


def browser_floor_run(mode, manifest, options, env, base_url, work, web, moto) -> dict:
    """The same Chromium PUTs the same files to the same storage with plain fetch, 6 at a time, through URLs
    presigned beforehand: no hashing, no register/complete, no rows. What any browser upload costs here."""
    from playwright.sync_api import sync_playwright

    job_path = work / "floor-job.json"
    job_path.write_text(json.dumps({"manifest": manifest, "prefix": f"bench-floor/{uuid.uuid4().hex[:8]}"}))
    signing = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--sign-worker", str(job_path)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    if signing.returncode:
        raise RuntimeError(f"signing the browser floor's URLs failed:\n{signing.stderr[-3000:]}")
    signed = json.loads(signing.stdout)
    def absolute(transfer: dict) -> None:
        transfer["url"] = transfer["url"] if transfer["url"].startswith("http") else base_url + transfer["url"]

    for entry in signed:
        for transfer in [entry] if "url" in entry else [*entry["parts"], entry["complete"]]:
            absolute(transfer)
    per_input = options.per_drop
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            # A page of the portal's origin, as the upload page is (same-origin PUTs in embedded mode).
            page.goto(f"{base_url}/accounts/login/")
            count = -(-len(manifest) // per_input)
            page.evaluate(
                """(count) => { for (let i = 0; i < count; i++) { const input = document.createElement('input');
                   input.type = 'file'; input.multiple = true; input.hidden = true; input.dataset.floor = i;
                   document.body.append(input); } }""",
                count,
            )
            for index in range(count):
                chunk = manifest[index * per_input:(index + 1) * per_input]
                page.set_input_files(f'input[data-floor="{index}"]', [entry["path"] for entry in chunk])
            groups = {"web": tree(web.pid), "chromium": chromium_processes()}
            if moto is not None:
                groups["moto"] = tree(moto.pid)
            quiet = wait_for_quiet_machine(options.quiet_wait)
            sampler = Sampler(groups)
            sampler.start()
            started = time.perf_counter()
            outcome = page.evaluate(FLOOR_JS, {"signed": signed, "concurrency": 6})
            total = time.perf_counter() - started
            usage = sampler.finish()
        finally:
            browser.close()
    if outcome["failed"]:
        raise RuntimeError(f"the browser floor had {outcome['failed']} failed PUTs")
    size = sum(entry["size"] for entry in manifest)
    log(f"  browser floor {mode}: {outcome['files']} files in {total:.1f} s")
    return {
        "method": "the same headless Chromium, a page of the portal's origin, fetch PUT of each File to a URL presigned "
                  "beforehand by assets.storage.presign (same headers as the portal's single PUT), 6 at a time; "
                  "no hashing, no portal requests, no rows. A file from UPLOAD_MULTIPART_THRESHOLD on goes in parts of "
                  "UPLOAD_PART_SIZE (upload started by storage.multipart_start and every part URL and the completion "
                  "presigned before the clock), 6 part PUTs at a time, then the completion POST",
        "total_seconds": round(total, 2),
        "files_per_second": round(len(manifest) / total, 1),
        "mb_per_second": round(size / total / 1e6, 1),
        "processes": usage,
        "machine_before_start": quiet,
    }


def hold_keys(keys: list[str], manifest: list[dict]) -> None:
    """The embedded endpoint takes bytes only for a file still Uploading under exactly that key (docs/SECURITY.md):
    the baseline's and the floor's keys get such files, in an organization of their own with no project (the run's
    clock counts the project's files only). Called before the clock starts; S3 (moto) needs none."""
    from assets import storage
    from assets.models import Asset
    from projects.models import Organization

    if not storage.shares_portal_address():
        return
    organization = Organization.objects.create(name=f"Bench direct uploads {uuid.uuid4().hex[:6]}")
    Asset.objects.bulk_create([
        Asset(organization=organization, name=key.rpartition("/")[2], original_filename=key.rpartition("/")[2],
              asset_type=Asset.Type.IMAGE, source=Asset.Source.FILE, size=entry["size"], sha256=entry["sha256"],
              content_type="image/jpeg", storage_key=key, status=Asset.Status.UPLOADING)
        for key, entry in zip(keys, manifest)
    ], batch_size=500)


def sign_worker(job_path: str) -> None:
    """Runs in a child process with the mode's portal environment: prints presigned PUTs for the browser floor."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from assets import storage

    from django.conf import settings

    job = json.loads(Path(job_path).read_text())

    def signed(index: int, entry: dict) -> dict:
        if entry["size"] < settings.UPLOAD_MULTIPART_THRESHOLD:
            return storage.presign("put", f"{job['prefix']}/{index:04}.jpg", size=entry["size"], sha256=entry["sha256"],
                                   content_type="image/jpeg")
        key = f"{job['prefix']}/{index:04}.mp4"
        upload_id = storage.multipart_start(key)
        part = settings.UPLOAD_PART_SIZE
        parts = []
        for number, start in enumerate(range(0, entry["size"], part), start=1):
            end = min(start + part, entry["size"])
            parts.append({**storage.presign("upload_part", key, size=end - start, upload_id=upload_id, part_number=number),
                          "start": start, "end": end})
        return {"parts": parts, "complete": storage.presign("complete_multipart", key, upload_id=upload_id)}

    hold_keys([f"{job['prefix']}/{index:04}.jpg" for index in range(len(job["manifest"]))], job["manifest"])
    print(json.dumps([signed(index, entry) for index, entry in enumerate(job["manifest"])]))


# --- summary -----------------------------------------------------------------------------------------

def median_of(values: list):
    """The median of numbers, recursively through dicts; other values are taken from the first run."""
    if all(isinstance(v, dict) for v in values):
        keys = list(dict.fromkeys(k for v in values for k in v))
        return {k: median_of([v[k] for v in values if k in v]) for k in keys}
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and values:
        middle = statistics.median(values)
        return round(middle, 3) if isinstance(middle, float) else middle
    return values[0]


def summarize(mode: str, runs: list[dict], files: int) -> dict:
    def pick(run):
        portal, baseline = run["portal"], run["baseline"]
        usage = portal["processes"]
        return {
            "portal": {
                "total_seconds": portal["total_seconds"],
                "files_per_second": portal["files_per_second"],
                "mb_per_second": portal["mb_per_second"],
                "files_uploaded": portal["files_uploaded"],
                "files_failed": portal["files_failed"],
                "requests_per_file": portal["requests"]["requests_per_file"],
                "requests_per_file_without_storage_endpoint": portal["requests"]["requests_per_file_without_storage_endpoint"],
                "sql_queries_per_file": {
                    "web": portal["sql_queries"]["web"]["per_file"],
                    "worker": portal["sql_queries"]["worker"]["per_file"],
                },
                "garbage_collector_cpu_seconds": {
                    "web": portal["sql_queries"]["web"]["garbage_collector"]["cpu_seconds"],
                    "worker": portal["sql_queries"]["worker"]["garbage_collector"]["cpu_seconds"],
                },
                "rss_mb": {
                    name: {"at_start": usage[name].get("rss_mb_at_start"), "peak": usage[name]["peak_rss_mb"],
                           "growth": round(usage[name]["peak_rss_mb"] - (usage[name].get("rss_mb_at_start") or 0), 1)}
                    for name in ("web", "worker", "chromium") if name in usage
                },
                "web_processes": {
                    "cpu_seconds": usage["web"]["cpu_seconds"],
                    "cpu_ms_per_file": portal["web_cpu_ms_per_file"],
                    "request_threads_cpu_seconds": portal["sql_queries"]["web"]["thread_cpu_seconds"],
                    "peak_rss_mb": usage["web"]["peak_rss_mb"],
                    "peak_rss_mb_by_quarter_of_the_run": usage["web"]["peak_rss_mb_by_quarter"],
                },
                "other_processes_cpu_seconds": {
                    name: usage[name]["cpu_seconds"]
                    for name in ("worker", "chromium", "moto", "playwright_driver", "bench") if name in usage
                },
                "chromium_cpu_seconds_by_process": {
                    kind: usage[f"chromium {kind}"]["cpu_seconds"] for kind in CHROMIUM_KINDS if f"chromium {kind}" in usage
                },
                "machine_other_cpu_seconds": usage["machine"]["other_cpu_seconds"],
                "machine_busy_fraction": usage["machine"]["busy_fraction"],
                "timeline_seconds": portal["timeline_seconds"],
                "page_polled_rows": portal["htmx_events"]["rows_carried"],
                "page_oob_after_swap_events": portal["htmx_events"]["oob_after_swap"],
                "browser_storage_puts": {
                    k: v for k, v in portal["browser_requests"].get("storage PUT", {}).items()
                    if k in ("count", "mean_ms", "median_ms", "p95_ms", "max_concurrent", "mean_concurrent")
                },
                **({"moto_requests_per_file": portal["moto_requests"]["by_method_per_file"]} if portal["moto_requests"] else {}),
            },
            "baseline": {
                "total_seconds": baseline["total_seconds"],
                "files_per_second": baseline["files_per_second"],
                "mb_per_second": baseline["mb_per_second"],
                "web_cpu_seconds": baseline["processes"]["web"]["cpu_seconds"],
            },
            "wall_ratio_portal_over_baseline": round(portal["total_seconds"] / baseline["total_seconds"], 2),
            "loadavg_1min_at_run_start": run.get("loadavg_at_start", [None])[0],
            **({
                "browser_floor": {
                    "total_seconds": run["browser_floor"]["total_seconds"],
                    "files_per_second": run["browser_floor"]["files_per_second"],
                    "chromium_cpu_seconds": run["browser_floor"]["processes"]["chromium"]["cpu_seconds"],
                    "web_cpu_seconds": run["browser_floor"]["processes"]["web"]["cpu_seconds"],
                },
                "wall_ratio_browser_floor_over_baseline": round(
                    run["browser_floor"]["total_seconds"] / baseline["total_seconds"], 2),
                "wall_ratio_portal_over_browser_floor": round(
                    portal["total_seconds"] / run["browser_floor"]["total_seconds"], 2),
            } if "browser_floor" in run else {}),
        }

    picked = [pick(run) for run in runs]
    summary = median_of(picked)
    summary["baseline"]["method"] = runs[0]["baseline"]["method"]
    summary["storage"] = runs[0]["storage"]["kind"]
    summary["runs_measured"] = len(runs)
    # Each run's figures beside the medians, to quote them side by side.
    summary["by_run"] = [
        {
            "portal_seconds": entry["portal"]["total_seconds"],
            "browser_floor_seconds": entry.get("browser_floor", {}).get("total_seconds"),
            "baseline_seconds": entry["baseline"]["total_seconds"],
            "wall_ratio_portal_over_browser_floor": entry.get("wall_ratio_portal_over_browser_floor"),
            "wall_ratio_portal_over_baseline": entry["wall_ratio_portal_over_baseline"],
            "web_cpu_seconds": entry["portal"]["web_processes"]["cpu_seconds"],
            "web_peak_rss_mb": entry["portal"]["web_processes"]["peak_rss_mb"],
            "loadavg_1min_at_run_start": entry["loadavg_1min_at_run_start"],
        }
        for entry in picked
    ]
    return summary


def code_facts() -> dict:
    """Which code was measured: the commit, files changed in the work tree, and the bundle the page loaded."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    try:
        manifest = json.loads((ROOT / "var" / "static" / "staticfiles.json").read_text())["paths"]
        bundle = manifest.get("dist/app.js")
    except (OSError, ValueError, KeyError):
        bundle = None
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed_files_in_work_tree": changed, "bundle": bundle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1500, help="files per run (default 1500, the session cap)")
    parser.add_argument("--file-bytes", type=int, default=MiB, help="size of every file (default 1 MiB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode whose medians are reported (default 1)")
    parser.add_argument("--modes", default="embedded,s3", help="comma-separated: embedded, s3 (default both)")
    parser.add_argument("--threads", type=int, default=8, help="threads of the direct-upload baseline (default 8)")
    parser.add_argument("--per-drop", type=int, default=100, help="files per drop (default 100, the page's limit)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds any one wait may take (default 600)")
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="seconds to wait at most for an idle machine before each timed part (default 60)")
    parser.add_argument("--profile", action="store_true",
                        help="diagnostic: record a CPU profile of the page's main thread (slows the page down)")
    parser.add_argument("--profile-web", action="store_true",
                        help="diagnostic: run the web workers' requests of the timed window under cProfile and keep "
                             "each worker's profile as queries/web-<pid>.prof in the temp folder (use with --keep)")
    parser.add_argument("--trace", action="store_true",
                        help="diagnostic: record a Chromium timeline trace and sum its events per thread and kind")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated JPEGs")
    parser.add_argument("--video-bytes", type=int, default=0, metavar="BYTES",
                        help="the large-file mode: instead of --files JPEGs, one video of BYTES (e.g. 2147483648 for "
                             "2 GiB; sparse after an MP4 head, in the temp folder, deleted after) through a Video session, "
                             "in parts; S3 mode only (default off)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, databases) and print its path")
    parser.add_argument("--baseline-worker", metavar="JOB", help=argparse.SUPPRESS)
    parser.add_argument("--sign-worker", metavar="JOB", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.baseline_worker:
        return baseline_worker(options.baseline_worker)
    if options.sign_worker:
        return sign_worker(options.sign_worker)

    modes = [m.strip() for m in options.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"embedded", "s3"}:
        parser.error("--modes takes embedded and/or s3")
    if options.video_bytes:
        if modes != ["s3"]:
            parser.error("--video-bytes runs in S3 mode only: pass --modes s3")
        if options.video_bytes < MULTIPART_THRESHOLD:
            parser.error(f"--video-bytes is the multipart mode: at least {MULTIPART_THRESHOLD} bytes")
        options.files, options.file_bytes, options.per_drop = 1, options.video_bytes, 1
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"No Chromium at {CHROMIUM}: apt-get install chromium (the benchmark never downloads a browser).")
    if not (ROOT / "var" / "static" / "staticfiles.json").exists():
        log("var/static has no collected static files: running make setup")
        subprocess.run(["make", "setup"], cwd=ROOT, check=True, timeout=900)

    invocation_started = time.perf_counter()
    load_before = os.getloadavg()
    code = code_facts()  # before the runs: the work tree may change while they go
    temp_parent = Path(tempfile.gettempdir())
    needed = options.files * options.file_bytes * 3 + 512 * MiB  # inputs + the portal's copy + the baseline's copy
    if options.video_bytes:
        # The input is sparse; moto keeps the parts, the assembled object and its sealed copy (portal), the baseline's
        # and the floor's objects in files of its own.
        needed = options.video_bytes * 6 + 512 * MiB
    free = shutil.disk_usage(temp_parent).free
    if free < needed:
        sys.exit(f"{temp_parent} has {free / 1e9:.1f} GB free; this run needs about {needed / 1e9:.1f} GB.")
    root = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    log(f"work folder {root} ({free / 1e9:.0f} GB free)")
    try:
        generated = time.perf_counter()
        if options.video_bytes:
            manifest = generate_video(root / "files", options.video_bytes)
            log(f"generated a video of {options.video_bytes} bytes in {time.perf_counter() - generated:.1f} s")
        else:
            manifest = generate_files(root / "files", options.files, options.file_bytes, options.seed)
            log(f"generated {options.files} distinct JPEGs of {options.file_bytes} bytes in {time.perf_counter() - generated:.1f} s")
        generation_seconds = time.perf_counter() - generated
        results: dict[str, dict] = {}
        all_runs: dict[str, list] = {}
        for mode in modes:
            runs = []
            for index in range(options.repeat):
                runs.append(run_once(mode, index, manifest, options, root))
                # Every finished run is kept at once: a later run that fails loses only itself.
                partial = BENCH / "results" / f"upload-partial-{os.getpid()}.json"
                partial.parent.mkdir(exist_ok=True)
                partial.write_text(json.dumps({"code": code, "runs": {**all_runs, mode: runs}}) + "\n")
            all_runs[mode] = runs
            results[mode] = summarize(mode, runs, options.files)
            log(f"{mode}: portal {results[mode]['portal']['total_seconds']} s, baseline "
                f"{results[mode]['baseline']['total_seconds']} s, ratio {results[mode]['wall_ratio_portal_over_baseline']}; "
                f"browser floor {results[mode].get('browser_floor', {}).get('total_seconds')} s")
    finally:
        if options.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    import django
    import psutil

    document = {
        "benchmark": "upload",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": {
            "files": options.files,
            "file_bytes": options.file_bytes,
            "files_per_drop": options.per_drop,
            "drops": -(-options.files // options.per_drop),
            "repeat": options.repeat,
            "baseline_threads": options.threads,
            "modes": modes,
            "web": "Procfile web line: gunicorn gthread, WEB_CONCURRENCY=2 workers x WEB_THREADS=8, 127.0.0.1, "
                   "--access-logfile <file> --config bench/gunicorn_bench.py",
            "worker": "Procfile worker line with CELERY_QUEUES=default (concurrency 2, prefork), app bench.celery_bench "
                      "(= portal.celery.app + query-counting signals)",
            "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "SQLite in a fresh PORTAL_VAR_DIR per run",
            "broker": "REDIS_URL" if os.environ.get("REDIS_URL") else "kombu filesystem transport in PORTAL_VAR_DIR",
            "browser_concurrency": "defaults: UPLOAD_BROWSER_CONCURRENCY (6) to S3, UPLOAD_BROWSER_CONCURRENCY_EMBEDDED (4) to the "
                                   "embedded endpoint, which shares the portal's address with its pages",
            "file_generation_seconds": round(generation_seconds, 1),
            "video_bytes": options.video_bytes or None,
            "multipart_threshold": MULTIPART_THRESHOLD,
            "part_size": PART_SIZE,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
            "python": platform.python_version(),
            "django": django.get_version(),
            "platform": platform.platform(),
            "chromium": next(iter(all_runs.values()))[0]["portal"]["chromium"],
            # 1, 5 and 15 minute load averages (os.getloadavg): the machine is shared, and these say how much.
            "loadavg_at_start": [round(v, 2) for v in load_before],
            "loadavg_at_end": [round(v, 2) for v in os.getloadavg()],
        },
        "code": code,
        "results": results,
        "notes": NOTES,
        "runs": all_runs,
        "invocation_seconds": round(time.perf_counter() - invocation_started, 1),
    }
    text = json.dumps(document, indent=2)
    print(text)
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"upload-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(text + "\n")
    (out_dir / f"upload-partial-{os.getpid()}.json").unlink(missing_ok=True)
    log(f"saved {out.relative_to(ROOT)}")


NOTES = [
    "results.<mode> holds the medians over --repeat runs (each on a fresh portal, database and bucket); runs.<mode> every run in full.",
    "total_seconds: from dispatching the first drop (a real drop event on the page's drop zone) until the database holds every "
    "file of the project as at least Uploaded, i.e. the Celery worker checked the stored object (size, magic bytes). "
    "Logging in, opening the session and choosing the files (set_input_files, staging_seconds_not_timed) come before the clock.",
    "Drops of files_per_drop files; each next drop is dispatched once every row of the previous ones has left the "
    "hashing/registering states (window.portalUploads), as a person dropping batch after batch would.",
    "MB = 10^6 bytes. Files are distinct random-noise JPEGs padded to exactly file_bytes with COM segments.",
    "requests_per_file counts lines of gunicorn's access log written during the timed window, without /static/; in "
    "embedded mode this includes the PUTs to the portal's own storage endpoint (see requests_per_file_without_storage_endpoint). "
    "The htmx poll of the session page (every UPLOAD_POLL_INTERVAL_MS) is part of it. by_route.server_seconds sums gunicorn's "
    "request time (%(L)s).",
    "sql_queries: statements counted by a Django execute wrapper installed by bench/gunicorn_bench.py (post_worker_init) and "
    "bench/celery_bench.py (worker_process_init), keyed by the request route or task name; only those of requests/tasks that "
    "started inside the timed window. web and worker are reported separately.",
    "processes.*.cpu_seconds: user+system CPU of the process tree (gunicorn master + workers; celery main + pool; Chromium's "
    "processes; moto; this harness), sampled with psutil every 0.25 s over the timed window; peak_rss_mb is the peak of the "
    "summed RSS (peak_rss_mb_by_quarter: the same per quarter of the window, to see whether it grows with the files). "
    "machine.busy_fraction is the share of both cores that was busy.",
    "Baseline: the same files straight to the same storage with 8 threads and no portal in between (no hashing in a browser, "
    "no register/complete, no verification). For S3 it is boto3 put_object to the same moto endpoint and bucket; the embedded "
    "storage has no S3 API, so it is requests.put to URLs signed by assets.storage.presign in a process with the portal's "
    "settings, served by the same gunicorn workers that serve the portal (its web CPU is in baseline.web_cpu_seconds).",
    "wall_ratio_portal_over_baseline = portal total_seconds / baseline total_seconds.",
    "browser_floor: the same headless Chromium uploads the same files to the same storage with plain fetch PUTs (6 at a "
    "time, the page's limit) through URLs presigned beforehand: no hashing, no portal requests, no rows. It is what moving "
    "the bytes through a browser costs on this machine; wall_ratio_portal_over_browser_floor is what the portal adds to it.",
    "timeline_seconds: all_drops_registered (last drop's rows registered), all_bytes_sent_browser (no record hashing, registering, "
    "queued or uploading in the page; sampled every 0.5 s), all_verified_uploaded (= total_seconds); page_rows_show_uploaded_after_end "
    "is how much later the page's polled rows showed it too (not timed).",
    "browser_requests / browser_storage_puts: the page's own Resource Timing entries from the first drop on (start and duration "
    "of each request, CORS preflight included); mean_concurrent = summed durations / span = transfers in flight on average "
    "(the engine's limit is UPLOAD_BROWSER_CONCURRENCY = 6, also Chromium's HTTP/1.1 sockets per host; to the embedded endpoint "
    "UPLOAD_BROWSER_CONCURRENCY_EMBEDDED = 4, leaving the pages two of those sockets).",
    "htmx_events: counts of htmx:oobBeforeSwap (rows carried by the session page's polls) and htmx:oobAfterSwap events, from "
    "listeners the harness adds (they only count).",
    "moto_requests: lines of moto's request log in the window (OPTIONS = browser CORS preflights; HEAD and GET = the worker's "
    "verification).",
    "sql_queries.*.thread_cpu_seconds: CPU time of the threads serving the counted requests/tasks (time.thread_time), so web CPU "
    "can be split by route; web_processes.cpu_seconds also counts gunicorn's accept loops and master.",
    "garbage_collector_cpu_seconds / sql_queries.*.garbage_collector: CPU time of Python's cyclic garbage collector in the web "
    "workers and the Celery pool processes during the window (gc.callbacks, time.thread_time of the collecting thread), "
    "with collections per generation; it is part of the processes' CPU, not added to it.",
    "machine.other_cpu_seconds: CPU the machine spent outside the measured processes during the window: other work running on "
    "the same machine disturbs the figures when it is large. Before each timed part the harness waits up to --quiet-wait "
    "seconds for an idle machine (machine_before_start).",
    "--profile (diagnostic, off by default) adds page_main_thread_profile: a CDP CPU profile of the page's main thread, "
    "source-mapped to static/js and npm packages.",
    "Everything runs on one machine: Chromium, gunicorn, Celery, moto and the harness share its cores, so the baseline "
    "(no browser, no worker) also has more CPU to itself.",
]


if __name__ == "__main__":
    main()
