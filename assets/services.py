"""Workflows of one asset across the database, the object store and the task queue."""

import hashlib
import io
import logging
import os
import tempfile
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from assets import content, memory, storage
from assets.models import Asset
from projects.models import all_image_formats

logger = logging.getLogger(__name__)
_CHUNK = 1024 * 1024


def _human_size(size: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return f"{filesizeformat(size)} ({size:,} bytes)"


def content_problem(identified: content.Identified, *, asset_type: str, project) -> str:
    """Why content cannot join a project as `asset_type`, in words for people; empty when it can."""
    if identified.kind != asset_type:
        wanted = "an image" if asset_type == "image" else "a video"
        return f"The file's content is {identified.label}, not {wanted}, whatever its name says."
    if asset_type == "image" and project is not None and not project.accepts_image_format(identified.image_format):
        allowed = ", ".join(project.image_format_labels)
        return f"The file is {identified.label}; this project takes only {allowed} images."
    return ""


_NOT_READ = object()


def asset_verify_upload(*, asset: Asset, stored=_NOT_READ) -> bool:
    """Checks the stored object of an asset whose transfer the client reported done.

    Moves it to Uploaded when the object exists, has the declared size and its content is what the
    session takes; otherwise to Upload Error with the reason (deleting a wrong object). Queues the
    processing of an uploaded file. Returns whether the asset is now Uploaded. `stored` is what
    storage.inspect() said of its object, when the caller read it already (a batch reads side by side).
    A verified file is sealed: moved to a fresh key no transfer URL was signed for (storage.seal).
    """
    if asset.status != Asset.Status.UPLOADING:
        return False
    if asset.source != Asset.Source.FILE:
        return False  # URL and bucket imports are checked by the worker that fetches them (uploads.imports).
    if stored is _NOT_READ:
        stored = storage.inspect(asset.storage_key)
    size, prefix = stored if stored is not None else (None, b"")
    if size is None:
        finalized = asset.upload_session is not None and not asset.upload_session.is_open
        _fail(
            asset,
            "The session was finalized before this file finished uploading."
            if finalized
            else "The file never arrived in storage. Retry to upload it again.",
        )
        return False
    if asset.size is not None and size != asset.size:
        _fail(
            asset,
            f"The stored file is {_human_size(size)} but {_human_size(asset.size)} were declared; "
            "it was discarded. Retry to upload it again.",
            discard=True,
        )
        return False
    identified = content.identify(prefix)
    problem = content_problem(identified, asset_type=asset.asset_type, project=asset.project)
    if problem:
        _fail(asset, problem, discard=True)
        return False
    # Sealed under a key no URL was signed for: a signed PUT sent again can no longer replace what was verified.
    sent_to = asset.storage_key
    sealed = storage.seal(sent_to, size=size)
    if sealed is None:
        return False  # another run verified (and sealed) this file meanwhile
    if not asset.move(
        Asset.Status.UPLOADED, only_if={"storage_key": sent_to}, content_type=identified.mime, size=size, storage_key=sealed
    ):
        storage.delete(sealed)
        return False
    transaction.on_commit(lambda: _queue_processing(asset))
    return True


def _queue_processing(asset: Asset) -> None:
    from assets import tasks

    if asset.asset_type == Asset.Type.IMAGE:
        tasks.process_image.delay(str(asset.pk))
    else:
        tasks.queue_video.delay(str(asset.pk))


@contextmanager
def stored_copy(asset: Asset):
    """A local file with the asset's stored bytes and their sha256, read once in chunks (never whole in memory)."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(prefix="asset-", suffix=".bin") as local:
        with _open_original(asset) as stored:
            for chunk in iter(lambda: stored.read(_CHUNK), b""):
                digest.update(chunk)
                local.write(chunk)
        local.flush()
        local.seek(0)
        yield local, digest.hexdigest()


def _open_original(asset: Asset):
    """The asset's original bytes as a stream: from the portal's storage, or read through the storage
    integration when it was imported by reference (those bytes are never copied)."""
    if asset.source == Asset.Source.REFERENCE:
        from contextlib import closing

        from uploads.integrations import open_reference

        return closing(open_reference(asset))
    return default_storage.open(asset.storage_key, "rb")


def _checksum_problem(asset: Asset, sha256: str) -> str:
    if asset.sha256 and sha256 != asset.sha256:
        return "The stored bytes do not match the sha256 declared for this file; it was discarded. Retry to upload it again."
    return ""


def _fail(asset: Asset, reason: str, *, discard: bool = False) -> None:
    if discard:
        storage.delete(asset.storage_key)
    if asset.mark_upload_error(reason):
        asset_settled(asset=asset)


def asset_process_image(*, asset: Asset) -> bool:
    """Uploaded image -> Ready with its metadata and thumbnail, or Upload Error with a reason a person understands."""
    from assets import media

    project = asset.project
    with stored_copy(asset) as (local, sha256):
        problem = _checksum_problem(asset, sha256)
        if problem:
            _fail(asset, problem, discard=True)
            return False
        try:
            metadata = media.inspect_image(
                local,
                allowed_formats=tuple(project.image_formats if project else all_image_formats()),
                require_camera_metadata=bool(project and project.require_camera_metadata),
            )
            local.seek(0)
            thumbnail = media.make_thumbnail(local)
        except media.MediaError as error:
            _fail(asset, str(error))
            return False
        except MemoryError:
            _fail(asset, memory.reason(doing="processing the image"))
            return False
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
    from assets import media

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


def assets_recover_stalled() -> dict[str, int]:
    """Finds videos whose preprocessing stopped beating: Recovering Pre-Processing and queued again, or
    Upload Error once they used up their attempts. Returns how many of each."""
    from assets import tasks

    stalled_before = timezone.now() - timedelta(seconds=settings.PREPROCESSING_STALL_SECONDS)
    counts = {"recovered": 0, "failed": 0}
    stalled = Asset.objects.filter(status=Asset.Status.PREPROCESSING, processing_heartbeat_at__lt=stalled_before)
    for asset in stalled.select_related("project"):
        if asset.processing_attempts >= settings.PREPROCESSING_MAX_ATTEMPTS:
            reason = (
                f"Preprocessing stopped {asset.processing_attempts} times without finishing; "
                "the video may be too large or damaged. Retry it, or contact support if it keeps failing."
            )
            if asset.move(Asset.Status.UPLOAD_ERROR, reason=reason, only_if={"processing_heartbeat_at__lt": stalled_before}):
                counts["failed"] += 1
                asset_settled(asset=asset)
        elif asset.mark_recovering(stalled_before=stalled_before):
            counts["recovered"] += 1
            asset_id = str(asset.pk)
            transaction.on_commit(lambda asset_id=asset_id: tasks.preprocess_video.delay(asset_id))
    # A recovery whose message was lost is queued again (and its clock restarted, so it is not queued twice).
    lost = Asset.objects.filter(status=Asset.Status.RECOVERING_PREPROCESSING, status_changed_at__lt=stalled_before)
    for asset_id in list(lost.values_list("pk", flat=True)):
        if Asset.objects.filter(pk=asset_id, status_changed_at__lt=stalled_before).update(status_changed_at=timezone.now()):
            transaction.on_commit(lambda asset_id=str(asset_id): tasks.preprocess_video.delay(asset_id))
    return counts


def assets_give_up(*, asset_ids: list[str], works_on: dict, reason: str) -> int:
    """Files a task gave up on (its retries used up, or an error nobody expected): Upload Error with the reason,
    so they can be retried and their session can complete, rather than waiting for ever. Only files still as the
    task takes them (`works_on`, e.g. {"status": "uploading"}) move: one another run took further is left alone.
    Returns how many moved."""
    moved = 0
    for asset in Asset.objects.filter(pk__in=asset_ids, **works_on):
        if asset.move(Asset.Status.UPLOAD_ERROR, reason=reason, only_if=works_on):
            asset_settled(asset=asset)
            moved += 1
    return moved


def give_up_reason(error: BaseException, *, doing: str, tries: int, retry_hint: str = "Retry to upload it again") -> str:
    """Why a task gave up on a file, for people: what failed, never the exception's own text."""
    if isinstance(error, (SoftTimeLimitExceeded, TimeLimitExceeded)):
        return f"{doing.capitalize()} took longer than the portal allows for one file. {retry_hint}."
    if isinstance(error, ClientError):
        answer = error.response.get("Error", {}).get("Code") or "an error"
        http = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        cause = f"the storage answered {answer}" + (f" (HTTP {http})" if http else "")
    elif isinstance(error, (BotoCoreError, ConnectionError, TimeoutError)):
        cause = "the storage could not be reached"
    else:
        return f"{doing.capitalize()} failed unexpectedly. {retry_hint}; contact support if it keeps failing."
    tried = f" on all {tries} tries" if tries > 1 else ""
    return (
        f"The portal gave up {doing}: {cause}{tried}. {retry_hint}; "
        "if it keeps failing, an admin should check the portal's access to the storage."
    )


def asset_settled(*, asset: Asset) -> None:
    """An asset reached Ready or Upload Error: its session may now be complete."""
    if asset.upload_session_id is None:
        return
    from uploads.models import UploadSession
    from uploads.services import upload_session_check_complete

    session = UploadSession.objects.filter(pk=asset.upload_session_id).first()
    if session is not None:
        upload_session_check_complete(session=session)
