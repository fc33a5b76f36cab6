"""SQL query counting for the upload benchmark, installed into the portal's own processes from outside.

Used by bench/gunicorn_bench.py (web workers) and bench/celery_bench.py (Celery pool processes); the
product code is not changed. Every database connection a process opens gets a Django execute wrapper
(`connection.execute_wrappers`) that counts the statements it runs, keyed by

    (phase, unit)

(with the CPU time the request's or task's thread spent, from `time.thread_time`), where `phase` is the text of the file named by BENCH_PHASE_FILE when the request or task started (the
benchmark writes "portal", "baseline", ... into it, so set-up traffic is kept apart from the measured
window) and `unit` is the request's route (ids replaced by placeholders) or the task's name. It also sums the CPU time the
process spends in Python's cyclic garbage collector, per phase and generation (`gc.callbacks`). Counts are
written as JSON to BENCH_QUERY_DIR/<kind>-<pid>.json, from time to time and when the process exits.
"""

from __future__ import annotations

import gc
import json
import os
import re
import threading
import time
from collections import Counter

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DUMP_EVERY_SECONDS = 5.0

_local = threading.local()
_lock = threading.Lock()
_queries: Counter = Counter()
_units: Counter = Counter()
_cpu: Counter = Counter()  # CPU seconds of the request/task's own thread
_gc_runs: Counter = Counter()  # "phase generation" -> collections
_gc_seconds: Counter = Counter()  # "phase generation" -> CPU seconds spent collecting (the collecting thread's)
_gc_started = threading.local()
_kind = "process"
_last_dump = 0.0
_phase_cache = {"mtime": None, "phase": "unknown"}


def route(path: str) -> str:
    """A request path with its ids replaced, so requests of one endpoint share a key."""
    if path.startswith("/storage/"):
        return "/storage/<key>"
    return _UUID.sub("<id>", path)


def current_phase() -> str:
    name = os.environ.get("BENCH_PHASE_FILE")
    if not name:
        return "unknown"
    try:
        mtime = os.stat(name).st_mtime_ns
    except OSError:
        return "unknown"
    if mtime != _phase_cache["mtime"]:
        try:
            with open(name) as handle:
                _phase_cache["phase"] = handle.read().strip() or "unknown"
        except OSError:
            return "unknown"
        _phase_cache["mtime"] = mtime
    return _phase_cache["phase"]


def begin(unit: str) -> None:
    """A request or task starts in this thread: its queries count under (phase, unit)."""
    key = f"{current_phase()} {unit}"
    _local.key = key
    _local.cpu = time.thread_time()
    with _lock:
        _units[key] += 1


def end() -> None:
    key = getattr(_local, "key", None)
    if key is not None:
        spent = time.thread_time() - _local.cpu
        with _lock:
            _cpu[key] += spent
    _local.key = None
    if time.monotonic() - _last_dump > _DUMP_EVERY_SECONDS:
        dump()


def _count(execute, sql, params, many, context):
    key = getattr(_local, "key", None) or f"{current_phase()} (outside a request or task)"
    with _lock:
        _queries[key] += 1
    return execute(sql, params, many, context)


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_started.at = time.thread_time()
        return
    started = getattr(_gc_started, "at", None)
    if started is None:
        return
    key = f"{current_phase()} {info['generation']}"
    # The collector runs with the GIL held: no lock needed, and taking one here could deadlock.
    _gc_runs[key] += 1
    _gc_seconds[key] += time.thread_time() - started


def _on_connection_created(sender, connection, **kwargs) -> None:
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


def install(kind: str) -> None:
    """Counts the queries of every connection this process opens from now on (call once per process)."""
    global _kind
    from django.db import connections
    from django.db.backends.signals import connection_created

    _kind = kind
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
    connection_created.connect(_on_connection_created, dispatch_uid="bench-querycount")
    for connection in connections.all(initialized_only=True):
        _on_connection_created(None, connection)


def dump() -> None:
    global _last_dump
    folder = os.environ.get("BENCH_QUERY_DIR")
    _last_dump = time.monotonic()
    if not folder:
        return
    with _lock:
        data = {"kind": _kind, "pid": os.getpid(), "queries": dict(_queries), "units": dict(_units), "cpu": dict(_cpu),
                "gc_runs": dict(_gc_runs), "gc_seconds": dict(_gc_seconds)}
    target = os.path.join(folder, f"{_kind}-{os.getpid()}.json")
    temporary = f"{target}.tmp"
    with open(temporary, "w") as handle:
        json.dump(data, handle)
    os.replace(temporary, target)
