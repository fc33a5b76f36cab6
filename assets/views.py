from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.vary import vary_on_headers

from assets import storage
from assets.forms import AssetFilterForm
from assets.models import Asset, AssetEvent
from projects.access import get_library_access, get_project_for_user
from projects.models import Batch
from ui.htmx import wants_fragment


@login_required
@vary_on_headers("HX-Request")
def asset_list(request: HttpRequest, project_id) -> HttpResponse:
    """The Assets tab: the project's assets, filtered, searched and paginated in a constant number of queries."""
    access = get_project_for_user(request.user, project_id)
    form = AssetFilterForm(request.GET, organizations=[access.project.organization])
    assets = form.filter(Asset.objects.filter(project=access.project).select_related("uploaded_by"))
    page = Paginator(assets, settings.ASSETS_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"access": access, "project": access.project, "form": form, "page": page, "query": query.urlencode(), "tab": "assets"}
    if access.can_upload and not wants_fragment(request):
        # The selection bar: the batches checked assets can go to (newest first).
        context["batches"] = list(Batch.objects.filter(project=access.project).only("id", "name")[:200])
    template = "assets/asset_list.html#results" if wants_fragment(request) else "assets/asset_list.html"
    return render(request, template, context)


# The newest events an asset's page lists; a file retried over and over keeps a readable page.
HISTORY_SHOWN = 100


@login_required
def asset_detail(request: HttpRequest, project_id, asset_id) -> HttpResponse:
    """One asset: a preview (the video plays its rendition when it has one), a download of the original, its metadata,
    where it is used (its project, the batches that hold it) and its history (who did what, when, why)."""
    access = get_project_for_user(request.user, project_id)
    asset = get_object_or_404(
        Asset.objects.select_related("uploaded_by", "upload_session"), pk=asset_id, project=access.project
    )
    context = _detail_context(request, asset, can_manage=access.can_manage)
    context |= {"access": access, "project": access.project, "tab": "assets"}
    return render(request, "assets/asset_detail.html", context)


@login_required
def library_asset_detail(request: HttpRequest, asset_id) -> HttpResponse:
    """An asset of the person's organizations by its id alone, as the Assets page links it: one of a project opens on
    its project's page, one of the library (no project yet) here. Another organization's id answers 404."""
    access = get_library_access(request.user)
    asset = get_object_or_404(
        Asset.objects.for_user(request.user).select_related("uploaded_by", "upload_session"), pk=asset_id
    )
    if asset.project_id is not None:
        return redirect("assets:detail", asset.project_id, asset.pk)
    context = _detail_context(request, asset, can_manage=access.can_manage_in(asset.organization_id))
    context |= {"project": None, "organization": next(o for o in access.organizations if o.pk == asset.organization_id),
                "tab": "library"}
    return render(request, "assets/asset_detail.html", context)


def _detail_context(request: HttpRequest, asset: Asset, *, can_manage: bool) -> dict:
    """What the asset page shows besides the asset: facts, its upload session (linked when the person may open it),
    the records that hold it, and its history newest first."""
    session = asset.upload_session
    # Managers see every session of the project, uploaders their own (uploads/access.py): link only what opens.
    session_visible = session is not None and (can_manage or session.created_by_id == request.user.pk)
    events = list(asset.events.select_related("actor").order_by("-at", "-id")[: HISTORY_SHOWN + 1])
    if asset.is_reference and asset.status == Asset.Status.READY:
        # The preview is signed by the customer's bucket: this page's policy lets it show from there.
        storage.show_in_page(request, asset.file_url())
    return {
        "asset": asset,
        "facts": asset_facts(asset),
        "session_visible": session_visible,
        "records": list(asset.records.select_related("batch").order_by("-created_at")),
        "events": events[:HISTORY_SHOWN],
        "earlier_events": len(events) > HISTORY_SHOWN,
        # Assets added before the history was kept have no "added" event: the page says it from the asset row.
        "added_recorded": any(event.action == AssetEvent.Action.ADDED for event in events) or len(events) > HISTORY_SHOWN,
    }


def asset_facts(asset: Asset) -> list[tuple[str, str]]:
    """The media metadata worth showing, in words, in a fixed order."""
    meta = asset.media_metadata or {}
    exif = meta.get("exif") or {}
    facts = []
    if meta.get("width") and meta.get("height"):
        stored = f"{meta['width']} × {meta['height']}"
        played = f"{meta.get('display_width') or meta['width']} × {meta.get('display_height') or meta['height']}"
        # A video turned a quarter turn plays with its sides swapped: say both, the size people see first.
        facts.append(("Dimensions", f"{stored} px" if played == stored else f"{played} px as played ({stored} as stored)"))
    if meta.get("format"):
        facts.append(("Format", meta["format"]))
    if meta.get("container"):
        codecs = ", ".join(c for c in (meta.get("video_codec"), meta.get("audio_codec")) if c)
        facts.append(("Container", f"{meta['container']}{f' ({codecs})' if codecs else ''}"))
    if meta.get("duration_seconds"):
        facts.append(("Duration", f"{meta['duration_seconds']:.2f} s"))
    rate = meta.get("avg_frame_rate") or meta.get("frame_rate")
    if rate:
        variable = " (variable)" if meta.get("variable_frame_rate") else ""
        facts.append(("Frame rate", f"{float(rate):.3f} fps{variable}"))
    if meta.get("frame_count"):
        facts.append(("Frames", f"{meta['frame_count']:,}"))
    if meta.get("rotation"):
        facts.append(("Rotation", f"{meta['rotation']}°"))
    camera = " ".join(v for v in (exif.get("make"), exif.get("model")) if v)
    if camera:
        facts.append(("Camera", camera))
    if exif.get("datetime_original"):
        facts.append(("Taken", exif["datetime_original"]))
    if exif:
        facts.append(("GPS position", "recorded" if exif.get("has_gps") else "none"))
    if meta.get("provided"):
        facts.append(("Source of these values", "given at registration (not probed)"))
    return facts
