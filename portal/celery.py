import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_process_init.connect
def _limit_pool_process_memory(**kwargs) -> None:
    """Each pool process takes at most MEDIA_WORKER_MEMORY_LIMIT_MB of address space (assets/memory.py)."""
    # Imported when a pool process starts: at the top it would load PyAV in every process that reads the settings.
    from assets.memory import limit_pool_process

    limit_pool_process()


@signals.worker_process_init.connect
def _warm_up_pool_process(**kwargs) -> None:
    """Each pool process builds its storage client and the rest before its first task (portal/warmup.py)."""
    # Imported when a pool process starts: warmup imports assets.storage, which needs Django's apps ready.
    from portal.warmup import warm_up

    warm_up()
