"""The portal in production shape on one machine: `make stack WEB=2 WORKERS=2`, or `with Stack(web=2, workers=2)`.

It starts, from the Procfile's own lines, WEB gunicorn web processes (one gunicorn worker each, on separate 127.0.0.1
ports) behind nginx balancing them round robin, WORKERS Celery workers, one beat (and the fetcher when asked), with
PORTAL_ENV=production: PostgreSQL, Redis as broker and cache, moto's S3 server as the object store and an SMTP sink
(aiosmtpd) as the mail server. Every process gets a data folder of its own (PORTAL_VAR_DIR), so nothing is shared
through the local disk; only plain HTTP on 127.0.0.1 differs from a deployment (no TLS redirect, no Secure cookies).

PostgreSQL and Redis are the ones given (DATABASE_URL / REDIS_URL, or the ones answering on 127.0.0.1:5432 and :6379);
otherwise the stack starts its own from Debian's binaries (initdb/pg_ctl, redis-server) in a temporary folder. Without
a DATABASE_URL a run gets a database of its own (stack_<random>, migrated, dropped at the end), and always a cache
key prefix of its own; two stacks at once need two Redis databases (their queues would mix).

moto and the SMTP sink run in threads of the process that holds the Stack: tests read the messages it received
(`stack.mailbox.messages`), stop it (`stack.smtp_stop()`), and make S3 answer 503 (`stack.s3_outage.answer(503, seconds=10)`).
Every process is in a group of its own, is told to stop when its parent dies, and is stopped when the Stack is left.
"""

import argparse
import contextlib
import ctypes
import getpass
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import s3  # noqa: E402  (the moto server and bucket the test suite uses)
from tests.worker import Mailbox, smtp_server  # noqa: E402  (the SMTP sink the integration tests use)

VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python" if (VENV_BIN / "python").exists() else Path(sys.executable)
# Variables of the caller that must not reach the portal's processes (the stack sets its own).
_NOT_PASSED = ("DATABASE_URL", "REDIS_URL", "PORTAL_", "AWS_", "EMAIL_", "PYTEST", "DJANGO_SETTINGS_MODULE", "CELERY_",
               "SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "DEBUG", "MEDIA_ROOT", "PYTHONPATH")


class StackUnavailable(RuntimeError):
    """Something the stack needs is missing on this machine (the message says what)."""


def answers(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def wait_until(check, *, timeout: float, what: str, interval: float = 0.2, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise StackUnavailable(f"Timed out after {timeout:.0f}s waiting for {what}." + (f"\n{log()}" if log else ""))


def _die_with_parent() -> None:
    """In the child before exec: a session of its own, and SIGTERM when the process that started it dies."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def procfile_command(kind: str, env: dict[str, str]) -> list[str]:
    """The Procfile's command for `kind`, with ${NAME:-default} and $NAME expanded from `env`, the venv's programs."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            command = line.split(":", 1)[1].strip()
            break
    else:
        raise StackUnavailable(f"No {kind}: line in the Procfile")
    command = re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1)) or (m.group(2) or ""), command)
    command = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), command)
    argv = shlex.split(command)
    if (VENV_BIN / argv[0]).exists():
        argv[0] = str(VENV_BIN / argv[0])
    return argv


class Process:
    """One process of the stack (with its children: gunicorn's worker, Celery's pool), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path, ready=None):
        self.name, self.argv, self.env, self.log, self.ready = name, argv, env, log, ready
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def psutil(self):
        """The process and its children now (psutil objects), for CPU and memory figures."""
        import psutil

        parent = psutil.Process(self.pid)
        return [parent, *parent.children(recursive=True)]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """`sig` to the whole group at once (SIGKILL: no clean-up, no acknowledgement, no goodbye to the broker)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)
        if sig == signal.SIGKILL:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.popen is None:
            return
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (a pool process whose parent was killed) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def output(self, tail: int = 8000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


class PrivateRedis:
    """A redis-server of the stack's own on a free port (append-only file, so a restart keeps the queues)."""

    def __init__(self, folder: Path):
        if not shutil.which("redis-server"):
            raise StackUnavailable("No Redis answers on 127.0.0.1:6379 and redis-server is not installed.")
        self.folder, self.port = folder, s3.free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.process = Process(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"],
            dict(os.environ), folder / "redis.log",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process.start()
        wait_until(lambda: answers(self.port), timeout=20, what="redis-server", log=self.process.output)

    def stop(self) -> None:
        self.process.stop()

    def restart(self, *, down_for: float = 0) -> None:
        """Stops Redis (it writes its data first), keeps it down for `down_for` seconds, starts it on the same port."""
        self.process.stop()
        time.sleep(down_for)
        self.start()


class PrivatePostgres:
    """A PostgreSQL cluster of the stack's own (Debian's initdb/pg_ctl) on a free port, in a temporary folder."""

    def __init__(self, folder: Path):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            raise StackUnavailable("No PostgreSQL answers on 127.0.0.1:5432 and Debian's pg_ctl is not installed.")
        self.bin, self.folder, self.port = found[-1].parent, folder, s3.free_port()
        self.data = folder / "data"
        # initdb refuses to run as root: the cluster then belongs to the postgres user.
        self.user = "postgres" if os.geteuid() == 0 else None
        folder.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(folder, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def _with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(url, "postgres").replace("postgres://", "postgresql://", 1), autocommit=True) as db:
        db.execute(sql)


def ensure_nginx() -> str:
    """nginx's path; installed from Debian with apt when missing and allowed (root), like `make browser` does Chromium."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], env=env, capture_output=True, timeout=600)
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        raise StackUnavailable("nginx is not installed (apt-get install nginx): it balances the web processes.")
    return found


NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    # Which web process served each request ($upstream_addr), read by Stack.served().
    log_format balanced '$msec $status $upstream_addr "$request"';
    access_log {folder}/access.log balanced;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 64m;
    upstream portal {{
        # Round robin; a web process that refuses a connection is left out for fail_timeout.
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://portal;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # A request no web process has read yet goes to the next one (a POST already sent does not: nginx's
            # default, since it may have been acted on).
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


class Stack:
    """The production-shaped portal (see the module's docstring). Use as a context manager; `url` is nginx's address.

    web, workers: processes of each kind; worker_concurrency, web_threads: pool processes per worker, threads per web
    process; fetcher: also the Procfile's fetcher; beat: also one beat; database_url, redis_url: use these instead of
    creating a database / using 127.0.0.1's Redis (redis_url="private": a redis-server of the stack's own, which
    `restart_redis` can restart); migrate: run the migrations first (default: when the stack created the database);
    env: settings for every portal process (e.g. {"UPLOAD_CLEANUP_INTERVAL_SECONDS": "60"}); pythonpath: folders put
    before the portal's on every process's path.
    """

    def __init__(
        self,
        web: int = 2,
        workers: int = 2,
        *,
        worker_concurrency: int = 1,
        web_threads: int = 4,
        fetcher: bool = False,
        beat: bool = True,
        database_url: str | None = None,
        redis_url: str | None = None,
        migrate: bool | None = None,
        env: dict[str, str] | None = None,
        pythonpath: list[str] | None = None,
        port: int | None = None,
        folder: Path | None = None,
    ):
        self.web_count, self.worker_count = web, workers
        self.worker_concurrency, self.web_threads = worker_concurrency, web_threads
        self.with_fetcher, self.with_beat = fetcher, beat
        self.requested_database, self.requested_redis = database_url, redis_url
        self.migrate = migrate
        self.extra_env = dict(env or {})
        self.pythonpath = list(pythonpath or [])
        self.port = port or s3.free_port()
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="portal-stack-"))
        self.processes: dict[str, Process] = {}
        self.mailbox = Mailbox()
        self.s3_outage = s3.Outage()
        self.redis: PrivateRedis | None = None
        self.postgres: PrivatePostgres | None = None
        self._exit = contextlib.ExitStack()
        self._created_database: tuple[str, str] | None = None
        self._smtp: contextlib.AbstractContextManager | None = None
        self.smtp_port = s3.free_port()

    # --- what callers read ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> dict[str, int]:
        """The pid of each process by name (web-1, web-2, worker-1, ..., beat, nginx): each leads its own group."""
        return {name: process.pid for name, process in self.processes.items() if process.alive}

    def web_names(self) -> list[str]:
        return [name for name in self.processes if name.startswith("web-")]

    def worker_names(self) -> list[str]:
        return [name for name in self.processes if name.startswith("worker-")]

    def served(self) -> list[dict]:
        """The requests nginx passed on so far: status, the web process(es) that answered (by name; two when the first
        refused the connection) and the request line."""
        by_port = {f"127.0.0.1:{self.processes[name].env['PORT']}": name for name in self.web_names()}
        rows = []
        with contextlib.suppress(OSError):
            for line in (self.folder / "nginx" / "access.log").read_text().splitlines():
                at, status, upstreams, request = line.split(" ", 3)
                names = [by_port.get(address.strip(), address.strip()) for address in upstreams.split(",")]
                rows.append({"at": float(at), "status": int(status), "web": names, "request": request.strip('"')})
        return rows

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(f"--- {name} ---\n{process.output(tail)}" for name, process in self.processes.items())

    # --- faults and repairs ----------------------------------------------------------------------------------------

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Sends `sig` (SIGKILL by default) to process `name` and its children at once."""
        self.processes[name].kill(sig)

    def start(self, name: str) -> None:
        """Starts process `name` again (after kill), waiting until it is ready."""
        process = self.processes[name]
        if process.alive:
            process.stop()
        process.start()
        self._wait_ready(process)

    def restart(self, name: str) -> None:
        self.processes[name].stop()
        self.start(name)

    def restart_redis(self, *, down_for: float = 3) -> None:
        """Restarts the stack's own redis-server (redis_url="private"), down for `down_for` seconds."""
        if self.redis is None:
            raise StackUnavailable("restart_redis needs Stack(redis_url='private'): the shared Redis is not restarted.")
        self.redis.restart(down_for=down_for)

    def smtp_stop(self) -> None:
        if self._smtp is not None:
            self._smtp.__exit__(None, None, None)
            self._smtp = None

    def smtp_start(self) -> None:
        """The SMTP sink on its port again, adding to the same mailbox."""
        if self._smtp is None:
            self._smtp = smtp_server(mailbox=self.mailbox, port=self.smtp_port)
            self._smtp.__enter__()

    def manage(self, *args: str, timeout: float = 600) -> str:
        """`python manage.py ...` with the stack's settings."""
        done = subprocess.run(
            [str(PYTHON), "manage.py", *args], cwd=ROOT, env=self._environment("manage"), capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if done.returncode:
            raise StackUnavailable(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return done.stdout

    # --- starting and stopping -------------------------------------------------------------------------------------

    def __enter__(self) -> "Stack":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        nginx = ensure_nginx()
        # moto logs every request it serves; the processes' own logs are what matters here.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.database_url = self._database()
        self.redis_url = self._redis()
        self.cache_key_prefix = f"stack-{secrets.token_hex(4)}"
        self.s3_endpoint = self._exit.enter_context(s3.moto_server(self.s3_outage))
        self.bucket = s3.create_bucket(self.s3_endpoint)
        self.smtp_start()
        self.secret_key = secrets.token_urlsafe(50)
        if self.migrate if self.migrate is not None else self._created_database is not None:
            self.manage("migrate", "--noinput")
        self._purge_queues()
        web_ports = []
        for index in range(1, self.web_count + 1):
            port = s3.free_port()
            web_ports.append(port)
            self._add(f"web-{index}", "web", PORT=str(port))
        for index in range(1, self.worker_count + 1):
            self._add(f"worker-{index}", "worker", extra=["--hostname", f"worker-{index}-{self.cache_key_prefix}@%h"])
        if self.with_fetcher:
            self._add("fetcher", "fetcher", extra=["--hostname", f"fetcher-{self.cache_key_prefix}@%h"])
        if self.with_beat:
            self._add("beat", "beat", extra=["--schedule", str(self.folder / "beat" / "celerybeat-schedule")])
        self._add_nginx(nginx, web_ports)
        for process in self.processes.values():
            process.start()
        for process in self.processes.values():
            self._wait_ready(process)

    def _environment(self, name: str) -> dict[str, str]:
        var_dir = self.folder / name
        var_dir.mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith(_NOT_PASSED)}
        env |= {
            "PORTAL_ENV": "production",
            # Each process its own data folder: nothing goes through the local disk from one process to another.
            "PORTAL_VAR_DIR": str(var_dir),
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": self.url,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CACHE_KEY_PREFIX": self.cache_key_prefix,
            **s3.environment(self.s3_endpoint, self.bucket),
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}",
            # Plain HTTP on 127.0.0.1: what TLS would add in a deployment is off.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            # nginx appends the client's address to X-Forwarded-For.
            "TRUSTED_PROXY_COUNT": "1",
            "BIND_HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": str(self.web_threads),
            "WORKER_CONCURRENCY": str(self.worker_concurrency),
            "PYTHONPATH": os.pathsep.join([*self.pythonpath, str(ROOT)]),
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        return env | self.extra_env

    def _add(self, name: str, kind: str, extra: list[str] | None = None, **env: str) -> None:
        environment = self._environment(name) | env
        argv = procfile_command(kind, environment) + (extra or [])
        if kind == "beat":
            (self.folder / "beat").mkdir(exist_ok=True)
        self.processes[name] = Process(name, argv, environment, self.folder / f"{name}.log", ready=kind)

    def _add_nginx(self, nginx: str, ports: list[int]) -> None:
        folder = self.folder / "nginx"
        folder.mkdir(exist_ok=True)
        # Run as root, nginx's workers would switch to nobody and could not write its temporary folders.
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports)
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(folder=folder, user=user, servers=servers, port=self.port))
        self.processes["nginx"] = Process(
            "nginx", [nginx, "-c", str(conf), "-p", str(folder), "-e", str(folder / "error.log")], dict(os.environ),
            self.folder / "nginx.log", ready="nginx",
        )

    def _wait_ready(self, process: Process) -> None:
        def ready() -> bool:
            if not process.alive:
                raise StackUnavailable(f"{process.name} exited:\n{process.output()}")
            if process.ready == "web":
                return _http_ok(f"http://127.0.0.1:{process.env['PORT']}/healthz")
            if process.ready == "nginx":
                return _http_ok(f"{self.url}/healthz")
            if process.ready in ("worker", "fetcher"):
                return " ready." in process.output(100_000)
            if process.ready == "beat":
                return "beat: Starting" in process.output(100_000)
            return True

        wait_until(ready, timeout=120, what=f"{process.name} to be ready", interval=0.25, log=process.output)

    def _database(self) -> str:
        if self.requested_database:
            return self.requested_database
        server = os.environ.get("STACK_DATABASE_URL")
        if not server:
            if answers(5432):
                server = "postgres://postgres@127.0.0.1:5432/postgres"
            else:
                self.postgres = PrivatePostgres(self.folder / "postgres")
                self.postgres.start()
                server = self.postgres.url
        name = f"stack_{secrets.token_hex(4)}"
        _admin(server, f'CREATE DATABASE "{name}"')
        self._created_database = (server, name)
        return _with_database(server, name)

    def _redis(self) -> str:
        wanted = self.requested_redis or os.environ.get("STACK_REDIS_URL")
        if wanted == "private" or (wanted is None and not answers(6379)):
            self.redis = PrivateRedis(self.folder / "redis")
            self.redis.start()
            return self.redis.url
        return wanted or "redis://127.0.0.1:6379/0"

    def _purge_queues(self) -> None:
        """What an earlier run left in the stack's queues is dropped: its rows are gone, its tasks would find nothing."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        with contextlib.suppress(redis.RedisError):
            client.delete("default", "media", "email", "fetch", "unacked", "unacked_index")
        client.close()

    def stop(self) -> None:
        """Stops everything the stack started (nginx first, so nothing reaches a process that is stopping)."""
        for name in sorted(self.processes, key=lambda name: name != "nginx"):
            self.processes[name].stop()
        self.smtp_stop()
        self._exit.close()
        if self._created_database:
            server, name = self._created_database
            with contextlib.suppress(Exception):
                _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._created_database = None
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", type=int, default=2, help="gunicorn web processes (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    parser.add_argument("--worker-concurrency", type=int, default=1, help="pool processes per worker (default 1)")
    parser.add_argument("--port", type=int, default=8000, help="nginx's port on 127.0.0.1 (default 8000)")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (default: at Ctrl-C)")
    args = parser.parse_args()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    with Stack(
        web=args.web, workers=args.workers, worker_concurrency=args.worker_concurrency, fetcher=True, port=args.port,
    ) as stack:
        print(stack.manage("create_demo").strip(), flush=True)
        print(f"Stack ready at {stack.url}/ ; Ctrl-C stops it.", flush=True)
        for name, pid in stack.pids().items():
            print(f"  {name:<10} pid {pid}", flush=True)
        print(f"  database {stack.database_url}; Redis {stack.redis_url} (cache prefix {stack.cache_key_prefix})", flush=True)
        print(f"  S3 {stack.s3_endpoint} bucket {stack.bucket}; SMTP 127.0.0.1:{stack.smtp_port}; logs {stack.folder}",
              flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        try:
            while not stopping and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.5)
                dead = [name for name, process in stack.processes.items() if not process.alive]
                if dead:
                    print(f"Stopped: {', '.join(dead)} exited.\n{stack.logs()}", flush=True)
                    break
        except KeyboardInterrupt:
            pass
        print(f"Stopping; {len(stack.mailbox.messages)} emails were received.", flush=True)


if __name__ == "__main__":
    main()
