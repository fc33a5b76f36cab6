"""The main screens in real Chromium: log in, the projects list, a project's Assets and Uploads tabs.

Screenshots land in test-results/screens/ (login, projects, assets, uploads).
"""

import os
import re

import pytest
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

# What an unstyled button looks like in Chromium: no background, or the user agent's grey.
UNSTYLED_BACKGROUNDS = {"rgba(0, 0, 0, 0)", "transparent", "rgb(239, 239, 239)", "rgb(240, 240, 240)"}


class _StaticAsInProduction(LiveServer):
    """pytest-django's live server, serving static files the way production does.

    By default the live server answers /static/ through Django's StaticFilesHandler, which looks
    files up in their sources and knows nothing of the hashed names the manifest storage puts in
    pages, so every stylesheet would 404. Here whitenoise serves them from STATIC_ROOT (collected
    by `make setup`), as under gunicorn.
    """

    def __init__(self, addr: str):
        super().__init__(addr, start=False)
        self.thread.static_handler = lambda handler: handler
        self.start()


@pytest.fixture(scope="module")
def live_server(request, django_db_setup):
    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = _StaticAsInProduction(addr)
    yield server
    server.stop()


def _log_in(page, live_server, user) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_it_logs_in_and_opens_the_projects_assets_and_uploads(live_server, project, owner, screens_dir, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(live_server.url + reverse("login"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.screenshot(path=screens_dir / "login.png", full_page=True)

    _log_in(page, live_server, owner)
    expect(page).to_have_url(live_server.url + reverse("projects:list"))
    expect(page.get_by_role("heading", name="Acme Vision")).to_be_visible()
    project_card = page.get_by_role("link", name=re.compile("Street scenes"))
    expect(project_card).to_be_visible()
    page.screenshot(path=screens_dir / "projects.png", full_page=True)

    project_card.click()
    expect(page).to_have_url(live_server.url + reverse("assets:list", args=[project.pk]))
    expect(page.get_by_role("heading", name="Street scenes")).to_be_visible()
    expect(page.get_by_text("No assets in this project yet")).to_be_visible()
    page.screenshot(path=screens_dir / "assets.png", full_page=True)

    page.get_by_role("navigation", name="Project").get_by_role("link", name="Uploads").click()
    expect(page).to_have_url(live_server.url + reverse("uploads:list", args=[project.pk]))
    expect(page.get_by_text("No uploads yet")).to_be_visible()
    page.screenshot(path=screens_dir / "uploads.png", full_page=True)

    for name in ("login", "projects", "assets", "uploads"):
        assert (screens_dir / f"{name}.png").stat().st_size > 5_000


def test_a_wrong_password_keeps_the_person_on_the_login_page(live_server, owner, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", owner.username)
    page.fill("#id_password", "not the password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_text("That username and password do not match an account.")).to_be_visible()
    assert page.url.startswith(live_server.url + reverse("login"))


def test_pages_load_their_stylesheet_from_the_collected_static_files(live_server, project, owner, browser_page):
    page = browser_page
    page.goto(live_server.url + reverse("login"))

    href = page.locator("link[rel=stylesheet]").get_attribute("href")
    assert re.fullmatch(r"/static/dist/styles\.[0-9a-f]{12}\.css", href), href
    background = page.get_by_role("button", name="Log in").evaluate("button => getComputedStyle(button).backgroundColor")
    assert background not in UNSTYLED_BACKGROUNDS
    accent = page.evaluate("() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert accent, "the portal's stylesheet defines --accent"

    # A page behind the login too: the header is laid out by the stylesheet, not the browser's defaults.
    _log_in(page, live_server, owner)
    page.wait_for_url(live_server.url + reverse("projects:list"))
    topbar_display = page.locator("header.topbar .topbar-inner").evaluate("el => getComputedStyle(el).display")
    assert topbar_display == "flex"
