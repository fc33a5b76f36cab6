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


def asset_register(
    *,
    user,
    organization: Organization,
    project: Project | None,
    name: str,
    file_name: str,
    asset_type: str,
    size: int | None = None,
    sha256: str = "",
    fps: float | None = None,
    frame_count: int | None = None,
    external_id: str = "",
    context_data: dict | None = None,
) -> Asset:
    """Registers one asset whose bytes will follow; it sits in the organization's library when `project` is None.

    Frame rate and frame count given here are kept as media metadata marked `provided`, so processing
    need not probe for them (seed 002). Raises UploadRefused when the project does not take the type
    or the file is too large, DuplicateAsset when the declared sha256 is already there.
    """
    if project is not None and not project.accepts(asset_type):
        raise UploadRefused(f"{project.name} does not take {asset_type}s.", status=422)
    if size is not None and size > settings.UPLOAD_MAX_FILE_SIZE:
        raise UploadRefused(
            f"The file is {filesizeformat(size)}; the largest file the portal takes is "
            f"{filesizeformat(settings.UPLOAD_MAX_FILE_SIZE)}.",
            status=422,
        )
    sha256 = (sha256 or "").lower()
    file_name = clean_file_name(file_name) or "file"
    metadata = {}
    if fps is not None:
        metadata["frame_rate"] = fps
    if frame_count is not None:
        metadata["frame_count"] = frame_count
    if metadata:
        metadata["provided"] = True
    with transaction.atomic():
        if sha256:
            # Registrations into one project (or one library) take turns, so two scripts cannot both add the same file.
            if project is not None:
                Project.objects.select_for_update().filter(pk=project.pk).first()
            else:
                Organization.objects.select_for_update().filter(pk=organization.pk).first()
            existing = selectors.assets_with_content(
                organization_id=organization.pk, project_id=project.pk if project else None, sha256s=[sha256]
            ).first()
            if existing is not None:
                raise DuplicateAsset(existing)
        api_uploading_check(user_id=user.pk)
        quota_check(organization_id=organization.pk, user_id=user.pk, adding_files=1, adding_bytes=size or 0)
        asset = Asset(
            organization=organization,
            project=project,
            name=name.strip()[:255] or file_name,
            original_filename=file_name,
            asset_type=asset_type,
            source=Asset.Source.FILE,
            size=size,
            sha256=sha256,
            media_metadata=metadata,
            context_data=context_data or {},
            external_id=(external_id or "")[:255],
            uploaded_by=user,
        )
        asset.storage_key = storage.key_for(asset)
        asset.save()
        asset_services.asset_events_record(assets=[asset], action=AssetEvent.Action.ADDED, actor=user, to_status=Asset.Status.UPLOADING)
    return asset


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
    """The client finished sending: joins the parts of a multipart upload, then verifies the stored object.

    Verification runs now (exists, size, content) and queues processing; a file that did not arrive or
    is not what was declared becomes Upload Error, and UploadRefused (422) carries the reason. Closing
    an asset whose file already arrived changes nothing.
    """
    if asset.upload_session_id is not None:
        raise UploadRefused("This asset belongs to an upload session of the browser; finish it there.", status=409)
    if asset.status == Asset.Status.UPLOADING and asset.upload_id:
        if storage.multipart_complete(asset.storage_key, asset.upload_id):
            Asset.objects.filter(pk=asset.pk, upload_id=asset.upload_id).update(upload_id="")
            asset.upload_id = ""
        elif storage.stored_size(asset.storage_key) is None:
            reason = "No part of the multipart upload arrived, or its parts could not be joined. Upload the file again."
            if asset.mark_upload_error(reason):
                asset_services.asset_settled(asset=asset)
            raise UploadRefused(reason, status=422)
    if asset.status == Asset.Status.UPLOADING:
        asset_services.asset_verify_upload(asset=asset)
        asset.refresh_from_db()
    if asset.status == Asset.Status.UPLOAD_ERROR:
        raise UploadRefused(asset.error_reason or "The upload failed. Upload the file again.", status=422)
    return asset
