"""Workflows of one asset across the database, the object store and the task queue."""

import logging
from datetime import timedelta
from itertools import batched

from botocore.exceptions import BotoCoreError, ClientError
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from assets import content, storage
from assets.models import Asset, AssetEvent
from assets.signals import settled
from projects.models import IMAGE_FORMATS

logger = logging.getLogger(__name__)


def asset_events_record(
    *, assets, action: str, actor=None, reason: str = "", to_status: str = ""
) -> list[AssetEvent]:
    """Records one event per asset in its history, in one INSERT (docs/ARCHITECTURE.md, "Asset history").

    For what is not a status move (status moves record themselves in Asset.move): added, moved to another project or
    the library, added to a batch, cancelled, deleted. `assets` are Asset rows as they stand before the action (their
    status is the event's `from_status`); `actor` is the person who acted (None for the portal's workers); `reason`
    says what happened in words people read ("Moved to Harbour cameras"). Record a deletion before deleting: the
    event keeps the asset's id and name. Inside AssetEvent.collecting() the events are saved at the end of the block.
    """
    actor_id = getattr(actor, "pk", actor)
    now = timezone.now()
    events = [
        AssetEvent.about(asset, action=action, actor_id=actor_id, at=now, to_status=to_status, reason=reason)
        for asset in assets
    ]
    AssetEvent.objects.record(events)
    return events


def _human_size(size: int) -> str:
    return f"{filesizeformat(size)} ({size:,} bytes)"


def content_problem(identified: content.Identified, *, asset_type: str, project) -> str:
    """Why content cannot join a project as `asset_type`, in words for people; empty when it can."""
    if identified.kind != asset_type:
        wanted = "an image" if asset_type == "image" else "a video"
        return f"The file's content is {identified.label}, not {wanted}, whatever its name says."
    if asset_type == "image" and not identified.image_format:
        *others, last = [label for _, label in IMAGE_FORMATS]
        return (
            f"The file is {identified.label}, a format the portal does not process;"
            f" save it as {', '.join(others)} or {last} and upload it again."
        )
    if asset_type == "image" and project is not None and not project.accepts_image_format(identified.image_format):
        allowed = ", ".join(project.image_format_labels)
        return f"The file is {identified.label}; this project takes only {allowed} images."
    return ""


_NOT_READ = object()


def asset_verify_upload(*, asset: Asset, stored=_NOT_READ, sources_left: list[str] | None = None) -> bool:
    """Checks the stored object of an asset whose transfer the client reported done.

    Moves it to Uploaded when the object exists, has the declared size and its content is what the
    session takes; otherwise to Upload Error with the reason (deleting a wrong object). Queues the
    processing of an uploaded file. Returns whether the asset is now Uploaded. `stored` is what
    storage.inspect() said of its object, when the caller read it already.
    A verified file is sealed: moved to a fresh key no transfer URL was signed for (storage.seal); with
    `sources_left`, the keys sealed by copying are appended there for the caller to delete together (storage.delete_many).
    """
    if stored is _NOT_READ and asset.status == Asset.Status.UPLOADING and asset.source == Asset.Source.FILE:
        stored = storage.inspect(asset.storage_key)
    checked = _upload_checked(asset=asset, stored=stored)
    if checked is None:
        return False
    sent_to = asset.storage_key
    sealed = storage.seal(sent_to, size=checked[0], sources_left=sources_left)
    return _upload_sealed(asset=asset, sent_to=sent_to, sealed=sealed, checked=checked)


def assets_verify_uploads(*, assets: list[Asset]) -> None:
    """Checks the stored objects of these Uploading assets as asset_verify_upload does each, with the requests to the
    store side by side: the objects are read together, then the verified ones sealed together. When a request failed
    for some, the others are checked all the same and the first error is raised after, so a task retries (or gives up
    on) only what is still Uploading."""
    found = storage.inspect_many([asset.storage_key for asset in assets], return_exceptions=True)
    failed = None
    # The keys the transfers went to, once sealed, go in one request at the end instead of one each; the moves are
    # recorded in one INSERT at the end (docs/ARCHITECTURE.md, "Asset history").
    sealed_from: list[str] = []
    try:
        with AssetEvent.collecting():
            verified: list[tuple[Asset, tuple]] = []
            for asset in assets:
                stored = found[asset.storage_key]
                if isinstance(stored, Exception):
                    failed = failed or stored
                elif (checked := _upload_checked(asset=asset, stored=stored)) is not None:
                    verified.append((asset, checked))
            sealed = storage.seal_many([(asset.storage_key, checked[0]) for asset, checked in verified], sources_left=sealed_from)
            for asset, checked in verified:
                outcome = sealed[asset.storage_key]
                if isinstance(outcome, Exception):
                    failed = failed or outcome
                else:
                    _upload_sealed(asset=asset, sent_to=asset.storage_key, sealed=outcome, checked=checked)
    finally:
        storage.delete_many(sealed_from)
    if failed is not None:
        raise failed


def _upload_checked(*, asset: Asset, stored) -> tuple | None:
    """(size, identified content) when the stored object is what the asset declared; otherwise None, after failing the
    asset with the reason (or because it is not a transfer waiting for its check)."""
    if asset.status != Asset.Status.UPLOADING:
        return None
    if asset.source != Asset.Source.FILE:
        return None  # URL and bucket imports are checked by the worker that fetches them (uploads.imports).
    size, prefix = stored if stored is not None else (None, b"")
    if size is None:
        finalized = asset.upload_session is not None and not asset.upload_session.is_open
        asset_fail(
            asset=asset,
            reason="The session was finalized before this file finished uploading."
            if finalized
            else "The file never arrived in storage. Retry to upload it again.",
        )
        return None
    if asset.size is not None and size != asset.size:
        asset_fail(
            asset=asset,
            reason=f"The stored file is {_human_size(size)} but {_human_size(asset.size)} were declared; "
            "it was discarded. Retry to upload it again.",
            discard=True,
        )
        return None
    identified = content.identify(prefix)
    problem = content_problem(identified, asset_type=asset.asset_type, project=asset.project)
    if problem:
        asset_fail(asset=asset, reason=problem, discard=True)
        return None
    return size, identified


def _upload_sealed(*, asset: Asset, sent_to: str, sealed: str | None, checked: tuple) -> bool:
    """Uploading -> Uploaded under the sealed key (a key no URL was signed for: a signed PUT sent again can no longer
    replace what was verified), then processing is queued."""
    if sealed is None:
        return False  # another run verified (and sealed) this file meanwhile
    size, identified = checked
    if not asset.move(
        Asset.Status.UPLOADED, only_if={"storage_key": sent_to}, content_type=identified.mime, size=size, storage_key=sealed
    ):
        storage.delete(sealed)
        return False
    asset_queue_processing(asset=asset)
    return True


def _queue(task: str, *args) -> None:
    # By name: assets.tasks imports this module, so it is not imported back (docs/ARCHITECTURE.md, "Layers").
    current_app.tasks[task].delay(*args)


def asset_queue_processing(*, asset: Asset) -> None:
    """Hands an Uploaded file to the workers once the transaction commits: images are validated, videos preprocessed."""
    task = "assets.tasks.process_image" if asset.asset_type == Asset.Type.IMAGE else "assets.tasks.queue_video"
    asset_id = str(asset.pk)
    transaction.on_commit(lambda: _queue(task, asset_id))


def assets_queue_verification(*, asset_ids: list[str]) -> None:
    """Queues the check of stored objects whose transfer a client reported done, once the transaction commits."""
    transaction.on_commit(lambda: _queue("assets.tasks.verify_uploads", asset_ids))


def transfers_queue_discard(*, transfers: list[tuple[str, bool]]) -> None:
    """Queues the deletion of what abandoned transfers left ((key, whether it went in parts)), once the transaction
    commits."""
    transaction.on_commit(lambda: _queue("assets.tasks.discard_transfers", transfers))


def asset_fail(*, asset: Asset, reason: str, discard: bool = False) -> bool:
    """Any failure before the asset is ready: Upload Error with `reason` (shown to people as it is), then its session
    may complete. With `discard`, what is stored under its key is deleted (never for a file read by reference).
    Returns whether this call moved it."""
    if discard and not asset.is_reference:
        storage.delete(asset.storage_key)
    if not asset.mark_upload_error(reason):
        return False
    asset_settled(asset=asset)
    return True


def assets_recover_stalled() -> dict[str, int]:
    """Finds videos whose preprocessing stopped beating: Recovering Pre-Processing and queued again, or
    Upload Error once they used up their attempts. Returns how many of each."""
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
            transaction.on_commit(lambda asset_id=asset_id: _queue("assets.tasks.preprocess_video", asset_id))
    # A recovery whose message was lost is queued again (and its clock restarted, so it is not queued twice).
    lost = Asset.objects.filter(status=Asset.Status.RECOVERING_PREPROCESSING, status_changed_at__lt=stalled_before)
    for asset_id in list(lost.values_list("pk", flat=True)):
        if Asset.objects.filter(pk=asset_id, status_changed_at__lt=stalled_before).update(status_changed_at=timezone.now()):
            transaction.on_commit(lambda asset_id=str(asset_id): _queue("assets.tasks.preprocess_video", asset_id))
    return counts


# Stored objects one query of the orphan sweep looks up.
_SWEEP_BATCH = 500


def storage_sweep_orphans(*, now=None) -> int:
    """Deletes stored objects no asset refers to (as its original, thumbnail or poster, or rendition) that were last
    written more than STORAGE_ORPHAN_AGE_SECONDS before `now`: what a cancelled or overtaken transfer left, an old signed
    PUT sent again after its file was sealed (docs/SECURITY.md), an output of a worker stopped before it recorded it.
    Returns how many it deleted."""
    older_than = (now or timezone.now()) - timedelta(seconds=settings.STORAGE_ORPHAN_AGE_SECONDS)
    deleted = 0
    candidates = (key for key, written in storage.stored_objects() if written < older_than)
    for batch in batched(candidates, _SWEEP_BATCH):
        referenced: set[str] = set()
        for keys in Asset.objects.filter(
            Q(storage_key__in=batch) | Q(thumbnail_key__in=batch) | Q(rendition_key__in=batch)
        ).values_list("storage_key", "thumbnail_key", "rendition_key"):
            referenced.update(keys)
        for key in batch:
            if key not in referenced:
                storage.delete(key)
                deleted += 1
    return deleted


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
    """An asset reached Ready or Upload Error: tells whoever listens (its upload session may now be complete)."""
    settled.send(sender=Asset, asset=asset)
