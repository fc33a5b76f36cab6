"""Processing stored files on the workers: images validated and thumbnailed, videos probed, postered and rendered.

Only the tasks import this module (assets.tasks, inside each task), so web processes never load PyAV and Pillow's
decoders. The rules about one asset's status are the model's and assets.services'; this is the media work.
"""

import hashlib
import io
import os
import tempfile
import threading
import uuid
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection

from assets import media, memory, storage
from assets.models import Asset
from assets.services import asset_settled, asset_fail
from projects.models import all_image_formats

_CHUNK = 1024 * 1024
# An image up to this size is copied into memory for decoding; a larger one (an uncompressed TIFF, say) spills to disk.
IMAGE_IN_MEMORY_BYTES = 64 * 1024 * 1024


def copy_hashing(source, target) -> str:
    """Copies `source` into `target` in chunks and returns the sha256 of the bytes as they pass: the hash costs no read
    of its own (docs/ARCHITECTURE.md, "One file, from the drop to the email")."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        digest.update(chunk)
        target.write(chunk)
    target.flush()
    target.seek(0)
    return digest.hexdigest()


@contextmanager
def stored_copy(asset: Asset, *, in_memory_up_to: int = 0):
    """A local copy of the asset's stored bytes and their sha256, from one read of the stored object in chunks.

    The copy is a named temporary file (PyAV opens videos by path), or with `in_memory_up_to` a buffer in memory
    that moves to disk past that many bytes, so an image is decoded from memory and never held whole when large.
    """
    if in_memory_up_to:
        local = tempfile.SpooledTemporaryFile(max_size=in_memory_up_to, prefix="asset-", suffix=".bin")
    else:
        local = tempfile.NamedTemporaryFile(prefix="asset-", suffix=".bin")
    with local:
        with storage.open_original(asset) as stored:
            sha256 = copy_hashing(stored, local)
        yield local, sha256


def _checksum_problem(asset: Asset, sha256: str) -> str:
    if asset.sha256 and sha256 != asset.sha256:
        return "The stored bytes do not match the sha256 declared for this file; it was discarded. Retry to upload it again."
    return ""


def asset_process_image(*, asset: Asset) -> bool:
    """Uploaded image -> Ready with its metadata and thumbnail, or Upload Error with a reason a person understands."""
    project = asset.project
    with stored_copy(asset, in_memory_up_to=IMAGE_IN_MEMORY_BYTES) as (local, sha256):
        problem = _checksum_problem(asset, sha256)
        if problem:
            asset_fail(asset=asset, reason=problem, discard=True)
            return False
        try:
            # One decode validates the image and makes its thumbnail (media.read_image says what is checked).
            image = media.read_image(
                local,
                allowed_formats=tuple(project.image_formats if project else all_image_formats()),
                require_camera_metadata=bool(project and project.require_camera_metadata),
                allow_animation=project.allow_animated_images if project else True,
            )
        except media.MediaError as error:
            asset_fail(asset=asset, reason=str(error))
            return False
        except MemoryError:
            asset_fail(asset=asset, reason=memory.reason(doing="processing the image"))
            return False
    metadata, thumbnail = image.metadata, image.thumbnail
    thumbnail_key = storage.write(f"{asset.storage_key}.thumb.jpg", io.BytesIO(thumbnail))
    if not asset.mark_ready(media_metadata=metadata, thumbnail_key=thumbnail_key, sha256=asset.sha256 or sha256):
        return False
    asset_settled(asset=asset)
    return True


def asset_preprocess_video(*, asset: Asset) -> bool:
    """Pending (or Recovering) Pre-Processing -> Pre-Processing -> Ready, for the one run that claims the video.

    Probes the video (unless its frame rate and frame count were given at registration), makes a
    poster, and when browsers cannot step through it frame by frame, an H.264 MP4 rendition at a
    constant frame rate beside the untouched original. Outputs go to fixed keys, so a second run
    overwrites rather than adds. A thread beats while the work runs; a run that lost its claim
    (recovered after its heartbeat stopped) changes nothing. A video larger than the VIDEO_MAX_* limits, or
    whose processing runs out of the worker's memory, is an Upload Error saying so.
    """
    token = uuid.uuid4().hex
    if not asset.start_preprocessing(token):
        return False
    limits = media.VideoLimits(
        max_pixels=settings.VIDEO_MAX_PIXELS,
        max_frames=settings.VIDEO_MAX_FRAMES,
        max_duration_seconds=settings.VIDEO_MAX_DURATION_SECONDS,
    )
    peak_before = memory.peak()
    try:
        with _heartbeat(asset, token), stored_copy(asset) as (local, sha256):
            problem = _checksum_problem(asset, sha256)
            if problem:
                _fail_claimed(asset, token, problem, discard=True)
                return False
            provided = asset.media_metadata.get("provided") is True
            metadata = dict(asset.media_metadata) if provided else media.probe_video(local.name)
            # What the file declares bounds the work, whatever was given at registration (docs/SECURITY.md).
            media.check_video_limits(media.video_header(local.name) if provided else metadata, limits)
            poster_key = storage.write(f"{asset.storage_key}.poster.jpg", io.BytesIO(media.make_poster(local.name)))
            rendition_key = ""
            if not provided and media.needs_rendition(metadata):
                with tempfile.TemporaryDirectory(prefix="rendition-") as folder:
                    target = os.path.join(folder, "rendition.mp4")
                    metadata["rendition"] = media.make_rendition(local.name, target, limits=limits)
                    with open(target, "rb") as rendition:
                        rendition_key = storage.write(f"{asset.storage_key}.rendition.mp4", rendition)
    except media.MediaError as error:
        # Past the memory limit FFmpeg fails in ways that read as a damaged file (assets/memory.py).
        out_of_memory = memory.ran_out(error, peak_before=peak_before)
        _fail_claimed(asset, token, memory.reason(doing="preprocessing the video") if out_of_memory else str(error))
        return False
    except MemoryError:
        _fail_claimed(asset, token, memory.reason(doing="preprocessing the video"))
        return False
    except SoftTimeLimitExceeded:
        _fail_claimed(asset, token, "Preprocessing took longer than the time the portal allows for one video.")
        return False
    finished = asset.finish_preprocessing(
        token, media_metadata=metadata, thumbnail_key=poster_key, rendition_key=rendition_key, sha256=asset.sha256 or sha256
    )
    if finished:
        asset_settled(asset=asset)
    return finished


def _fail_claimed(asset: Asset, token: str, reason: str, *, discard: bool = False) -> None:
    """Upload Error for a video, only while this run still holds its claim."""
    if asset.move(Asset.Status.UPLOAD_ERROR, reason=reason, only_if={"processing_token": token}, processing_token=""):
        if discard:
            storage.delete(asset.storage_key)
        asset_settled(asset=asset)


@contextmanager
def _heartbeat(asset: Asset, token: str):
    """Beats for the claim from a thread while the work runs; the beats stop with the process."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.PREPROCESSING_HEARTBEAT_SECONDS):
                if not asset.beat(token):
                    return
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{asset.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=settings.PREPROCESSING_HEARTBEAT_SECONDS + 5)
