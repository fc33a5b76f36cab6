"""Browser tests: headless Debian Chromium driven by Playwright against pytest-django's live server."""

import os
from pathlib import Path

import pytest
from django.db import connections
from django.conf import settings

from tests.e2e.browser import launch_watched

# Playwright's sync API runs an event loop in this thread; fixtures and tests still use the ORM synchronously.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_PATH = "/usr/bin/chromium"


@pytest.fixture
def screens_dir() -> Path:
    """Where browser tests leave their screenshots: test-results/screens/ in the checkout."""
    folder = Path(settings.BASE_DIR) / "test-results" / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser_page():
    """A fresh Chromium page; the test fails if a script on the page threw, a static file did not load or the
    Content-Security-Policy refused something.

    Request it after the fixtures that write to the database: ORM calls made while Playwright's
    event loop runs get a connection of their own that nobody closes.
    """
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.skip(f"No Chromium at {CHROMIUM_PATH}: `apt-get install chromium` enables the browser tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        violations: list[str] = []
        browser = launch_watched(playwright, violations)
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.set_default_timeout(15_000)
            page = context.new_page()
            script_errors: list[str] = []
            broken_static: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            page.on(
                "response",
                lambda response: broken_static.append(f"{response.status} {response.url}")
                if "/static/" in response.url and response.status >= 400
                else None,
            )
            yield page
            assert not script_errors, f"JavaScript errors on the page: {script_errors}"
            assert not broken_static, f"Static files that did not load: {broken_static}"
            assert not violations, f"Content-Security-Policy violations: {violations}"
        finally:
            browser.close()
            # Connections the test opened while Playwright's loop ran live in that loop's context: close them here.
            connections.close_all()
