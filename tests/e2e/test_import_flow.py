"""Importing a CSV list in real Chromium: the Add Assets panel's CSV source, the list's preview with a bad row,
importing the good rows, and rows that reach Ready as the worker (eager here) fetches them from a loopback
server. Screenshots: test-results/screens/import-panel.png, import-preview.png, import-session.png, storage-integrations.png."""

import pytest
from django.urls import reverse

from assets.models import Asset
from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401
from tests.file_server import Answer, file_server
from tests.media_factory import make_jpeg

pytestmark = [pytest.mark.e2e, skip_without_chromium, pytest.mark.usefixtures("served_static")]


@pytest.fixture
def eager_fetching(settings):
    from portal.celery import app

    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True
    settings.URL_IMPORT_READ_TIMEOUT = 1
    settings.URL_IMPORT_MAX_RETRIES = 0
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def test_a_csv_list_is_previewed_then_imported_and_its_rows_become_ready(live_server, project, member, owner, eager_fetching, screens_dir):
    routes = {f"/photos/{n}.jpg": make_jpeg(48 + n, 36) for n in range(4)}
    routes["/photos/gone.html"] = Answer(b"<html>moved</html>", status=404)
    with file_server(routes) as server:
        lines = ["url,name"] + [f"{server.url}/photos/{n}.jpg,North gate {n + 1}" for n in range(4)]
        lines += [f"{server.url}/photos/gone.html,Gone", "ftp://files.example.com/x.jpg,Old server"]
        with chromium_page() as page:
            log_in(page, live_server, member)
            page.goto(live_server.url + reverse("assets:list", args=[project.pk]))
            page.locator(".page-header").get_by_role("link", name="Add Assets").click()
            page.wait_for_selector("#drawer-root .panel-body")
            page.locator("label.choice", has_text="Image").click()
            page.locator("label.choice", has_text="CSV file of URLs").click()
            page.fill("#id_view_name", "North gate, camera 2")
            page.fill("#id_capture_date", "2026-11-20")
            page.screenshot(path=screens_dir / "import-panel.png")
            page.locator("[data-continue]").click()
            page.wait_for_selector("#import-card")
            page.set_input_files("#id_list_file", files=[{"name": "north-gate.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode()}])
            page.get_by_role("button", name="Preview the list").click()
            page.wait_for_selector(".problems-table")
            assert "Not an http or https URL (ftp://)" in page.locator(".problems-table").inner_text()
            assert page.locator(".preview-table tbody tr").count() == 5
            page.screenshot(path=screens_dir / "import-preview.png", full_page=True)

            page.get_by_role("button", name="Import only the 5 good rows").click()
            page.wait_for_selector("#file-rows tr")
            page.wait_for_function("document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 4", timeout=30_000)
            failed = page.locator('#file-rows tr[data-status="upload_error"]')
            # textContent: rows out of view are not rendered (content-visibility), so their innerText is empty.
            assert failed.text_content().count("HTTP 404") == 1
            page.screenshot(path=screens_dir / "import-session.png", full_page=True)
    assert Asset.objects.filter(project=project, status=Asset.Status.READY).count() == 4


def test_the_storage_integrations_page(live_server, organization, owner, screens_dir):
    with chromium_page() as page:
        log_in(page, live_server, owner)
        page.goto(live_server.url + reverse("projects:members", args=[organization.pk]))
        page.get_by_role("link", name="Storage integrations").click()
        page.wait_for_selector("text=Add a bucket")
        page.fill("#id_name", "Survey bucket")
        page.fill("#id_endpoint_url", "http://169.254.169.254")
        page.fill("#id_bucket", "survey")
        page.fill("#id_access_key_id", "AKIAEXAMPLE")
        page.fill("#id_secret_access_key", "secret")
        page.get_by_role("button", name="Save and validate").click()
        page.wait_for_selector(".field.has-error")
        assert "does not fetch from this address" in page.locator(".field.has-error").inner_text()
        page.screenshot(path=screens_dir / "storage-integrations.png", full_page=True)
