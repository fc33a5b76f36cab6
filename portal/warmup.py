"""Work each web or Celery pool process would otherwise do in its first requests or tasks, done while it starts.

On S3, building boto3's client (botocore reads its service model) and the PUT signing set-up; finalizing
the Celery app and loading its result backend (it scans installed packages for backends); compiling the
templates of the upload page's polls. Measured alone, a first registration of 100 files cost 0.1-0.15 s more
than the next ones and a first completion about 0.03 s more, in every web process, in someone's upload.

Last, what start-up built is moved out of the garbage collector's sight (`gc.freeze()`): Django's,
botocore's and Celery's objects live as long as the process, yet every full collection walked all of them
(about 180,000; about 0.1 s of CPU each time, in the middle of someone's request). In bench/upload.py (S3,
1,500 files, two runs each way) the collector's CPU fell from 0.26-0.28 s to 0.05 s in the web processes
and from 0.32-0.34 s to 0.01 s in the worker's pool processes.

Done in each process after the server forks (web: portal/wsgi.py; Celery pool processes: portal/celery.py),
so no client or connection crosses a fork. A step that fails is logged and left to the first request that
needs it, which reports the problem as it always did.
"""

import gc
import logging

from django.template.loader import get_template

from assets import storage
from portal.celery import app

logger = logging.getLogger(__name__)

# Rendered on every poll of an upload session (uploads.views.session_changes).
HOT_TEMPLATES = (
    "uploads/session_changes.html",
    "uploads/_file_rows.html",
    "uploads/_session_summary.html",
    "uploads/_poller.html",
)


def warm_up() -> None:
    for step in (_storage, _task_queue, _templates, _freeze):
        try:
            step()
        except Exception:
            logger.warning(
                "Start-up step %s failed; the first request that needs it will try again.", step.__name__, exc_info=True
            )


def _storage() -> None:
    storage.prepare()


def _task_queue() -> None:
    app.finalize(auto=True)
    app.backend  # noqa: B018 (finds and loads the result backend's class)
    app.amqp  # noqa: B018 (queues, router, task message format)
    with app.connection_for_write() as connection:
        connection.transport  # noqa: B018 (imports the broker's transport; connects to nothing)


def _templates() -> None:
    for name in HOT_TEMPLATES:
        get_template(name)


def _freeze() -> None:
    # Objects made from here on are collected as usual; frozen ones stay for the life of the process.
    gc.collect()
    gc.freeze()
