"""Slow-drip URLs against real Celery workers laid out as the Procfile lays them out (a worker for default, media and
email, a fetcher for fetch): each slow URL is an Upload Error within its time limit, and an image uploaded meanwhile
reaches Ready (docs/SECURITY.md)."""

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets import storage
from assets.models import Asset
from tests.file_server import Answer, file_server
from tests.media_factory import make_jpeg
from tests.worker import celery_worker, wait_for
from uploads import imports, services

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAX_SECONDS, MARGIN = 3, 3
# Both workers run with the same settings, as the Procfile's processes share one environment.
WORKER_SETTINGS = {
    "URL_IMPORT_ALLOW_PRIVATE_ADDRESSES": "true",  # the file server is on loopback
    "URL_IMPORT_MAX_SECONDS": str(MAX_SECONDS),
    "URL_IMPORT_TIME_LIMIT_MARGIN_SECONDS": str(MARGIN),
    # Longer than the pause between bytes: only the deadline and the time limits can end these fetches.
    "URL_IMPORT_READ_TIMEOUT": "30",
}
# Seconds between bytes of the slow answers (far fewer than their bytes: a fetch that waits them out never ends here).
DRIP = 1.0


def _upload_image(project, user, data: bytes) -> Asset:
    """What the browser does for one file: open a session, register the file, PUT its bytes, report it complete."""
    session = services.upload_session_open(
        project=project, user=user, asset_type="image", source="direct", view_name="Meanwhile", capture_date="2026-11-20"
    )
    [result] = services.upload_session_register(
        session=session, user=user,
        files=[{"name": "meanwhile.jpg", "size": len(data), "contentType": "image/jpeg", "sha256": hashlib.sha256(data).hexdigest()}],
    )
    storage.write(result.asset.storage_key, io.BytesIO(data))
    services.upload_complete(session=session, asset_ids=[str(result.asset.pk)])
    return result.asset


def _status(asset_id) -> str:
    return Asset.objects.get(pk=asset_id).status


def test_slow_drip_urls_end_upload_error_within_their_time_limit_while_an_uploaded_image_reaches_ready(
    project, member, tmp_path, settings
):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True  # this process previews the list, the fetcher fetches it
    # The queued messages carry the time limits of this process's settings.
    settings.URL_IMPORT_SOFT_TIME_LIMIT, settings.URL_IMPORT_TIME_LIMIT = MAX_SECONDS + MARGIN, MAX_SECONDS + 2 * MARGIN
    slow = make_jpeg(64, 48)
    routes = {
        "/drip-body.jpg": Answer(slow, drip=DRIP),  # ended by the whole-file deadline, checked on every read
        "/drip-headers.jpg": Answer(slow, drip=DRIP, drip_headers=True),  # no body yet: ended by the soft time limit
    }
    with (
        file_server(routes) as server,
        celery_worker(tmp_path, queues="default,media,email", **WORKER_SETTINGS) as worker,
        celery_worker(tmp_path, queues="fetch", **WORKER_SETTINGS) as fetcher,
    ):
        session = services.upload_session_open(
            project=project, user=member, asset_type="image", source="csv", view_name="Drip", capture_date="2026-11-20"
        )
        lines = f"{server.url}/drip-body.jpg,Body\n{server.url}/drip-headers.jpg,Headers"
        url_import = imports.url_import_preview(session=session, user=member, uploaded=SimpleUploadedFile("drip.csv", lines.encode()))
        imports.url_import_start(url_import=url_import, user=member)
        image = _upload_image(project, member, make_jpeg(320, 240))

        wait_for(lambda: _status(image.pk) == Asset.Status.READY, timeout=120, what="the uploaded image to be Ready", worker=worker)
        imported = Asset.objects.filter(upload_session=session)
        wait_for(
            lambda: all(status == Asset.Status.UPLOAD_ERROR for status in imported.values_list("status", flat=True)),
            timeout=120, what="both slow URLs to be Upload Errors", worker=fetcher,
        )
        # The fetcher let go of both connections: the server's next bytes found them closed.
        wait_for(lambda: server.hung_up == 2, timeout=30, what="the fetcher to close both connections", worker=fetcher)

    reasons = dict(imported.values_list("name", "error_reason"))
    for name in ("Body", "Headers"):
        assert reasons[name].startswith(f"Fetching took longer than the {MAX_SECONDS} seconds allowed for one file."), reasons
    assert server.dripped < 2 * len(slow), "neither answer was waited out"
    assert "Soft time limit" in fetcher.output()
