"""Gunicorn configuration for bench/upload.py: the Procfile's web line plus SQL query counting.

Passed with `--config`; every other setting comes from the Procfile's command line. Each worker counts
the statements its database connections run (bench/querycount.py), per request route and benchmark
phase, and writes the counts to BENCH_QUERY_DIR when it exits (and every few seconds while it serves).
The access log lines get the request time in seconds (`%(L)s`) appended to gunicorn's default format.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s'


def post_worker_init(worker):
    import querycount
    from django.core.signals import request_finished, request_started

    def started(sender, environ=None, **kwargs):
        querycount.begin(querycount.route((environ or {}).get("PATH_INFO", "?")))

    def finished(sender, **kwargs):
        querycount.end()

    # Strong references: the receivers are closures that would otherwise be collected.
    request_started.connect(started, weak=False, dispatch_uid="bench-request-started")
    request_finished.connect(finished, weak=False, dispatch_uid="bench-request-finished")
    querycount.install("web")


def worker_exit(server, worker):
    import querycount

    querycount.dump()
