"""Celery tasks that take stored bytes to Ready: they take ids, reload the rows, claim with guarded updates,
retry transient storage errors with back-off and hand permanent failures to the status machine."""

import logging

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from django.conf import settings

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


@shared_task(**STORAGE_TASK)
def verify_uploads(asset_ids: list[str]) -> None:
    """Checks the stored objects of files whose transfer the client reported done (read side by side)."""
    assets = list(
        Asset.objects.filter(pk__in=asset_ids, status=Asset.Status.UPLOADING, source=Asset.Source.FILE)
        .select_related("project", "upload_session")
    )
    found = storage.inspect_many([asset.storage_key for asset in assets])
    for asset in assets:
        services.asset_verify_upload(asset=asset, stored=found[asset.storage_key])


@shared_task(**MEDIA_TASK)
def process_image(asset_id: str) -> None:
    """Uploaded image -> Ready (validated, metadata read, thumbnail made) or Upload Error with the reason."""
    asset = Asset.objects.filter(pk=asset_id, status=Asset.Status.UPLOADED).select_related("project").first()
    if asset is not None:
        services.asset_process_image(asset=asset)


@shared_task(**STORAGE_TASK)
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
        services.asset_preprocess_video(asset=asset)


@shared_task(acks_late=True)
def recover_stalled_preprocessing() -> dict[str, int]:
    """Beat: videos whose preprocessing stopped beating go to Recovering Pre-Processing and are queued again."""
    return services.assets_recover_stalled()
