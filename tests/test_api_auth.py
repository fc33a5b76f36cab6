"""API keys and bearer tokens: POST /api/v1/login, and what every other call needs (seed 001)."""

from unittest import mock

import pytest
from django.test import Client

from accounts import services
from accounts.models import ApiKey
from tests.api import BASE, Api
from tests.conftest import PASSWORD


@pytest.fixture
def key(owner):
    return services.api_key_create(user=owner, name="nightly import")


def _login(secret: str | None, username: str = "alice", password: str = PASSWORD):
    headers = {"x-api-key": secret} if secret is not None else {}
    return Client().post(f"{BASE}/login", {"username": username, "password": password}, content_type="application/json", headers=headers)


def test_login_returns_a_bearer_token_valid_for_an_hour(key):
    response = _login(key[1])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "bearer"
    assert body["access_token"]


def test_a_key_is_stored_hashed_and_shown_only_once(owner):
    key, secret = services.api_key_create(user=owner, name="ci")

    stored = ApiKey.objects.get(pk=key.pk)
    assert secret.startswith("aup_") and len(secret) > 40
    assert secret not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == ApiKey.hash_secret(secret)
    assert secret.startswith(stored.prefix)


def test_using_a_key_records_when_it_was_last_used(key):
    assert ApiKey.objects.get(pk=key[0].pk).last_used_at is None

    _login(key[1])

    assert ApiKey.objects.get(pk=key[0].pk).last_used_at is not None


@pytest.mark.parametrize("secret", [None, "", "aup_not-a-key-the-portal-issued"])
def test_login_without_a_valid_key_is_403(key, secret):
    response = _login(secret)

    assert response.status_code == 403
    assert "x-api-key" in response.json()["message"]


def test_a_revoked_key_is_403_and_its_tokens_stop_working(owner, project):
    api = Api(owner)
    assert api.get("/workflows").status_code == 200

    services.api_key_revoke(key=api.key)

    assert api.get("/workflows").status_code == 403
    assert _login(api.secret).status_code == 403


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("nobody", PASSWORD)])
def test_a_wrong_username_or_password_is_401(key, username, password):
    response = _login(key[1], username, password)

    assert response.status_code == 401
    assert response.json()["message"] == "Wrong username or password."


def test_a_key_works_only_for_the_person_it_belongs_to(key, member):
    assert _login(key[1], member.username, PASSWORD).status_code == 401


def test_calls_without_a_key_are_403_even_with_a_token(owner):
    api = Api(owner)

    response = Client().get(f"{BASE}/workflows", headers={"Authorization": f"Bearer {api.token}"})

    assert response.status_code == 403


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer not-a-token", "Basic YWxpY2U6eA==", "Bearer eyJrIjoxfQ:abc:def"])
def test_a_missing_or_wrong_token_is_401_with_an_empty_body(owner, authorization):
    api = Api(owner)
    headers = {"x-api-key": api.secret}
    if authorization is not None:
        headers["Authorization"] = authorization

    response = Client().get(f"{BASE}/workflows", headers=headers)

    assert response.status_code == 401
    assert response.content == b""


def test_an_expired_token_is_401_with_an_empty_body(owner, settings):
    api = Api(owner)
    issued_long_ago = mock.patch("django.core.signing.time.time", return_value=1_000_000_000.0)
    with issued_long_ago:
        old_token = services.api_token_issue(key=api.key)

    response = api.get("/workflows", Authorization=f"Bearer {old_token}")

    assert response.status_code == 401
    assert response.content == b""
    assert api.get("/workflows").status_code == 200


def test_a_token_works_only_with_the_key_it_was_issued_with(owner):
    first, second = Api(owner, name="first"), Api(owner, name="second")

    response = second.get("/workflows", Authorization=f"Bearer {first.token}")

    assert response.status_code == 401


def test_changing_the_password_ends_the_tokens(owner):
    api = Api(owner)
    owner.set_password("another long passphrase")
    owner.save()

    assert api.get("/workflows").status_code == 401


def test_an_inactive_person_cannot_use_their_key(owner):
    api = Api(owner)
    owner.is_active = False
    owner.save()

    assert api.get("/workflows").status_code == 403


def test_repeated_failed_logins_are_locked_out_with_retry_after(key, settings):
    settings.API_LOGIN_MAX_FAILURES = 3
    settings.API_LOGIN_LOCKOUT_SECONDS = 600
    for _ in range(3):
        assert _login(key[1], password="guess").status_code == 401

    locked = _login(key[1])  # even the right password waits

    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 600
    assert "Too many failed logins" in locked.json()["message"]


def test_the_lockout_is_per_key_and_username(key, owner, member, settings):
    settings.API_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        _login(key[1], password="guess")
    other_key = services.api_key_create(user=owner, name="other")[1]
    member_key = services.api_key_create(user=member, name="bob's")[1]

    assert _login(other_key).status_code == 200
    assert _login(member_key, member.username).status_code == 200


def test_a_successful_login_resets_the_failure_count(key, settings):
    settings.API_LOGIN_MAX_FAILURES = 3
    _login(key[1], password="guess")
    _login(key[1], password="guess")
    assert _login(key[1]).status_code == 200

    _login(key[1], password="guess")
    _login(key[1], password="guess")

    assert _login(key[1]).status_code == 200
