"""Projects (seed 001's workflows), their batches and the batches' input records."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from api.pagination import Paging, paginate
from api.schemas import ErrorOut, Text, ValidationErrorOut, statuses_filter
from assets import batches as batch_services
from projects.access import get_batch_for_user, get_project_for_user
from projects.models import Batch, Project, Record

router = Router(tags=["Workflows, batches and records"])

RecordStatus = Literal[tuple(Record.Status.values)]  # type: ignore[valid-type]


class WorkflowOut(Schema):
    id: UUID
    name: str
    description: str
    organizationId: UUID
    assetTypes: list[str]
    isActive: bool
    isVisible: bool
    isArchived: bool
    isLimitWorkerToOncePerInputRecord: bool
    createdAt: datetime


class BatchIn(Schema):
    name: Text = Field(min_length=1, max_length=120)
    isEnabled: bool = True
    priority: Literal[tuple(Batch.Priority.values)] = Batch.Priority.NORMAL  # type: ignore[valid-type]


class BatchOut(Schema):
    id: UUID
    name: str
    workflowId: UUID
    priority: str
    isEnabled: bool
    createdAt: datetime


class BatchWithCountsOut(BatchOut):
    status: str
    recordCount: int
    queued: int
    inProgress: int
    complete: int
    exceptions: int
    canceled: int


class RecordsIn(Schema):
    assetIds: list[UUID] = Field(description="At most 1,000 asset ids per request.")


class CreatedRecordOut(Schema):
    id: UUID
    assetId: UUID


class AssetValidationErrorOut(Schema):
    assetId: str
    reason: str


class RecordsCreatedOut(Schema):
    created: list[CreatedRecordOut]
    assetValidationErrors: list[AssetValidationErrorOut]


class RecordOut(Schema):
    id: UUID
    batchId: UUID
    workflowId: UUID
    assetId: UUID
    assetName: str
    status: RecordStatus
    createdAt: datetime


class RecordFilters(Schema):
    status: Text | None = Field(None, max_length=200, description="Record statuses, comma-separated (queued, in-progress, ...).")


def workflow_out(project: Project) -> dict:
    return {
        "id": project.pk,
        "name": project.name,
        "description": project.description,
        "organizationId": project.organization_id,
        "assetTypes": project.asset_types,
        "isActive": True,
        "isVisible": True,
        "isArchived": False,
        "isLimitWorkerToOncePerInputRecord": False,
        "createdAt": project.created_at,
    }


def batch_out(batch: Batch) -> dict:
    return {
        "id": batch.pk,
        "name": batch.name,
        "workflowId": batch.project_id,
        "priority": batch.priority,
        "isEnabled": batch.is_enabled,
        "createdAt": batch.created_at,
    }


def batch_with_counts_out(batch: Batch) -> dict:
    return {
        **batch_out(batch),
        "status": "Active" if batch.is_enabled else "Disabled",
        "recordCount": batch.record_count,
        "queued": batch.count_queued,
        "inProgress": batch.count_in_progress,
        "complete": batch.count_complete,
        "exceptions": batch.count_exception,
        "canceled": batch.count_canceled,
    }


def _list_workflows(request: HttpRequest, response: HttpResponse, paging: Paging) -> list[dict]:
    projects = Project.objects.for_user(request.auth)
    return [workflow_out(project) for project in paginate(request, response, projects, paging)]


@router.get("/workflows", response={200: list[WorkflowOut], 422: ValidationErrorOut}, summary="List workflows (projects)")
def list_workflows(request: HttpRequest, response: HttpResponse, paging: Query[Paging]):
    """The projects of your organizations, in the shape of seed 001's workflows; paginated."""
    return _list_workflows(request, response, paging)


@router.get("/projects", response={200: list[WorkflowOut], 422: ValidationErrorOut}, summary="List projects")
def list_projects(request: HttpRequest, response: HttpResponse, paging: Query[Paging]):
    """The same list as /workflows."""
    return _list_workflows(request, response, paging)


@router.get("/workflows/{workflow_id}", response={200: WorkflowOut, 404: ErrorOut, 422: ValidationErrorOut}, summary="Get a workflow")
def get_workflow(request: HttpRequest, workflow_id: UUID):
    return workflow_out(get_project_for_user(request.auth, workflow_id).project)


@router.get("/projects/{project_id}", response={200: WorkflowOut, 404: ErrorOut, 422: ValidationErrorOut}, summary="Get a project")
def get_project(request: HttpRequest, project_id: UUID):
    return workflow_out(get_project_for_user(request.auth, project_id).project)


@router.post(
    "/workflows/{workflow_id}/batches",
    response={201: BatchOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="Create a batch",
)
def create_batch(request: HttpRequest, workflow_id: UUID, payload: BatchIn):
    """Creates an empty batch in a workflow (project)."""
    project = get_project_for_user(request.auth, workflow_id, need="upload").project
    batch = batch_services.batch_create(
        project=project, user=request.auth, name=payload.name, is_enabled=payload.isEnabled, priority=payload.priority
    )
    return Status(201, batch_out(batch))


@router.get(
    "/workflows/{workflow_id}/batches",
    response={200: list[BatchWithCountsOut], 404: ErrorOut, 422: ValidationErrorOut},
    summary="List a workflow's batches",
)
def list_batches(request: HttpRequest, response: HttpResponse, workflow_id: UUID, paging: Query[Paging]):
    """A workflow's batches with their input records counted by status; paginated."""
    project = get_project_for_user(request.auth, workflow_id).project
    batches = batch_services.with_record_counts(Batch.objects.filter(project=project))
    return [batch_with_counts_out(batch) for batch in paginate(request, response, batches, paging)]


@router.get("/batches/{batch_id}", response={200: BatchOut, 404: ErrorOut, 422: ValidationErrorOut}, summary="Get a batch")
def get_batch(request: HttpRequest, batch_id: UUID):
    """A batch as a container: name, workflow, priority, whether it is enabled."""
    _, batch = get_batch_for_user(request.auth, batch_id)
    return batch_out(batch)


@router.post(
    "/batches/{batch_id}/records/assets",
    response={201: RecordsCreatedOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="Create input records for assets",
)
def create_records(request: HttpRequest, batch_id: UUID, payload: RecordsIn):
    """One input record per asset (at most 1,000 ids per request, else 422 and nothing is created). Assets that
    cannot join — of another project, not uploaded yet or failed, already in the batch, unknown — are listed in
    `assetValidationErrors` with the reason; the others get their record. An asset of the library is tied to the
    batch's project."""
    _, batch = get_batch_for_user(request.auth, batch_id, need="upload")
    added = batch_services.batch_add_assets(batch=batch, asset_ids=[str(i) for i in payload.assetIds], actor=request.auth)
    return Status(
        201,
        {
            "created": [{"id": record.pk, "assetId": record.asset_id} for record in added.created],
            "assetValidationErrors": [{"assetId": asset_id, "reason": reason} for asset_id, reason in added.refused],
        },
    )


@router.get(
    "/batches/{batch_id}/records",
    response={200: list[RecordOut], 404: ErrorOut, 422: ValidationErrorOut},
    summary="List a batch's input records",
)
def list_records(request: HttpRequest, response: HttpResponse, batch_id: UUID, paging: Query[Paging], filters: Query[RecordFilters]):
    """A batch's input records, optionally only some statuses (`status=exception,canceled`); paginated."""
    _, batch = get_batch_for_user(request.auth, batch_id)
    records = Record.objects.filter(batch=batch).select_related("asset")
    if filters.status:
        records = records.filter(status__in=statuses_filter(filters.status, Record.Status.values, what="record status"))
    return [
        {
            "id": record.pk,
            "batchId": batch.pk,
            "workflowId": batch.project_id,
            "assetId": record.asset_id,
            "assetName": record.asset.name,
            "status": record.status,
            "createdAt": record.created_at,
        }
        for record in paginate(request, response, records, paging)
    ]
