"""Video work is capped (docs/SECURITY.md): a video over VIDEO_MAX_PIXELS, VIDEO_MAX_FRAMES or
VIDEO_MAX_DURATION_SECONDS is an Upload Error naming the limit and its own value, before a poster or a rendition is
made; a rendition stops when its timestamps run past the longest video allowed; and a pool process that runs out of
the memory MEDIA_WORKER_MEMORY_LIMIT_MB gives it fails the file with a reason, not the worker."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from assets import media, processing, storage
from assets.models import Asset
from tests import media_factory
from tests.helpers import make_asset

S = Asset.Status
ROOT = Path(__file__).resolve().parent.parent


def _pending_video(project, member, path: Path, **fields) -> Asset:
    """A video whose bytes arrived and that waits for preprocessing, as verification leaves it."""
    asset = make_asset(
        project, name=path.name, asset_type=Asset.Type.VIDEO, status=S.PENDING_PREPROCESSING, uploaded_by=member,
        storage_key=f"assets/{project.organization_id}/limits/{path.name}", **fields,
    )
    with open(path, "rb") as data:
        storage.write(asset.storage_key, data)
    return asset


def _preprocessed(asset: Asset) -> Asset:
    processing.asset_preprocess_video(asset=asset)
    asset.refresh_from_db()
    return asset


def _nothing_made(asset: Asset) -> bool:
    return not default_storage.exists(f"{asset.storage_key}.poster.jpg") and not asset.thumbnail_key


def test_a_video_with_more_pixels_a_frame_than_allowed_is_an_upload_error_before_its_poster(
    settings, project, member, tmp_path
):
    settings.VIDEO_MAX_PIXELS = 64 * 48 - 1
    clip = media_factory.make_video(tmp_path / "wide.mkv", container="mkv", frames=10, size=(64, 48))

    asset = _preprocessed(_pending_video(project, member, clip))

    assert asset.status == S.UPLOAD_ERROR
    assert "64 × 48 pixels (3,072 a frame)" in asset.error_reason
    assert "at most 3,071 pixels a frame" in asset.error_reason
    assert _nothing_made(asset)


def test_a_video_with_more_frames_than_allowed_is_an_upload_error_before_its_poster(settings, project, member, tmp_path):
    settings.VIDEO_MAX_FRAMES = 29
    clip = media_factory.make_video(tmp_path / "long.mkv", container="mkv", frames=30, fps=30)

    asset = _preprocessed(_pending_video(project, member, clip))

    assert asset.status == S.UPLOAD_ERROR
    assert "has 30 frames" in asset.error_reason
    assert "at most 29 frames" in asset.error_reason
    assert _nothing_made(asset)


def test_a_video_longer_than_allowed_is_an_upload_error_before_its_poster(settings, project, member, tmp_path):
    settings.VIDEO_MAX_DURATION_SECONDS = 1
    clip = media_factory.make_video(tmp_path / "slow.mkv", container="mkv", frames=20, fps=10)

    asset = _preprocessed(_pending_video(project, member, clip))

    assert asset.status == S.UPLOAD_ERROR
    assert "at most 1 s; this one lasts 2 s" in asset.error_reason
    assert _nothing_made(asset)


def test_a_video_exactly_at_every_limit_is_ready(settings, project, member, tmp_path):
    settings.VIDEO_MAX_PIXELS, settings.VIDEO_MAX_FRAMES, settings.VIDEO_MAX_DURATION_SECONDS = 64 * 48, 20, 2
    clip = media_factory.make_video(tmp_path / "fits.mkv", container="mkv", frames=20, fps=10, size=(64, 48))

    asset = _preprocessed(_pending_video(project, member, clip))

    assert asset.status == S.READY, asset.error_reason
    assert asset.media_metadata["rendition"]["frame_count"] == 20


def test_frame_counts_given_at_registration_do_not_lift_the_limits(settings, project, member, tmp_path):
    settings.VIDEO_MAX_PIXELS = 64 * 48 - 1
    clip = media_factory.make_video(tmp_path / "declared.mp4", frames=10, size=(64, 48))
    provided = {"frame_rate": 30, "frame_count": 10, "provided": True}

    asset = _preprocessed(_pending_video(project, member, clip, media_metadata=provided))

    assert asset.status == S.UPLOAD_ERROR
    assert "64 × 48 pixels" in asset.error_reason
    assert _nothing_made(asset)


def test_a_rendition_stops_when_its_timestamps_run_past_the_longest_video_allowed(tmp_path):
    clip = media_factory.make_video(tmp_path / "three-seconds.mkv", container="mkv", frames=30, fps=10)
    limits = media.VideoLimits(max_pixels=10**9, max_frames=10**9, max_duration_seconds=1)
    target = tmp_path / "rendition.mp4"

    with pytest.raises(media.MediaError, match="at most 1 s; this one runs longer than that by its timestamps"):
        media.make_rendition(clip, target, limits=limits)
    assert not target.exists()


# --- the memory of a pool process ------------------------------------------------------------------


def test_a_video_whose_processing_runs_out_of_memory_is_an_upload_error_saying_so(project, member, tmp_path, monkeypatch):
    clip = media_factory.make_video(tmp_path / "big.mkv", container="mkv", frames=10)

    def no_memory_left(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(media, "make_poster", no_memory_left)

    asset = _preprocessed(_pending_video(project, member, clip))

    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason.startswith("Preprocessing the video needed more than")
    assert "MEDIA_WORKER_MEMORY_LIMIT_MB" in asset.error_reason
    assert asset.processing_token == ""


def _pool_process(limit_mb: str, code: str) -> str:
    """Runs `code` in a fresh process after Celery's worker_process_init, as a pool process starts."""
    script = (
        "import django, resource; django.setup()\n"
        "from celery import signals\n"
        "import portal.celery\n"
        "signals.worker_process_init.send(sender=None)\n" + code
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env |= {"DJANGO_SETTINGS_MODULE": "portal.settings", "MEDIA_WORKER_MEMORY_LIMIT_MB": limit_mb}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_pool_process_cannot_take_more_memory_than_the_limit():
    answer = _pool_process(
        "1024",
        "print(resource.getrlimit(resource.RLIMIT_AS))\n"
        "try:\n    bytearray(2 * 1024**3)\nexcept MemoryError:\n    print('refused')\n",
    )

    assert answer.splitlines() == [str((1024 * 1024**2, 1024 * 1024**2)), "refused"]


def test_a_memory_limit_of_zero_leaves_pool_processes_unlimited():
    answer = _pool_process("0", "print(resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY)\n")

    assert answer == "True"
