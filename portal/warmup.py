"""Work each web process would otherwise do in its first requests, done while it starts (portal/wsgi.py).

On S3, building boto3's client (botocore reads its service model) and the PUT signing set-up; finalizing
the Celery app and loading its result backend (it scans installed packages for backends); compiling the
templates of the upload page's polls. Measured alone, a first registration of 100 files cost 0.1-0.15 s more
than the next ones and a first completion about 0.03 s more, in every web process, in someone's upload.

Done in each process after the server forks, so no client or connection crosses a fork. A step that fails
is logged and left to the first request that needs it, which reports the problem as it always did.
"""

import logging

from django.template.loader import get_template

logger = logging.getLogger(__name__)

# Rendered on every poll of an upload session (uploads.views.session_changes).
HOT_TEMPLATES = (
    "uploads/session_changes.html",
    "uploads/_file_row.html",
    "uploads/_session_summary.html",
    "uploads/_poller.html",
)


def warm_up() -> None:
    for step in (_storage, _task_queue, _templates):
        try:
            step()
        except Exception:
            logger.warning(
                "Start-up step %s failed; the first request that needs it will try again.", step.__name__, exc_info=True
            )


def _storage() -> None:
    from assets import storage

    storage.prepare()


def _task_queue() -> None:
    from portal.celery import app

    app.finalize(auto=True)
    app.backend  # noqa: B018 (finds and loads the result backend's class)
    app.amqp  # noqa: B018 (queues, router, task message format)
    with app.connection_for_write() as connection:
        connection.transport  # noqa: B018 (imports the broker's transport; connects to nothing)


def _templates() -> None:
    for name in HOT_TEMPLATES:
        get_template(name)
