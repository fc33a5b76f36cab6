"""portal-upload against raw boto3 on the same files and the same S3 endpoint, side by side: prints JSON.

    .venv/bin/python bench/cli.py [--sets small,large] [--jobs 8] [--repeat 3]

One invocation starts moto's S3 server (its own process, 127.0.0.1), a fresh portal in S3 mode (temp
PORTAL_VAR_DIR; SQLite there unless DATABASE_URL is set) served by gunicorn from the Procfile's `web` line,
and a Celery worker from its `worker` line (the `default` queue: media processing stays out of the
measurement, as in bench/upload.py). Then, for each set of files and each repeat, in alternating order:

* boto3: `put_object` from --jobs threads sharing one client (bench/upload.py's baseline worker: the
  ContentType and the precomputed ChecksumSHA256 like the portal's signed PUTs), straight to the bucket;
* portal-upload: the command-line uploader (`cli/upload.py`, run as its own process exactly as a user
  runs it, `--jobs` the same) into a fresh project, from the login to the end of its last close, i.e.
  every file registered, sent, verified by the portal and queued for processing.

Sets: `small` = 1,500 files of 1 MiB, `large` = 200 files of 20 MiB (sizes and counts can be changed).
Reported: wall seconds, files/s and MB/s of each, the ratio portal-upload / boto3 in throughput (target
>= 0.9, issue 21), requests to the portal per file, and the CPU seconds of the web, moto and client
processes. Medians over --repeat runs; every run is kept. The JSON goes to stdout and to
bench/results/cli-<timestamp>.json; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upload as bench  # bench/upload.py: processes, samplers, files, the boto3 baseline

ROOT, VENV_BIN, MiB = bench.ROOT, bench.VENV_BIN, bench.MiB
log = bench.log

SETUP_CODE = """
import json, os
from django.contrib.auth import get_user_model
from accounts import services as accounts
from projects import services
user = get_user_model().objects.create_user(
    os.environ["BENCH_USERNAME"], email="bench@example.com", password=os.environ["BENCH_PASSWORD"],
)
organization = services.organization_create(name=os.environ["BENCH_ORGANIZATION"], owner=user)
projects = [
    str(services.project_create(organization=organization, created_by=user, name=f"CLI bench {n}").pk)
    for n in range(int(os.environ["BENCH_PROJECTS"]))
]
_, secret = accounts.api_key_create(user=user, name="bench")
print("BENCH-SETUP " + json.dumps({"projects": projects, "api_key": secret}))
"""


def portal_upload_run(*, base_url, api_key, username, password, project, folder: Path, files: int, jobs: int,
                      env, groups, work: Path, label: str) -> dict:
    """One portal-upload process over `folder`, timed from its start to its exit."""
    access_log = work / "access.log"
    log_start = access_log.stat().st_size
    argv = [str(VENV_BIN / "portal-upload"), "--url", base_url, "--api-key", api_key, "--project", project,
            "--jobs", str(jobs), "--quiet", str(folder)]
    client_env = {**env, "PORTAL_USERNAME": username, "PORTAL_PASSWORD": password}
    sampler = bench.Sampler(groups)
    quiet = bench.wait_for_quiet_machine(30)
    spies = _py_spy_start(groups["web"](), work, label) if PY_SPY else []
    sampler.start()
    started = time.perf_counter()
    done = subprocess.run(argv, env=client_env, cwd=ROOT, capture_output=True, text=True, timeout=1800,
                          stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    usage = sampler.finish()
    profiles = _py_spy_stop(spies)
    if done.returncode:
        raise RuntimeError(f"portal-upload exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    summary = done.stdout.strip().splitlines()[-1]
    if f"{files} uploaded" not in summary:
        raise RuntimeError(f"portal-upload did not upload every file: {summary}")
    size = sum(p.stat().st_size for p in folder.iterdir())
    requests = bench.read_access_log(access_log, log_start, access_log.stat().st_size, files)
    log(f"  {label} portal-upload: {files} files in {seconds:.1f} s")
    return {
        "command": shlex.join(argv[:1] + ["--url", base_url, "--api-key", "…", "--project", project,
                                          "--jobs", str(jobs), "--quiet", str(folder)]),
        "total_seconds": round(seconds, 2),
        "files_per_second": round(files / seconds, 1),
        "mb_per_second": round(size / seconds / 1e6, 1),
        "summary_line": summary,
        "requests_to_portal_per_file": requests["requests_per_file"],
        "processes": usage,
        "machine_before_start": quiet,
        **({"web_profiles": profiles} if profiles else {}),
    }


PY_SPY = os.environ.get("BENCH_PY_SPY", "")  # a py-spy executable: profiles the web processes during portal-upload runs


def _py_spy_start(processes, work: Path, label: str) -> list:
    spies = []
    for process in processes:
        if process.pid == processes[0].pid:  # gunicorn's arbiter serves no request
            continue
        output = work / f"py-spy-{label.replace(' ', '-').replace('/', 'of')}-{process.pid}.txt"
        spies.append((output, subprocess.Popen(
            [PY_SPY, "record", "--pid", str(process.pid), "--format", "raw", "--rate", "200", "--nonblocking",
             "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    time.sleep(1)
    return spies


def _py_spy_stop(spies) -> list[str]:
    import signal

    for _, spy in spies:
        spy.send_signal(signal.SIGINT)
    for _, spy in spies:
        spy.wait(30)
    return [str(output) for output, _ in spies if output.exists()]


def boto3_run(*, manifest, jobs, env, base_url, work, web, moto, label: str) -> dict:
    options = argparse.Namespace(threads=jobs, quiet_wait=30, timeout=1800)
    figures = bench.baseline_run("s3", manifest, options, env, base_url, work, web, moto)
    log(f"  {label} boto3: {figures['files_uploaded']} files in {figures['total_seconds']:.1f} s")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="small,large", help="comma-separated: small, large (default both)")
    parser.add_argument("--small", default="1500x1", help="COUNTxMiB of the small set (default 1500x1)")
    parser.add_argument("--large", default="200x20", help="COUNTxMiB of the large set (default 200x20)")
    parser.add_argument("--jobs", type=int, default=8, help="portal-upload --jobs and boto3 threads (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each whose medians are reported (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and print its path")
    options = parser.parse_args()

    sets = {}
    for name in options.sets.split(","):
        count, mib = getattr(options, name).split("x")
        sets[name] = (int(count), int(float(mib) * MiB))
    root = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    work = root / "portal"
    (work / "queries").mkdir(parents=True)
    services: list[bench.Service] = []
    output: dict = {
        "benchmark": "bench/cli.py",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "code": bench.code_facts(),
        "options": vars(options),
        "sets": {},
    }
    try:
        manifests = {}
        for name, (count, size) in sets.items():
            log(f"generating {count} files of {size / MiB:g} MiB ({name})")
            manifests[name] = bench.generate_files(root / "files" / name, count, size, seed=hash(name) % 1000)
        from tests import s3

        moto_port = bench.free_port()
        moto_server = VENV_BIN / "moto_server"
        argv = [str(moto_server)] if moto_server.exists() else [sys.executable, "-m", "moto.server"]
        moto = bench.Service("moto", [*argv, "-H", "127.0.0.1", "-p", str(moto_port)],
                             {**os.environ, "PYTHONUNBUFFERED": "1"}, work / "moto.log")
        services.append(moto)
        endpoint = f"http://127.0.0.1:{moto_port}"
        bench.wait_for(lambda: bench.port_open(moto_port), 60, "moto's S3 server")
        bucket = s3.create_bucket(endpoint)
        env = bench.portal_environment(work / "var", work, s3.environment(endpoint, bucket))
        username, password = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        bench.manage(env, "migrate", "--noinput", "--verbosity", "0")
        runs_needed = len(sets) * options.repeat
        setup = bench.manage({**env, "BENCH_USERNAME": username, "BENCH_PASSWORD": password,
                              "BENCH_ORGANIZATION": f"Bench {username}", "BENCH_PROJECTS": str(runs_needed)},
                             "shell", "--no-imports", "-c", SETUP_CODE)
        setup = json.loads(setup.split("BENCH-SETUP ", 1)[1].splitlines()[0])
        projects = iter(setup["projects"])

        web_port = bench.free_port()
        access_log = work / "access.log"
        access_log.touch()
        service_env = {**env, "BIND_HOST": "127.0.0.1", "PORT": str(web_port), "WEB_CONCURRENCY": "2",
                       "WEB_THREADS": "8", "CELERY_QUEUES": "default"}
        web_argv = bench.procfile_command("web", service_env)
        web_argv[web_argv.index("--access-logfile") + 1] = str(access_log)
        worker_argv = bench.procfile_command("worker", service_env)
        web = bench.Service("web", web_argv, service_env, work / "web.log")
        worker = bench.Service("worker", worker_argv, service_env, work / "worker.log")
        services += [web, worker]
        base_url = f"http://127.0.0.1:{web_port}"
        bench.wait_for(lambda: bench.http_ok(f"{base_url}/healthz"), 90, "the portal's /healthz")
        bench.wait_for(lambda: "ready" in worker.tail(200), 90, "the Celery worker")
        output["portal"] = {"web": shlex.join(web_argv), "worker": shlex.join(worker_argv), "storage": "moto S3 server"}

        for name, (count, size) in sets.items():
            runs = []
            for index in range(options.repeat):
                label = f"{name} run {index + 1}/{options.repeat}"
                groups = {"web": bench.tree(web.pid), "moto": bench.tree(moto.pid), "worker": bench.tree(worker.pid),
                          "portal_upload": _children_named("portal-upload")}
                portal_kwargs = dict(base_url=base_url, api_key=setup["api_key"], username=username, password=password,
                                     folder=root / "files" / name, files=count, jobs=options.jobs, env=env,
                                     groups=groups, work=work, label=label)
                boto3_kwargs = dict(manifest=manifests[name], jobs=options.jobs, env=env, base_url=base_url,
                                    work=work, web=web, moto=moto, label=label)
                run = {}
                # Alternate which goes first, so a drift of the machine's load does not favour one side.
                order = ("boto3", "portal_upload") if index % 2 == 0 else ("portal_upload", "boto3")
                for side in order:
                    if side == "boto3":
                        run["boto3"] = boto3_run(**boto3_kwargs)
                    else:
                        run["portal_upload"] = portal_upload_run(project=next(projects), **portal_kwargs)
                run["order"] = list(order)
                run["throughput_ratio_portal_upload_over_boto3"] = round(
                    run["boto3"]["total_seconds"] / run["portal_upload"]["total_seconds"], 3)
                runs.append(run)
            ratios = [run["throughput_ratio_portal_upload_over_boto3"] for run in runs]
            output["sets"][name] = {
                "files": count,
                "file_mib": size / MiB,
                "jobs": options.jobs,
                "median": {
                    "throughput_ratio_portal_upload_over_boto3": bench.median_of(ratios),
                    "target": ">= 0.9",
                    "portal_upload_seconds": bench.median_of([r["portal_upload"]["total_seconds"] for r in runs]),
                    "boto3_seconds": bench.median_of([r["boto3"]["total_seconds"] for r in runs]),
                    "portal_upload_files_per_second": bench.median_of([r["portal_upload"]["files_per_second"] for r in runs]),
                    "boto3_files_per_second": bench.median_of([r["boto3"]["files_per_second"] for r in runs]),
                    "requests_to_portal_per_file": bench.median_of(
                        [r["portal_upload"]["requests_to_portal_per_file"] for r in runs]),
                    "cpu_seconds_portal_upload_run": bench.median_of(
                        [_cpu(r["portal_upload"]["processes"])
                         for r in runs]),
                    "cpu_seconds_boto3_run": bench.median_of(
                        [_cpu(r["boto3"]["processes"])
                         for r in runs]),
                },
                "ratios_of_each_run": ratios,
                "runs": runs,
            }
    finally:
        for service in reversed(services):
            service.stop(timeout=20)
        if options.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    output["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(output, indent=2)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"cli-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json").write_text(text)
    print(text)


def _cpu(usage: dict) -> dict:
    return {name: entry["cpu_seconds"] for name, entry in usage.items() if isinstance(entry, dict) and "cpu_seconds" in entry}


def _children_named(name: str):
    """The running portal-upload processes (the client measured), found by their command line."""
    import psutil

    def members():
        found = []
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info.get("cmdline") or []
            if any(part.endswith(name) for part in cmdline[:2]):
                found.append(process)
        return found

    return members


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--baseline-worker":
        bench.baseline_worker(sys.argv[2])
    else:
        main()
