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


# Every Content-Security-Policy violation in a document is logged, so the test that caused it fails.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} refused ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
});
"""


def _violation(text: str) -> bool:
    # Chromium's own report ("Refused to ... violates the following Content Security Policy directive") also covers workers.
    return text.startswith("CSP violation:") or "Content Security Policy" in text


def launch_watched(playwright, violations: list[str]):
    """Chromium whose every context, including those a test opens for a second person, records CSP violations."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    new_context = browser.new_context

    def watched_context(**options):
        context = new_context(**options)
        context.add_init_script(_REPORT_VIOLATIONS)
        context.on("console", lambda message: violations.append(message.text) if _violation(message.text) else None)
        return context

    browser.new_context = watched_context
    return browser


@contextmanager
def chromium_page(viewport=(1360, 900)):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        violations: list[str] = []
        browser = launch_watched(playwright, violations)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.set_default_timeout(30_000)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert not errors, f"JavaScript errors on the page: {errors}"
            assert not violations, f"Content-Security-Policy violations: {violations}"
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
