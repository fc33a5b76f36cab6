"""In real Chromium: an asset's page shows where the asset is used, its history (who did what, when, why) and downloads
its original with the name it was sent under. Screenshots land in test-results/screens/."""

import pytest
from django.urls import reverse

from assets.batches import batch_add_assets, batch_create
from tests.e2e.axe import blocking_violations
from tests.e2e.test_screens import _log_in, live_server  # noqa: F401 (fixture: static files served as in production)
from tests.media_factory import make_jpeg
from tests.test_storage_attacks import processed  # noqa: F401 (fixture)
from tests.test_upload_complete import _register, _send
from uploads.services import transfer_instructions, upload_fail, upload_retry

pytestmark = pytest.mark.e2e


def test_the_asset_page_shows_usage_and_history_and_downloads_the_original(
    live_server, project, owner, member, upload_session, processed, client, screens_dir, browser_page
):
    from playwright.sync_api import expect

    data = make_jpeg(960, 640, detail=True)
    asset = _register(upload_session, "north-gate-0412.jpg", data, "image/jpeg")
    upload_fail(session=upload_session, failures=[{"assetId": str(asset.pk), "reason": "The connection was reset."}])
    [again] = upload_retry(session=upload_session, asset_ids=[str(asset.pk)])
    _send(client, again["put"], data)
    processed(upload_session, asset)
    batch_add_assets(batch=batch_create(project=project, user=owner, name="Week 48 · north gate"), asset_ids=[asset.pk], actor=owner)

    page = browser_page
    _log_in(page, live_server, owner)
    page.goto(live_server.url + reverse("assets:detail", args=[project.pk, asset.pk]))

    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("listitem")).to_have_count(6)
    expect(history.get_by_role("listitem").first).to_contain_text("Added to a batch")
    expect(history).to_contain_text("The connection was reset. Retry to upload it again.")
    expect(history.get_by_role("listitem").last).to_contain_text("Bob Uploader")
    usage = page.get_by_role("region", name="Where it is used")
    expect(usage.get_by_role("link", name="Week 48 · north gate")).to_be_visible()
    expect(page.locator(".preview img")).to_have_js_property("complete", True)
    page.screenshot(path=screens_dir / "asset-detail.png", full_page=True)
    assert blocking_violations(page) == []

    with page.expect_download() as download:
        page.get_by_role("link", name="Download original").click()
    assert download.value.suggested_filename == "north-gate-0412.jpg"
    with open(download.value.path(), "rb") as saved:
        assert saved.read() == data


def test_a_library_asset_opens_from_the_assets_page(live_server, organization, owner, screens_dir, browser_page):
    from playwright.sync_api import expect

    from assets.models import Asset, AssetEvent
    from assets.services import asset_events_record

    asset = Asset.objects.create(organization=organization, project=None, name="dock-7.mp4", original_filename="dock-7.mp4",
                                 asset_type="video", status=Asset.Status.UPLOAD_ERROR, uploaded_by=owner,
                                 error_reason="The video has no frames.")
    asset_events_record(assets=[asset], action=AssetEvent.Action.ADDED, actor=owner, to_status=Asset.Status.UPLOADING)

    page = browser_page
    _log_in(page, live_server, owner)
    page.goto(live_server.url + reverse("assets:library"))
    page.get_by_role("link", name="dock-7.mp4").click()

    expect(page.get_by_role("heading", name="dock-7.mp4", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Where it is used")).to_contain_text("Library")
    expect(page.get_by_role("link", name="Download original")).to_have_count(0)
    page.screenshot(path=screens_dir / "asset-detail-library.png", full_page=True)
    assert blocking_violations(page) == []
