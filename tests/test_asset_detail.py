"""The asset page: preview, facts from the media metadata, and the same tenancy as every other page."""

import uuid

import pytest
from django.urls import reverse

from assets.models import Asset


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
