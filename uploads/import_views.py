"""Pages of imports from lists of URLs: choose a list, see its preview, start it, retry failed files; and the
organization's storage integrations (admins only)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from assets import storage
from assets.models import Asset
from projects.access import get_membership_for_user
from uploads import imports, integrations
from uploads.forms import StorageIntegrationForm, UrlImportForm
from uploads.models import StorageIntegration, UploadSession, UrlImport
from uploads.errors import UploadRefused
from uploads.access import get_session_for_user


def import_context(request: HttpRequest, session: UploadSession, *, can_add: bool) -> dict:
    """What the session page shows of its imports: the lists already chosen and the form for the next one."""
    if session.source == UploadSession.Source.DIRECT:
        return {}
    return {
        "url_imports": session.url_imports.select_related("integration").order_by("created_at"),
        "import_form": UrlImportForm(session=session) if can_add else None,
        "is_admin": session.project.organization.memberships.filter(user=request.user, role="admin").exists(),
    }


@login_required
@require_POST
def import_preview(request: HttpRequest, project_id, session_id) -> HttpResponse:
    """Parses the chosen list and shows its preview; nothing is fetched until the person confirms."""
    access, session = get_session_for_user(request.user, project_id, session_id, write=True)
    form = UrlImportForm(request.POST, request.FILES, session=session)
    if form.is_valid():
        try:
            url_import = imports.url_import_preview(
                session=session, user=request.user, uploaded=form.cleaned_data["list_file"],
                integration=form.cleaned_data.get("integration"),
            )
        except UploadRefused as refusal:
            form.add_error("list_file", refusal.message)
        else:
            return redirect("uploads:import_detail", project_id=project_id, session_id=session_id, import_id=url_import.pk)
    return render(
        request,
        "uploads/import_form.html",
        {"access": access, "project": access.project, "session": session, "import_form": form, "tab": "uploads"},
        status=422,
    )


def _get_import(request, project_id, session_id, import_id, *, write: bool = False):
    access, session = get_session_for_user(request.user, project_id, session_id, write=write)
    url_import = get_object_or_404(UrlImport.objects.select_related("integration"), pk=import_id, session=session)
    return access, session, url_import


@login_required
def import_detail(request: HttpRequest, project_id, session_id, import_id) -> HttpResponse:
    """The preview of a list: rows found, the first rows, every bad row with its line and reason."""
    access, session, url_import = _get_import(request, project_id, session_id, import_id)
    owns = session.created_by_id == request.user.pk
    return render(
        request,
        "uploads/import_preview.html",
        {
            "access": access,
            "project": access.project,
            "session": session,
            "url_import": url_import,
            "first_rows": url_import.rows[: imports.PREVIEW_ROWS],
            "good_count": len(url_import.rows),
            "can_start": owns and access.can_upload and session.is_open and url_import.status == UrlImport.Status.PREVIEW,
            "tab": "uploads",
        },
    )


@login_required
@require_POST
def import_start(request: HttpRequest, project_id, session_id, import_id) -> HttpResponse:
    """Starts a previewed list: its good rows join the session and the worker fetches them."""
    _, session, url_import = _get_import(request, project_id, session_id, import_id, write=True)
    try:
        added = imports.url_import_start(
            url_import=url_import, user=request.user, good_rows_only=request.POST.get("good_rows_only") == "1"
        )
    except UploadRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("uploads:import_detail", project_id=project_id, session_id=session_id, import_id=import_id)
    messages.success(request, f"Importing {added:,} file{'s' if added != 1 else ''} from “{url_import.file_name}”. Each row below shows how it goes.")
    return redirect(session.get_absolute_url())


@login_required
@require_POST
def import_retry(request: HttpRequest, project_id, session_id) -> HttpResponse:
    """Fetches failed imported files again (one, or every failed one of the session)."""
    _, session = get_session_for_user(request.user, project_id, session_id, write=True)
    ids = request.POST.getlist("asset")
    if request.POST.get("all") == "1":
        ids = list(
            Asset.objects.filter(upload_session=session, status=Asset.Status.UPLOAD_ERROR).values_list("pk", flat=True)
        )
    try:
        retried = imports.url_import_retry(session=session, asset_ids=ids)
    except UploadRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.info(request, f"Fetching {retried:,} file{'s' if retried != 1 else ''} again.")
    return redirect(session.get_absolute_url())


# --- storage integrations ------------------------------------------------------------------------


@login_required
def integration_list(request: HttpRequest, organization_id) -> HttpResponse:
    """The organization's storage integrations and the form to add one, for the provider chosen in ?provider= (admins only)."""
    membership = get_membership_for_user(request.user, organization_id, admin=True)
    organization = membership.organization
    provider = request.GET.get("provider", StorageIntegration.Provider.S3)
    form = StorageIntegrationForm(request.POST or None, organization=organization, provider=provider)
    if request.method == "POST" and form.is_valid():
        integration = integrations.integration_create(organization=organization, user=request.user, **form.integration_fields())
        problem = integrations.integration_validate(integration=integration)
        if problem:
            messages.warning(request, f"“{integration.name}” was saved, but validating it failed: {problem}")
        else:
            messages.success(request, f"“{integration.name}” was saved and validated: the portal can list and read the {integration.bucket_noun}.")
        return redirect(reverse("uploads:integrations", args=[organization.pk]) + f"?provider={integration.provider}")
    return render(
        request,
        "uploads/integration_list.html",
        {
            "organization": organization,
            "integrations": StorageIntegration.objects.filter(organization=organization).select_related("created_by"),
            "form": form,
            "providers": StorageIntegration.Provider.choices,
        },
        status=422 if form.errors else 200,
    )


def _get_integration(request, organization_id, integration_id) -> StorageIntegration:
    membership = get_membership_for_user(request.user, organization_id, admin=True)
    return get_object_or_404(StorageIntegration, pk=integration_id, organization=membership.organization)


@login_required
@require_POST
def integration_validate(request: HttpRequest, organization_id, integration_id) -> HttpResponse:
    """Checks that the portal can list the bucket and read an object of it."""
    integration = _get_integration(request, organization_id, integration_id)
    problem = integrations.integration_validate(integration=integration)
    if problem:
        messages.error(request, f"Validating “{integration.name}” failed: {problem}")
    else:
        messages.success(request, f"“{integration.name}” is valid: the portal can list and read the {integration.bucket_noun}.")
    return redirect("uploads:integrations", organization_id=organization_id)


@login_required
@require_POST
def integration_delete(request: HttpRequest, organization_id, integration_id) -> HttpResponse:
    """Removes an integration no import uses (assets imported through it are read through it)."""
    integration = _get_integration(request, organization_id, integration_id)
    try:
        integration.delete()
    except ProtectedError:
        messages.error(request, f"“{integration.name}” is used by imports whose assets are read through it; it stays.")
    else:
        messages.success(request, f"“{integration.name}” was removed.")
    return redirect("uploads:integrations", organization_id=organization_id)


def reference_original(request: HttpRequest, token: str) -> StreamingHttpResponse:
    """An original imported by reference, read through its integration for a link of integrations.reference_link (a
    container reached with a SAS token, which no page may show). The signed, expiring link is the permission, as a
    bucket's own signed URL would be; served as a download with nosniff and a sandbox (docs/SECURITY.md)."""
    claim = integrations.reference_link_claim(token)
    if claim is None:
        raise Http404("This link is not valid or has expired: reload the page for a new one.")
    asset = get_object_or_404(Asset.objects.select_related("import_item__url_import__integration"), pk=claim["asset"], source=Asset.Source.REFERENCE)
    try:
        integration, ref = integrations.reference_of(asset)
        body = integrations.open_object(integration, ref)
    except integrations.STORAGE_ERRORS as error:
        raise Http404("The file cannot be read from its storage now.") from error
    content_type, disposition = storage.response_headers(claim["type"], claim["name"] or ref.key.rpartition("/")[2], inline=False)

    def chunks():
        try:
            yield from iter(lambda: body.read(1024 * 1024), b"")
        finally:
            body.close()

    response = StreamingHttpResponse(chunks(), content_type=content_type)
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
