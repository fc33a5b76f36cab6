"""Two web processes behind nginx (scripts/stack.py) answer as one portal: a login made on one is honoured by the
other, and the login throttles (django-axes in the database, the API's in Redis) count failures wherever they land."""

import pytest
import requests

from accounts import services as accounts
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

THROTTLES = {"LOGIN_MAX_FAILURES": "3", "API_LOGIN_MAX_FAILURES": "3"}


def _login_form(browser: requests.Session, url: str, username: str, password: str) -> requests.Response:
    page = f"{url}/accounts/login/"
    browser.get(page, timeout=30).raise_for_status()
    return browser.post(
        page,
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"], "username": username, "password": password},
        headers={"Referer": page},
        allow_redirects=False,
        timeout=30,
    )


def _answered_by(stack, since: int) -> set[str]:
    return {name for row in stack.served()[since:] for name in row["web"]}


def test_a_login_on_one_web_process_holds_on_the_other_and_throttles_count_across_both(
    production_stack, stack_member, outsider
):
    _, secret = accounts.api_key_create(user=stack_member, name="stack test")
    with production_stack(web=2, workers=1, beat=False, env=THROTTLES) as stack:
        browser = requests.Session()
        assert _login_form(browser, stack.url, stack_member.username, PASSWORD).status_code == 302
        before = len(stack.served())
        pages = [browser.get(f"{stack.url}/projects/", allow_redirects=False, timeout=30) for _ in range(6)]
        assert [page.status_code for page in pages] == [200] * 6, "every page read the session, whichever process served it"
        assert _answered_by(stack, before) == {"web-1", "web-2"}

        # Three wrong passwords for one username, spread over both processes, pause that username's logins everywhere.
        before = len(stack.served())
        wrong = [_login_form(requests.Session(), stack.url, "eve", "wrong password").status_code for _ in range(3)]
        assert wrong[:2] == [200, 200]
        refused = _login_form(requests.Session(), stack.url, "eve", PASSWORD)
        assert refused.status_code == 429 and "paused" in refused.text.lower()
        assert _answered_by(stack, before) == {"web-1", "web-2"}

        # The API's throttle (in the shared cache): three failures with one key, then even the right password waits.
        before = len(stack.served())
        login = f"{stack.url}/api/v1/login"
        failures = [
            requests.post(login, json={"username": stack_member.username, "password": "nope"}, headers={"x-api-key": secret}, timeout=30)
            for _ in range(3)
        ]
        assert [failure.status_code for failure in failures][:2] == [401, 401]
        locked = requests.post(login, json={"username": stack_member.username, "password": PASSWORD}, headers={"x-api-key": secret}, timeout=30)
        assert locked.status_code == 429, locked.text
        assert _answered_by(stack, before) == {"web-1", "web-2"}
