"""Load test of the production-shaped stack with locust: 1 web + 1 worker, then 2 + 2, side by side; prints JSON.

    .venv/bin/python bench/load.py [--sessions 20] [--files 1500] [--managers 5] [--project-assets 100000]
                                   [--shapes 1+1,2+2] [--repeat 1]
    .venv/bin/python bench/load.py --smoke      # 4 sessions of 200 files, 2 managers, 5,000 assets: about 2 minutes

Each shape runs on its own `scripts.stack.Stack` (gunicorn web processes behind nginx, Celery workers and beat,
PostgreSQL, Redis, moto's S3 server and an SMTP sink; see scripts/stack.py), with the same work:

* set-up (not measured): an organization and a project with `--project-assets` finished assets (bench/seed_assets.py,
  set-based SQL), `--sessions` uploaders and `--managers` managers, each logged in through the login form;
* measured: locust, in a process of its own, runs one user per uploader and per manager. An uploader opens an upload
  session on the project through the Add Assets form and sends `--files` distinct small JPEGs in drops of
  `--per-drop` through the page's own JSON protocol (static/js/upload/*.js): register the drop, PUT each file to the
  signed URL it got (UPLOAD_BROWSER_CONCURRENCY at a time; the next drop is registered when fewer than twice that many
  files are waiting, as engine.js does), report completions in batches of 100 or every 2 s, finalize; meanwhile it
  polls its session page's changes endpoint as the page does (since/seen/sending, every UPLOAD_POLL_INTERVAL_MS) until
  the poll answers 286 (session complete). A manager loads the project's Uploads tab and Assets tab in turn, one page
  every `--manager-interval` seconds, until the last uploader is done.
* end state: every file Ready, every session complete, and exactly one email per session received by the SMTP sink.

Figures per shape: throughput (files and requests per second of the measured window), latency p50/p95/p99 per
endpoint (locust, through nginx), errors, SQL queries per request of each endpoint (bench/querycount.py installed into
gunicorn with GUNICORN_CMD_ARGS and into the Celery workers with bench/boot/sitecustomize.py), S3 requests by method,
CPU seconds, peak RSS and busiest-5-s CPU (in cores) of every process (psutil), and work per CPU-second of the portal's
processes (web, workers, beat). Then the ratio 2+2 / 1+1 of that work per CPU-second (issue 19 asks for >= 0.9).
With --repeat N the shapes alternate (1+1, 2+2, 2+2, 1+1, ...) and medians are reported with their spread.

moto and the SMTP sink run in threads of this harness process (scripts/stack.py); locust runs in a child process so
its CPU is counted apart. The machine is shared: the JSON says how busy it was outside the measured processes.
The JSON goes to stdout and to bench/results/load-<timestamp>.json; progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import load_helpers as helpers  # noqa: E402

_started = time.perf_counter()
PASSWORD = "load-bench-password-1"
# The portal's processes: their CPU is what work per CPU-second divides by (issue 19).
PORTAL_KINDS = ("web", "worker", "beat")


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


# --- set-up, inside the stack -------------------------------------------------------------------------------------------

SETUP_CODE = """
import json
from django.contrib.auth import get_user_model
from projects import services
from projects.models import Membership
User = get_user_model()
password = PASSWORD
owner = User.objects.create_user("load-owner", email="load-owner@example.com", password=password)
organization = services.organization_create(name="Load test", owner=owner)
project = services.project_create(organization=organization, created_by=owner, name="Load project",
                                  description="Created by bench/load.py.")
people = {"uploaders": [], "managers": []}
for role, key, count in (("uploader", "uploaders", UPLOADERS), ("manager", "managers", MANAGERS)):
    for n in range(count):
        user = User.objects.create_user(f"load-{role}-{n}", email=f"load-{role}-{n}@example.com", password=password,
                                        first_name="Load", last_name=f"{role.title()} {n}")
        Membership.objects.create(organization=organization, user=user, role=role)
        people[key].append({"username": user.username, "id": user.pk})
print("BENCH-SETUP " + json.dumps({"project_id": str(project.pk), "owner_id": owner.pk, **people}))
"""


def set_up(stack, options) -> dict:
    """The organization, project, uploaders and managers (manage.py shell in the stack), then the seeded assets."""
    code = (f"PASSWORD = {PASSWORD!r}; UPLOADERS = {options.sessions}; MANAGERS = {options.managers}\n" + SETUP_CODE)
    output = stack.manage("shell", "-c", code)
    line = next(line for line in output.splitlines() if line.startswith("BENCH-SETUP "))
    setup = json.loads(line.removeprefix("BENCH-SETUP "))
    if options.project_assets:
        import seed_assets

        setup["seeded"] = seed_assets.seed_project(
            stack.database_url, project_id=setup["project_id"], uploader_id=setup["owner_id"], assets=options.project_assets
        )
    return setup


def log_in(base_url: str, username: str) -> dict:
    """Logs in through the login form as a browser does; returns the cookies (session and CSRF)."""
    import re

    import requests

    with requests.Session() as browser:
        page = browser.get(f"{base_url}/accounts/login/", timeout=60)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(f"{base_url}/accounts/login/", timeout=60, allow_redirects=False,
                              data={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD},
                              headers={"Referer": f"{base_url}/accounts/login/"})
        if answer.status_code != 302:
            raise RuntimeError(f"Logging in {username} answered {answer.status_code}")
        return browser.cookies.get_dict()


# --- measuring -------------------------------------------------------------------------------------------------------------

class S3Counter:
    """Counts the S3 requests moto receives, by method, standing in front of the stack's S3 switch (tests/s3.Outage)."""

    def __init__(self, outage):
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        original = outage.wrap

        def wrap(app):
            inner = original(app)

            def counted(environ, start_response):
                method = environ.get("REQUEST_METHOD", "?")
                with self._lock:
                    self.counts[method] = self.counts.get(method, 0) + 1
                return inner(environ, start_response)

            return counted

        outage.wrap = wrap

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


class QueueDepth(threading.Thread):
    """Samples the Celery queues' depth in Redis (messages waiting per queue, and delivered but not acknowledged)."""

    QUEUES = ("default", "media", "email")
    # kombu's Redis transport keeps messages of priority steps 3, 6, 9 in lists of their own beside the queue's.
    STEPS = ("", "\x06\x163", "\x06\x166", "\x06\x169")

    def __init__(self, redis_url: str, interval: float = 0.5):
        super().__init__(daemon=True)
        import redis

        self.client = redis.Redis.from_url(redis_url)
        self.interval = interval
        self.samples: list[dict[str, int]] = []
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            with self.client.pipeline(transaction=False) as pipe:
                for queue in self.QUEUES:
                    for step in self.STEPS:
                        pipe.llen(queue + step)
                pipe.hlen("unacked")
                counts = pipe.execute()
            sample = {queue: sum(counts[i * len(self.STEPS):(i + 1) * len(self.STEPS)]) for i, queue in enumerate(self.QUEUES)}
            sample["unacked"] = counts[-1]
            self.samples.append(sample)

    def finish(self) -> dict:
        self._stop.set()
        self.join(5)
        self.client.close()
        result = {}
        for name in (*self.QUEUES, "unacked"):
            values = [sample[name] for sample in self.samples]
            result[name] = {"max": max(values, default=0), "median": helpers.median(values) or 0}
        waiting = [sum(sample[queue] for queue in self.QUEUES) for sample in self.samples]
        result["all_queues"] = {"max": max(waiting, default=0), "median": helpers.median(waiting) or 0,
                                "samples": len(waiting)}
        return result


def process_groups(stack, database: str) -> dict:
    """name -> a callable listing that part's processes (psutil), for the Sampler."""
    import psutil

    groups = {}
    for name, process in stack.processes.items():
        groups[name] = process.psutil
    groups["harness (moto S3 + SMTP sink)"] = lambda: [psutil.Process()]

    def backends():
        import psycopg

        with psycopg.connect(stack.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
            pids = [row[0] for row in db.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                                                  [database])]
        found = []
        for pid in pids:
            try:
                found.append(psutil.Process(pid))
            except psutil.Error:
                pass
        return found

    groups["postgres (this database's backends)"] = backends
    return groups


def kind_of(name: str) -> str:
    return name.split("-")[0] if "-" in name else name


def database_state(stack, session_ids: list[str]) -> dict:
    import psycopg

    with psycopg.connect(stack.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
        files = dict(db.execute(
            "SELECT status, count(*) FROM assets_asset WHERE upload_session_id = ANY(%s::uuid[]) GROUP BY status",
            [session_ids]).fetchall())
        sessions = dict(db.execute(
            "SELECT status, count(*) FROM uploads_uploadsession WHERE id = ANY(%s::uuid[]) GROUP BY status",
            [session_ids]).fetchall())
        notified = db.execute(
            "SELECT count(*) FROM uploads_uploadsession WHERE id = ANY(%s::uuid[]) AND notified_at IS NOT NULL",
            [session_ids]).fetchone()[0]
    return {"files_by_status": files, "sessions_by_status": sessions, "sessions_notified": notified}


def table_rows(stack) -> dict[str, int]:
    """Exact row counts of every table of the portal's database."""
    import psycopg

    with psycopg.connect(stack.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
        tables = [row[0] for row in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
        return {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def emails_per_session(stack, session_ids: list[str]) -> dict[str, int]:
    counts = {session_id: 0 for session_id in session_ids}
    for message in list(stack.mailbox.messages):
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        for session_id in session_ids:
            if session_id in text:
                counts[session_id] += 1
    return counts


def run_shape(web: int, workers: int, run_index: int, options, work: Path) -> dict:
    from scripts.stack import Stack
    from upload import set_phase

    label = f"{web}+{workers}"
    folder = work / f"{label}-{run_index}"
    (folder / "queries").mkdir(parents=True)
    set_phase(folder, "setup")
    env = {
        "GUNICORN_CMD_ARGS": f"--config {BENCH / 'gunicorn_bench.py'}",
        "BENCH_PHASE_FILE": str(folder / "phase"),
        "BENCH_QUERY_DIR": str(folder / "queries"),
    }
    log(f"{label} (run {run_index}): starting the stack")
    where = {}
    if options.database:
        import seed_assets

        seed_assets.drop_database(options.database)
        with seed_assets._connect(seed_assets.database_url("postgres")) as admin:
            admin.execute(f'CREATE DATABASE "{options.database}"')
        where = {"database_url": seed_assets.database_url(options.database), "migrate": True}
    if options.redis_url:
        where["redis_url"] = options.redis_url
    stack = Stack(web=web, workers=workers, env=env, pythonpath=[str(BENCH / "boot")], **where)
    s3 = S3Counter(stack.s3_outage)
    try:
        return _measure_shape(stack, s3, label, run_index, options, folder)
    finally:
        if options.database:
            seed_assets.drop_database(options.database)


def _measure_shape(stack, s3, label, run_index, options, folder) -> dict:
    import psutil
    from upload import Sampler, read_query_counts, set_phase

    with stack:
        database = stack.database_url.rsplit("/", 1)[1]
        log(f"{label}: stack up at {stack.url} ({', '.join(f'{k} {v}' for k, v in stack.pids().items())}); setting up")
        setup = set_up(stack, options)
        log(f"{label}: project {setup['project_id']} with {options.project_assets:,} assets; logging in "
            f"{options.sessions + options.managers} people")
        people = [{"role": "uploader", **person, "cookies": log_in(stack.url, person["username"])} for person in setup["uploaders"]]
        people += [{"role": "manager", **person, "cookies": log_in(stack.url, person["username"])} for person in setup["managers"]]
        config = {
            "base_url": stack.url, "project_id": setup["project_id"], "people": people, "files": options.files,
            "per_drop": options.per_drop, "concurrency": options.concurrency, "poll_interval": options.poll_interval,
            "manager_interval": options.manager_interval, "timeout": options.timeout, "label": f"{label} r{run_index}",
            "output": str(folder / "locust.json"),
        }
        (folder / "config.json").write_text(json.dumps(config))
        sampler_groups = process_groups(stack, database)
        child = subprocess.Popen([sys.executable, __file__, "--locust-child", str(folder / "config.json")], cwd=ROOT,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(folder / "locust.log", "wb"))
        sampler_groups["load generator (locust)"] = lambda: [psutil.Process(child.pid)]
        sampler = Sampler(sampler_groups, interval=0.5)
        queues = QueueDepth(stack.redis_url)
        s3_before = s3.snapshot()
        rows_before = table_rows(stack)
        set_phase(folder, "measure")
        sampler.start()
        queues.start()
        started = time.monotonic()
        try:
            child.wait(timeout=options.timeout + 120)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)
            child.wait(30)
        wall = time.monotonic() - started
        processes = sampler.finish()
        queue_depth = queues.finish()
        set_phase(folder, "after")
        s3_requests = {method: count - s3_before.get(method, 0) for method, count in s3.snapshot().items()}
        if child.returncode != 0:
            raise RuntimeError(f"locust child failed ({child.returncode}):\n{(folder / 'locust.log').read_text()[-4000:]}")
        load = json.loads((folder / "locust.json").read_text())
        session_ids = [session["id"] for session in load["sessions"] if session.get("id")]
        # The last session's email may still be on its way when its page saw it complete.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sum(emails_per_session(stack, session_ids).values()) < len(session_ids):
            time.sleep(1)
        emails = emails_per_session(stack, session_ids)
        state = database_state(stack, session_ids)
        rows_after = table_rows(stack)
        state["rows_added"] = {table: rows_after[table] - rows_before.get(table, 0) for table in rows_after
                               if rows_after[table] != rows_before.get(table, 0)}
        time.sleep(6)  # querycount writes every 5 s and at exit; gunicorn's workers exit with the stack
    queries = read_query_counts(folder / "queries", "measure", max(1, options.sessions * options.files))
    return summarize_shape(label, run_index, options, load, processes, wall, s3_requests, queries, state, emails, setup) | {
        "redis_queue_depth": queue_depth}


def summarize_shape(label, run_index, options, load, processes, wall, s3_requests, queries, state, emails, setup) -> dict:
    files = options.sessions * options.files
    window = load["measured_seconds"]
    portal = {name: entry for name, entry in processes.items() if isinstance(entry, dict) and kind_of(name) in PORTAL_KINDS}
    portal_cpu = sum(entry["cpu_seconds"] for entry in portal.values())
    portal_requests = sum(entry["requests"] for name, entry in load["endpoints"].items() if not name.startswith("storage"))
    errors = sum(entry["failures"] for entry in load["endpoints"].values()) + len(load["protocol_errors"])
    end_state = {
        "every_file_ready": state["files_by_status"] == {"ready": files},
        "every_session_complete": state["sessions_by_status"] == {"complete": options.sessions},
        "one_email_per_session": sorted(set(emails.values())) == [1] and len(emails) == options.sessions,
        "files_by_status": state["files_by_status"],
        "sessions_by_status": state["sessions_by_status"],
        "emails_per_session": sorted(emails.values()),
    }
    end_state["ok"] = end_state["every_file_ready"] and end_state["every_session_complete"] and end_state["one_email_per_session"]
    busiest = max(((name, entry.get("busiest_5s_cores") or 0) for name, entry in processes.items() if isinstance(entry, dict)
                   and "busiest_5s_cores" in entry), key=lambda item: item[1], default=(None, 0))
    by_endpoint_queries = {unit: entry["per_call"] for unit, entry in queries["web"]["by_unit"].items()}
    return {
        "shape": label,
        "run": run_index,
        "measured_seconds": round(window, 1),
        "harness_wall_seconds": round(wall, 1),
        "throughput": {
            "files_per_second": round(files / window, 2),
            "sessions_per_minute": round(options.sessions / window * 60, 2),
            "portal_requests_per_second": round(portal_requests / window, 2),
            "s3_requests_per_second": round(sum(s3_requests.values()) / window, 2),
        },
        "errors": errors,
        "protocol_errors": load["protocol_errors"][:20],
        "endpoints": {name: entry | {"queries_per_request": by_endpoint_queries.get(entry.get("route"))}
                      for name, entry in load["endpoints"].items()},
        "s3_requests": s3_requests,
        "queries": {"web_per_file": queries["web"]["per_file"], "worker_per_file": queries["worker"]["per_file"],
                    "web_by_route": queries["web"]["by_unit"], "worker_by_task": queries["worker"]["by_unit"]},
        "processes": processes,
        "portal_cpu_seconds": round(portal_cpu, 2),
        "work_per_cpu_second": helpers.work_per_cpu_second(
            sessions=options.sessions, requests=portal_requests, cpu_seconds=portal_cpu
        ) | {"files": round(files / portal_cpu, 3) if portal_cpu else None},
        "busiest_process": {"name": busiest[0], "cores_in_its_busiest_5s": busiest[1]},
        "sessions": {"seconds": helpers.spread([session["seconds"] for session in load["sessions"]]),
                     "polls_per_session": helpers.median([session["polls"] for session in load["sessions"]])},
        "end_state": end_state,
        # Rows the measured part added, per table and per file: PostgreSQL's growth (docs/CAPACITY.md).
        "rows_added": state["rows_added"],
        "rows_added_per_file": {table: round(count / files, 3) for table, count in state["rows_added"].items()},
        "seeded": setup.get("seeded"),
    }


# --- the locust child ----------------------------------------------------------------------------------------------------

def locust_child(config_path: str) -> None:
    """Runs in its own process: locust's users against the stack; writes the figures to config["output"]."""
    import gevent
    import gevent.event
    from gevent.pool import Pool
    from gevent.queue import Queue
    from locust import HttpUser, constant, task
    from locust.env import Environment
    from locust.exception import StopUser

    config = json.loads(Path(config_path).read_text())
    people = {"uploader": [p for p in config["people"] if p["role"] == "uploader"],
              "manager": [p for p in config["people"] if p["role"] == "manager"]}
    project = config["project_id"]
    base_jpeg = helpers.base_jpeg()
    sessions: list[dict] = []
    protocol_errors: list[str] = []
    routes: dict[str, str] = {}
    uploaders_done = gevent.event.Event()
    remaining = {"uploaders": len(people["uploader"])}

    def name(endpoint: str, route: str) -> str:
        routes[endpoint] = route
        return endpoint

    class Person(HttpUser):
        abstract = True
        host = config["base_url"]

        def on_start(self):
            self.person = people[self.role].pop()
            for key, value in self.person["cookies"].items():
                self.client.cookies.set(key, value)
            self.csrf = self.person["cookies"].get("csrftoken", "")

        def post_json(self, url: str, body: dict, endpoint: str, route: str) -> dict | None:
            with self.client.post(url, json=body, name=name(endpoint, route), catch_response=True,
                                  headers={"X-CSRFToken": self.csrf, "Accept": "application/json"}) as answer:
                if answer.status_code != 200:
                    answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                    return None
                return answer.json()

    class Uploader(Person):
        role = "uploader"
        fixed_count = len(people["uploader"])
        wait_time = constant(0)

        @task
        def upload_session(self):
            record = {"user": self.person["username"], "polls": 0}
            started = time.monotonic()
            try:
                self._session(record)
            except Exception as error:  # reported, and the run fails its end state
                protocol_errors.append(f"{self.person['username']}: {error!r}")
            record["seconds"] = round(time.monotonic() - started, 2)
            sessions.append(record)
            remaining["uploaders"] -= 1
            if remaining["uploaders"] == 0:
                uploaders_done.set()
            raise StopUser()

        def _session(self, record: dict) -> None:
            new = f"/projects/{project}/uploads/new/"
            self.client.get(new, name=name("session new (form)", "/projects/<id>/uploads/new/"))
            answer = self.client.post(new, name=name("session new (submit)", "/projects/<id>/uploads/new/"), allow_redirects=False,
                                      data={"asset_type": "image", "source": "direct", "capture_date": "2026-12-01",
                                            "view_name": f"{config['label']} {self.person['username']}",
                                            "csrfmiddlewaretoken": self.csrf}, headers={"Referer": config["base_url"] + new})
            if answer.status_code != 302:
                raise RuntimeError(f"opening a session answered {answer.status_code}")
            base = answer.headers["Location"]
            record["id"] = base.rstrip("/").rsplit("/", 1)[1]
            page = self.client.get(base, name=name("session page", "/projects/<id>/uploads/<id>/"))
            poll_state = {"next": helpers.next_poll(page.text), "sending": True, "complete": False}
            poller = gevent.spawn(self._poll, base, poll_state, record)

            waiting: Queue = Queue()
            completions = {"ids": [], "keys": {}, "first": None}
            done_putting = gevent.event.Event()
            in_flight = {"n": 0}

            def complete(force: bool = False):
                if not completions["ids"]:
                    return
                if not force and len(completions["ids"]) < 100 and time.monotonic() - completions["first"] < 2:
                    return
                ids, keys = completions["ids"], completions["keys"]
                completions.update(ids=[], keys={}, first=None)
                answer = self.post_json(base + "complete/", {"assetIds": ids, "keys": keys}, "complete",
                                        "/projects/<id>/uploads/<id>/complete/")
                if answer is not None and answer.get("queued") != len(ids):
                    protocol_errors.append(f"complete queued {answer.get('queued')} of {len(ids)}")

            def completer():
                while not done_putting.is_set():
                    gevent.sleep(0.25)
                    complete()
                complete(force=True)

            def put(item):
                data, instructions = item
                transfer = instructions["put"]
                with self.client.request(transfer["method"], transfer["url"], data=data, headers=transfer["headers"],
                                         name=name("storage PUT (S3)", ""), catch_response=True) as answer:
                    if answer.status_code != 200:
                        answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                    else:
                        if completions["first"] is None:
                            completions["first"] = time.monotonic()
                        completions["ids"].append(instructions["assetId"])
                        completions["keys"][instructions["assetId"]] = instructions["key"]
                        if len(completions["ids"]) >= 100:
                            complete(force=True)
                in_flight["n"] -= 1

            completing = gevent.spawn(completer)
            pool = Pool(config["concurrency"])

            def sender():
                while True:
                    item = waiting.get()
                    if item is None:
                        return
                    pool.spawn(put, item)

            sending = gevent.spawn(sender)
            for number, size in enumerate(helpers.drops(config["files"], config["per_drop"])):
                # The next drop is registered when the transfers are about to run out of files (engine.js runningLow).
                while in_flight["n"] >= 2 * config["concurrency"]:
                    gevent.sleep(0.05)
                contents = {}
                entries = []
                for index in range(size):
                    client_id = f"d{number}-{index}"
                    data = helpers.unique_jpeg(base_jpeg, f"{record['id']}/{client_id}")
                    contents[client_id] = data
                    entries.append(helpers.file_entry(client_id, f"frame-{number:02d}-{index:03d}.jpg", data))
                answer = self.post_json(base + "files/", {"drop": {"id": f"d{number}", "size": size}, "files": entries},
                                        "register", "/projects/<id>/uploads/<id>/files/")
                if answer is None:
                    raise RuntimeError(f"drop {number} was refused")
                for result in answer["files"]:
                    if result["outcome"] != "upload":
                        protocol_errors.append(f"{result['name']}: {result['outcome']} {result.get('reason', '')}")
                        continue
                    in_flight["n"] += 1
                    waiting.put((contents[result["clientId"]], result))
            waiting.put(None)
            sending.join()
            pool.join()
            done_putting.set()
            completing.join()
            poll_state["sending"] = False
            answer = self.client.post(base + "finalize/", name=name("finalize", "/projects/<id>/uploads/<id>/finalize/"),
                                      headers={"X-CSRFToken": self.csrf, "HX-Request": "true"})
            if answer.status_code != 200:
                raise RuntimeError(f"finalize answered {answer.status_code}")
            deadline = time.monotonic() + config["timeout"]
            while not poll_state["complete"] and time.monotonic() < deadline:
                gevent.sleep(0.5)
            poller.kill()
            record["complete"] = poll_state["complete"]
            if not poll_state["complete"]:
                raise RuntimeError("the session page never saw its session complete")

        def _poll(self, base: str, state: dict, record: dict) -> None:
            while True:
                gevent.sleep(config["poll_interval"])
                since, seen = state["next"] or ("", "")
                params = {"since": since}
                if seen:
                    params["seen"] = seen
                if state["sending"]:
                    params["sending"] = "1"
                with self.client.get(base + "changes/", params=params, headers={"HX-Request": "true"},
                                     name=name("session poll", "/projects/<id>/uploads/<id>/changes/"),
                                     catch_response=True) as answer:
                    record["polls"] += 1
                    if answer.status_code not in (200, 286):
                        answer.failure(f"{answer.status_code}")
                        continue
                    answer.success()
                    state["next"] = helpers.next_poll(answer.text) or state["next"]
                    if answer.status_code == 286:
                        state["complete"] = True
                        return

    class Manager(Person):
        role = "manager"
        fixed_count = len(people["manager"])
        wait_time = constant(config["manager_interval"])

        @task
        def tabs(self):
            if uploaders_done.is_set():
                raise StopUser()
            self.client.get(f"/projects/{project}/uploads/", name=name("Uploads tab", "/projects/<id>/uploads/"))
            gevent.sleep(config["manager_interval"])
            self.client.get(f"/projects/{project}/assets/", name=name("Assets tab", "/projects/<id>/assets/"))

    environment = Environment(user_classes=[Uploader, Manager])
    runner = environment.create_local_runner()
    started = time.monotonic()
    runner.start(len(config["people"]), spawn_rate=len(config["people"]))
    uploaders_done.wait(timeout=config["timeout"])
    measured = time.monotonic() - started
    runner.quit()
    endpoints = {}
    for (endpoint, method), entry in environment.stats.entries.items():
        endpoints[f"{endpoint}" if endpoint in routes and routes[endpoint] else f"{endpoint}"] = {
            "method": method,
            "route": routes.get(endpoint) or None,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "requests_per_second": round(entry.num_requests / measured, 2),
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
            "max_ms": round(entry.max_response_time or 0, 1),
        }
    failures = [{"endpoint": error.name, "error": str(error.error)[:300], "count": error.occurrences}
                for error in environment.stats.errors.values()]
    Path(config["output"]).write_text(json.dumps({
        "measured_seconds": measured, "endpoints": endpoints, "sessions": sessions,
        "protocol_errors": protocol_errors + [f"{f['endpoint']}: {f['error']} (x{f['count']})" for f in failures],
    }))


# --- the invocation -----------------------------------------------------------------------------------------------------

def compare(runs: list[dict]) -> dict:
    """Medians per shape and the scaling ratio of work per CPU-second (2+2 over 1+1)."""
    by_shape: dict[str, list[dict]] = {}
    for run in runs:
        by_shape.setdefault(run["shape"], []).append(run)
    medians = {}
    for shape, items in by_shape.items():
        medians[shape] = {
            "files_per_second": helpers.spread([r["throughput"]["files_per_second"] for r in items]),
            "portal_requests_per_second": helpers.spread([r["throughput"]["portal_requests_per_second"] for r in items]),
            "portal_cpu_seconds": helpers.spread([r["portal_cpu_seconds"] for r in items]),
            "sessions_per_cpu_second": helpers.spread([r["work_per_cpu_second"]["sessions"] for r in items]),
            "requests_per_cpu_second": helpers.spread([r["work_per_cpu_second"]["requests"] for r in items]),
            "files_per_cpu_second": helpers.spread([r["work_per_cpu_second"]["files"] for r in items]),
            "errors": sum(r["errors"] for r in items),
            "end_state_ok": all(r["end_state"]["ok"] for r in items),
        }
    shapes = list(by_shape)
    result = {"by_shape": medians}
    if len(shapes) >= 2:
        first, last = shapes[0], shapes[-1]

        def median_of(shape, key):
            entry = medians[shape][key]
            return entry["median"] if entry else None

        result["scaling"] = {
            "compared": f"{last} / {first}",
            "sessions_per_cpu_second_ratio": helpers.ratio(median_of(last, "sessions_per_cpu_second"), median_of(first, "sessions_per_cpu_second")),
            "requests_per_cpu_second_ratio": helpers.ratio(median_of(last, "requests_per_cpu_second"), median_of(first, "requests_per_cpu_second")),
            "files_per_cpu_second_ratio": helpers.ratio(median_of(last, "files_per_cpu_second"), median_of(first, "files_per_cpu_second")),
        }
        result["scaling"]["at_least_0_9"] = all(
            value is not None and value >= 0.9 for key, value in result["scaling"].items() if key.endswith("_ratio")
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent upload sessions (default 20)")
    parser.add_argument("--files", type=int, default=1500, help="files per session (default 1,500)")
    parser.add_argument("--per-drop", type=int, default=100, help="files per drop (default 100)")
    parser.add_argument("--managers", type=int, default=5, help="managers polling the tabs (default 5)")
    parser.add_argument("--project-assets", type=int, default=100_000, help="finished assets seeded in the project (default 100,000)")
    parser.add_argument("--shapes", default="1+1,2+2", help="web+workers shapes, comma-separated (default 1+1,2+2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each shape, alternating (default 1)")
    parser.add_argument("--concurrency", type=int, default=6, help="PUTs at a time per session (UPLOAD_BROWSER_CONCURRENCY)")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="session page poll, seconds (UPLOAD_POLL_INTERVAL_MS)")
    parser.add_argument("--manager-interval", type=float, default=2.0, help="seconds between a manager's page loads")
    parser.add_argument("--timeout", type=float, default=3600, help="longest a shape's measured part may take, seconds")
    parser.add_argument("--database", help="run each shape on this PostgreSQL database, made afresh and dropped after "
                        "(default: one the stack makes)")
    parser.add_argument("--redis-url", help="the Redis database the stack's queues and cache use (default: the stack's "
                        "choice; give one of your own on a shared server)")
    parser.add_argument("--smoke", action="store_true", help="4 sessions of 200 files, 2 managers, 5,000 assets")
    parser.add_argument("--locust-child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.locust_child:
        locust_child(options.locust_child)
        return
    if options.smoke:
        options.sessions, options.files, options.managers, options.project_assets = 4, 200, 2, 5000
    shapes = [tuple(int(n) for n in shape.split("+")) for shape in options.shapes.split(",")]

    from upload import code_facts, wait_for_quiet_machine

    facts = code_facts()
    quiet = wait_for_quiet_machine(30)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        for repeat in range(options.repeat):
            order = shapes if repeat % 2 == 0 else list(reversed(shapes))
            for web, workers in order:
                runs.append(run_shape(web, workers, repeat, options, Path(folder)))
                log(f"{runs[-1]['shape']}: {runs[-1]['throughput']['files_per_second']} files/s, "
                    f"{runs[-1]['errors']} errors, end state {'ok' if runs[-1]['end_state']['ok'] else 'NOT ok'}")
    result = {
        "benchmark": "load",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code": facts,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "before_start": quiet,
                    "load_average_after": [round(value, 2) for value in os.getloadavg()]},
        "parameters": {key: value for key, value in vars(options).items() if key != "locust_child"},
        "summary": compare(runs),
        "runs": runs,
        "notes": [
            "work_per_cpu_second divides the sessions (and the portal requests: every request locust made except the "
            "storage PUTs) by the CPU seconds of the portal's processes (web, worker and beat process groups, pool "
            "processes included) over the measured window; PostgreSQL, Redis, nginx, moto and the load generator are "
            "reported apart.",
            "busiest_5s_cores: the most CPU a process group used in any 5 s of the window, in cores (1.0 = one core "
            "busy): a single-threaded process saturates at about 1.0, the machine at 2.0.",
            "Latency is measured by locust through nginx, on the same 2 cores as everything else.",
        ],
    }
    text = json.dumps(result, indent=2, default=str)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / f"load-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
