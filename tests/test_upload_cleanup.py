"""The periodic clean-up (uploads/cleanup.py, beat): import previews nobody started expire, files abandoned while
Uploading settle, and abandoned multipart uploads are aborted, on the embedded storage and on S3 (moto)."""

import hashlib
import io
import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from assets import storage
from assets.models import Asset
from tests.api import Api
from tests.helpers import asset_for
from tests.imports_support import open_session
from tests.media_factory import make_jpeg
from uploads import imports, tasks
from uploads.cleanup import uploads_clean_up
from uploads.models import UploadSession, UrlImport

S = Asset.Status
DAY = timedelta(days=1)


def _asset(project, member, *, status=S.UPLOADING, size=100 * 1024**2, session=None, age: timedelta = timedelta(0)) -> Asset:
    """A file registered `age` ago (and untouched since), with a key of its own."""
    asset = asset_for(project, status=status, size=size, uploaded_by=member, upload_session=session)
    asset.storage_key = storage.new_key(organization_id=project.organization_id, asset_id=asset.pk, extension=".jpg")
    asset.save()
    then = timezone.now() - age
    Asset.objects.filter(pk=asset.pk).update(created_at=then, status_changed_at=then, updated_at=then)
    asset.refresh_from_db()
    return asset


def _send_part(key: str, upload_id: str) -> None:
    """One part arrives now, as the browser or a script sends it."""
    if not storage.shares_portal_address():
        s3 = storage.backend()
        s3.client.upload_part(Bucket=s3.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 1024)
    else:
        folder = Path(default_storage.location) / ".multipart" / upload_id
        (folder / "1.part").write_bytes(b"x" * 1024)
        (folder / "1.etag").write_text(hashlib.md5(b"x" * 1024).hexdigest())


def _started_long_ago(upload_id: str) -> None:
    """The embedded store's upload began a day and a half ago (moto reports every upload as started in 2010)."""
    if storage.shares_portal_address():
        then = time.time() - 36 * 3600
        os.utime(Path(default_storage.location) / ".multipart" / upload_id / "key", (then, then))


def _is_open(key: str, upload_id: str) -> bool:
    return storage.multipart_part_numbers(key, upload_id) is not None


# --- import previews ------------------------------------------------------------------------------------


def _preview(session, *, age: timedelta) -> UrlImport:
    url_import = imports.url_import_preview(
        session=session, user=session.created_by, uploaded=SimpleUploadedFile("gate.csv", b"https://cdn.example.com/a.jpg,A\n")
    )
    UrlImport.objects.filter(pk=url_import.pk).update(created_at=timezone.now() - age)
    return url_import


def test_a_preview_nobody_started_is_deleted_once_it_expires(project, member, monkeypatch):
    monkeypatch.setattr(imports, "_queue_fetches", lambda ids: None)
    session = open_session(project, member, UploadSession.Source.CSV)
    stale = _preview(session, age=DAY + timedelta(minutes=1))
    fresh = _preview(session, age=DAY - timedelta(minutes=1))
    started = _preview(session, age=2 * DAY)
    imports.url_import_start(url_import=started, user=member)

    counts = uploads_clean_up()

    assert counts["previews"] == 1
    assert set(UrlImport.objects.values_list("pk", flat=True)) == {fresh.pk, started.pk}
    assert not UrlImport.objects.filter(pk=stale.pk).exists()


# --- files abandoned while Uploading ----------------------------------------------------------------------


def test_a_file_nothing_arrived_for_becomes_an_upload_error_saying_so(project, member, upload_session):
    abandoned = _asset(project, member, session=upload_session, age=DAY + timedelta(hours=1, minutes=1))
    recent = _asset(project, member, session=upload_session, age=DAY + timedelta(minutes=59))

    counts = uploads_clean_up()

    abandoned.refresh_from_db()
    recent.refresh_from_db()
    assert counts["abandoned_files"] == 1
    assert abandoned.status == S.UPLOAD_ERROR
    assert abandoned.error_reason == (
        "The upload was abandoned: the file had not arrived 25 hours after it was registered or last retried. "
        "Retry to upload it again."
    )
    assert recent.status == S.UPLOADING


def test_a_finalized_session_whose_last_file_was_abandoned_completes(project, member, upload_session, queued_processing):
    abandoned = _asset(project, member, session=upload_session, age=2 * DAY)
    UploadSession.objects.filter(pk=upload_session.pk).update(status=UploadSession.Status.FINALIZED)

    uploads_clean_up()

    upload_session.refresh_from_db()
    assert Asset.objects.get(pk=abandoned.pk).status == S.UPLOAD_ERROR
    assert upload_session.status == UploadSession.Status.COMPLETE


def test_an_abandoned_file_whose_bytes_did_arrive_is_verified_instead(project, member, upload_session, queued_processing):
    data = make_jpeg(40, 30)
    asset = _asset(project, member, session=upload_session, size=len(data), age=2 * DAY)
    storage.write(asset.storage_key, io.BytesIO(data))

    counts = uploads_clean_up()

    asset.refresh_from_db()
    assert counts["verified_files"] == 1 and counts["abandoned_files"] == 0
    assert asset.status == S.UPLOADED


def test_an_abandoned_api_file_stops_counting_against_the_cap_of_files_waiting(settings, owner, project):
    api = Api(owner)
    settings.UPLOAD_SESSION_MAX_FILES = 1
    waiting = api.register(projectId=str(project.pk), name="gate 1").json()["id"]
    assert api.register(projectId=str(project.pk), name="gate 2").status_code == 429
    then = timezone.now() - 2 * DAY
    Asset.objects.filter(pk=waiting).update(status_changed_at=then, updated_at=then)

    uploads_clean_up()

    assert Asset.objects.get(pk=waiting).status == S.UPLOAD_ERROR
    assert api.register(projectId=str(project.pk), name="gate 2").status_code == 201


def test_a_file_whose_multipart_upload_still_receives_parts_stays_uploading(storage_backend, project, member, upload_session):
    asset = _asset(project, member, session=upload_session, age=2 * DAY)
    upload_id = storage.multipart_start(asset.storage_key)
    _started_long_ago(upload_id)
    _send_part(asset.storage_key, upload_id)

    counts = uploads_clean_up()

    asset.refresh_from_db()
    assert asset.status == S.UPLOADING
    assert _is_open(asset.storage_key, upload_id)
    assert counts["multipart_uploads"] == 0


# --- abandoned multipart uploads --------------------------------------------------------------------------


def test_an_idle_multipart_upload_is_aborted_and_its_file_fails(storage_backend, project, member, upload_session):
    asset = _asset(project, member, session=upload_session)
    upload_id = storage.multipart_start(asset.storage_key)
    _send_part(asset.storage_key, upload_id)

    counts = uploads_clean_up(now=timezone.now() + 2 * DAY)

    asset.refresh_from_db()
    assert not _is_open(asset.storage_key, upload_id)
    assert asset.status == S.UPLOAD_ERROR and "abandoned" in asset.error_reason
    assert counts["multipart_uploads"] == 1


def test_an_old_multipart_upload_of_a_file_no_longer_uploading_is_aborted(storage_backend, project, member):
    ready = _asset(project, member, status=S.READY)
    upload_id = storage.multipart_start(ready.storage_key)
    _started_long_ago(upload_id)
    _send_part(ready.storage_key, upload_id)  # a part still arriving for a file that is done changes nothing

    counts = uploads_clean_up()

    assert not _is_open(ready.storage_key, upload_id)
    assert counts["multipart_uploads"] == 1
    assert Asset.objects.get(pk=ready.pk).status == S.READY


def test_an_old_multipart_upload_nobody_recorded_for_its_file_is_aborted(storage_backend, project, member, upload_session):
    asset = _asset(project, member, session=upload_session)
    recorded = storage.multipart_start(asset.storage_key)
    stray = storage.multipart_start(asset.storage_key)
    Asset.objects.filter(pk=asset.pk).update(upload_id=recorded)
    for upload_id in (recorded, stray):
        _started_long_ago(upload_id)
        _send_part(asset.storage_key, upload_id)

    uploads_clean_up()

    assert _is_open(asset.storage_key, recorded)
    assert not _is_open(asset.storage_key, stray)


def test_a_recent_multipart_upload_is_left_alone_whatever_its_file(project, member):
    ready = _asset(project, member, status=S.READY)
    upload_id = storage.multipart_start(ready.storage_key)

    counts = uploads_clean_up()

    assert _is_open(ready.storage_key, upload_id)
    assert counts["multipart_uploads"] == 0


def test_an_embedded_upload_folder_that_broke_while_starting_is_removed(project, member):
    folder = Path(default_storage.location) / ".multipart" / ("ab" * 16)
    folder.mkdir(parents=True)
    then = time.time() - 36 * 3600
    os.utime(folder, (then, then))

    counts = uploads_clean_up()

    assert not folder.exists()
    assert counts["multipart_uploads"] == 1


# --- beat -------------------------------------------------------------------------------------------------


def test_beat_runs_the_clean_up_and_it_logs_what_it_removed(project, member, eager_tasks, caplog):
    entry = next(entry for entry in django_settings.CELERY_BEAT_SCHEDULE.values() if entry["task"].endswith("clean_up_abandoned_uploads"))
    assert entry["schedule"] == django_settings.UPLOAD_CLEANUP_INTERVAL_SECONDS
    _asset(project, member, age=2 * DAY)

    with caplog.at_level(logging.INFO, logger="uploads.cleanup"):
        counts = tasks.clean_up_abandoned_uploads.delay().get()

    assert counts == {"previews": 0, "abandoned_files": 1, "verified_files": 0, "multipart_uploads": 0, "orphans": 0}
    assert "1 abandoned files made Upload Error" in caplog.text
    assert entry["task"] in eager_tasks.tasks, "beat names a task the workers know"
