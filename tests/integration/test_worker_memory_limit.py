"""A real Celery worker whose pool process may take little memory (MEDIA_WORKER_MEMORY_LIMIT_MB): a 1080p video
that needs more ends as an Upload Error saying so, and the same process then takes an image to Ready."""

import hashlib
import io

import pytest

from assets import storage
from assets.models import Asset
from tests import media_factory
from tests.worker import celery_worker, wait_for
from uploads import services
from uploads.models import UploadSession

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# A pool process holds about 270 MB of address space once started; copying a 1080p video takes several hundred more.
LIMIT_MB = 480


def _upload(session: UploadSession, name: str, data: bytes, content_type: str) -> Asset:
    [result] = services.upload_session_register(
        session=session,
        user=session.created_by,
        files=[{"name": name, "size": len(data), "contentType": content_type, "sha256": hashlib.sha256(data).hexdigest()}],
    )
    assert result.outcome == "upload", result.reason
    storage.write(result.asset.storage_key, io.BytesIO(data))
    services.upload_complete(session=session, asset_ids=[str(result.asset.pk)])
    services.upload_session_finalize(session=session)
    return result.asset


def _open(project, user, asset_type: str) -> UploadSession:
    return services.upload_session_open(
        project=project, user=user, asset_type=asset_type, source="direct", view_name="Gate", capture_date="2026-11-20"
    )


def _settled(asset: Asset) -> bool:
    asset.refresh_from_db()
    return asset.is_terminal


def test_a_video_that_needs_more_memory_than_a_pool_process_has_fails_alone(project, member, tmp_path):
    clip = media_factory.make_video(tmp_path / "wide.mkv", container="mkv", frames=20, size=(1920, 1080)).read_bytes()
    with celery_worker(tmp_path, MEDIA_WORKER_MEMORY_LIMIT_MB=str(LIMIT_MB)) as worker:
        video = _upload(_open(project, member, "video"), "wide.mkv", clip, "video/x-matroska")
        wait_for(lambda: _settled(video), timeout=120, what="the video to settle", worker=worker)
        image = _upload(_open(project, member, "image"), "gate.png", media_factory.make_png(64, 48), "image/png")
        wait_for(lambda: _settled(image), timeout=60, what="the image to settle", worker=worker)

    assert f"Pool process limited to {LIMIT_MB} MB" in worker.output()
    assert video.status == Asset.Status.UPLOAD_ERROR
    assert video.error_reason.startswith(f"Preprocessing the video needed more than the {LIMIT_MB} MB the portal gives")
    assert image.status == Asset.Status.READY, image.error_reason
