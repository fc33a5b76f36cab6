"""The asset page: preview, facts from the media metadata, and the same tenancy as every other page."""

import html
import re
import uuid

import pytest
from django.urls import reverse

from assets.batches import batch_add_assets, batch_create
from assets.models import Asset, AssetEvent
from assets.services import asset_events_record
from tests.helpers import make_asset, text_of
from tests.test_storage_attacks import png_with_script, processed  # noqa: F401 (fixture)
from tests.test_upload_complete import _register, _send
from uploads.services import transfer_instructions


@pytest.fixture
def video(project, member):
    return Asset.objects.create(
        organization=project.organization, project=project, name="dock.mkv", original_filename="dock.mkv",
        asset_type="video", status=Asset.Status.READY, storage_key="assets/x/dock.mkv",
        rendition_key="assets/x/dock.mkv.rendition.mp4", thumbnail_key="assets/x/dock.mkv.poster.jpg", uploaded_by=member,
        media_metadata={"width": 1280, "height": 720, "container": "mkv", "video_codec": "h264", "avg_frame_rate": 29.97,
                        "variable_frame_rate": True, "frame_count": 1234, "duration_seconds": 41.2},
    )


def test_it_shows_the_video_with_its_rendition_and_facts(member_client, project, video):
    page = member_client.get(reverse("assets:detail", args=[project.pk, video.pk])).content.decode()
    assert "<video" in page and "rendition.mp4" in page and "poster.jpg" in page
    for fact in ("1280 × 720 px", "29.970 fps (variable)", "1,234", "41.20 s", "H.264 MP4 rendition"):
        assert fact in page


def test_a_video_turned_a_quarter_turn_gives_the_size_it_plays_at_first(member_client, project, video):
    video.media_metadata |= {"rotation": 90, "display_width": 720, "display_height": 1280}
    video.save(update_fields=["media_metadata"])

    page = member_client.get(reverse("assets:detail", args=[project.pk, video.pk])).content.decode()

    assert "720 × 1280 px as played (1280 × 720 as stored)" in page
    assert "90°" in page


def test_an_asset_that_failed_shows_its_reason_instead_of_a_preview(member_client, project, video):
    Asset.objects.filter(pk=video.pk).update(status=Asset.Status.UPLOAD_ERROR, error_reason="The video has no frames.")
    page = member_client.get(reverse("assets:detail", args=[project.pk, video.pk])).content.decode()
    assert "<video" not in page
    assert "The video has no frames." in page


def test_values_given_at_registration_say_so(member_client, project, video):
    video.media_metadata = {"frame_rate": 25, "frame_count": 1500, "provided": True}
    video.save()
    page = member_client.get(reverse("assets:detail", args=[project.pk, video.pk])).content.decode()
    assert "25.000 fps" in page and "given at registration" in page


def test_outsiders_get_404(outsider_client, project, video):
    assert outsider_client.get(reverse("assets:detail", args=[project.pk, video.pk])).status_code == 404


def test_an_asset_of_another_project_answers_404(member_client, project, other_project, video):
    assert member_client.get(reverse("assets:detail", args=[other_project.pk, video.pk])).status_code == 404
    assert member_client.get(reverse("assets:detail", args=[project.pk, uuid.uuid4()])).status_code == 404


def test_the_assets_tab_links_each_name_to_its_page(member_client, project, video):
    page = member_client.get(reverse("assets:list", args=[project.pk])).content.decode()
    assert reverse("assets:detail", args=[project.pk, video.pk]) in page


# --- where the asset is used, its history, the download of its original --------------------------------------------

def _page(client, project, asset) -> str:
    response = client.get(reverse("assets:detail", args=[project.pk, asset.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_lists_the_batches_that_hold_the_asset_with_their_records(member_client, project, owner, video):
    week = batch_create(project=project, user=owner, name="Week 48")
    batch_add_assets(batch=week, asset_ids=[str(video.pk)], actor=owner)
    batch_create(project=project, user=owner, name="Not this one")

    page = _page(member_client, project, video)

    assert reverse("assets:batch_detail", args=[project.pk, week.pk]) in page
    assert "Week 48" in page and "record queued" in text_of(page)
    assert "Not this one" not in page


def test_an_asset_in_no_batch_says_so(member_client, project, video):
    assert "In no batch yet." in _page(member_client, project, video)


def test_the_upload_session_is_linked_for_those_who_may_open_it(manager_client, viewer_client, project, video, upload_session):
    Asset.objects.filter(pk=video.pk).update(upload_session=upload_session)
    session_url = upload_session.get_absolute_url()

    assert session_url in _page(manager_client, project, video)
    viewers_page = _page(viewer_client, project, video)
    assert session_url not in viewers_page and upload_session.view_name in viewers_page


def test_the_history_says_who_did_what_when_and_why_newest_first(member_client, project, member, owner):
    asset = make_asset(project, status=Asset.Status.UPLOADING, uploaded_by=member)
    asset_events_record(assets=[asset], action=AssetEvent.Action.ADDED, actor=member, to_status=Asset.Status.UPLOADING)
    asset.mark_upload_error("The stored file is 10 bytes but 20 were declared.")
    asset.restart_upload(storage_key=f"{asset.storage_key}.2", actor_id=owner.pk)

    page = text_of(_page(member_client, project, asset))

    assert page.index("Retried") < page.index("Status changed") < page.index("Added Uploading")
    assert "Retried Upload Error → Uploading Alice Admin" in page
    assert "Status changed Uploading → Upload Error The portal" in page
    assert "The stored file is 10 bytes but 20 were declared." in page
    assert f"Added Uploading {member.get_full_name()}" in page


def test_an_asset_from_before_the_history_shows_when_and_by_whom_it_was_added(member_client, project, video, member):
    page = text_of(_page(member_client, project, video))

    assert "History" in page
    assert f"Added {member.get_full_name()}" in page


def test_the_history_of_another_asset_is_not_shown(member_client, project, video, owner):
    other = make_asset(project, name="other.jpg", status=Asset.Status.READY)
    asset_events_record(assets=[other], action=AssetEvent.Action.MOVED, actor=owner, reason="Moved to Harbour cameras")

    assert "Harbour cameras" not in _page(member_client, project, video)


def test_a_verified_original_downloads_with_its_verified_type_and_its_whole_trail_shows(
    member_client, client, project, upload_session, processed, member
):
    data = png_with_script()
    asset = _register(upload_session, "gate.html", data, "")
    _send(client, transfer_instructions(asset)["put"], data)
    processed(upload_session, asset)
    assert asset.status == Asset.Status.READY

    page = _page(member_client, project, asset)
    link = re.search(r'<a class="btn btn-sm" href="([^"]+)" hx-boost="false"><svg[^>]*>.*?</svg>\s*Download original</a>', page)
    response = member_client.get(html.unescape(link.group(1)))

    assert response.status_code == 200 and b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment") and "gate.html" in response["Content-Disposition"]
    trail = text_of(page)
    assert "Status changed Uploaded → Ready The portal" in trail
    assert "Status changed Uploading → Uploaded The portal" in trail
    assert f"Added Uploading {member.get_full_name()}" in trail
    assert trail.index("Ready The portal") < trail.index("Uploaded The portal") < trail.index("Added Uploading")


def test_a_file_that_has_not_arrived_offers_no_download(member_client, project):
    asset = make_asset(project, status=Asset.Status.UPLOADING)

    page = _page(member_client, project, asset)

    assert "Download original" not in page and "Downloadable once it has arrived" in page


# --- an asset of the organization's library (no project yet) ---------------------------------------------------------

@pytest.fixture
def library_asset(organization, member):
    return Asset.objects.create(organization=organization, project=None, name="loose.jpg", original_filename="loose.jpg",
                                asset_type="image", status=Asset.Status.READY, uploaded_by=member, storage_key="assets/x/loose.jpg")


def test_a_library_asset_has_a_page_that_says_it_is_in_the_library(viewer_client, library_asset, owner):
    asset_events_record(assets=[library_asset], action=AssetEvent.Action.ADDED, actor=owner)

    response = viewer_client.get(reverse("assets:library_detail", args=[library_asset.pk]))

    page = text_of(response.content)
    assert response.status_code == 200
    assert "Project Library no project yet" in page
    assert "Added Alice Admin" in page


def test_the_assets_page_links_a_library_asset_to_its_page(member_client, library_asset):
    page = member_client.get(reverse("assets:library")).content.decode()
    assert reverse("assets:library_detail", args=[library_asset.pk]) in page


def test_an_asset_of_a_project_opens_on_its_projects_page(member_client, project, video):
    response = member_client.get(reverse("assets:library_detail", args=[video.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("assets:detail", args=[project.pk, video.pk])


def test_another_organizations_library_asset_answers_404(outsider_client, library_asset):
    assert outsider_client.get(reverse("assets:library_detail", args=[library_asset.pk])).status_code == 404
    assert outsider_client.get(reverse("assets:library_detail", args=[uuid.uuid4()])).status_code == 404
