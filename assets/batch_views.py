"""The Batches tab: a project's batches with their records counted by status, one batch's records, and
adding the assets selected on the Assets tab to a batch."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from assets import batches as services
from projects.access import get_batch_for_user, get_project_for_user
from projects.forms import AddToBatchForm, BatchForm
from projects.models import Batch, Record


@login_required
def batch_list(request: HttpRequest, project_id) -> HttpResponse:
    """The project's batches, newest first, with record counts; people who upload create batches here."""
    access = get_project_for_user(request.user, project_id, need="upload" if request.method == "POST" else "view")
    project = access.project
    form = BatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.batch_create(
                project=project, user=request.user, name=form.cleaned_data["name"], is_enabled=form.cleaned_data["is_enabled"]
            )
        except services.BatchRefused as refusal:
            form.add_error("name", refusal.message)
        else:
            messages.success(request, f"Batch “{batch.name}” created. Select assets on the Assets tab to add them.")
            return redirect("assets:batches", project_id=project.pk)
    batches = services.with_record_counts(
        Batch.objects.filter(project=project).select_related("created_by").order_by("-created_at", "-id")
    )
    page = Paginator(batches, settings.ASSETS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "projects/batch_list.html",
        {"access": access, "project": project, "page": page, "form": form, "tab": "batches"},
        status=422 if form.errors else 200,
    )


@login_required
def batch_detail(request: HttpRequest, project_id, batch_id) -> HttpResponse:
    """One batch's input records: the asset, its status and the record's status, filtered by record status."""
    access, batch = get_batch_for_user(request.user, batch_id)
    if batch.project_id != project_id:
        return redirect("assets:batch_detail", project_id=batch.project_id, batch_id=batch.pk)
    status = request.GET.get("status", "")
    records = Record.objects.filter(batch=batch).select_related("asset").order_by("-created_at", "-id")
    if status in Record.Status.values:
        records = records.filter(status=status)
    counts = services.with_record_counts(Batch.objects.filter(pk=batch.pk)).get()
    page = Paginator(records, settings.ASSETS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "projects/batch_detail.html",
        {
            "access": access,
            "project": access.project,
            "batch": batch,
            "counts": counts,
            "page": page,
            "status": status if status in Record.Status.values else "",
            "statuses": Record.Status.choices,
            "tab": "batches",
        },
    )


@login_required
@require_POST
def batch_add_assets(request: HttpRequest, project_id) -> HttpResponse:
    """Adds the assets checked on the Assets tab to a batch (or a new one); says what joined and what did not."""
    access = get_project_for_user(request.user, project_id, need="upload")
    project = access.project
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("assets:list", args=[project.pk])
    form = AddToBatchForm(request.POST, batches=Batch.objects.filter(project=project))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    try:
        if form.cleaned_data["batch"] == AddToBatchForm.NEW:
            batch = services.batch_create(project=project, user=request.user, name=form.cleaned_data["new_batch_name"])
        else:
            batch = Batch.objects.get(pk=form.cleaned_data["batch"], project=project)
        added = services.batch_add_assets(batch=batch, asset_ids=form.cleaned_data["asset"], actor=request.user)
    except services.BatchRefused as refusal:
        messages.error(request, refusal.message)
        return redirect(back)
    if added.created:
        messages.success(request, f"{len(added.created)} asset{'s' if len(added.created) != 1 else ''} added to “{batch.name}”.")
    if added.refused:
        reasons = "; ".join(sorted({reason for _, reason in added.refused}))
        messages.warning(request, f"{len(added.refused)} not added: {reasons}")
    return redirect(back)
