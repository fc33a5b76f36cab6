"""Celery tasks of upload sessions."""

import logging
from smtplib import SMTPException

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from assets.models import Asset
from assets.tasks import GivesUpOnFailure, one_run_at_a_time
from uploads import imports
from uploads.cleanup import uploads_clean_up
from uploads.fetching import FetchError, overtime_reason
from uploads.models import UploadSession
from uploads.notifications import build_session_email

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, bind=True, max_retries=8)
def send_session_email(self, session_id: str) -> None:
    """Sends the completion email once; delivery failures are retried with back-off and never touch the session."""
    claimed = UploadSession.objects.filter(
        pk=session_id, status=UploadSession.Status.COMPLETE, notified_at__isnull=True
    ).update(notified_at=timezone.now())
    if not claimed:
        return
    session = UploadSession.objects.select_related("project", "created_by").get(pk=session_id)
    try:
        message = build_session_email(session)
        if message is not None:
            message.send()
    except (SMTPException, OSError) as error:
        UploadSession.objects.filter(pk=session_id).update(notified_at=None)
        logger.warning("Session email for %s not delivered yet: %s", session_id, error)
        raise self.retry(exc=error, countdown=min(30 * 2**self.request.retries, 3600)) from error


@shared_task(
    acks_late=True,
    bind=True,
    max_retries=None,
    base=GivesUpOnFailure,
    works_on={"status": Asset.Status.UPLOADING, "source__in": [Asset.Source.URL, Asset.Source.REFERENCE]},
    doing="fetching the file",
    retry_hint="Retry to fetch it again",
    # Whatever a server does (headers sent a byte at a time, say), a fetch gives its process back (docs/SECURITY.md).
    soft_time_limit=settings.URL_IMPORT_SOFT_TIME_LIMIT,
    time_limit=settings.URL_IMPORT_TIME_LIMIT,
)
def fetch_imported_file(self, asset_id: str) -> None:
    """Brings one file of a URL or bucket import in; timeouts, connection errors and 5xx are tried again with
    back-off (URL_IMPORT_MAX_RETRIES), anything else is an Upload Error at once, and so is a fetch that outlives
    its soft time limit. A second delivery of the same message finds the file no longer Uploading (or overwrites
    its own object) and changes nothing else. An error nobody expected (the portal's own storage refusing the
    bytes, say) is an Upload Error too (GivesUpOnFailure)."""
    try:
        imports.url_import_fetch(asset_id=asset_id)
    except SoftTimeLimitExceeded:
        imports.url_import_give_up(asset_id=asset_id, reason=overtime_reason(), attempts=1)
    except FetchError as error:
        attempt = self.request.retries + 1
        if attempt > settings.URL_IMPORT_MAX_RETRIES:
            imports.url_import_give_up(asset_id=asset_id, reason=error.message, attempts=attempt)
            return
        wait = settings.URL_IMPORT_RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
        imports.url_import_note_retry(asset_id=asset_id, reason=error.message, attempt=attempt, wait=wait)
        logger.info("Fetching %s failed (%s); try %s in %ss", asset_id, error.message, attempt + 1, wait)
        raise self.retry(countdown=wait, exc=error) from error


@shared_task(acks_late=True)
@one_run_at_a_time
def clean_up_abandoned_uploads() -> dict[str, int]:
    """Beat: expired import previews are deleted, abandoned files settled and abandoned multipart uploads aborted."""
    return uploads_clean_up()
