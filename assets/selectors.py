"""Reads with a rule in them: the one answer to "is this content already here?" (docs/ARCHITECTURE.md, "Duplicates").

Every door that adds a file asks here: the browser's drops, the API's registration (and so the command-line client),
URL and bucket imports. The scope is stated once: a non-failed asset with the same sha256 in the same project, or in
the organization's library (assets with no project yet). A new library file is compared with the library only.
Files of an upload session belong to its project, so an earlier file of the same session is in scope too; the browser
answers those itself first, because a failed or abandoned one is sent again rather than skipped.
"""

from django.db.models import Q, QuerySet

from assets.models import Asset


def assets_with_content(*, organization_id, project_id, sha256s) -> QuerySet[Asset]:
    """Non-failed assets holding any of `sha256s` where a new file of `project_id` (None: the library) would duplicate
    them, oldest first."""
    where = Q(organization_id=organization_id, project__isnull=True)
    if project_id is not None:
        where |= Q(project_id=project_id)
    return Asset.objects.filter(where, sha256__in=list(sha256s)).exclude(status=Asset.Status.UPLOAD_ERROR).order_by("created_at")


def duplicate_reason(existing: Asset, *, session_id=None) -> str:
    """Where the earlier copy is, in the words every door answers a duplicate with."""
    if session_id is not None and existing.upload_session_id == session_id:
        where = "this session"
    elif existing.project_id is None:
        where = "the library"
    else:
        where = "the project"
    return f"The same file is already in {where} as “{existing.name}”."
