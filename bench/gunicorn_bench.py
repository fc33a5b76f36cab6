"""Gunicorn configuration for bench/upload.py: the Procfile's web line plus SQL query counting.

Passed with `--config`; every other setting comes from the Procfile's command line. Each worker counts
the statements its database connections run (bench/querycount.py), per request route and benchmark
phase, and writes the counts to BENCH_QUERY_DIR when it exits (and every few seconds while it serves).
The access log lines get the request time in seconds (`%(L)s`) appended to gunicorn's default format.
With BENCH_WEB_PROFILE=1 (bench/upload.py --profile-web, a diagnostic) each worker runs cProfile from its first
request of the measured phase to its first request after it (since Python 3.12 one profiler sees every thread of a process)
and writes the profile to BENCH_QUERY_DIR/web-<pid>.prof when it exits; idle threads show up as time in their waits.
"""

import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s'

_profiling = os.environ.get("BENCH_WEB_PROFILE") == "1"
# The worker's cProfile run (timed by process CPU, not wall time: the machine is shared), and whether it ended.
_profile = SimpleNamespace(run=None, ended=False)
_profile_lock = threading.Lock()


def post_worker_init(worker):
    import querycount
    from django.core.signals import request_finished, request_started

    def started(sender, environ=None, **kwargs):
        querycount.begin(querycount.route((environ or {}).get("PATH_INFO", "?")))
        if _profiling:
            _profile_while_measuring(querycount.current_phase() == "portal")

    def finished(sender, **kwargs):
        querycount.end()

    # Strong references: the receivers are closures that would otherwise be collected.
    request_started.connect(started, weak=False, dispatch_uid="bench-request-started")
    request_finished.connect(finished, weak=False, dispatch_uid="bench-request-finished")
    querycount.install("web")


def _profile_while_measuring(measuring: bool) -> None:
    """Starts the profile at the first request of the measured phase, stops it at the first request after it."""
    import cProfile

    with _profile_lock:
        if measuring and _profile.run is None:
            _profile.run = cProfile.Profile(time.process_time)
            _profile.run.enable()
        elif not measuring and _profile.run is not None and not _profile.ended:
            _profile.run.disable()
            _profile.ended = True


def worker_exit(server, worker):
    import querycount

    querycount.dump()
    folder = os.environ.get("BENCH_QUERY_DIR")
    if folder and _profile.run is not None:
        _profile.run.disable()  # in case no request came after the measured phase
        _profile.run.dump_stats(os.path.join(folder, f"web-{os.getpid()}.prof"))
