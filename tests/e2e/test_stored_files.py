"""A stored file opened in Chromium: whatever its name and content, no script of the uploader's runs (docs/SECURITY.md)."""

import pytest

from tests.test_storage_attacks import png_with_script, processed  # noqa: F401 (fixture)
from tests.test_upload_complete import _register, _send
from uploads.services import transfer_instructions

pytestmark = pytest.mark.e2e


def test_in_chromium_a_png_named_html_downloads_and_runs_no_script(live_server, upload_session, processed, client, browser_page):
    data = png_with_script()
    asset = _register(upload_session, "evil.html", data, "")
    _send(client, transfer_instructions(asset)["put"], data)
    processed(upload_session, asset)
    page = browser_page
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(live_server.url + "/healthz")

    with page.expect_download() as download:
        page.evaluate("url => { window.location.href = url }", live_server.url + asset.file_url())
    page.wait_for_load_state()

    assert download.value.suggested_filename == "evil.html"
    assert "pwned" not in messages and page.title() != "pwned"
