"""In real Chromium: a manager downloads a session's report from the Uploads tab and from the session page; the file
is the CSV a spreadsheet opens, one row per file. Screenshots land in test-results/screens/."""

import csv
import io

import pytest
from django.urls import reverse

from assets.models import Asset
from tests.e2e.test_screens import _log_in, live_server  # noqa: F401 (fixture: static files served as in production)
from tests.helpers import make_asset

pytestmark = pytest.mark.e2e


def test_a_manager_downloads_the_report_of_a_session(live_server, project, manager, upload_session, screens_dir, browser_page):
    from playwright.sync_api import expect

    for n in range(12):
        failed = n % 5 == 4
        make_asset(project, upload_session=upload_session, name=f"north-gate-{n:04d}.jpg", size=150_000 + n, sha256=f"{n:064x}",
                   status=Asset.Status.UPLOAD_ERROR if failed else Asset.Status.READY,
                   error_reason="The image is truncated: its last bytes are missing." if failed else "")
    page = browser_page
    _log_in(page, live_server, manager)
    page.goto(live_server.url + reverse("uploads:list", args=[project.pk]))
    page.screenshot(path=screens_dir / "uploads-tab-report.png", full_page=True)

    with page.expect_download() as from_tab:
        page.get_by_role("link", name=f"Download the report of {upload_session.view_name} (CSV)").click()
    page.get_by_role("link", name=upload_session.view_name, exact=True).click()
    expect(page.get_by_role("link", name="Report (CSV)")).to_be_visible()
    page.screenshot(path=screens_dir / "session-report-link.png")
    with page.expect_download() as from_session:
        page.get_by_role("link", name="Report (CSV)").click()

    for download in (from_tab.value, from_session.value):
        assert download.suggested_filename == "north-gate-camera-2-2026-11-20-report.csv"
        with open(download.path(), "rb") as saved:
            rows = list(csv.reader(io.StringIO(saved.read().decode("utf-8-sig"))))
        assert rows[0] == ["File name", "Size (bytes)", "SHA-256", "Status", "Reason", "Asset id"]
        assert [row[0] for row in rows[1:]] == [f"north-gate-{n:04d}.jpg" for n in range(12)]
        assert [row[3] for row in rows[1:]].count("Upload Error") == 2
