"""Batches and their input records: assets of a project grouped to go on together (seed 001).

The project pages and the public API both call these functions.
"""

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from assets.models import Asset, AssetEvent
from assets.services import asset_events_record
from projects.models import Batch, Project, Record
from projects.refusals import Refused


class BatchRefused(Refused):
    """A whole batch request is refused and nothing was changed; the message says why."""

    status = 422


@dataclass
class RecordsAdded:
    created: list[Record] = field(default_factory=list)
    # (asset id as sent, why it got no record)
    refused: list[tuple[str, str]] = field(default_factory=list)


def batch_create(*, project: Project, user, name: str, is_enabled: bool = True, priority: str = Batch.Priority.NORMAL) -> Batch:
    name = name.strip()
    if not name:
        raise BatchRefused("Give the batch a name.")
    return Batch.objects.create(project=project, name=name[:120], is_enabled=is_enabled, priority=priority, created_by=user)


def with_record_counts(batches: QuerySet[Batch]) -> QuerySet[Batch]:
    """Batches annotated with `record_count` and one `count_<status>` per record status, in the same query."""
    per_status = {
        f"count_{status.replace('-', '_')}": Count("records", filter=Q(records__status=status)) for status in Record.Status.values
    }
    return batches.annotate(record_count=Count("records"), **per_status)


def _why_not(asset: Asset, batch: Batch) -> str:
    """Why an asset of the batch's organization cannot get a record in the batch; empty when it can."""
    if asset.project_id is not None and asset.project_id != batch.project_id:
        return f"The asset belongs to another project ({asset.project.name}); only assets of {batch.project.name} or of the library can join this batch."
    if asset.status == Asset.Status.UPLOADING:
        return "The asset's file has not arrived yet: upload it and close its upload session first."
    if asset.status == Asset.Status.UPLOAD_ERROR:
        return f"The asset's upload failed: {asset.error_reason or 'no reason was recorded'}"
    if asset.project_id is None and not batch.project.accepts(asset.asset_type):
        return f"{batch.project.name} does not take {asset.asset_type}s."
    return ""


def batch_add_assets(*, batch: Batch, asset_ids: list, actor=None) -> RecordsAdded:
    """Creates one record per asset in the batch; answers per asset instead of failing the whole call.

    An asset of another project, one whose file has not arrived or failed, or one already in the batch
    gets no record, with the reason. An asset of the organization's library is tied to the batch's
    project (unless that project already holds the same content). More than BATCH_MAX_ASSETS_PER_REQUEST
    ids are refused whole. Each asset that got a record has it in its history, with `actor` (the person who asked).
    """
    limit = settings.BATCH_MAX_ASSETS_PER_REQUEST
    if len(asset_ids) > limit:
        raise BatchRefused(f"Send at most {limit:,} asset ids per request; this one has {len(asset_ids):,}. No record was created.")
    result = RecordsAdded()
    wanted: dict[str, str] = {}  # normalised id -> id as sent, first occurrence
    for raw in asset_ids:
        try:
            wanted.setdefault(str(uuid.UUID(str(raw))), str(raw))
        except ValueError:
            raise BatchRefused(f"Invalid UUID string: {raw}") from None
    project = batch.project
    with transaction.atomic():
        assets = {
            str(asset.pk): asset
            for asset in Asset.objects.filter(pk__in=list(wanted), organization_id=project.organization_id).select_related("project")
        }
        recorded = {str(pk) for pk in Record.objects.filter(batch=batch, asset_id__in=list(wanted)).values_list("asset_id", flat=True)}
        library_shas = {a.sha256 for a in assets.values() if a.project_id is None and a.sha256}
        in_project = dict(
            Asset.objects.filter(project=project, sha256__in=library_shas)
            .exclude(status=Asset.Status.UPLOAD_ERROR)
            .values_list("sha256", "name")
        )
        to_create = []
        for key, sent in wanted.items():
            asset = assets.get(key)
            if asset is None:
                result.refused.append((sent, "No asset with this id in your organization."))
                continue
            if key in recorded:
                result.refused.append((sent, "The asset is already in this batch."))
                continue
            reason = _why_not(asset, batch)
            if not reason and asset.project_id is None:
                if asset.sha256 in in_project:
                    reason = f"The same file is already in {project.name} as “{in_project[asset.sha256]}”."
                # Guarded: a library asset joins one project only, whoever asks first.
                elif not Asset.objects.filter(pk=asset.pk, project__isnull=True).update(project=project):
                    asset.refresh_from_db()
                    reason = _why_not(asset, batch)
            if reason:
                result.refused.append((sent, reason))
                continue
            to_create.append(Record(batch=batch, asset=asset))
        try:
            with transaction.atomic():
                Record.objects.bulk_create(to_create)
        except IntegrityError:
            # Another request added some of these assets meanwhile: add the rest one by one.
            to_create = [record for record in to_create if _create_one(record, result)]
        result.created = to_create
        asset_events_record(
            assets=[record.asset for record in to_create], action=AssetEvent.Action.ADDED_TO_BATCH, actor=actor,
            reason=f"Added to the batch “{batch.name}” of {project.name}.",
        )
    return result


def _create_one(record: Record, result: RecordsAdded) -> bool:
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        result.refused.append((str(record.asset_id), "The asset is already in this batch."))
        return False
    return True
