"""What each kind of upload-protocol request costs the web process, in instructions: prints JSON.

    .venv/bin/python bench/request_cost.py [--files 100] [--rounds 3] [--kinds register,complete,...]

bench/upload.py measures the web processes' CPU seconds over a real 1,500-file upload, but on these shared
machines CPU seconds move by about ±8 % between runs and by up to 2x between periods. The number of
instructions a request executes does not: callgrind gives the same count, to a fraction of a percent, run
after run and whatever else the machine is doing. So this script is the one to compare two commits with
(run it in a checkout of each).

Each kind of request runs in its own Python process under `valgrind --tool=callgrind`, through Django's test
client, in S3 mode (URLs are signed locally; no storage is contacted) on a SQLite copy of a migrated database.
Instructions are collected only inside the measured requests: the script calls each through a ctypes
callback, and collection is toggled on ctypes' call trampoline (PyCFuncPtr_call). Every round opens a new
session; round 0 warms up and is not counted.

Kinds (each request is one a browser makes while it uploads; `--files` files per request):
  register        register a drop of new files (the answer signs one PUT per file)
  complete        report that many transferred files
  complete_empty  a completion with no files: what any protocol request costs before its own work
  poll_empty      the session page's poll when nothing changed
  poll            the poll that brings `--files` rows that changed
Needs valgrind (on every machine kind here); takes about two minutes per kind on 2 cores, two at a time.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("register", "complete", "complete_empty", "poll_empty", "poll")
PER_FILE_KINDS = {"register", "complete", "poll"}
# The request's Python code runs inside this C function of _ctypes (called through a CFUNCTYPE callback).
TOGGLE = "PyCFuncPtr_call"


def _environment(var_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    return env | {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(var_dir),
        # S3 mode without a server: signing is local, and no measured request reaches storage.
        "AWS_STORAGE_BUCKET_NAME": "bench",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare(var_dir: Path) -> None:
    """Child process: a migrated database with one organization, its admin and a project."""
    _django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from projects.models import Membership, Organization, Project

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", email="bench@example.com", password="bench-password-1")
    organization = Organization.objects.create(name="Bench")
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.ADMIN)
    Project.objects.create(organization=organization, name="Bench")


def measure(kind: str, files: int, rounds: int) -> None:
    """Child process (under callgrind): `rounds` requests of `kind`, each called through the ctypes trampoline."""
    _django()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from assets.models import Asset
    from projects.models import Project
    from uploads.models import UploadSession

    user = get_user_model().objects.get(username="bench")
    project = Project.objects.get(name="Bench")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    trampoline = ctypes.CFUNCTYPE(None)

    def request(name: str, counted: bool, send):
        if name != kind or not counted:
            return send()
        answers = []
        # A full collection of the cyclic garbage collector costs more than a request here, and when one falls
        # inside a counted request depends on everything allocated before it: collect now, outside the count.
        gc.collect()
        trampoline(lambda: answers.append(send()))()
        return answers[0]

    for round_number in range(rounds + 1):
        counted = round_number > 0
        session = UploadSession.objects.create(
            project=project, created_by=user, asset_type=Asset.Type.IMAGE, source=UploadSession.Source.DIRECT,
            view_name="Bench", capture_date=datetime.date(2026, 1, 1),
        )
        base = session.get_absolute_url()

        def post(path: str, body: str):
            return client.post(base + path, body, content_type="application/json")

        def poll(since: datetime.datetime):
            return client.get(base + "changes/", {"since": since.isoformat()}, HTTP_HX_REQUEST="true")

        answer = request("poll_empty", counted, lambda: poll(timezone.now()))
        assert answer.status_code == 200 and b'<tr id="asset-' not in answer.content, answer.status_code
        drop = json.dumps({"files": [
            {"clientId": str(n), "name": f"photo-{n:04d}.jpg", "size": 1 << 20, "contentType": "image/jpeg",
             "sha256": hashlib.sha256(f"{round_number}/{n}".encode()).hexdigest()}
            for n in range(files)
        ]})
        answer = request("register", counted, lambda: post("files/", drop))
        assert answer.status_code == 200, answer.content[:300]
        ids = json.dumps({"assetIds": [entry["assetId"] for entry in answer.json()["files"]]})
        since = timezone.now() - datetime.timedelta(seconds=5)
        answer = request("complete", counted, lambda: post("complete/", ids))
        assert answer.status_code == 200 and answer.json()["queued"] == files, answer.content[:300]
        answer = request("complete_empty", counted, lambda: post("complete/", '{"assetIds": []}'))
        assert answer.status_code == 200, answer.content[:300]
        Asset.objects.filter(upload_session=session).update(status=Asset.Status.UPLOADED, updated_at=timezone.now())
        answer = request("poll", counted, lambda: poll(since))
        assert answer.status_code == 200 and answer.content.count(b'<tr id="asset-') == files, answer.status_code


def _run_child(args: list[str], var_dir: Path, *, callgrind: Path | None = None) -> str:
    argv = [sys.executable, __file__, *args]
    if callgrind is not None:
        argv = ["valgrind", "--tool=callgrind", f"--toggle-collect={TOGGLE}", f"--callgrind-out-file={callgrind}", *argv]
    done = subprocess.run(
        argv, env=_environment(var_dir), cwd=ROOT, capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stderr


def _count(kind: str, files: int, rounds: int, template: Path, work: Path) -> dict:
    var_dir = work / kind
    shutil.copytree(template, var_dir)
    started = time.monotonic()
    log = _run_child(["--child", kind, "--files", str(files), "--rounds", str(rounds)], var_dir, callgrind=work / f"{kind}.out")
    collected = re.search(r"Collected : (\d+)", log)
    if collected is None:
        raise SystemExit(f"callgrind printed no count for {kind}:\n{log[-2000:]}")
    per_request = int(collected.group(1)) / rounds
    figures = {"instructions_per_request_millions": round(per_request / 1e6, 2)}
    if kind in PER_FILE_KINDS:
        figures["instructions_per_file_thousands"] = round(per_request / files / 1e3, 1)
    return figures | {"wall_seconds": round(time.monotonic() - started, 1)}


def _commit() -> str:
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100, help="files per request (default 100, a whole drop)")
    parser.add_argument("--rounds", type=int, default=3, help="counted requests of each kind (default 3)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of: {', '.join(KINDS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.prepare:
        prepare(Path(os.environ["PORTAL_VAR_DIR"]))
        return
    if options.child:
        measure(options.child, options.files, options.rounds)
        return

    kinds = [kind.strip() for kind in options.kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        parser.error(f"unknown kinds {unknown}; choose among {', '.join(KINDS)}")
    if not 1 <= options.files <= 100 or options.rounds < 1:
        parser.error("--files takes 1 to 100 (the page's drop limit) and --rounds at least 1")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    with tempfile.TemporaryDirectory(prefix="bench-request-cost-") as folder:
        work = Path(folder)
        template = work / "template"
        template.mkdir()
        _run_child(["--prepare"], template)
        with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
            counted = dict(zip(kinds, pool.map(lambda kind: _count(kind, options.files, options.rounds, template, work), kinds)))
    print(json.dumps({
        "benchmark": "request_cost",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "code": {"commit": _commit()},
        "parameters": {"files_per_request": options.files, "counted_requests_per_kind": options.rounds, "storage": "s3 (signing only)",
                       "database": "sqlite", "python": platform.python_version()},
        "results": counted,
        "notes": [
            "instructions_per_request_millions: instructions executed inside the request (callgrind, collection "
            f"toggled on {TOGGLE}), averaged over the counted requests; the Django test client's own work around "
            "the handler is included, the warm-up round is not.",
            "instructions_per_file_thousands: the same divided by the files (or rows) the request carries; "
            "it includes the request's fixed part (compare complete_empty and poll_empty).",
            "Repeatable to a fraction of a percent on one machine and Python build; compare commits side by side, "
            "not against figures from another machine.",
        ],
    }, indent=2))


if __name__ == "__main__":
    main()
