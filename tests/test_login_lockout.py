"""Logins locked out after repeated wrong passwords (django-axes): per username, per client address, web and admin."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.db.models import F
from django.test import Client
from django.urls import reverse

from accounts import services
from tests.api import BASE
from tests.conftest import PASSWORD
from tests.helpers import text_of

LOGIN_URL = reverse("login")
ADMIN_LOGIN_URL = reverse("admin:login")
LOCKED = "Logging in is paused: too many wrong passwords were tried for this username or from your network."


def _wrong(client: Client, username: str, times: int, url: str = LOGIN_URL, **extra):
    return [client.post(url, {"username": username, "password": "not the password"}, **extra) for _ in range(times)][-1]


def _lockout_over(settings) -> None:
    """Time travel: every recorded failure happened one lock-out length ago."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS))


def test_it_locks_out_a_username_after_20_wrong_passwords_with_a_clear_message(client, owner, settings):
    assert settings.LOGIN_MAX_FAILURES == 20
    nineteenth = _wrong(client, owner.username, 19)
    assert nineteenth.status_code == 200
    assert LOCKED not in text_of(nineteenth.content)

    twentieth = _wrong(client, owner.username, 1)

    assert twentieth.status_code == 429
    text = text_of(twentieth.content)
    assert LOCKED in text
    assert "Try again after" in text and "(in 15 minutes)" in text
    assert "even the right password is refused" in text
    assert twentieth.templates[0].name == "registration/login.html"  # the portal's own page, with its form
    assert 'name="password"' in twentieth.content.decode()


def test_the_right_password_is_refused_until_the_lockout_ends(client, owner, settings):
    _wrong(client, owner.username, 20)

    refused = client.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD})

    assert refused.status_code == 429
    assert LOCKED in text_of(refused.content)
    assert SESSION_KEY not in client.session
    _lockout_over(settings)
    logged_in = client.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD})
    assert logged_in.status_code == 302
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_the_lockout_holds_for_the_username_from_any_address(owner):
    _wrong(Client(REMOTE_ADDR="198.51.100.7"), owner.username, 20)

    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    refused = elsewhere.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD})

    assert refused.status_code == 429
    assert SESSION_KEY not in elsewhere.session


def test_a_locked_username_does_not_lock_other_people(client, owner, member):
    _wrong(client, owner.username, 20)

    response = client.post(LOGIN_URL, {"username": member.username, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(member.pk)


def test_it_locks_out_admin_logins_the_same_way(client, owner, settings):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    nineteenth = _wrong(client, owner.username, 19, url=ADMIN_LOGIN_URL)
    assert nineteenth.status_code == 200

    twentieth = _wrong(client, owner.username, 1, url=ADMIN_LOGIN_URL)
    refused = client.post(ADMIN_LOGIN_URL, {"username": owner.username, "password": PASSWORD})

    assert twentieth.status_code == 429
    assert LOCKED in text_of(twentieth.content)
    assert refused.status_code == 429
    assert SESSION_KEY not in client.session
    _lockout_over(settings)
    assert client.post(ADMIN_LOGIN_URL, {"username": owner.username, "password": PASSWORD}).status_code == 302
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_web_and_admin_failures_count_together(client, owner):
    _wrong(client, owner.username, 10, url=ADMIN_LOGIN_URL)
    _wrong(client, owner.username, 9)

    assert _wrong(client, owner.username, 1).status_code == 429


def test_it_locks_out_an_address_trying_many_usernames(owner, settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 30
    sprayer = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(29):
        assert sprayer.post(LOGIN_URL, {"username": f"guess{n}", "password": "Summer2026!"}).status_code == 200

    last = sprayer.post(LOGIN_URL, {"username": "guess29", "password": "Summer2026!"})
    refused = sprayer.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD})

    assert last.status_code == 429
    assert LOCKED in text_of(last.content)
    assert refused.status_code == 429
    assert SESSION_KEY not in sprayer.session
    # The owner, elsewhere, is not locked: no username got near its own limit.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert elsewhere.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD}).status_code == 302


def test_a_forged_forwarded_for_header_is_ignored_without_a_trusted_proxy(owner, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.LOGIN_MAX_FAILURES_PER_IP = 5
    sprayer = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(5):
        sprayer.post(LOGIN_URL, {"username": f"guess{n}", "password": "x"}, headers={"x-forwarded-for": f"10.0.0.{n}"})

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    assert sprayer.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD}).status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_MAX_FAILURES_PER_IP = 5
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    # The client wrote a first entry itself; the proxy appended the address it really came from.
    for n in range(5):
        proxy.post(LOGIN_URL, {"username": f"guess{n}", "password": "x"}, headers={"x-forwarded-for": f"1.2.3.{n}, 198.51.100.7"})

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    other_client = {"x-forwarded-for": "203.0.113.9"}
    assert proxy.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD}, headers=other_client).status_code == 302


def test_failures_further_apart_than_the_lockout_stop_counting(client, owner, settings):
    _wrong(client, owner.username, 19)
    _lockout_over(settings)

    assert _wrong(client, owner.username, 1).status_code == 200


def test_a_username_locked_on_the_web_is_refused_by_the_api_login_until_its_lock_ends(owner):
    secret = services.api_key_create(user=owner, name="nightly import")[1]
    _wrong(Client(REMOTE_ADDR="198.51.100.7"), owner.username, 20)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=600))  # 5 of 15 minutes left

    response = Client().post(
        f"{BASE}/login", {"username": owner.username, "password": PASSWORD}, content_type="application/json", headers={"x-api-key": secret}
    )

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 300
    assert "Too many failed logins" in response.json()["message"]
