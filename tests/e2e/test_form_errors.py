"""Forms submitted through boosted navigation show their errors (answered with 422) instead of nothing."""

import pytest
from django.urls import reverse

from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("served_static"), skip_without_chromium]


def test_a_batch_without_a_name_shows_why_and_creates_nothing(live_server, owner, project):
    with chromium_page() as page:
        log_in(page, live_server, owner)
        page.goto(live_server.url + reverse("projects:batches", args=[project.pk]))
        page.get_by_role("button", name="Create batch").click()
        error = page.locator(".field.has-error .errors")
        error.wait_for()
        assert "required" in error.inner_text()
        assert page.locator("text=No batches yet").is_visible()
