"""The portal's Celery app with SQL query counting, for bench/upload.py: `celery -A bench.celery_bench worker ...`.

The same app object as `-A portal` (portal/celery.py); importing this module only connects Celery
signals so that each pool process counts its queries per task (bench/querycount.py) and writes them
to BENCH_QUERY_DIR after every task and when it shuts down.
"""

import sys
from pathlib import Path

from celery import signals

from portal.celery import app

sys.path.insert(0, str(Path(__file__).resolve().parent))
import querycount  # noqa: E402

__all__ = ["app"]


@signals.worker_process_init.connect
def _count_queries(**kwargs):
    querycount.install("worker")


@signals.task_prerun.connect
def _task_started(task=None, **kwargs):
    querycount.begin(getattr(task, "name", "?"))


@signals.task_postrun.connect
def _task_finished(**kwargs):
    querycount.end()
    querycount.dump()


@signals.worker_process_shutdown.connect
def _process_exit(**kwargs):
    querycount.dump()
