"""Celery tasks that take stored bytes to Ready: they take ids, reload the rows, claim with guarded updates,
retry transient storage errors with back-off and hand permanent failures to the status machine."""

import functools
import logging
import uuid

from botocore.exceptions import BotoCoreError, ClientError
from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

from assets import services, storage
from assets.models import Asset

logger = logging.getLogger(__name__)

# Storage hiccups worth another try; anything else about the bytes is final.
TRANSIENT = (BotoCoreError, ClientError, ConnectionError, TimeoutError)
# Options of the tasks that read stored bytes: late acks (a killed worker's task is not lost),
# back-off on storage hiccups, and time limits for one file.
STORAGE_TASK = {"acks_late": True, "autoretry_for": TRANSIENT, "retry_backoff": True, "retry_backoff_max": 300, "max_retries": 5}
MEDIA_TASK = {
    **STORAGE_TASK,
    "soft_time_limit": settings.MEDIA_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.MEDIA_TASK_TIME_LIMIT,
}


class GivesUpOnFailure(Task):
    """When the task fails for good (its retries used up, or an error nobody expected), its files go to
    Upload Error with a reason, instead of staying where nobody can retry them and their session never completes.

    The task's first argument is its asset id or ids; `works_on` filters the files as the task takes them;
    `doing` says what it does and `retry_hint` what people can do next, for the reason they read.
    """

    works_on: dict
    doing: str
    retry_hint = "Retry to upload it again"

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        ids = args[0] if args else next(iter(kwargs.values()), [])
        services.assets_give_up(
            asset_ids=[ids] if isinstance(ids, str) else list(ids),
            works_on=self.works_on,
            reason=services.give_up_reason(
                exc, doing=self.doing, tries=self.request.retries + 1, retry_hint=self.retry_hint
            ),
        )


UPLOADING_FILES = {"status": Asset.Status.UPLOADING, "source": Asset.Source.FILE}
UPLOADED = {"status": Asset.Status.UPLOADED}


@shared_task(base=GivesUpOnFailure, works_on=UPLOADING_FILES, doing="checking the stored file", **STORAGE_TASK)
def verify_uploads(asset_ids: list[str]) -> None:
    """Checks the stored objects of files whose transfer the client reported done (read side by side)."""
    services.assets_verify_uploads(
        assets=list(Asset.objects.filter(pk__in=asset_ids, **UPLOADING_FILES).select_related("project", "upload_session"))
    )


@shared_task(base=GivesUpOnFailure, works_on=UPLOADED, doing="processing the image", **MEDIA_TASK)
def process_image(asset_id: str) -> None:
    """Uploaded image -> Ready (validated, metadata read, thumbnail made) or Upload Error with the reason."""
    asset = Asset.objects.filter(pk=asset_id, status=Asset.Status.UPLOADED).select_related("project").first()
    if asset is not None:
        # Here, not at the top: autodiscovery loads this module in web processes too, which never decode media.
        from assets import processing

        processing.asset_process_image(asset=asset)


@shared_task(base=GivesUpOnFailure, works_on=UPLOADED, doing="queueing the video for preprocessing", **STORAGE_TASK)
def queue_video(asset_id: str) -> None:
    """Uploaded video -> Pending Pre-Processing, then hands it to the preprocessing task."""
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is not None and asset.queue_preprocessing():
        preprocess_video.delay(asset_id)


@shared_task(**MEDIA_TASK)
def preprocess_video(asset_id: str) -> None:
    """Pending (or Recovering) Pre-Processing -> Pre-Processing -> Ready, claimed by one worker run.

    A second delivery of the same message finds the video claimed (or done) and changes nothing.
    """
    asset = Asset.objects.filter(pk=asset_id).select_related("project").first()
    if asset is not None:
        # Here, not at the top: autodiscovery loads this module in web processes too, which never decode media.
        from assets import processing

        processing.asset_preprocess_video(asset=asset)


@shared_task(**STORAGE_TASK)
def discard_transfers(transfers: list[tuple[str, bool]]) -> None:
    """Deletes what arrived of cancelled transfers, given as (key, whether it went in parts)."""
    for key, in_parts in transfers:
        storage.discard(key, in_parts=in_parts)


def one_run_at_a_time(sweep):
    """A sweep that beat queues runs in one worker at a time, whatever the number of workers or beats: a second run that
    starts while one holds the lock (kept in the shared cache, Redis in production) does nothing and returns None."""

    @functools.wraps(sweep)
    def run(*args, **kwargs):
        lock, token = f"sweep-lock:{sweep.__module__}.{sweep.__name__}", uuid.uuid4().hex
        if not cache.add(lock, token, timeout=settings.SWEEP_LOCK_SECONDS):
            logger.info("%s is already running elsewhere: this run does nothing.", sweep.__name__)
            return None
        try:
            return sweep(*args, **kwargs)
        finally:
            if cache.get(lock) == token:
                cache.delete(lock)

    return run


@shared_task(acks_late=True)
@one_run_at_a_time
def recover_stalled_preprocessing() -> dict[str, int]:
    """Beat: videos whose preprocessing stopped beating go to Recovering Pre-Processing and are queued again."""
    return services.assets_recover_stalled()
