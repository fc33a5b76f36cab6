import hashlib
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseLocation, HttpResponseStopPolling

from assets.models import Asset
from projects.access import get_library_access, get_project_for_user
from projects.models import Project
from ui.htmx import wants_fragment
from ui.spreadsheets import csv_lines
from uploads import imports, services
from uploads.access import get_session_for_user, get_session_to_send
from uploads.forms import LibrarySessionForm, SessionFilterForm, UploadSessionForm
from uploads.import_views import import_context
from uploads.models import UploadSession

# Each poll re-reads rows changed a little before the previous one, so a row committed while it ran is not
# missed. The previous answer names the rows of that overlap it already sent (`seen`), and those are left out
# unless they changed again; at most _POLL_SEEN_MAX of them, so the poller's URL stays short.
_POLL_OVERLAP = timedelta(seconds=1)
_POLL_SEEN_MAX = 200


@login_required
def session_list(request: HttpRequest, project_id) -> HttpResponse:
    """The Uploads tab: in-progress sessions first; managers see everyone's, uploaders their own."""
    access = get_project_for_user(request.user, project_id)
    sessions = UploadSession.objects.filter(project=access.project).select_related("created_by")
    if not access.can_manage:
        sessions = sessions.filter(created_by=request.user)
    form = SessionFilterForm(request.GET, organization=access.project.organization, can_manage=access.can_manage)
    sessions = form.filter(sessions).annotate(
        in_progress=Case(When(status=UploadSession.Status.COMPLETE, then=Value(1)), default=Value(0), output_field=IntegerField()),
    ).order_by("in_progress", "-created_at", "-id")
    page = Paginator(sessions, settings.ASSETS_PAGE_SIZE).get_page(request.GET.get("page"))
    # Files are counted for the page's sessions only: counted before paginating, every view of a large project's tab
    # read all its files (21 s at a million; docs/CAPACITY.md, "Indexes").
    page.object_list = list(sessions.filter(pk__in=[session.pk for session in page.object_list]).with_file_counts())
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "uploads/session_list.html",
        {
            "access": access,
            "project": access.project,
            "form": form,
            "page": page,
            "query": f"{query.urlencode()}&" if query else "",
            "tab": "uploads",
        },
    )


# Sessions the header's Uploads menu lists; older ones are on their projects' Uploads tabs.
_MENU_SESSIONS = 8


@login_required
@require_GET
def unfinished_sessions(request: HttpRequest) -> HttpResponse:
    """The header's Uploads menu: the person's own sessions not complete yet, in every project, newest first."""
    sessions = list(UploadSession.objects.unfinished_of(request.user).select_related("project")[: _MENU_SESSIONS + 1])
    return render(
        request,
        "uploads/_unfinished_sessions.html",
        {"sessions": sessions[:_MENU_SESSIONS], "more": len(sessions) > _MENU_SESSIONS},
    )


@login_required
@vary_on_headers("HX-Request")
def session_new(request: HttpRequest, project_id) -> HttpResponse:
    """The Add Assets panel: asset type, source, view name and capture date, then Continue."""
    access = get_project_for_user(request.user, project_id, need="upload")
    project = access.project
    form = UploadSessionForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.upload_session_open(project=project, user=request.user, **form.cleaned_data)
        except services.UploadRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            return _navigate(request, session.get_absolute_url())
    context = {"access": access, "project": project, "form": form, "tab": "assets"}
    template = "uploads/session_new.html#panel" if wants_fragment(request) else "uploads/session_new.html"
    return render(request, template, context)


@login_required
@vary_on_headers("HX-Request")
def library_session_new(request: HttpRequest) -> HttpResponse:
    """Add Assets from the Assets page: the same panel with the project optional; without one the files join the
    library of the person's organization."""
    access = get_library_access(request.user)
    organizations = access.upload_organizations
    if not organizations:
        raise PermissionDenied
    projects = list(Project.objects.filter(organization__in=[o.pk for o in organizations]).order_by("name"))
    form = LibrarySessionForm(request.POST or None, organizations=organizations, projects=projects)
    if request.method == "POST" and form.is_valid():
        details = {name: form.cleaned_data[name] for name in ("asset_type", "source", "view_name", "capture_date")}
        try:
            session = services.upload_session_open(
                project=form.cleaned_data["project"], organization=form.cleaned_data["organization"], user=request.user, **details
            )
        except services.UploadRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            return _navigate(request, session.get_absolute_url())
    context = {"form": form, "tab": "library", "library": True}
    template = "uploads/session_new.html#panel" if wants_fragment(request) else "uploads/session_new.html"
    return render(request, template, context)


def _navigate(request: HttpRequest, url: str) -> HttpResponse:
    """After a POST: htmx navigates without reloading the tab (transfers keep going), others get a redirect."""
    return HttpResponseLocation(url, target="body") if wants_fragment(request) else redirect(url)


def _changes_since(request: HttpRequest) -> datetime | None:
    raw = request.GET.get("since", "")
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return since if timezone.is_aware(since) else None


@login_required
def session_detail(request: HttpRequest, session_id, project_id=None, organization_id=None) -> HttpResponse:
    """One session: its files with name, size, progress, status and reason; the drop zone while it is open."""
    access, session = get_session_for_user(request.user, project_id, session_id, organization_id=organization_id)
    context = _detail_context(request, access, session, assets=_rows(session, Asset.objects.filter(upload_session=session)))
    context |= import_context(request, session, can_add=context["can_add"])
    return render(request, "uploads/session_detail.html", context)


@login_required
@require_GET
def session_report(request: HttpRequest, session_id, project_id=None, organization_id=None) -> StreamingHttpResponse:
    """The session's report as a CSV file, one row per file (name, size, sha256, status, reason, asset id), for those
    who may see the session (uploads/access.py); streamed, so a 1,500-file session costs constant memory."""
    _, session = get_session_for_user(request.user, project_id, session_id, organization_id=organization_id)
    # The view name is the uploader's words: only its slug reaches the file name.
    name = f"{slugify(session.view_name) or 'session'}-{session.capture_date:%Y-%m-%d}-report.csv"
    return StreamingHttpResponse(
        csv_lines(services.SESSION_REPORT_HEADER, services.session_report_rows(session)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, name)},
    )


# What a file row shows (_file_rows.html): a poll loads hundreds of rows, so none of the columns it leaves unread
# (keys, metadata, processing state) are fetched and converted.
_ROW_FIELDS = (
    "project", "upload_session", "name", "original_filename", "size", "source", "status", "error_reason", "updated_at"
)


def _rows(session: UploadSession, assets):
    """The file table's rows in page order; rows of imported files also show how their fetch goes."""
    fields = _ROW_FIELDS
    if session.source != UploadSession.Source.DIRECT:
        assets = assets.select_related("import_item")
        fields += ("import_item__note", "import_item__bytes_received")
    return assets.only(*fields).order_by("created_at", "id")


def _detail_context(request, access, session, *, assets) -> dict:
    owns = session.created_by_id == request.user.pk
    counts = services.session_counts(session)
    return {
        "access": access,
        "project": access.project,
        "session": session,
        "assets": assets,
        "counts": counts,
        "can_add": session.is_open and owns and access.can_upload,
        "can_finalize": session.is_open and (owns or access.can_manage),
        "now": timezone.now(),
        "limits": {
            "sessionMax": settings.UPLOAD_SESSION_MAX_FILES,
            "perDrop": settings.UPLOAD_MAX_FILES_PER_DROP,
            "maxFileSize": settings.UPLOAD_MAX_FILE_SIZE,
            "concurrency": services.browser_concurrency(),
        },
        "poll_interval": f"{settings.UPLOAD_POLL_INTERVAL_MS}ms",
        "session_urls": {name: session.url(name) for name in _SESSION_URLS},
        "tab": "uploads" if session.project_id else "library",
    }


# The session's own addresses its page uses (under its project, or its organization's library: UploadSession.url).
_SESSION_URLS = ("detail", "changes", "register", "sign", "complete", "fail", "retry", "cancel", "finalize", "report")


@login_required
@require_GET
def session_changes(request: HttpRequest, session_id, project_id=None, organization_id=None) -> HttpResponse:
    """The polling endpoint: rows changed since the last poll and the summary, as out-of-band swaps.

    A constant number of queries however many files the session has; stops polling once the session is complete.
    """
    access, session = get_session_for_user(request.user, project_id, session_id, organization_id=organization_id)
    since = _changes_since(request)
    assets = Asset.objects.filter(upload_session=session)
    if since is not None:
        # Rows still Uploading belong to the browser sending them; only new ones (another tab, a script) are news.
        # Files fetched by the server (URL imports) are the exception: their bytes received are news.
        cut = since - _POLL_OVERLAP
        assets = assets.filter(updated_at__gte=cut).exclude(
            status=Asset.Status.UPLOADING, created_at__lt=cut, source=Asset.Source.FILE
        )
        if request.GET.get("sending") == "1":
            # The page is sending files itself and shows the new rows it registered: other new rows of the same
            # person (another tab, a script) appear once they change, everyone else's at once.
            assets = assets.exclude(status=Asset.Status.UPLOADING, source=Asset.Source.FILE, uploaded_by=request.user)
    context = _detail_context(request, access, session, assets=_rows(session, assets))
    rows = [(row, _fingerprint(row)) for row in context["assets"]]
    # Rows the next poll reads again, whether this answer sends them or the page got them from an earlier one.
    next_cut = context["now"] - _POLL_OVERLAP
    context["seen"] = ".".join([fingerprint for row, fingerprint in rows if row.updated_at >= next_cut][:_POLL_SEEN_MAX])
    seen = set(request.GET.get("seen", "").split(".")) if since is not None else set()
    context["assets"] = [row for row, fingerprint in rows if fingerprint not in seen]
    if since is not None:
        # Files cancelled (on another page, too) leave the session: their rows go.
        context["removed_rows"] = session.removed_since(since - _POLL_OVERLAP)
        if session.source != UploadSession.Source.DIRECT:
            # Imported files found to be duplicates were dropped: their rows go too.
            context["removed_rows"] += imports.removed_rows(session, since - _POLL_OVERLAP)
    response = render(request, "uploads/session_changes.html", context)
    if session.status == UploadSession.Status.COMPLETE and since is not None:
        return HttpResponseStopPolling(response.content)
    return response


def _fingerprint(asset: Asset) -> str:
    """A short name for one row at one version: the poller's `seen` lists those the page already has."""
    return hashlib.blake2b(f"{asset.pk} {asset.version}".encode(), digest_size=6).hexdigest()


def _json_body(request: HttpRequest):
    try:
        return json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise services.UploadRefused("The request body is not valid JSON.") from None


def _protocol_view(handler):
    """JSON endpoints of the protocol; a refusal becomes {"error": message} with its status (portal/middleware.py)."""

    @login_required
    @require_POST
    def view(request: HttpRequest, session_id, project_id=None, organization_id=None) -> JsonResponse:
        session = get_session_to_send(request.user, project_id, session_id, organization_id=organization_id)
        return JsonResponse(handler(request, session, _json_body(request)))

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


def _files_payload(body) -> list:
    if isinstance(body, dict) and isinstance(body.get("files"), list):
        return body["files"]
    raise services.UploadRefused("Send {\"files\": [{\"name\", \"size\", \"contentType\", \"sha256\"}, ...]}.")


@_protocol_view
def register_files(request, session, body) -> dict:
    """Registers one drop of files; answers per file."""
    results = services.upload_session_register(
        session=session, user=request.user, files=_files_payload(body), drop=body.get("drop")
    )
    return {
        "files": [result.as_dict() for result in results],
        "duplicates": sum(result.outcome == "duplicate" for result in results),
        "held": Asset.objects.filter(upload_session=session).count(),
        "max": settings.UPLOAD_SESSION_MAX_FILES,
    }


@_protocol_view
def sign_request(request, session, body) -> dict:
    """Signs one storage request (single PUT, or a multipart step) of a file being transferred."""
    return dict(services.upload_sign(session=session, request=body if isinstance(body, dict) else {}))


@_protocol_view
def complete_files(request, session, body) -> dict:
    """The client finished transferring these files: verify them."""
    body = body if isinstance(body, dict) else {}
    return {"queued": services.upload_complete(session=session, asset_ids=body.get("assetIds"), keys=body.get("keys"))}


@_protocol_view
def fail_files(request, session, body) -> dict:
    """The client gave up transferring these files: Upload Error with its reason."""
    failures = body.get("failures") if isinstance(body, dict) else None
    return {"failed": services.upload_fail(session=session, failures=failures)}


@_protocol_view
def cancel_files(request, session, body) -> dict:
    """The person stopped these transfers: the files leave the session (and drops being prepared give back their room)."""
    if not isinstance(body, dict):
        raise services.UploadRefused('Send {"assetIds": [...], "drops": [{"id", "files"}, ...]}.')
    return {"cancelled": services.upload_cancel(session=session, asset_ids=body.get("assetIds"), drops=body.get("drops"))}


@_protocol_view
def retry_files(request, session, body) -> dict:
    """Fresh transfer instructions for failed files."""
    ids = body.get("assetIds") if isinstance(body, dict) else None
    return {"files": services.upload_retry(session=session, asset_ids=ids)}


@login_required
@require_POST
def finalize(request: HttpRequest, session_id, project_id=None, organization_id=None) -> HttpResponse:
    """Submit what uploaded: no more files join, failed files stay failed in the session."""
    access, session = get_session_for_user(request.user, project_id, session_id, organization_id=organization_id)
    if not (session.created_by_id == request.user.pk or access.can_manage):
        raise PermissionDenied
    if services.upload_session_finalize(session=session):
        messages.success(request, "Submitted for processing. You will get an email when every file is done.")
    else:
        messages.info(request, "This session was already finalized.")
    return _navigate(request, session.get_absolute_url())
