"""Forms submitted through boosted navigation show their errors (answered with 422) instead of nothing."""

import pytest
from django.urls import reverse

from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("served_static"), skip_without_chromium]


def test_a_batch_without_a_name_shows_why_and_creates_nothing(live_server, owner, project):
    with chromium_page() as page:
        log_in(page, live_server, owner)
        page.goto(live_server.url + reverse("assets:batches", args=[project.pk]))
        page.get_by_role("button", name="Create batch").click()
        error = page.locator(".field.has-error .errors")
        error.wait_for()
        assert "required" in error.inner_text()
        assert page.locator("text=No batches yet").is_visible()


@pytest.mark.parametrize("close", ["Escape", "Cancel", "×", "backdrop"])
def test_the_add_assets_drawer_closes_and_gives_the_page_back(live_server, member, project, close):
    with chromium_page() as page:
        log_in(page, live_server, member)
        page.goto(live_server.url + reverse("assets:list", args=[project.pk]))
        page.locator(".page-header").get_by_role("link", name="Add Assets").click()
        page.wait_for_selector("#drawer-root .panel-body")

        if close == "Escape":
            page.keyboard.press("Escape")
        elif close == "backdrop":
            page.mouse.click(40, 400)  # the dimmed page beside the panel
        else:
            page.locator(".panel-body").get_by_role("link", name="Close" if close == "×" else close, exact=True).click()

        page.locator("#drawer-root .panel-body").wait_for(state="detached")
        # No backdrop left over the page: its links take clicks again.
        assert page.locator("#drawer-root").is_hidden()
        page.locator("nav.tabs a", has_text="Uploads").click()
        page.wait_for_url("**/uploads/")
