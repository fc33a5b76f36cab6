"""Real Celery worker processes and a real SMTP server for the integration tests."""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.s3 import free_port

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database the tests run on (the test database), for another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env |= {
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.STORAGES["default"]["OPTIONS"]["location"]),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    env |= extra
    return env


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process = process
        self.log = log

    def kill(self) -> None:
        """SIGKILL to the worker and its pool children at once: no clean-up, no acknowledgement."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def purge_queues(queues: str) -> None:
    """Drops messages an earlier, interrupted run left in the broker, so the worker only sees this test's."""
    from portal.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues.split(","):
            try:
                channel.queue_purge(queue)
            except Exception:  # a queue nobody declared yet holds nothing to drop
                pass


@contextmanager
def celery_worker(tmp_path: Path, *, beat: bool = False, queues: str = "default,media,email,fetch", purge: bool = True, **env: str):
    """A worker process (with beat inside it when asked), stopped at the end whatever happens."""
    if purge:
        purge_queues(queues)
    name = uuid.uuid4().hex[:8]
    log = tmp_path / f"worker-{name}.log"
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO", "--queues", queues,
        "--concurrency", "1", "--hostname", f"test-{name}@%h", "--without-gossip", "--without-mingle",
    ]
    if beat:
        command += ["--beat", "--schedule", str(tmp_path / f"beat-{name}")]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=worker_environment(**env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = Worker(process, log)
    try:
        yield worker
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def wait_for(predicate, *, timeout: float, interval: float = 0.25, what: str = "the condition", worker: Worker | None = None):
    """Polls `predicate` until it returns something truthy, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    detail = f"\n--- worker log ---\n{worker.output()[-20000:]}" if worker else ""
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.{detail}")


class Mailbox:
    """Messages an SMTP server on 127.0.0.1 received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(*, mailbox: Mailbox | None = None, port: int | None = None):
    """An SMTP server on 127.0.0.1 (a free port unless given), collecting into `mailbox` (a fresh one unless given)."""
    from aiosmtpd.controller import Controller

    mailbox = mailbox if mailbox is not None else Mailbox()
    port = port or free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()
