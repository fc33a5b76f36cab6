"""The memory one worker pool process may take (docs/SECURITY.md).

Each Celery pool process limits its own address space (RLIMIT_AS) to MEDIA_WORKER_MEMORY_LIMIT_MB as it starts
(portal/celery.py, worker_process_init). A file whose processing needs more then fails alone, as an Upload Error
with a reason, instead of taking the machine's memory from every other process. Past the limit an allocation
fails: MemoryError in Python and Pillow, an FFmpeg error inside PyAV (ENOMEM; EAGAIN for a thread; "external" for
the encoder), which `ran_out` tells from a damaged file by its cause and by how close the process came to its limit.

Only pool processes are limited (prefork, the default): a worker started with --pool=solo or threads is not.
"""

import logging
import resource

import av.error
from django.conf import settings

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
# A refused allocation leaves the process's peak this close to its limit (FFmpeg's largest are frame buffers).
_NEAR_THE_LIMIT = 0.9


def limit_pool_process() -> int:
    """Applies MEDIA_WORKER_MEMORY_LIMIT_MB to this process; returns the limit in bytes (0 when there is none)."""
    megabytes = settings.MEDIA_WORKER_MEMORY_LIMIT_MB
    if not megabytes:
        return 0
    wanted = megabytes * _MB
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)  # a lower limit set from outside (a container, ulimit) stays
    try:
        # Hard as well as soft: the task code in this process cannot lift it again.
        resource.setrlimit(resource.RLIMIT_AS, (wanted, wanted))
    except (ValueError, OSError):
        logger.warning("Could not limit this pool process to %s MB of address space.", megabytes, exc_info=True)
        return 0
    logger.info("Pool process limited to %s MB of address space (%s MB in use).", wanted // _MB, in_use() // _MB)
    return wanted


def limit() -> int:
    """This process's address-space limit in bytes, 0 when it has none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return 0 if soft == resource.RLIM_INFINITY else soft


def in_use() -> int:
    return _status_bytes("VmSize")


def peak() -> int:
    """The most address space this process has held so far, in bytes (0 where /proc is not there)."""
    return _status_bytes("VmPeak")


def ran_out(error: BaseException, *, peak_before: int) -> bool:
    """Whether `error`, raised by media work that started when peak() was `peak_before`, came from the memory limit
    rather than from the file: FFmpeg could get no memory, no thread (EAGAIN) or no working encoder, or this
    process's peak rose to near its limit meanwhile."""
    ceiling = limit()
    if not ceiling:
        return False
    if isinstance(error.__cause__, (MemoryError, av.error.BlockingIOError, av.error.ExternalError)):
        return True
    now = peak()
    return now > peak_before and now >= ceiling * _NEAR_THE_LIMIT


def reason(*, doing: str) -> str:
    """Why a file failed for lack of memory, for people."""
    allowed = f"the {limit() // _MB:,} MB" if limit() else "the memory"
    return (
        f"{doing.capitalize()} needed more than {allowed} the portal gives one file. A smaller frame size or a shorter"
        " clip goes through; or ask the portal's operator to raise MEDIA_WORKER_MEMORY_LIMIT_MB."
    )


def _status_bytes(field: str) -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
