"""In real Chromium: select assets on the Assets tab and add them to a new batch; the Batches tab, the
profile page with a new API key, and the API reference. Screenshots land in test-results/screens/."""

import os

import pytest
from django.urls import reverse

from assets.models import Asset
from projects.models import Batch
from tests.e2e.test_screens import _log_in, _StaticAsInProduction
from tests.helpers import make_asset

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server(request, django_db_setup):
    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = _StaticAsInProduction(addr)
    yield server
    server.stop()


def test_selected_assets_go_into_a_new_batch(live_server, project, owner, screens_dir, browser_page):
    from playwright.sync_api import expect

    for n in range(3):
        make_asset(project, name=f"crossing-{n}.jpg", status=Asset.Status.READY, uploaded_by=owner)
    page = browser_page
    _log_in(page, live_server, owner)
    page.goto(live_server.url + reverse("assets:list", args=[project.pk]))

    page.get_by_label("Select crossing-0.jpg").check()
    page.get_by_label("Select crossing-2.jpg").check()
    page.get_by_label("New batch name").fill("Morning shift")
    page.screenshot(path=screens_dir / "assets-select-for-batch.png", full_page=True)
    page.get_by_role("button", name="Add to batch").click()

    expect(page.get_by_text("2 assets added to “Morning shift”.")).to_be_visible()
    batch = Batch.objects.get(project=project, name="Morning shift")
    assert sorted(batch.records.values_list("asset__name", flat=True)) == ["crossing-0.jpg", "crossing-2.jpg"]

    page.get_by_role("link", name="Batches", exact=True).click()
    expect(page.get_by_role("link", name="Morning shift")).to_be_visible()
    page.screenshot(path=screens_dir / "batches.png", full_page=True)


def test_a_key_is_created_on_the_profile_and_the_reference_is_one_click_away(live_server, project, owner, screens_dir, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    _log_in(page, live_server, owner)
    page.get_by_title("Your profile and API keys").click()
    page.get_by_label("Key name").fill("nightly import")
    page.get_by_role("button", name="Create API key").click()

    expect(page.locator("#new-api-key pre")).to_contain_text("aup_")
    page.screenshot(path=screens_dir / "profile-api-keys.png", full_page=True)

    page.get_by_role("link", name="API", exact=True).click()
    expect(page.get_by_role("heading", name="Asset Upload Portal API")).to_be_visible()
    expect(page.locator("#api_assets_register_asset")).to_contain_text("/api/v1/assets")
    page.screenshot(path=screens_dir / "api-reference.png", full_page=False)
