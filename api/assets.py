"""Assets: register, open an upload session (signed URL or multipart), close it, read and list."""

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import AfterValidator, Field

from api.errors import ApiError
from api.pagination import Paging, paginate
from api.schemas import ErrorOut, JsonObject, Text, ValidationErrorOut, statuses_filter
from assets.models import Asset
from projects.access import get_membership_for_user, get_project_for_user
from projects.models import Membership, role_can_manage, role_can_upload
from uploads import single

router = Router(tags=["Assets"])

AssetType = Literal["image", "video"]
AssetStatus = Literal[tuple(Asset.Status.values)]  # type: ignore[valid-type]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
# Files per bulk register or close: a drop of the browser's protocol.
BULK_MAX = 100


def _utc(value: datetime | None) -> datetime | None:
    """Datetimes without a zone are UTC; ones the database cannot hold are refused (422), never a server error."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("The date is out of range.") from None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class AssetIn(Schema):
    name: Text = Field(min_length=1, max_length=255, description="Shown in the portal.")
    fileName: Text = Field(min_length=1, max_length=255, description="The file's name, for display only.")
    type: AssetType
    fps: float | None = Field(None, gt=0, le=1000, allow_inf_nan=False, description="Videos: frames per second, if known.")
    frameCount: int | None = Field(None, ge=1, le=10**9, description="Videos: number of frames, if known.")
    projectId: UUID | None = Field(None, description="The project (workflow) the asset joins; without it, the library.")
    organizationId: UUID | None = Field(
        None, description="For a library asset of someone in several organizations: which organization's library."
    )
    externalId: Text | None = Field(None, max_length=255, description="Your own id for the asset.")
    contextData: JsonObject | None = Field(None, description="Any JSON object, kept with the asset.")
    sha256: Sha256 | None = Field(None, description="Hex sha256 of the file: duplicates are refused, the upload is checked.")
    size: int | None = Field(None, ge=1, le=2**53, description="The file's size in bytes; the signed URL then takes exactly that.")


class AssetOut(Schema):
    id: UUID
    name: str
    fileName: str
    status: AssetStatus
    statusLabel: str
    source: str
    type: AssetType
    createdAt: datetime
    updatedAt: datetime
    projectId: UUID | None
    organizationId: UUID
    externalId: str | None
    contextData: dict
    sha256: str | None
    size: int | None
    fps: float | None
    frameCount: int | None
    mediaMetadata: dict
    errorReason: str | None


class DuplicateOut(Schema):
    message: str
    existingId: UUID
    status: AssetStatus


class BulkAssetIn(Schema):
    name: Text = Field(min_length=1, max_length=255, description="Shown in the portal.")
    fileName: Text = Field(min_length=1, max_length=255, description="The file's name, for display only.")
    type: AssetType
    fps: float | None = Field(None, gt=0, le=1000, allow_inf_nan=False, description="Videos: frames per second, if known.")
    frameCount: int | None = Field(None, ge=1, le=10**9, description="Videos: number of frames, if known.")
    externalId: Text | None = Field(None, max_length=255, description="Your own id for the asset.")
    contextData: JsonObject | None = Field(None, description="Any JSON object, kept with the asset.")
    sha256: Sha256 | None = Field(None, description="Hex sha256 of the file: duplicates are refused, the upload is checked.")
    size: int | None = Field(None, ge=1, le=2**53, description="The file's size in bytes; the signed PUT then takes exactly that.")


class BulkRegisterIn(Schema):
    projectId: UUID | None = Field(None, description="The project every asset joins; without it, the library.")
    organizationId: UUID | None = Field(
        None, description="For library assets of someone in several organizations: which organization's library."
    )
    assets: list[BulkAssetIn] = Field(min_length=1, max_length=BULK_MAX, description=f"Up to {BULK_MAX} files per call.")


class SignedPutOut(Schema):
    url: str
    headers: dict[str, str] = Field(description="Send exactly these headers with the PUT (they are signed).")


class RefusalOut(Schema):
    status: int = Field(description="409: the same content is already there; 422: the file cannot be taken.")
    message: str
    existingId: UUID | None = None
    existingStatus: AssetStatus | None = None


class BulkRegisteredOut(Schema):
    asset: AssetOut | None = None
    upload: SignedPutOut | None = Field(
        None, description="A signed PUT of the whole file, for files with a declared size a single PUT takes."
    )
    refused: RefusalOut | None = None


class BulkRegisterOut(Schema):
    results: list[BulkRegisteredOut] = Field(description="One per file sent, in the same order.")


class BulkCloseIn(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=BULK_MAX, description=f"Up to {BULK_MAX} asset ids per call.")


class ClosedOut(Schema):
    id: UUID
    status: AssetStatus
    refused: RefusalOut | None = None


class BulkCloseOut(Schema):
    results: list[ClosedOut] = Field(description="One per id sent, in the same order.")


class UploadUrlOut(Schema):
    url: str = Field(description="A signed PUT of the whole file, valid 60 minutes. Send no other header.")


class MultipartOut(Schema):
    uploadId: str
    partSize: int = Field(description="Bytes per part; every part but the last has exactly this size.")
    partCount: int | None = Field(description="Parts the declared size needs (null when no size was declared).")
    receivedParts: list[int] = Field(description="Parts that already arrived.")


class UploadStartOut(Schema):
    url: str | None = None
    multipart: MultipartOut | None = None


class UploadStateOut(Schema):
    status: AssetStatus
    received: bool = Field(description="Whether the whole file is stored (single PUT) or already verified.")
    receivedSize: int | None
    multipart: MultipartOut | None


class PartsIn(Schema):
    partNumbers: list[int] = Field(min_length=1, max_length=100, description="Up to 100 part numbers per call.")


class PartUrlOut(Schema):
    partNumber: int
    url: str


class PartsOut(Schema):
    parts: list[PartUrlOut]


class AssetFilters(Schema):
    projectId: UUID | None = Field(None, description="Only assets of this project.")
    library: bool | None = Field(None, description="true: only assets in the library (no project yet).")
    status: Text | None = Field(None, max_length=300, description="Statuses, comma-separated (uploading, ready, ...).")
    type: AssetType | None = None
    minCreatedAt: UtcDatetime | None = Field(None, description="Created at or after (ISO 8601).")
    maxCreatedAt: UtcDatetime | None = Field(None, description="Created at or before (ISO 8601).")
    sha256: Sha256 | None = Field(None, description="Only assets with this content.")
    externalId: Text | None = Field(None, max_length=255)


def _absolute(request: HttpRequest, url: str) -> str:
    # The embedded storage signs URLs relative to the portal; scripts need them whole.
    return url if url.startswith(("http://", "https://")) else request.build_absolute_uri(url)


def asset_out(asset: Asset) -> dict:
    metadata = asset.media_metadata or {}
    return {
        "id": asset.pk,
        "name": asset.name,
        "fileName": asset.original_filename,
        "status": asset.status,
        "statusLabel": asset.get_status_display(),
        "source": asset.source,
        "type": asset.asset_type,
        "createdAt": asset.created_at,
        "updatedAt": asset.updated_at,
        "projectId": asset.project_id,
        "organizationId": asset.organization_id,
        "externalId": asset.external_id or None,
        "contextData": asset.context_data or {},
        "sha256": asset.sha256 or None,
        "size": asset.size,
        "fps": metadata.get("frame_rate", metadata.get("avg_frame_rate")),
        "frameCount": metadata.get("frame_count"),
        "mediaMetadata": metadata,
        "errorReason": asset.error_reason or None,
    }


def _multipart_out(upload: single.MultipartUpload) -> dict:
    return {"uploadId": upload.upload_id, "partSize": upload.part_size, "partCount": upload.part_count, "receivedParts": upload.received}


def _get_asset(user, asset_id: UUID, *, write: bool = False) -> Asset:
    """An asset of the user's organizations (else 404); `write` needs the person who registered it or a manager."""
    asset = get_object_or_404(Asset.objects.for_user(user).select_related("project"), pk=asset_id)
    if write:
        _check_may_upload(user, [asset])
    return asset


def _check_may_upload(user, assets: list[Asset]) -> None:
    """Refuses (403) unless the user may upload the file of every asset: the person who registered it, or a manager."""
    roles = dict(
        Membership.objects.filter(user=user, organization_id__in={asset.organization_id for asset in assets})
        .values_list("organization_id", "role")
    )
    for asset in assets:
        role = roles.get(asset.organization_id)
        if not role_can_upload(role) or not (asset.uploaded_by_id == user.pk or role_can_manage(role)):
            raise PermissionDenied("Only the person who registered this asset, or a manager, may upload its file.")


def _get_assets(user, asset_ids: list[UUID], *, write: bool) -> list[Asset]:
    """Assets of the user's organizations, in the order asked (any unknown id: 404); `write` as in _get_asset."""
    found = Asset.objects.for_user(user).select_related("project").in_bulk(asset_ids)
    missing = [asset_id for asset_id in asset_ids if asset_id not in found]
    if missing:
        raise ApiError(404, f"No asset {missing[0]} among yours.")
    assets = [found[asset_id] for asset_id in dict.fromkeys(asset_ids)]
    if write:
        _check_may_upload(user, assets)
    return assets


def _library_organization(user, organization_id: UUID | None):
    """The organization whose library a project-less asset joins."""
    if organization_id is not None:
        membership = get_membership_for_user(user, organization_id)
    else:
        memberships = list(Membership.objects.for_user(user).select_related("organization")[:2])
        if len(memberships) != 1:
            raise ApiError(422, "You belong to several organizations: give projectId, or organizationId for the library.")
        membership = memberships[0]
    if not role_can_upload(membership.role):
        raise PermissionDenied("Your role does not allow adding assets.")
    return membership.organization


@router.post(
    "/assets",
    response={201: AssetOut, 403: ErrorOut, 404: ErrorOut, 409: DuplicateOut, 422: ValidationErrorOut, 429: ErrorOut},
    summary="Register an asset",
)
def register_asset(request: HttpRequest, payload: AssetIn):
    """Registers an asset whose file follows (status `uploading`). With `projectId` it joins that project;
    without, the organization's library until a batch record ties it to a project. `fps` and `frameCount`
    are kept as the video's metadata. With `sha256`, the same content already in the project (or library)
    answers 409 with the existing asset's id. 429 says a daily upload quota is reached, or that you already have
    as many files waiting for their bytes as an upload session holds: send those first."""
    user = request.auth
    if payload.projectId is not None:
        project = get_project_for_user(user, payload.projectId, need="upload").project
        organization = project.organization
    else:
        project, organization = None, _library_organization(user, payload.organizationId)
    try:
        asset = single.asset_register(
            user=user,
            organization=organization,
            project=project,
            name=payload.name,
            file_name=payload.fileName,
            asset_type=payload.type,
            size=payload.size,
            sha256=payload.sha256 or "",
            fps=payload.fps,
            frame_count=payload.frameCount,
            external_id=payload.externalId or "",
            context_data=payload.contextData,
        )
    except single.DuplicateAsset as duplicate:
        return Status(409, {"message": duplicate.message, "existingId": duplicate.existing.pk, "status": duplicate.existing.status})
    return Status(201, asset_out(asset))


def _refusal_out(refusal: single.UploadRefused) -> dict:
    if isinstance(refusal, single.DuplicateAsset):
        return {"status": 409, "message": refusal.message, "existingId": refusal.existing.pk,
                "existingStatus": refusal.existing.status}
    return {"status": refusal.status, "message": refusal.message}


@router.post(
    "/assets/bulk",
    response={200: BulkRegisterOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut, 429: ErrorOut},
    summary="Register many assets",
)
def register_assets(request: HttpRequest, payload: BulkRegisterIn):
    """Registers up to 100 assets in one call, as `POST /assets` does one, and answers one result per file in order:
    the new asset with a signed PUT of its whole file (send the headers given), or why it was refused (409 with the
    existing asset's id for the same content, 422 for a file the project cannot take). Close the files sent with
    `POST /assets/bulk/close`. Files a single PUT cannot take get no URL: open a multipart upload for them. 429 (and
    nothing registered) when a daily quota, or the number of files waiting for their bytes, would be passed."""
    user = request.auth
    if payload.projectId is not None:
        project = get_project_for_user(user, payload.projectId, need="upload").project
        organization = project.organization
    else:
        project, organization = None, _library_organization(user, payload.organizationId)
    files = [
        single.FileToRegister(
            name=item.name, file_name=item.fileName, asset_type=item.type, size=item.size, sha256=item.sha256 or "",
            fps=item.fps, frame_count=item.frameCount, external_id=item.externalId or "", context_data=item.contextData,
        )
        for item in payload.assets
    ]
    results = []
    for result in single.assets_register(user=user, organization=organization, project=project, files=files):
        if isinstance(result, single.UploadRefused):
            results.append({"refused": _refusal_out(result)})
            continue
        upload = single.asset_upload_put(asset=result)
        if upload is not None:
            upload = {"url": _absolute(request, upload["url"]), "headers": upload["headers"]}
        results.append({"asset": asset_out(result), "upload": upload})
    return {"results": results}


@router.post(
    "/assets/bulk/close",
    response={200: BulkCloseOut, 404: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="Close the upload of many assets",
)
def close_uploads(request: HttpRequest, payload: BulkCloseIn):
    """Closes the uploads of up to 100 assets at once, as `DELETE /assets/{id}/upload` does one: their stored files
    are checked side by side and processing starts. One result per id, in order: the asset's status, and for a file
    that did not arrive or does not fit, the reason (the asset is then Upload Error; open its upload again to
    retry). 404 when any id is not an asset you can see; 403 when you may not upload one of them."""
    assets = _get_assets(request.auth, payload.ids, write=True)
    results = []
    for asset, result in zip(assets, single.assets_upload_close(assets=assets)):
        if isinstance(result, single.UploadRefused):
            results.append({"id": asset.pk, "status": asset.status, "refused": _refusal_out(result)})
        else:
            results.append({"id": asset.pk, "status": result.status})
    return {"results": results}


@router.get("/assets", response={200: list[AssetOut], 404: ErrorOut, 422: ValidationErrorOut}, summary="List assets")
def list_assets(request: HttpRequest, response: HttpResponse, paging: Query[Paging], filters: Query[AssetFilters]):
    """Assets of your organizations, filtered; paginated."""
    assets = Asset.objects.for_user(request.auth)
    if filters.projectId is not None:
        assets = assets.filter(project=get_project_for_user(request.auth, filters.projectId).project)
    if filters.library is not None:
        assets = assets.filter(project__isnull=filters.library)
    if filters.status:
        assets = assets.filter(status__in=statuses_filter(filters.status, Asset.Status.values))
    if filters.type:
        assets = assets.filter(asset_type=filters.type)
    if filters.minCreatedAt:
        assets = assets.filter(created_at__gte=filters.minCreatedAt)
    if filters.maxCreatedAt:
        assets = assets.filter(created_at__lte=filters.maxCreatedAt)
    if filters.sha256:
        assets = assets.filter(sha256=filters.sha256.lower())
    if filters.externalId:
        assets = assets.filter(external_id=filters.externalId)
    return [asset_out(asset) for asset in paginate(request, response, assets, paging)]


@router.get("/assets/{asset_id}", response={200: AssetOut, 404: ErrorOut, 422: ValidationErrorOut}, summary="Get an asset")
def get_asset(request: HttpRequest, asset_id: UUID):
    """An asset's status and metadata."""
    return asset_out(_get_asset(request.auth, asset_id))


@router.post(
    "/assets/{asset_id}/upload",
    response={200: UploadStartOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut},
    summary="Open an upload session",
    exclude_none=True,  # seed 001 answers exactly {"url": ...}
)
def open_upload(request: HttpRequest, asset_id: UUID, multipart: bool = False):
    """Answers `{"url"}`: a signed PUT for the whole file, valid 60 minutes, that needs no extra header
    (`curl --upload-file FILE URL`). With `?multipart=true`, starts a multipart upload instead and answers
    `{"multipart": {"uploadId", "partSize", ...}}`; sign parts with `POST .../upload/parts`. After an
    Upload Error, this starts the upload again."""
    asset = _get_asset(request.auth, asset_id, write=True)
    if multipart:
        return {"multipart": _multipart_out(single.asset_upload_start_multipart(asset=asset, actor=request.auth))}
    return {"url": _absolute(request, single.asset_upload_url(asset=asset, actor=request.auth))}


@router.post(
    "/assets/{asset_id}/upload/parts",
    response={200: PartsOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut},
    summary="Sign parts of a multipart upload",
)
def sign_parts(request: HttpRequest, asset_id: UUID, payload: PartsIn):
    """Signed PUTs for up to 100 parts at a time; each part's bytes go in the body as they are."""
    asset = _get_asset(request.auth, asset_id, write=True)
    parts = single.asset_upload_sign_parts(asset=asset, part_numbers=payload.partNumbers)
    return {"parts": [{"partNumber": p["partNumber"], "url": _absolute(request, p["url"])} for p in parts]}


@router.get(
    "/assets/{asset_id}/upload",
    response={200: UploadStateOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut},
    summary="What already arrived",
)
def upload_state(request: HttpRequest, asset_id: UUID):
    """Whether the file (or which parts of a multipart upload) already arrived, so an interrupted upload resumes."""
    asset = _get_asset(request.auth, asset_id, write=True)
    if asset.upload_session_id is not None:
        raise ApiError(409, "This asset belongs to an upload session of the browser.")
    state = single.asset_upload_state(asset=asset)
    multipart = state["multipart"]
    return {
        "status": asset.status,
        "received": state["received"],
        "receivedSize": state["receivedSize"],
        "multipart": _multipart_out(multipart) if multipart else None,
    }


@router.delete(
    "/assets/{asset_id}/upload",
    response={204: None, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Close the upload session",
)
def close_upload(request: HttpRequest, asset_id: UUID):
    """The file is sent: joins a multipart upload's parts, checks the stored file (it exists, has the declared
    size, is an image or video as registered) and starts processing. A file that did not arrive or does not fit
    answers 422 with the reason, and the asset is marked Upload Error (open the upload session again to retry)."""
    asset = _get_asset(request.auth, asset_id, write=True)
    single.asset_upload_close(asset=asset)
    return Status(204, None)
