"""Headless Debian Chromium driven by Playwright, for the browser tests."""

import os
import shutil
from contextlib import contextmanager

import pytest
from django.db import connections
from django.urls import reverse

from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; the tests still use the ORM synchronously.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]

skip_without_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM),
    reason=f"No Chromium at {CHROMIUM}: `apt-get install chromium` (or set CHROMIUM_PATH) to run the browser tests.",
)


@contextmanager
def chromium_page(viewport=(1360, 900)):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.set_default_timeout(30_000)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()
            # Connections opened while Playwright's loop ran live in that loop's context: close them here.
            connections.close_all()


def log_in(page, live_server, user, password: str = PASSWORD) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")


@pytest.fixture
def served_static(settings):
    """The test server serves static files from their sources (the finders), so pages use unhashed names."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
