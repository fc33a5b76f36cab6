"""The top-level Assets page: every asset of the person's organizations, the selection kept across pages in the
person's session, and the actions on what is selected (assets/library.py, assets/batches.py)."""

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets import batches
from assets.library import assets_delete, assets_move, assets_retry
from assets.forms import LibraryFilterForm
from assets.models import Asset
from projects.access import LibraryAccess, get_batch_for_user, get_library_access, get_project_for_user
from projects.models import Batch, Project
from projects.refusals import Refused
from ui.htmx import wants_fragment

# What a row of the Assets page shows (assets/_asset_table.html): keys for the thumbnail, the project's name, the
# uploader's names, the session's view and capture date; never the rows' JSON columns or the session's.
_ROW_FIELDS = (
    "organization_id", "project_id", "project__name", "upload_session_id", "upload_session__view_name",
    "upload_session__capture_date", "uploaded_by_id", "uploaded_by__username", "uploaded_by__first_name",
    "uploaded_by__last_name", "name", "original_filename", "asset_type", "size", "status", "error_reason",
    "thumbnail_key", "created_at",
)
_SESSION_KEY = "asset_selection"


@dataclass
class Selection:
    """What is selected on the Assets page, kept in the person's session so it survives paging: picked ids, or every
    asset matching a filter (`query`, the page's query string) but those unpicked since (`unpicked`)."""

    ids: list[str] = field(default_factory=list)
    query: str | None = None
    unpicked: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, request: HttpRequest) -> "Selection":
        kept = request.session.get(_SESSION_KEY) or {}
        return cls(ids=list(kept.get("ids", [])), query=kept.get("query"), unpicked=list(kept.get("unpicked", [])))

    def save(self, request: HttpRequest) -> None:
        request.session[_SESSION_KEY] = {"ids": self.ids, "query": self.query, "unpicked": self.unpicked}

    @property
    def matching_all(self) -> bool:
        return self.query is not None

    def assets(self, request: HttpRequest, access: LibraryAccess, projects: list, *, people: list | None = None):
        """The selected assets, scoped to the person's organizations (a query, not run yet). `people`: the uploader
        choices, when the page has them already."""
        scoped = Asset.objects.for_user(request.user)
        if self.query is None:
            return scoped.filter(pk__in=self.ids)
        form = LibraryFilterForm(QueryDict(self.query), organizations=access.organizations, projects=projects, people=people)
        return form.filter(scoped).exclude(pk__in=self.unpicked)


def _projects(access: LibraryAccess) -> list[Project]:
    return list(Project.objects.filter(organization__in=access.organization_ids).only("id", "name", "organization_id"))


def _page_context(request: HttpRequest, access: LibraryAccess, projects: list, query: QueryDict) -> dict:
    """The results of the page for `query` (filters, sort, page number) and the selection, in a fixed number of queries."""
    form = LibraryFilterForm(query, organizations=access.organizations, projects=projects)
    assets = form.order(form.filter(Asset.objects.for_user(request.user)))
    assets = assets.select_related("project", "uploaded_by", "upload_session").only(*_ROW_FIELDS)
    page = Paginator(assets, settings.ASSETS_PAGE_SIZE).get_page(query.get("page"))
    rest = query.copy()
    rest.pop("page", None)
    context = {"access": access, "form": form, "page": page, "query": rest.urlencode(), "here": query.urlencode(), "tab": "library"}
    if access.can_upload:
        selection = Selection.of(request)
        on_page = [str(asset.pk) for asset in page]
        chosen = selection.assets(request, access, projects, people=form.fields["uploader"].choices)
        if selection.matching_all:
            context["picked"] = {str(pk) for pk in chosen.filter(pk__in=on_page).values_list("pk", flat=True)}
            context["selected_count"] = chosen.count()
        else:
            context["picked"] = set(selection.ids) & set(on_page)
            context["selected_count"] = len(selection.ids)
        context["page_ids"] = on_page
        context["selection"] = selection
        # The action bar's choices: the projects assets may move to, and their batches (newest first).
        targets = [p for p in projects if access.can_upload_in(p.organization_id)]
        context["target_projects"] = targets
        context["batches"] = list(
            Batch.objects.filter(project__in=targets).select_related("project").only("id", "name", "project__name")[:200]
        )
    return context


@login_required
@vary_on_headers("HX-Request")
def library(request: HttpRequest) -> HttpResponse:
    """The top-level Assets page: every asset of the person's organizations, in their projects and their libraries,
    filtered, searched, sorted and paginated in a constant number of queries; people who upload select assets
    (across pages) and act on them."""
    access = get_library_access(request.user)
    projects = _projects(access)
    context = _page_context(request, access, projects, request.GET)
    template = "assets/library.html#results" if wants_fragment(request) else "assets/library.html"
    return render(request, template, context)


def _ids(values: list[str]) -> list[str]:
    ids = []
    for value in values:
        try:
            ids.append(str(uuid.UUID(value)))
        except ValueError:
            raise Http404 from None
    return ids


@login_required
@require_POST
def selection_change(request: HttpRequest) -> HttpResponse:
    """Picks or unpicks assets (`asset`, with `checked`), the whole page, every asset matching the filters, or none
    (`op`); answers the page's results again (htmx) or goes back to it."""
    access = get_library_access(request.user)
    if not access.can_upload:
        raise PermissionDenied
    query = QueryDict(request.POST.get("query", ""), mutable=True)
    selection = Selection.of(request)
    op = request.POST.get("op", "")
    ids = _ids(request.POST.getlist("asset"))
    if op == "clear":
        selection = Selection()
    elif op == "all":
        query.pop("page", None)
        selection = Selection(query=query.urlencode())
    elif op in {"pick", "page"}:
        # Only the person's own organizations' assets are kept: a foreign id is dropped here, and again at each action.
        ids = [str(pk) for pk in Asset.objects.for_user(request.user).filter(pk__in=ids).values_list("pk", flat=True)]
        checked = op == "page" or request.POST.get("checked") == "1"
        if selection.matching_all:
            selection.unpicked = [pk for pk in selection.unpicked if pk not in ids] + ([] if checked else ids)
        elif checked:
            selection.ids += [pk for pk in ids if pk not in selection.ids]
            if len(selection.ids) > settings.ASSETS_BULK_MAX:
                selection.ids = selection.ids[: settings.ASSETS_BULK_MAX]
                messages.warning(request, f"At most {settings.ASSETS_BULK_MAX:,} assets can be picked one by one; select all matching instead.")
        else:
            selection.ids = [pk for pk in selection.ids if pk not in ids]
    else:
        raise Http404
    selection.save(request)
    if not wants_fragment(request):
        return redirect(f"{reverse('assets:library')}?{query.urlencode()}")
    context = _page_context(request, access, _projects(access), query)
    template = "assets/library.html#selection" if op == "pick" else "assets/library.html#results"
    return render(request, template, context)


def _back(request: HttpRequest) -> str:
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("assets:library")
    return back


def _selected(request: HttpRequest, access: LibraryAccess) -> list[Asset]:
    if not access.can_upload:
        raise PermissionDenied
    selection = Selection.of(request)
    chosen = selection.assets(request, access, _projects(access)).select_related("project").order_by("created_at")
    # One more than the limit is enough to refuse it (assets/library.py).
    return list(chosen[: settings.ASSETS_BULK_MAX + 1])


def _act(request: HttpRequest, action) -> HttpResponse:
    """Runs an action on the selection; a refusal is shown on the page, and the selection stays for another try."""
    access = get_library_access(request.user)
    assets = _selected(request, access)
    try:
        done = action(access, assets)
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        if done:
            request.session.pop(_SESSION_KEY, None)
    return redirect(_back(request))


@login_required
@require_POST
def selection_move(request: HttpRequest) -> HttpResponse:
    """Moves the selected assets into a project, all or none."""
    def move(access, assets) -> bool:
        project = get_project_for_user(request.user, request.POST.get("project", ""), need="upload").project
        moved = assets_move(access=access, user=request.user, assets=assets, project=project)
        messages.success(request, f"{moved:,} asset{'s' if moved != 1 else ''} moved to {project.name}.")
        return True

    return _act(request, move)


@login_required
@require_POST
def selection_add_to_batch(request: HttpRequest) -> HttpResponse:
    """Adds the selected assets to a batch (an existing one, or a new one of a project) as input records."""
    def add(access, assets) -> bool:
        chosen = request.POST.get("batch", "")
        if chosen.startswith("new:"):
            project = get_project_for_user(request.user, chosen.removeprefix("new:"), need="upload").project
            batch = batches.batch_create(project=project, user=request.user, name=request.POST.get("new_batch_name", ""))
        else:
            _, batch = _batch(request, chosen)
        added = batches.batch_add_assets(batch=batch, asset_ids=[str(a.pk) for a in assets], actor=request.user)
        if added.created:
            messages.success(request, f"{len(added.created):,} asset{'s' if len(added.created) != 1 else ''} added to “{batch.name}” as input records.")
        if added.refused:
            reasons = "; ".join(sorted({reason for _, reason in added.refused}))
            messages.warning(request, f"{len(added.refused):,} not added: {reasons}")
        return bool(added.created)

    return _act(request, add)


def _batch(request: HttpRequest, batch_id: str):
    """A batch of a project the person may add to (get_batch_for_user: foreign ids answer 404)."""
    try:
        uuid.UUID(batch_id)
    except ValueError:
        raise Refused("Choose a batch, or a new batch of a project, first.") from None
    return get_batch_for_user(request.user, batch_id, need="upload")


@login_required
@require_POST
def selection_retry(request: HttpRequest) -> HttpResponse:
    """Processes the selected failed assets again (those whose file is still stored)."""
    def retry(access, assets) -> bool:
        result = assets_retry(access=access, user=request.user, assets=assets)
        if result.retried:
            messages.success(request, f"{len(result.retried):,} failed asset{'s' if len(result.retried) != 1 else ''} queued for processing again.")
        if result.skipped:
            reasons = "; ".join(sorted({reason for _, reason in result.skipped}))
            messages.warning(request, f"{len(result.skipped):,} not retried: {reasons}.")
        return bool(result.retried)

    return _act(request, retry)


@login_required
def selection_delete(request: HttpRequest) -> HttpResponse:
    """Asks to confirm, then deletes the selected assets and their stored files."""
    access = get_library_access(request.user)
    if request.method != "POST" or request.POST.get("confirm") != "1":
        assets = _selected(request, access)
        back = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            back = reverse("assets:library")
        return render(request, "assets/delete_confirm.html", {"assets": assets[:20], "count": len(assets), "next": back, "tab": "library", "too_many": len(assets) > settings.ASSETS_BULK_MAX,
                       "limit": settings.ASSETS_BULK_MAX})

    def delete(access, assets) -> bool:
        deleted = assets_delete(access=access, user=request.user, assets=assets)
        messages.success(request, f"{deleted:,} asset{'s' if deleted != 1 else ''} deleted, with {'their' if deleted != 1 else 'its'} stored files.")
        return True

    return _act(request, delete)
