"""Daily upload quotas and the cap on files held Uploading through the API (docs/SECURITY.md).

Every door that adds files calls these before it adds them: the browser's bulk registration, the API's single
registration and URL imports. Counts come from the assets table: files registered since 00:00 UTC (by
`created_at`, so a retry of a failed file is not counted again and a cancelled one no longer counts) and their
declared sizes (an imported file counts its bytes once they arrived). The checks take no organization-wide
lock, so registrations running side by side can each pass the last room: a quota can be overrun by at most one
request per concurrent registration.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from assets.models import Asset
from uploads.errors import UploadRefused

# 429 Too Many Requests: room comes back by itself (at the next UTC midnight, as files arrive or are abandoned).
QUOTA_STATUS = 429


def quota_check(*, organization_id, user_id, adding_files: int, adding_bytes: int) -> None:
    """Raises UploadRefused (429) when adding these files would take the organization or the person past a daily
    quota of files or bytes; the message says which quota, what is used, and when it resets."""
    if adding_files <= 0:
        return
    since = _start_of_day()
    scopes = (
        ("Your organization", settings.UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY,
         settings.UPLOAD_QUOTA_BYTES_PER_ORGANIZATION_PER_DAY, {"organization_id": organization_id}),
        ("You", settings.UPLOAD_QUOTA_FILES_PER_USER_PER_DAY,
         settings.UPLOAD_QUOTA_BYTES_PER_USER_PER_DAY, {"uploaded_by_id": user_id}),
    )
    for who, max_files, max_bytes, scope in scopes:
        if not (max_files or max_bytes):
            continue
        used = Asset.objects.filter(created_at__gte=since, **scope).aggregate(files=Count("pk"), bytes=Sum("size"))
        files, size = used["files"], used["bytes"] or 0
        if max_files and files + adding_files > max_files:
            raise _over_quota(
                f"{who} may add {max_files:,} files a day; {files:,} were added today and these are {adding_files:,} more.",
                since,
            )
        if max_bytes and size + adding_bytes > max_bytes:
            raise _over_quota(
                f"{who} may add {filesizeformat(max_bytes)} a day; {filesizeformat(size)} were added today and these "
                f"are {filesizeformat(adding_bytes)} more.",
                since,
            )


def api_uploading_check(*, user_id, adding: int = 1) -> None:
    """Raises UploadRefused (429) when the person already holds UPLOAD_SESSION_MAX_FILES files registered through the
    API (outside upload sessions) whose bytes have not arrived, counting the `adding` files about to be registered: the
    session cap, for scripts. 429, not 409: to the
    API's clients a 409 means the file is a duplicate."""
    cap = settings.UPLOAD_SESSION_MAX_FILES
    waiting = Asset.objects.filter(
        uploaded_by_id=user_id, upload_session__isnull=True, status=Asset.Status.UPLOADING, source=Asset.Source.FILE
    ).count()
    if waiting + adding > cap:
        hours = (settings.UPLOAD_URL_EXPIRY_SECONDS + settings.UPLOAD_ABANDONED_SECONDS) // 3600
        raise UploadRefused(
            f"You have {waiting:,} files registered through the API whose bytes have not arrived; at most {cap:,} may "
            "wait at once. Upload and close those first (DELETE /api/v1/assets/{id}/upload), then register more. "
            f"A file still waiting {hours:,} hours after it was registered or last retried becomes Upload Error and stops counting.",
            status=QUOTA_STATUS,
        )


def _start_of_day() -> datetime:
    return timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _over_quota(what: str, since: datetime) -> UploadRefused:
    left = since + timedelta(days=1) - timezone.now()
    hours, minutes = divmod(max(int(left.total_seconds()) // 60, 1), 60)
    wait = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return UploadRefused(
        f"Daily upload quota reached: {what} Nothing was added. The quota counts files registered since 00:00 UTC "
        f"and resets at midnight UTC, in {wait}; if you need more every day, ask the portal's operator to raise it.",
        status=QUOTA_STATUS,
    )
