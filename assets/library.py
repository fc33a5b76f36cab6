"""Actions on many assets at once, from the top-level Assets page: move to a project, retry, delete.

Each checks the person's role in every asset's organization first and refuses the whole request when one does not
allow it (nothing changed); adding to a batch is assets.batches.batch_add_assets. Every action is recorded in the
assets' history (docs/ARCHITECTURE.md, "Asset history").
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from assets import selectors, storage
from assets.models import Asset, AssetEvent
from assets.services import assets_queue_verification, asset_events_record
from projects.access import LibraryAccess
from projects.models import Project, Record
from projects.refusals import Refused


class AssetsRefused(Refused):
    """An action on selected assets is refused whole; nothing was changed and the message says why."""

    status = 422


# Statuses an asset may be moved or deleted in: its file is settled (no transfer or worker is busy with it).
SETTLED = (Asset.Status.READY, Asset.Status.UPLOAD_ERROR)


def _names(assets, limit: int = 3) -> str:
    """“a.jpg”, “b.jpg” and 4 more."""
    shown = ", ".join(f"“{asset.name}”" for asset in assets[:limit])
    rest = len(assets) - limit
    return f"{shown} and {rest:,} more" if rest > 0 else shown


def _check_size(assets: list[Asset]) -> None:
    if not assets:
        raise AssetsRefused("No assets are selected: check the ones to act on first.")
    if len(assets) > settings.ASSETS_BULK_MAX:
        raise AssetsRefused(
            f"{len(assets):,} assets are selected; one action takes at most {settings.ASSETS_BULK_MAX:,}. "
            "Narrow the filters, or act on them in parts. Nothing was changed."
        )


def _check_role(access: LibraryAccess, assets: list[Asset], *, doing: str) -> None:
    """Refuses when the person may not upload in the organization of one of the assets (viewers, say)."""
    foreign = [asset for asset in assets if asset.organization_id not in access.roles]
    if foreign:
        raise AssetsRefused(f"{_names(foreign)} {'is' if len(foreign) == 1 else 'are'} not of your organizations.", status=404)
    refused = [asset for asset in assets if not access.can_upload_in(asset.organization_id)]
    if refused:
        raise AssetsRefused(
            f"Your role does not let you {doing} {_names(refused)}: viewers see assets but do not change them. "
            "Ask an admin of the organization for the uploader role. Nothing was changed.",
            status=403,
        )


def assets_move(*, access: LibraryAccess, user, assets: list[Asset], project: Project) -> int:
    """Moves the assets (from other projects or the library) into `project`, all or none.

    Refused whole, saying which assets and why, when one is of another organization, still uploading or being
    processed, of a type or image format the project does not take, an input record of a batch of its project,
    or has the same content as a file already in the project or the library (docs/ARCHITECTURE.md, "Duplicates"),
    or as another selected asset. Returns how many moved (those already in `project` stay).
    """
    _check_size(assets)
    _check_role(access, assets, doing="move")
    if not access.can_upload_in(project.organization_id):
        raise AssetsRefused(f"Your role does not let you add assets to {project.name}. Nothing was changed.", status=403)
    moving = [asset for asset in assets if asset.project_id != project.pk]
    problems: list[str] = []

    def refuse(which: list[Asset], why: str) -> None:
        if which:
            problems.append(f"{_names(which)}: {why}")

    refuse([a for a in moving if a.organization_id != project.organization_id],
           f"of another organization than {project.name}; assets move only between projects of one organization")
    refuse([a for a in moving if a.status not in SETTLED], "still uploading or being processed; wait until it is Ready or failed")
    refuse([a for a in moving if not project.accepts(a.asset_type)], f"{project.name} does not take this type of asset")
    refuse(
        [a for a in moving if a.asset_type == Asset.Type.IMAGE and (a.media_metadata or {}).get("format")
         and not project.accepts_image_format(a.media_metadata["format"])],
        f"{project.name} takes only {', '.join(project.image_format_labels)} images",
    )
    in_batches = dict(
        Record.objects.filter(asset__in=moving).exclude(batch__project=project)
        .values_list("asset_id", "batch__name")
    )
    refuse([a for a in moving if a.pk in in_batches], "an input record of a batch of its project, so it stays there")
    # The duplicate rule of the target: a non-failed copy already in the project or the library, or among the moved.
    live = [a for a in moving if a.status != Asset.Status.UPLOAD_ERROR and a.sha256]
    earlier = {}
    for existing in selectors.assets_with_content(
        organization_id=project.organization_id, project_id=project.pk, sha256s={a.sha256 for a in live}
    ).exclude(pk__in=[a.pk for a in moving]).select_related("project"):
        earlier.setdefault(existing.sha256, existing)
    seen: dict[str, Asset] = {}
    for asset in live:
        copy = earlier.get(asset.sha256)
        if copy is not None:
            where = f"the project {copy.project.name}" if copy.project_id else "the library"
            problems.append(f"“{asset.name}”: the same file is already in {where} as “{copy.name}”")
        elif asset.sha256 in seen:
            problems.append(f"“{asset.name}”: the same file as “{seen[asset.sha256].name}”, also selected")
        seen.setdefault(asset.sha256, asset)
    if problems:
        raise AssetsRefused(f"Nothing was moved to {project.name}. " + "; ".join(problems) + ".")
    with transaction.atomic():
        for asset in moving:
            # Guarded: moved only while still where and as it was read; one that changed meanwhile undoes them all.
            if not Asset.objects.filter(pk=asset.pk, project_id=asset.project_id, status__in=SETTLED).update(project=project):
                raise AssetsRefused(f"“{asset.name}” changed while it was being moved. Nothing was moved: reload the page and try again.", status=409)
        where = {a.pk: (a.project.name if a.project_id else "the library") for a in moving}
        # One INSERT for all their events, however many moved (docs/ARCHITECTURE.md, "Asset history").
        with AssetEvent.collecting():
            for asset in moving:
                asset_events_record(
                    assets=[asset], action=AssetEvent.Action.MOVED, actor=user,
                    reason=f"Moved from {where[asset.pk]} to {project.name}",
                )
    return len(moving)


@dataclass
class Retried:
    retried: list[Asset] = field(default_factory=list)
    # (asset, why it was not retried)
    skipped: list[tuple[Asset, str]] = field(default_factory=list)


def assets_retry(*, access: LibraryAccess, user, assets: list[Asset]) -> Retried:
    """Processes failed assets again whose file is still stored: back to Uploading under the same key, then checked
    and processed as if their transfer had just finished (assets_queue_verification). A failed asset whose file was
    discarded (it was not what it claimed, or never arrived) cannot be processed again: it is skipped, saying to add
    it again. Imported files are fetched again from their session's page."""
    _check_size(assets)
    _check_role(access, assets, doing="retry")
    result = Retried()
    failed = [a for a in assets if a.status == Asset.Status.UPLOAD_ERROR]
    result.skipped += [(a, "it has not failed") for a in assets if a.status != Asset.Status.UPLOAD_ERROR]
    uploaded = [a for a in failed if a.source == Asset.Source.FILE and a.storage_key]
    result.skipped += [
        (a, "it was imported from a list: retry it on its upload session's page, which fetches it again")
        for a in failed if a.source != Asset.Source.FILE
    ]
    stored = storage.inspect_many([a.storage_key for a in uploaded], 1, return_exceptions=True) if uploaded else {}
    # One INSERT for the retries' events at the end, inside the transaction (docs/ARCHITECTURE.md, "Asset history").
    with transaction.atomic(), AssetEvent.collecting():
        for asset in uploaded:
            if not isinstance(stored.get(asset.storage_key), tuple):
                result.skipped.append((asset, "its file is no longer stored: add it again with Add Assets"))
            elif asset.restart_upload(actor_id=user.pk):
                result.retried.append(asset)
            else:
                result.skipped.append((asset, "it changed meanwhile"))
        if result.retried:
            assets_queue_verification(asset_ids=[str(a.pk) for a in result.retried])
    return result


def assets_delete(*, access: LibraryAccess, user, assets: list[Asset]) -> int:
    """Deletes the assets, their input records and, once the transaction commits, their stored files (original,
    thumbnail or poster, rendition; never a customer's bucket). All or none.

    Managers and admins delete any asset of their organization; uploaders only those they uploaded. Assets still
    uploading or being processed are refused (a transfer or a worker is busy with them). Returns how many."""
    _check_size(assets)
    _check_role(access, assets, doing="delete")
    others = [a for a in assets if not access.can_manage_in(a.organization_id) and a.uploaded_by_id != user.pk]
    if others:
        raise AssetsRefused(
            f"Uploaders delete only what they uploaded; {_names(others)} were uploaded by someone else. "
            "Ask a manager of the project. Nothing was deleted.", status=403,
        )
    busy = [a for a in assets if a.status not in SETTLED]
    if busy:
        raise AssetsRefused(
            f"{_names(busy)} {'is' if len(busy) == 1 else 'are'} still uploading or being processed: wait until "
            "they are Ready or failed. Nothing was deleted."
        )
    keys = [
        key for asset in assets
        for key in ((asset.storage_key if not asset.is_reference else ""), asset.thumbnail_key, asset.rendition_key) if key
    ]
    with transaction.atomic():
        asset_events_record(assets=assets, action=AssetEvent.Action.DELETED, actor=user)
        deleted = Asset.objects.filter(pk__in=[a.pk for a in assets], status__in=SETTLED).delete()[1].get(Asset._meta.label, 0)
        if deleted != len(assets):
            raise AssetsRefused("Some of these assets changed meanwhile. Nothing was deleted: reload the page and try again.", status=409)
        # After the commit: a rolled-back deletion keeps its files. One the store will not delete is left to the sweep.
        transaction.on_commit(lambda: storage.delete_many(keys))
    return deleted
