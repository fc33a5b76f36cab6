"""The upload protocol one asset at a time, as scripts use it through the public API (seed 001):
register -> open an upload session (a signed URL, or a multipart upload with parts signed on request)
-> PUT the bytes -> close the session (the stored object is verified and processing starts).

The rules are the ones of `uploads.services`: the same duplicate rule, size limit, fresh object key
on retry and verification; only the shape of the calls differs from the browser's bulk protocol.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from assets import selectors, storage
from assets import services as asset_services
from assets.models import Asset, AssetEvent
from projects.models import Organization, Project
from uploads.errors import UploadRefused
from uploads.quotas import api_uploading_check, quota_check
from uploads.services import clean_file_name, part_count, part_length

# S3 multipart uploads hold at most 10,000 parts; a single PUT takes at most 5 GiB.
MAX_PARTS = 10_000
MAX_SINGLE_PUT = 5 * 1024**3


class DuplicateAsset(UploadRefused):
    """The same content (sha256) is already a non-failed asset of the project or of the library (assets.selectors)."""

    status = 409

    def __init__(self, existing: Asset):
        super().__init__(selectors.duplicate_reason(existing))
        self.existing = existing


@dataclass(frozen=True)
class MultipartUpload:
    upload_id: str
    part_size: int
    part_count: int | None
    received: list[int]


@dataclass(frozen=True)
class FileToRegister:
    """One file a script is about to send (the fields of `POST /api/v1/assets`)."""

    name: str
    file_name: str
    asset_type: str
    size: int | None = None
    sha256: str = ""
    fps: float | None = None
    frame_count: int | None = None
    external_id: str = ""
    context_data: dict | None = None


def asset_register(*, user, organization: Organization, project: Project | None, **fields) -> Asset:
    """Registers one asset whose bytes will follow (see assets_register); raises its refusal."""
    (result,) = assets_register(user=user, organization=organization, project=project, files=[FileToRegister(**fields)])
    if isinstance(result, UploadRefused):
        raise result
    return result


def assets_register(
    *, user, organization: Organization, project: Project | None, files: list[FileToRegister]
) -> list[Asset | UploadRefused]:
    """Registers assets whose bytes will follow, in one transaction; they sit in the organization's library when
    `project` is None. Answers, for each file in order, its new asset or why it was refused: UploadRefused when the
    project does not take the type or the file is too large, DuplicateAsset when its sha256 is already there (or
    earlier in `files`).

    Frame rate and frame count given here are kept as media metadata marked `provided`, so processing need not probe
    for them (seed 002). Quotas and the cap of files waiting for their bytes count every file of the call: when they
    would be passed, UploadRefused (429) is raised and nothing is registered.
    """
    results: list[Asset | UploadRefused | None] = [None] * len(files)
    for index, file in enumerate(files):
        if project is not None and not project.accepts(file.asset_type):
            results[index] = UploadRefused(f"{project.name} does not take {file.asset_type}s.", status=422)
        elif file.size is not None and file.size > settings.UPLOAD_MAX_FILE_SIZE:
            results[index] = UploadRefused(
                f"The file is {filesizeformat(file.size)}; the largest file the portal takes is "
                f"{filesizeformat(settings.UPLOAD_MAX_FILE_SIZE)}.",
                status=422,
            )
    sha256s = {(file.sha256 or "").lower() for file, result in zip(files, results) if result is None} - {""}
    with transaction.atomic():
        if sha256s:
            # Registrations into one project (or one library) take turns, so two scripts cannot both add the same file.
            if project is not None:
                Project.objects.select_for_update().filter(pk=project.pk).first()
            else:
                Organization.objects.select_for_update().filter(pk=organization.pk).first()
            existing: dict[str, Asset] = {}
            for asset in selectors.assets_with_content(
                organization_id=organization.pk, project_id=project.pk if project else None, sha256s=sha256s
            ):
                existing.setdefault(asset.sha256, asset)
        new: list[Asset] = []
        for index, file in enumerate(files):
            if results[index] is not None:
                continue
            sha256 = (file.sha256 or "").lower()
            if sha256 and sha256 in existing:
                results[index] = DuplicateAsset(existing[sha256])
                continue
            file_name = clean_file_name(file.file_name) or "file"
            metadata = {}
            if file.fps is not None:
                metadata["frame_rate"] = file.fps
            if file.frame_count is not None:
                metadata["frame_count"] = file.frame_count
            if metadata:
                metadata["provided"] = True
            asset = Asset(
                organization=organization,
                project=project,
                name=file.name.strip()[:255] or file_name,
                original_filename=file_name,
                asset_type=file.asset_type,
                source=Asset.Source.FILE,
                size=file.size,
                sha256=sha256,
                media_metadata=metadata,
                context_data=file.context_data or {},
                external_id=(file.external_id or "")[:255],
                uploaded_by=user,
            )
            asset.storage_key = storage.key_for(asset)
            if sha256:
                existing[sha256] = asset  # the same content twice in one call: the second is a duplicate of the first
            results[index] = asset
            new.append(asset)
        if new:
            api_uploading_check(user_id=user.pk, adding=len(new))
            quota_check(
                organization_id=organization.pk, user_id=user.pk, adding_files=len(new),
                adding_bytes=sum(asset.size or 0 for asset in new),
            )
            Asset.objects.bulk_create(new)
            asset_services.asset_events_record(
                assets=new, action=AssetEvent.Action.ADDED, actor=user, to_status=Asset.Status.UPLOADING
            )
    return results  # type: ignore[return-value]


def _ready_to_transfer(asset: Asset, *, actor) -> None:
    """An asset takes bytes while Uploading; after an Upload Error it starts again with a fresh object key (a retry by
    `actor`, recorded in its history)."""
    if asset.upload_session_id is not None:
        raise UploadRefused("This asset belongs to an upload session of the browser; upload it there.", status=409)
    if asset.status == Asset.Status.UPLOAD_ERROR:
        old_key, old_upload = asset.storage_key, asset.upload_id
        if asset.restart_upload(storage_key=storage.key_for(asset), upload_id="", actor_id=getattr(actor, "pk", None)):
            storage.multipart_abort(old_key, old_upload)
            storage.delete(old_key)
            return
        asset.refresh_from_db()
    if asset.status != Asset.Status.UPLOADING:
        raise UploadRefused(
            f"The file of this asset already arrived (status: {asset.get_status_display()}); nothing more to upload.",
            status=409,
        )


def asset_upload_url(*, asset: Asset, actor=None) -> str:
    """A signed PUT for the asset's bytes, valid UPLOAD_URL_EXPIRY_SECONDS.

    The URL needs no header (a plain `curl --upload-file` works): it binds the length when a size was declared, and
    the declared sha256 where the store checks it without a header (the embedded endpoint); on S3 processing compares
    the sha256, and verification seals the file under a key no URL was signed for. A body with no declared size is
    refused above UPLOAD_MAX_FILE_SIZE. A multipart upload in progress is dropped: the single PUT replaces it.
    """
    if asset.size is not None and asset.size > MAX_SINGLE_PUT:
        raise UploadRefused(
            f"A single PUT takes at most {filesizeformat(MAX_SINGLE_PUT)}; upload this file in parts (?multipart=true).", status=422
        )
    _ready_to_transfer(asset, actor=actor)
    if asset.upload_id:
        storage.multipart_abort(asset.storage_key, asset.upload_id)
        Asset.objects.filter(pk=asset.pk, upload_id=asset.upload_id).update(upload_id="")
        asset.upload_id = ""
    return storage.presign("put", asset.storage_key, size=asset.size, sha256=asset.sha256 or None, plain=True)["url"]


def asset_upload_put(*, asset: Asset) -> dict | None:
    """A signed PUT of a newly registered asset's whole file for a client that sends the signed headers: it binds
    the declared length, sha256 and an allowed Content-Type (docs/SECURITY.md). None when the size was not declared or
    a single PUT cannot take it (the client then opens a multipart upload)."""
    if asset.size is None or asset.size > MAX_SINGLE_PUT or asset.status != Asset.Status.UPLOADING:
        return None
    signed = storage.presign("put", asset.storage_key, size=asset.size, sha256=asset.sha256 or None,
                             content_type=asset.content_type or None)
    return {"url": signed["url"], "headers": signed["headers"]}


def asset_upload_start_multipart(*, asset: Asset, actor=None) -> MultipartUpload:
    """Starts (or restarts) a multipart upload of the asset's bytes; parts are then signed on request."""
    _ready_to_transfer(asset, actor=actor)
    count = part_count(asset.size)
    if count is not None and count > MAX_PARTS:
        raise UploadRefused(
            f"The file needs {count:,} parts of {filesizeformat(settings.UPLOAD_PART_SIZE)}; at most {MAX_PARTS:,} fit.",
            status=422,
        )
    old_upload = asset.upload_id
    upload_id = storage.multipart_start(asset.storage_key)
    if not Asset.objects.filter(pk=asset.pk, status=Asset.Status.UPLOADING).update(upload_id=upload_id):
        storage.multipart_abort(asset.storage_key, upload_id)
        raise UploadRefused("The asset stopped uploading meanwhile.", status=409)
    storage.multipart_abort(asset.storage_key, old_upload)
    asset.upload_id = upload_id
    return MultipartUpload(upload_id=upload_id, part_size=settings.UPLOAD_PART_SIZE, part_count=count, received=[])


def asset_upload_sign_parts(*, asset: Asset, part_numbers: list[int]) -> list[dict]:
    """Signed PUTs for parts of the asset's multipart upload in progress."""
    if asset.status != Asset.Status.UPLOADING or not asset.upload_id:
        raise UploadRefused("No multipart upload is in progress for this asset: start one first.", status=409)
    count = part_count(asset.size) or MAX_PARTS
    wrong = [n for n in part_numbers if not 1 <= n <= count]
    if wrong:
        raise UploadRefused(f"Part numbers go from 1 to {count:,}; {wrong[0]} is outside.", status=422)
    return [
        {
            "partNumber": n,
            # Each part's length is signed: exactly its share of the declared size (docs/SECURITY.md).
            "url": storage.presign(
                "upload_part", asset.storage_key, upload_id=asset.upload_id, part_number=n, size=part_length(asset.size, n)
            )["url"],
        }
        for n in sorted(set(part_numbers))
    ]


def asset_upload_state(*, asset: Asset) -> dict:
    """What already arrived for an uploading asset, so an interrupted client resumes instead of starting over."""
    state: dict = {"received": False, "receivedSize": None, "multipart": None}
    if asset.status != Asset.Status.UPLOADING:
        state["received"] = asset.status != Asset.Status.UPLOAD_ERROR
        state["receivedSize"] = asset.size if state["received"] else None
        return state
    if asset.upload_id:
        received = storage.multipart_part_numbers(asset.storage_key, asset.upload_id)
        if received is not None:
            state["multipart"] = MultipartUpload(
                upload_id=asset.upload_id, part_size=settings.UPLOAD_PART_SIZE, part_count=part_count(asset.size), received=received
            )
            return state
    size = storage.stored_size(asset.storage_key)
    state["received"] = size is not None and (asset.size is None or size == asset.size)
    state["receivedSize"] = size
    return state


def asset_upload_close(*, asset: Asset) -> Asset:
    """The client finished sending one asset (see assets_upload_close); raises UploadRefused (422) with the reason
    when its file did not arrive or is not what was declared."""
    (result,) = assets_upload_close(assets=[asset])
    if isinstance(result, UploadRefused):
        raise result
    return result


def assets_upload_close(*, assets: list[Asset]) -> list[Asset | UploadRefused]:
    """The client finished sending these assets: joins the parts of multipart uploads, then verifies the stored
    objects, read side by side (assets.services.assets_verify_uploads), and queues their processing.

    Answers, for each asset in order, the asset (Uploaded or later) or why it is not: a file that did not arrive or is
    not what was declared becomes Upload Error, and its UploadRefused (422) carries the reason; an asset of a browser's
    upload session is refused (409). Closing an asset whose file already arrived changes nothing.
    """
    results: list[Asset | UploadRefused | None] = [None] * len(assets)
    for index, asset in enumerate(assets):
        if asset.upload_session_id is not None:
            results[index] = UploadRefused(
                "This asset belongs to an upload session of the browser; finish it there.", status=409
            )
        elif asset.status == Asset.Status.UPLOADING and asset.upload_id:
            if storage.multipart_complete(asset.storage_key, asset.upload_id):
                Asset.objects.filter(pk=asset.pk, upload_id=asset.upload_id).update(upload_id="")
                asset.upload_id = ""
            elif storage.stored_size(asset.storage_key) is None:
                reason = "No part of the multipart upload arrived, or its parts could not be joined. Upload the file again."
                if asset.mark_upload_error(reason):
                    asset_services.asset_settled(asset=asset)
                results[index] = UploadRefused(reason, status=422)
    uploading = [a for a, result in zip(assets, results) if result is None and a.status == Asset.Status.UPLOADING]
    if uploading:
        asset_services.assets_verify_uploads(assets=uploading)
        fresh = Asset.objects.in_bulk([asset.pk for asset in uploading])
        for asset in uploading:
            if asset.pk in fresh:
                asset.status, asset.error_reason = fresh[asset.pk].status, fresh[asset.pk].error_reason
    for index, asset in enumerate(assets):
        if results[index] is not None:
            continue
        if asset.status == Asset.Status.UPLOAD_ERROR:
            results[index] = UploadRefused(asset.error_reason or "The upload failed. Upload the file again.", status=422)
        else:
            results[index] = asset
    return results  # type: ignore[return-value]
