"""The upload protocol (docs/ARCHITECTURE.md): open -> register -> transfer -> complete / fail -> retry -> finalize.

The browser's JSON endpoints and the public API call these functions; none of them re-implements a rule.
"""

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.template.defaultfilters import filesizeformat

from assets import content, selectors, storage
from assets import services as asset_services
from assets.models import Asset, AssetEvent
from uploads.errors import UploadRefused
from uploads.models import UploadSession
from uploads.quotas import quota_check

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Files one verification task checks (it reads their objects side by side, see storage.inspect_many).
VERIFY_BATCH = 40

@dataclass
class FileResult:
    client_id: str
    name: str
    outcome: str  # "upload", "duplicate" or "rejected"
    reason: str = ""
    asset: Asset | None = None
    duplicate_of: str = ""

    def as_dict(self) -> dict:
        data = {"clientId": self.client_id, "name": self.name, "outcome": self.outcome}
        if self.reason:
            data["reason"] = self.reason
        if self.duplicate_of:
            data["duplicateOf"] = self.duplicate_of
        if self.asset is not None:
            data |= transfer_instructions(self.asset)
        return data


def upload_session_open(
    *, project, user, asset_type: str, source: str, view_name: str, capture_date, organization=None
) -> UploadSession:
    """Opens a session on a project that takes `asset_type`; with no project, on `organization`'s library (files
    uploaded directly only: lists of URLs are imported into a project)."""
    if project is None:
        if organization is None:
            raise UploadRefused("Choose a project, or the library of one of your organizations.")
        if source != UploadSession.Source.DIRECT:
            raise UploadRefused("Lists of URLs are imported into a project: choose one, or upload the files directly.")
    elif not project.accepts(asset_type):
        raise UploadRefused(f"{project.name} does not take {asset_type}s: choose another asset type or project.")
    return UploadSession.objects.create(
        organization_id=project.organization_id if project is not None else organization.pk,
        project=project,
        created_by=user,
        asset_type=asset_type,
        source=source,
        view_name=view_name.strip(),
        capture_date=capture_date,
    )


def clean_file_name(raw) -> str:
    """The name a file is shown by: browsers send a bare name, scripts may send a path; the last part, for display only."""
    name = PurePosixPath(str(raw or "").replace("\\", "/")).name.strip()
    return name[:255]


def _precheck(entry: dict, session: UploadSession, index: int) -> tuple[FileResult, dict]:
    """Checks one declared file on its own; returns its result (outcome "upload" while it may go on) and its clean fields."""
    client_id = str(entry.get("clientId") or entry.get("client_id") or index)
    name = clean_file_name(entry.get("name"))
    result = FileResult(client_id=client_id, name=name or f"file {index + 1}", outcome="upload")

    def reject(reason: str):
        result.outcome, result.reason = "rejected", reason
        return result, {}

    if not name:
        return reject("The file has no name.")
    size = entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return reject("The file's size is missing or not a whole number of bytes.")
    if size == 0:
        return reject("The file is empty (0 bytes).")
    if size > settings.UPLOAD_MAX_FILE_SIZE:
        return reject(
            f"The file is {filesizeformat(size)}; the largest file the portal takes is {filesizeformat(settings.UPLOAD_MAX_FILE_SIZE)}."
        )
    sha256 = str(entry.get("sha256") or "").lower()
    if not _SHA256.match(sha256):
        return reject("The file's sha256 is missing or is not 64 hexadecimal characters.")
    content_type = str(entry.get("contentType") or entry.get("content_type") or "")[:100]
    declared = content.declared_kind(content_type)
    if content_type and declared != session.asset_type:
        wanted = "images" if session.asset_type == "image" else "videos"
        return reject(f"This session takes {wanted}; the file is declared as {content_type}.")
    fields = {"name": name, "size": size, "sha256": sha256, "content_type": content_type}
    return result, fields | {"resume": entry.get("resume") is True}


def _too_many_at_once(count: int) -> UploadRefused:
    return UploadRefused(
        f"{count} files were added at once; add at most {settings.UPLOAD_MAX_FILES_PER_DROP} at a time, "
        "then the next ones. Nothing from this drop was added."
    )


def _drop_announcement(drop, files: list) -> tuple[str, int] | None:
    """The (id, size) of the drop these files are a part of, or None when they are a whole drop on their own."""
    if drop is None:
        return None
    drop_id = drop.get("id") if isinstance(drop, dict) else None
    size = drop.get("size") if isinstance(drop, dict) else None
    if not isinstance(drop_id, str) or not 1 <= len(drop_id) <= 64:
        raise UploadRefused("The drop's id is missing or longer than 64 characters.")
    if not isinstance(size, int) or isinstance(size, bool) or size < len(files):
        raise UploadRefused("The drop's size is missing or smaller than the files sent with it.")
    if size > settings.UPLOAD_MAX_FILES_PER_DROP:
        raise _too_many_at_once(size)
    return drop_id, size


def upload_session_register(*, session: UploadSession, user, files: list, drop: dict | None = None) -> list[FileResult]:
    """Registers the files of one drop (or one script call) in a session.

    Answers per file: "upload" with transfer instructions, "duplicate" (same content already in the
    session or as a non-failed asset of the project or the organization's library: skipped and
    counted), or "rejected" with the reason. A drop over the per-drop limit, or one that would take
    the session past its cap, is refused whole and changes nothing. A file whose content matches a
    failed file of the same session retries that file instead of adding another. One that matches a file of
    the session still Uploading is a duplicate, unless it comes with "resume": true: the client says it is not
    sending that file itself (the tab that was sending it was closed or reloaded), and it is sent again under
    a fresh key.

    A drop may come in parts, as the browser finishes each file's checksum: `drop` = {"id", "size"}
    names it and how many files it has in all. Its first part keeps room for the whole drop (or is
    refused whole when the drop does not fit), so later parts never find the session full.
    """
    if not isinstance(files, list) or not files:
        raise UploadRefused("Send at least one file.")
    if len(files) > settings.UPLOAD_MAX_FILES_PER_DROP:
        raise _too_many_at_once(len(files))
    announced = _drop_announcement(drop, files)
    checked = [_precheck(entry if isinstance(entry, dict) else {}, session, i) for i, entry in enumerate(files)]
    with transaction.atomic():
        # The session row lock serialises drops into one session (two tabs cannot pass the cap together).
        locked = UploadSession.objects.select_for_update(of=("self",)).select_related("project").get(pk=session.pk)
        if not locked.is_open:
            raise UploadRefused("This session was finalized: start a new session to add more files.", status=409)
        held = locked.files_held()
        reservations, kept_for_others = _live_reservations(locked, announced)
        if announced and announced[0] not in reservations:
            locked.check_room(held=held, adding=announced[1], kept_for_others=kept_for_others)
        shas = {fields["sha256"] for _, fields in checked if fields}
        in_session = {
            asset.sha256: asset
            for asset in Asset.objects.filter(upload_session=locked, sha256__in=shas).order_by("created_at")
        }
        in_project: dict[str, Asset] = {}
        for sha, name, project_id in selectors.assets_with_content(
            organization_id=locked.organization_id, project_id=locked.project_id, sha256s=shas
        ).exclude(upload_session=locked).values_list("sha256", "name", "project_id"):
            in_project.setdefault(sha, Asset(name=name, project_id=project_id))
        seen: set[str] = set()
        to_create: list[tuple[FileResult, dict]] = []
        to_retry: list[tuple[FileResult, Asset]] = []
        duplicates = 0
        for result, fields in checked:
            if result.outcome != "upload":
                continue
            sha = fields["sha256"]
            earlier = in_session.get(sha)
            if sha in seen:
                result.outcome, result.reason = "duplicate", "The same file is already in this drop."
            elif earlier is not None and _sent_again(earlier, resume=fields["resume"]):
                to_retry.append((result, earlier))
            elif earlier is not None:
                result.outcome, result.duplicate_of = "duplicate", earlier.name
                result.reason = selectors.duplicate_reason(earlier, session_id=locked.pk)
            elif sha in in_project:
                result.outcome, result.duplicate_of = "duplicate", in_project[sha].name
                result.reason = selectors.duplicate_reason(in_project[sha])
            else:
                to_create.append((result, fields))
            seen.add(sha)
            duplicates += result.outcome == "duplicate"

        locked.check_room(held=held, adding=len(to_create), kept_for_others=kept_for_others)
        quota_check(organization_id=locked.organization_id, user_id=user.pk, adding_files=len(to_create),
                    adding_bytes=sum(fields["size"] for _, fields in to_create))
        if announced:
            _take_from_reservation(locked, reservations, announced, sent=len(files))
        assets = []
        for result, fields in to_create:
            # By id, not instance: Django checks and caches a related instance per field and row (~8 % of a drop).
            asset = Asset(
                organization_id=locked.organization_id,
                project_id=locked.project_id,
                upload_session_id=locked.pk,
                name=fields["name"],
                original_filename=fields["name"],
                asset_type=locked.asset_type,
                source=Asset.Source.FILE,
                size=fields["size"],
                sha256=fields["sha256"],
                content_type=fields["content_type"],
                uploaded_by_id=user.pk,
            )
            asset.storage_key = storage.key_for(asset)
            result.asset = asset
            assets.append(asset)
        Asset.objects.bulk_create(assets)
        # The drop's history in one INSERT, however many files it added or sent again (docs/ARCHITECTURE.md, "Asset history").
        with AssetEvent.collecting():
            asset_services.asset_events_record(assets=assets, action=AssetEvent.Action.ADDED, actor=user, to_status=Asset.Status.UPLOADING)
            for result, asset in to_retry:
                result.asset = asset if _restart(asset, actor_id=user.pk) else None
                if result.asset is None:
                    result.outcome, result.reason = "rejected", "This file changed status meanwhile; reload the page."
        if duplicates:
            UploadSession.objects.filter(pk=locked.pk).update(duplicate_count=F("duplicate_count") + duplicates)
    return [result for result, _ in checked]


def _live_reservations(locked: UploadSession, announced) -> tuple[dict, int]:
    """The session's unexpired drop reservations, and the room they keep for drops other than `announced`."""
    now = time.time()
    reservations = {
        drop_id: entry for drop_id, entry in (locked.drop_reservations or {}).items()
        if isinstance(entry, list) and len(entry) == 2 and entry[1] > now
    }
    own = announced[0] if announced else None
    return reservations, sum(entry[0] for drop_id, entry in reservations.items() if drop_id != own)


def _take_from_reservation(locked: UploadSession, reservations: dict, announced, *, sent: int) -> None:
    """Counts files of a drop that were sent (or cancelled before they were) against the room its first part kept;
    saves the reservations."""
    drop_id, size = announced
    still_to_come = reservations.get(drop_id, [size, 0])[0] - sent
    if still_to_come > 0:
        reservations[drop_id] = [still_to_come, time.time() + settings.UPLOAD_DROP_RESERVATION_SECONDS]
    else:
        reservations.pop(drop_id, None)
    if reservations != locked.drop_reservations:  # a drop sent in one part changes nothing
        UploadSession.objects.filter(pk=locked.pk).update(drop_reservations=reservations)
        locked.drop_reservations = reservations


def _sent_again(earlier: Asset, *, resume: bool) -> bool:
    """Adding the same content again retries a failed file, and resumes one whose browser transfer was abandoned."""
    return earlier.status == Asset.Status.UPLOAD_ERROR or (
        resume and earlier.status == Asset.Status.UPLOADING and earlier.source == Asset.Source.FILE
    )


def _restart(asset: Asset, *, actor_id: int | None) -> bool:
    """Upload Error -> Uploading, or Uploading again, with a fresh object key, so a late request for the old key
    changes nothing; what arrived under the old key is deleted after the commit."""
    old_key = asset.storage_key
    if asset.status == Asset.Status.UPLOAD_ERROR:
        restarted = asset.restart_upload(storage_key=storage.key_for(asset), upload_id="", actor_id=actor_id)
    else:
        restarted = asset.rekey_upload(storage_key=storage.key_for(asset), actor_id=actor_id)
    if not restarted:
        return False
    in_parts = _in_parts(asset.size)
    transaction.on_commit(lambda: storage.discard(old_key, in_parts=in_parts))
    return True


def _in_parts(size: int | None) -> bool:
    """Whether a file of this size goes to storage as a multipart upload."""
    return size is not None and size >= settings.UPLOAD_MULTIPART_THRESHOLD


def part_count(size: int | None) -> int | None:
    """How many parts of UPLOAD_PART_SIZE a file of `size` bytes takes (None when its size is unknown)."""
    return None if size is None else max(1, -(-size // settings.UPLOAD_PART_SIZE))


def part_length(size: int | None, part_number: int) -> int | None:
    """The exact length of one part of a file of `size` bytes: every part is UPLOAD_PART_SIZE but the last; None when the
    size is unknown (then the store takes at most UPLOAD_PART_SIZE). Part URLs are signed for it (docs/SECURITY.md)."""
    if size is None:
        return None
    return min(settings.UPLOAD_PART_SIZE, size - (part_number - 1) * settings.UPLOAD_PART_SIZE)


def transfer_instructions(asset: Asset) -> dict:
    """How the client sends an asset's bytes: one signed PUT, or S3 multipart with parts signed on demand."""
    data = {"assetId": str(asset.pk), "key": asset.storage_key}
    if _in_parts(asset.size):
        data["multipart"] = {"partSize": settings.UPLOAD_PART_SIZE}
    else:
        data["put"] = storage.presign(
            "put", asset.storage_key, size=asset.size, sha256=asset.sha256 or None, content_type=asset.content_type or None
        )
    return data


def browser_concurrency() -> int:
    """Files a browser transfers at once. To the embedded storage they go to the portal's own address, and share a
    browser's connections to it with the pages and the protocol's requests: fewer go at once there."""
    if not storage.shares_portal_address():
        return settings.UPLOAD_BROWSER_CONCURRENCY
    return min(settings.UPLOAD_BROWSER_CONCURRENCY, settings.UPLOAD_BROWSER_CONCURRENCY_EMBEDDED)


def _valid_ids(asset_ids) -> list[str]:
    ids = [str(i) for i in asset_ids if _is_uuid(i)] if isinstance(asset_ids, list) else []
    if isinstance(asset_ids, list) and len(ids) != len(asset_ids):
        raise UploadRefused("Some asset ids are not valid ids.")
    if len(ids) > settings.UPLOAD_SESSION_MAX_FILES:
        raise UploadRefused(f"Send at most {settings.UPLOAD_SESSION_MAX_FILES:,} asset ids at once.")
    return ids


def _session_assets(session: UploadSession, asset_ids) -> "list[Asset]":
    return list(Asset.objects.filter(upload_session=session, pk__in=_valid_ids(asset_ids)).select_related("project"))


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


_SIGNABLE = {
    ("PUT", False, False): "put",
    ("POST", False, False): "create_multipart",
    ("PUT", True, True): "upload_part",
    ("POST", True, False): "complete_multipart",
    ("DELETE", True, False): "abort_multipart",
    ("GET", True, False): "list_parts",
}


def upload_sign(*, session: UploadSession, request: dict) -> storage.Transfer:
    """Signs one storage request of a transfer in progress (Uppy's signRequest: parts are signed on demand)."""
    method = str(request.get("method", "")).upper()
    upload_id = str(request.get("uploadId") or "")
    part_number = request.get("partNumber")
    operation = _SIGNABLE.get((method, bool(upload_id), part_number is not None))
    if operation is None:
        raise UploadRefused("The portal does not sign that storage request.", status=403)
    if part_number is not None and (not isinstance(part_number, int) or isinstance(part_number, bool) or not 1 <= part_number <= 10000):
        raise UploadRefused("Part numbers go from 1 to 10,000.")
    if len(upload_id) > 1024 or not upload_id.isprintable():
        raise UploadRefused("That is not a multipart upload id.")
    asset = Asset.objects.filter(
        upload_session=session, storage_key=str(request.get("key", "")), status=Asset.Status.UPLOADING
    ).first()
    if asset is None:
        raise UploadRefused("No file of this session is uploading to that key; it may have been retried or finished.", status=404)
    if operation == "put":
        return storage.presign("put", asset.storage_key, size=asset.size, sha256=asset.sha256 or None,
                               content_type=asset.content_type or None)
    if operation == "create_multipart":
        if asset.upload_id:
            raise UploadRefused("A multipart upload was already started for this file: go on with that one.", status=409)
        return storage.presign("create_multipart", asset.storage_key)
    # The first upload id a part is signed for is recorded; the portal signs for no other (docs/SECURITY.md).
    if not asset.record_upload_id(upload_id):
        raise UploadRefused("That multipart upload is not the one the portal recorded for this file.", status=403)
    if operation == "upload_part":
        count = part_count(asset.size)
        if count is not None and part_number > count:
            raise UploadRefused(f"This file has {count:,} part{'s' if count != 1 else ''}; there is no part {part_number}.")
        return storage.presign("upload_part", asset.storage_key, upload_id=upload_id, part_number=part_number,
                               size=part_length(asset.size, part_number))
    return storage.presign(operation, asset.storage_key, upload_id=upload_id)


def upload_complete(*, session: UploadSession, asset_ids, keys=None) -> int:
    """Records that the client finished transferring these files and queues their verification.

    A worker checks each stored object (exists, size, content) and moves the file to Uploaded or Upload
    Error; the web process never reads the objects. Returns how many files were queued.

    `keys` ({asset id: object key}) says where the client sent each file. A transfer to a key the file no longer
    has (it was resumed meanwhile, from another tab) is not this file's any more: it is not verified, and what it
    left is deleted. So is what a transfer left of a file cancelled (on another page) while it was being sent.
    """
    sent_to = keys if isinstance(keys, dict) else {}
    reported = _valid_ids(asset_ids)
    ids, stale = [], []
    # A key a client names is deleted only when it is exactly one the portal issued to that file for an earlier attempt
    # (retired) or had recorded when the file was removed: never a key that is merely under the file's prefix.
    for pk, key, retired in Asset.objects.filter(
        upload_session=session, pk__in=reported, status=Asset.Status.UPLOADING
    ).values_list("pk", "storage_key", "retired_keys"):
        claimed = sent_to.get(str(pk))
        if not isinstance(claimed, str) or claimed == key:
            ids.append(str(pk))
        elif claimed in (retired or []):
            stale.append((claimed, False))
    for pk in reported:
        recorded = session.removed_key(pk)
        if recorded and sent_to.get(pk) == recorded:
            stale.append((recorded, False))
    if stale:
        asset_services.transfers_queue_discard(transfers=stale)
    # Small batches, so every worker process checks some of them at once.
    for start in range(0, len(ids), VERIFY_BATCH):
        asset_services.assets_queue_verification(asset_ids=ids[start : start + VERIFY_BATCH])
    return len(ids)


def upload_fail(*, session: UploadSession, failures: list) -> int:
    """Marks files whose transfer failed in the client as Upload Error with the client's reason."""
    if not isinstance(failures, list):
        raise UploadRefused("Send a list of failures.")
    reasons = {str(f.get("assetId")): str(f.get("reason") or "")[:500] for f in failures if isinstance(f, dict)}
    moved = 0
    # Only the person who opened the session sends its protocol's requests (uploads/access.py): they reported it.
    with AssetEvent.collecting():
        for asset in _session_assets(session, list(reasons)):
            reason = reasons[str(asset.pk)].strip() or "The transfer failed."
            # Guarded on Uploading only: a late report about a file whose bytes already arrived changes nothing.
            if asset.move(Asset.Status.UPLOAD_ERROR, reason=f"{reason} Retry to upload it again.",
                          only_if={"status": Asset.Status.UPLOADING}, actor_id=session.created_by_id):
                storage.delete(asset.storage_key)
                moved += 1
    return moved


def upload_cancel(*, session: UploadSession, asset_ids, drops=None) -> int:
    """Takes files whose transfer the person stopped out of the open session, as if they had never been added.

    Only files still Uploading go: those whose bytes arrived, or that failed, stay as they are. Other pages showing
    the session take their rows away at their next poll. Whatever part of their bytes reached storage is deleted
    after the commit. `drops` ([{"id", "files"}]) names files of drops still being prepared that will never be
    sent, so the room their drop kept in the session is given back. Returns how many files were taken out.
    """
    ids = _valid_ids(asset_ids if asset_ids is not None else [])
    unsent = _unsent_files(drops)
    with transaction.atomic():
        # Serialised with Finalize and with registrations, which read the same reservations.
        locked = UploadSession.objects.select_for_update(of=("self",)).get(pk=session.pk)
        if not locked.is_open:
            raise UploadRefused("This session was finalized: its files can no longer be cancelled.", status=409)
        stopped = list(
            Asset.objects.select_for_update()
            .filter(upload_session=locked, pk__in=ids, status=Asset.Status.UPLOADING, source=Asset.Source.FILE)
            .only("pk", "name", "organization_id", "status", "storage_key", "size")
        )
        if stopped:
            # Recorded before the rows go: the history keeps their ids and names (docs/ARCHITECTURE.md, "Asset history").
            asset_services.asset_events_record(
                assets=stopped, action=AssetEvent.Action.CANCELLED, actor=locked.created_by_id,
                reason="The transfer was stopped before the file arrived; the file was taken out of the session.",
            )
            Asset.objects.filter(pk__in=[asset.pk for asset in stopped], status=Asset.Status.UPLOADING).delete()
            locked.record_removed([asset.pk for asset in stopped], keys={asset.pk: asset.storage_key for asset in stopped})
            asset_services.transfers_queue_discard(transfers=[(asset.storage_key, _in_parts(asset.size)) for asset in stopped])
        reservations, _ = _live_reservations(locked, None)
        for drop_id, count in unsent.items():
            if drop_id in reservations:
                _take_from_reservation(locked, reservations, (drop_id, 0), sent=count)
    return len(stopped)


def _unsent_files(drops) -> dict[str, int]:
    if drops is None:
        return {}

    def valid(drop) -> bool:
        drop_id, files = (drop.get("id"), drop.get("files")) if isinstance(drop, dict) else (None, None)
        return isinstance(drop_id, str) and 1 <= len(drop_id) <= 64 and type(files) is int and files >= 1

    if not isinstance(drops, list) or not all(valid(drop) for drop in drops):
        raise UploadRefused('Send "drops" as [{"id": "...", "files": n}, ...], with n at least 1.')
    unsent: dict[str, int] = {}
    for drop in drops:
        unsent[drop["id"]] = unsent.get(drop["id"], 0) + drop["files"]
    return unsent


def upload_retry(*, session: UploadSession, asset_ids) -> list[dict]:
    """Fresh transfer instructions (and a fresh object key) for failed files of an open session."""
    if not session.is_open:
        raise UploadRefused("This session was finalized: start a new session to upload these files again.", status=409)
    retried = []
    # Only the person who opened the session sends its protocol's requests (uploads/access.py): they retried.
    with transaction.atomic(), AssetEvent.collecting():
        for asset in _session_assets(session, asset_ids):
            if asset.status == Asset.Status.UPLOAD_ERROR and _restart(asset, actor_id=session.created_by_id):
                retried.append(asset)
    return [transfer_instructions(asset) for asset in retried]


def upload_session_finalize(*, session: UploadSession) -> bool:
    """No more files join. Every file still Uploading is checked in storage now: those whose bytes arrived go
    on to processing, the others become Upload Error. The session completes once every file is terminal."""
    if not session.mark_finalized():
        return False
    waiting = [str(pk) for pk in Asset.objects.filter(upload_session=session, status=Asset.Status.UPLOADING).values_list("pk", flat=True)]
    if waiting:
        asset_services.assets_queue_verification(asset_ids=waiting)
    upload_session_check_complete(session=session)
    return True


def on_asset_settled(sender, *, asset: Asset, **kwargs) -> None:
    """An asset reached Ready or Upload Error (assets.signals.settled): its session may now be complete."""
    if asset.upload_session_id is None:
        return
    session = UploadSession.objects.filter(pk=asset.upload_session_id).first()
    if session is not None:
        upload_session_check_complete(session=session)


def upload_session_check_complete(*, session: UploadSession) -> bool:
    """Marks a finalized session complete once every file is terminal; exactly once. Returns whether this call did."""
    if session.status != UploadSession.Status.FINALIZED:
        return False
    if Asset.objects.filter(upload_session=session).exclude(status__in=Asset.TERMINAL).exists():
        return False
    if not session.mark_complete():
        return False
    session_id = str(session.pk)
    # By name: uploads.tasks imports this module, so it is not imported back (docs/ARCHITECTURE.md, "Layers").
    transaction.on_commit(lambda: current_app.tasks["uploads.tasks.send_session_email"].delay(session_id))
    return True


def session_counts(session: UploadSession) -> dict[str, int]:
    """Files of a session per status, in one query."""
    rows = Asset.objects.filter(upload_session=session).values("status").annotate(n=Count("pk")).order_by()
    counts = {status: 0 for status in Asset.Status.values}
    counts.update({row["status"]: row["n"] for row in rows})
    counts["total"] = sum(counts[s] for s in Asset.Status.values)
    return counts


SESSION_REPORT_HEADER = ["File name", "Size (bytes)", "SHA-256", "Status", "Reason", "Asset id"]
# Rows the report reads from the database at a time: a 1,500-file session streams in constant memory.
_REPORT_CHUNK = 500


def session_report_rows(session: UploadSession):
    """A session's files for its report (SESSION_REPORT_HEADER's columns), in the order they were added, read in chunks."""
    files = (
        Asset.objects.filter(upload_session=session)
        .order_by("created_at", "id")
        .values_list("name", "size", "sha256", "status", "error_reason", "pk")
    )
    for name, size, sha256, status, reason, pk in files.iterator(chunk_size=_REPORT_CHUNK):
        yield name, size if size is not None else "", sha256, Asset.Status(status).label, reason, str(pk)
