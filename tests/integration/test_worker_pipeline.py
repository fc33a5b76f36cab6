"""Finalized sessions taken to Ready (or Upload Error with a reason) by a real Celery worker process, with the
completion email delivered to a real SMTP server; and a worker killed in the middle of a video."""

import hashlib
import io
import re
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from assets import media, storage
from assets.models import Asset
from projects.models import Project
from tests import media_factory
from tests.worker import celery_worker, smtp_server, wait_for
from uploads import services
from uploads.models import UploadSession

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAST_RECOVERY = {
    "PREPROCESSING_HEARTBEAT_SECONDS": "1",
    "PREPROCESSING_STALL_SECONDS": "3",
    "PREPROCESSING_RECOVERY_INTERVAL_SECONDS": "1",
}


def _upload(session: UploadSession, user, name: str, data: bytes, content_type: str, *, stored: bytes | None = None) -> Asset:
    """What the browser does for one file: register it, PUT the bytes (or other bytes), report it complete."""
    [result] = services.upload_session_register(
        session=session,
        user=user,
        files=[{"name": name, "size": len(data), "contentType": content_type, "sha256": hashlib.sha256(data).hexdigest()}],
    )
    assert result.outcome == "upload", result.reason
    storage.write(result.asset.storage_key, io.BytesIO(stored if stored is not None else data))
    services.upload_complete(session=session, asset_ids=[str(result.asset.pk)])
    return result.asset


def _open(project, user, asset_type: str, view_name: str) -> UploadSession:
    return services.upload_session_open(
        project=project, user=user, asset_type=asset_type, source="direct", view_name=view_name, capture_date="2026-11-20"
    )


def _settled(session: UploadSession):
    session.refresh_from_db()
    return session.status == UploadSession.Status.COMPLETE


@pytest.fixture
def camera_project(organization, owner):
    return Project.objects.create(organization=organization, name="Dashcams", require_camera_metadata=True, created_by=owner)


def test_a_worker_takes_images_and_videos_to_ready_and_sends_one_email_per_session(camera_project, member, tmp_path):
    images = _open(camera_project, member, "image", "Parking lot")
    videos = _open(camera_project, member, "video", "Parking lot video")
    clip = lambda name, **kw: media_factory.make_video(tmp_path / name, size=(160, 120), **kw).read_bytes()  # noqa: E731
    with smtp_server() as (mailbox, email_url), celery_worker(tmp_path, EMAIL_URL=email_url) as worker:
        good_jpeg = _upload(images, member, "front.jpg", media_factory.make_jpeg(640, 480, exif=True), "image/jpeg")
        truncated = _upload(images, member, "cut.jpg", media_factory.truncated_jpeg(), "image/jpeg")
        bomb = _upload(images, member, "bomb.png", media_factory.decompression_bomb_png(), "image/png")
        no_exif = _upload(images, member, "plain.jpg", media_factory.make_jpeg(320, 240, exif=False), "image/jpeg")
        declared = media_factory.make_jpeg(320, 240, exif=True)
        altered = declared[:600] + bytes([declared[600] ^ 0xFF]) + declared[601:]  # same size, one byte changed
        swapped = _upload(images, member, "swapped.jpg", declared, "image/jpeg", stored=altered)

        mp4 = _upload(videos, member, "cfr.mp4", clip("cfr.mp4", container="mp4", frames=45, fps=30), "video/mp4")
        mkv = _upload(videos, member, "vfr.mkv", clip("vfr.mkv", container="mkv", frames=40, fps=30, vfr=True), "video/x-matroska")
        webm = _upload(videos, member, "clip.webm", clip("clip.webm", container="webm", codec="libvpx", frames=25, fps=25), "video/webm")
        noise = _upload(videos, member, "noise.mp4", bytes(range(256)) * 64, "video/mp4")
        empty = _upload(videos, member, "empty.mkv", media_factory.zero_frame_video(tmp_path / "empty.mkv").read_bytes(), "video/x-matroska")

        for session in (images, videos):
            services.upload_session_finalize(session=session)
        wait_for(lambda: _settled(images) and _settled(videos), timeout=180, what="both sessions to complete", worker=worker)
        wait_for(lambda: len(mailbox.messages) >= 2, timeout=30, what="two emails", worker=worker)

    fresh = {asset.name: asset for asset in Asset.objects.filter(upload_session__in=[images, videos])}
    assert fresh["front.jpg"].status == Asset.Status.READY, fresh["front.jpg"].error_reason
    assert (fresh["front.jpg"].media_metadata["width"], fresh["front.jpg"].media_metadata["height"]) == (640, 480)
    assert default_storage.exists(fresh["front.jpg"].thumbnail_key)
    reasons = {name: fresh[name].error_reason for name in fresh if fresh[name].status == Asset.Status.UPLOAD_ERROR}
    assert set(reasons) == {"cut.jpg", "bomb.png", "plain.jpg", "swapped.jpg", "noise.mp4", "empty.mkv"}
    assert "truncated" in reasons["cut.jpg"].lower()
    assert "20000" in reasons["bomb.png"]
    assert "camera metadata" in reasons["plain.jpg"].lower()
    assert "sha256" in reasons["swapped.jpg"]
    assert not default_storage.exists(swapped.storage_key), "bytes that do not match are deleted"
    assert "not a video" in reasons["noise.mp4"].lower()
    assert "no frames" in reasons["empty.mkv"].lower()

    cfr = fresh["cfr.mp4"]
    assert cfr.status == Asset.Status.READY
    assert (cfr.media_metadata["width"], cfr.media_metadata["height"], cfr.media_metadata["frame_count"]) == (160, 120, 45)
    assert Fraction(cfr.media_metadata["avg_frame_rate_fraction"]) == 30
    assert cfr.rendition_key == "", "H.264 MP4 at a constant rate plays as it is"
    assert default_storage.exists(cfr.thumbnail_key)
    for name, frames in (("vfr.mkv", 40), ("clip.webm", 25)):
        video = fresh[name]
        assert video.status == Asset.Status.READY, video.error_reason
        assert video.media_metadata["frame_count"] == frames
        assert video.rendition_key and default_storage.exists(video.rendition_key)
        with default_storage.open(video.rendition_key, "rb") as stored, open(tmp_path / f"r-{name}.mp4", "wb") as local:
            local.write(stored.read())
        rendition = media.probe_video(tmp_path / f"r-{name}.mp4")
        assert (rendition["container"], rendition["video_codec"], rendition["variable_frame_rate"]) == ("mp4", "h264", False)
    assert fresh["vfr.mkv"].media_metadata["variable_frame_rate"] is True

    subjects = sorted(message["Subject"] for message in mailbox.messages)
    assert len(subjects) == 2
    assert all(message["To"] == member.email for message in mailbox.messages)
    image_mail = next(m for m in mailbox.messages if "“Parking lot”" in m["Subject"])
    assert "4 of 5 files failed" in image_mail["Subject"]
    text = image_mail.get_body(("plain",)).get_content()
    assert "cut.jpg" in text and "bomb.png" in text and images.get_absolute_url() in text
    assert image_mail.get_body(("html",)) is not None


def test_a_video_whose_worker_is_killed_recovers_and_is_ready_once(project, member, tmp_path):
    session = _open(project, member, "video", "Killed worker")
    data = media_factory.make_video(
        tmp_path / "long.mkv", container="mkv", frames=240, fps=30, vfr=True, size=(1280, 720), textured=True
    ).read_bytes()
    with smtp_server() as (mailbox, email_url):
        with celery_worker(tmp_path, EMAIL_URL=email_url, **FAST_RECOVERY) as first:
            video = _upload(session, member, "long.mkv", data, "video/x-matroska")
            services.upload_session_finalize(session=session)

            def preprocessing():
                video.refresh_from_db()
                return video.status == Asset.Status.PREPROCESSING

            wait_for(preprocessing, timeout=60, interval=0.05, what="the video to be claimed", worker=first)
            first.kill()
        video.refresh_from_db()
        assert video.status == Asset.Status.PREPROCESSING, "nobody finished it: the worker is gone"

        with celery_worker(tmp_path, beat=True, purge=False, EMAIL_URL=email_url, **FAST_RECOVERY) as second:

            def ready():
                video.refresh_from_db()
                return video.status == Asset.Status.READY

            wait_for(ready, timeout=180, interval=0.05, what="the video to be ready after recovery", worker=second)
            wait_for(lambda: mailbox.messages, timeout=30, what="the session email", worker=second)
            # Beat's recovery task reports the stalled video it moved to Recovering Pre-Processing.
            assert "{'recovered': 1, 'failed': 0}" in second.output()

    assert video.processing_attempts == 2, "claimed once by the killed worker, once by the new one"
    folder = Path(default_storage.path(video.storage_key)).parent
    renditions = [p.name for p in folder.iterdir() if "rendition" in p.name]
    assert renditions == [Path(video.rendition_key).name]
    assert len(mailbox.messages) == 1
    session.refresh_from_db()
    assert session.status == UploadSession.Status.COMPLETE
    assert re.search(r"ready", mailbox.messages[0]["Subject"])
