"""What unfinished work leaves behind expires (docs/SECURITY.md); beat runs this every UPLOAD_CLEANUP_INTERVAL_SECONDS.

- A previewed URL list nobody started, older than URL_IMPORT_PREVIEW_EXPIRY_SECONDS, is deleted with its rows.
- A file Uploading UPLOAD_ABANDONED_SECONDS longer than its upload URL lived (UPLOAD_URL_EXPIRY_SECONDS after it
  was registered, retried or resumed), with no multipart upload of it still receiving parts, was abandoned: when
  its bytes did arrive it is verified as a finalize would, else it becomes an Upload Error saying so. It can be
  retried; its session can complete; it stops counting against the API's cap of files waiting for their bytes.
- A multipart upload started more than UPLOAD_ABANDONED_SECONDS ago is aborted, with its parts, when no part
  arrived for that long, or when no file is Uploading to its key any more (done, failed, cancelled, resumed under
  another key), or when it is not the upload recorded for its file.
- A stored object no asset refers to, last written more than STORAGE_ORPHAN_AGE_SECONDS ago, is deleted
  (assets.services.storage_sweep_orphans).

On S3 a lifecycle rule (AbortIncompleteMultipartUpload, README.md) is the backstop for what this misses.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from assets import storage
from assets.models import Asset
from assets.services import asset_settled, asset_verify_upload, storage_sweep_orphans
from uploads.models import UrlImport

logger = logging.getLogger(__name__)


def uploads_clean_up(*, now: datetime | None = None) -> dict[str, int]:
    """Deletes expired import previews, settles abandoned files and aborts abandoned multipart uploads, judging ages
    at `now` (default: the present). Returns how many of each it handled, and logs them."""
    now = now or timezone.now()
    idle_since = now - timedelta(seconds=settings.UPLOAD_ABANDONED_SECONDS)
    counts = {"previews": _expire_previews(now)}
    uploads = [(upload, _last_activity(upload, idle_since)) for upload in storage.open_uploads()]
    receiving = {upload.key for upload, last in uploads if last >= idle_since}
    counts |= _settle_abandoned_files(now, receiving)
    counts["multipart_uploads"] = sum(
        storage.abort_open_upload(upload) for upload, last in uploads if last < idle_since or _not_wanted(upload, idle_since)
    )
    counts["orphans"] = storage_sweep_orphans(now=now)
    logger.info(
        "Clean-up: %(previews)s import previews deleted, %(abandoned_files)s abandoned files made Upload Error, "
        "%(verified_files)s verified, %(multipart_uploads)s multipart uploads aborted, %(orphans)s orphaned objects deleted.",
        counts,
    )
    return counts


def _expire_previews(now: datetime) -> int:
    expired = now - timedelta(seconds=settings.URL_IMPORT_PREVIEW_EXPIRY_SECONDS)
    _, deleted = UrlImport.objects.filter(status=UrlImport.Status.PREVIEW, created_at__lt=expired).delete()
    return deleted.get(UrlImport._meta.label, 0)


def _last_activity(upload: storage.OpenUpload, idle_since: datetime) -> datetime:
    # An upload started since `idle_since` is active whatever its parts say: no need to ask the store.
    return upload.started if upload.started >= idle_since else storage.last_activity(upload)


def _not_wanted(upload: storage.OpenUpload, idle_since: datetime) -> bool:
    """Started before `idle_since` and no file is Uploading through it (though parts may still be arriving)."""
    if upload.started >= idle_since:
        return False
    if not upload.key:
        return True
    asset = Asset.objects.filter(storage_key=upload.key, status=Asset.Status.UPLOADING).only("upload_id").first()
    return asset is None or bool(asset.upload_id and asset.upload_id != upload.upload_id)


def _settle_abandoned_files(now: datetime, receiving: set[str]) -> dict[str, int]:
    waited = settings.UPLOAD_URL_EXPIRY_SECONDS + settings.UPLOAD_ABANDONED_SECONDS
    before = now - timedelta(seconds=waited)
    reason = (
        f"The upload was abandoned: the file had not arrived {waited // 3600:,} hours after it was registered or last "
        "retried. Retry to upload it again."
    )
    counts = {"abandoned_files": 0, "verified_files": 0}
    abandoned = Asset.objects.filter(
        status=Asset.Status.UPLOADING, source=Asset.Source.FILE, status_changed_at__lt=before, updated_at__lt=before
    )
    for asset in abandoned.select_related("project", "upload_session").iterator():
        if asset.storage_key in receiving:
            continue
        stored = storage.inspect(asset.storage_key)
        if stored is not None:
            # The bytes arrived but nobody said so: checked as a finalize would (the completion was lost).
            counts["verified_files"] += asset_verify_upload(asset=asset, stored=stored)
        elif asset.move(Asset.Status.UPLOAD_ERROR, reason=reason, only_if={"updated_at__lt": before}):
            asset_settled(asset=asset)
            counts["abandoned_files"] += 1
    return counts
