"""API keys, bearer tokens and the API login (seed 001: `x-api-key` on every call, a token from /login)."""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import authenticate
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts import login_throttle
from accounts.models import ApiKey
from projects.refusals import Refused

# The salt tokens were first signed with (when the API lived in portal/api/): issued tokens stay valid.
_TOKEN_SALT = "portal.api.token.v1"


class LoginRefused(Refused):
    """Wrong username or password, or a user the key does not belong to."""

    status = 401


class LoginThrottled(Refused):
    """Too many failed logins with this key for this username: wait `retry_after` seconds."""

    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed logins; try again in {retry_after} seconds.")
        self.retry_after = retry_after


def api_key_create(*, user, name: str) -> tuple[ApiKey, str]:
    """Creates a key for `user`; returns it with its secret, which is never shown again."""
    secret = ApiKey.new_secret()
    key = ApiKey.objects.create(
        user=user,
        name=name.strip()[:100] or "API key",
        prefix=secret[: len(ApiKey.SECRET_PREFIX) + 6],
        key_hash=ApiKey.hash_secret(secret),
    )
    return key, secret


def api_key_revoke(*, key: ApiKey) -> bool:
    """Revokes a key; its tokens stop working too. Returns whether this call revoked it."""
    return key.revoke()


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key of an active user with this secret (recording its use), or None."""
    if not secret or len(secret) > 200:
        return None
    key = (
        ApiKey.objects.active()
        .select_related("user")
        .filter(key_hash=ApiKey.hash_secret(secret), user__is_active=True)
        .first()
    )
    if key is not None:
        key.touch()
    return key


def api_token_issue(*, key: ApiKey) -> str:
    """A bearer token for the key's user, valid API_TOKEN_EXPIRY_SECONDS, only together with this key.

    It carries the key and a digest of the user's password hash: revoking the key or changing the
    password ends it early.
    """
    return signing.TimestampSigner(salt=_TOKEN_SALT).sign_object({"k": key.pk, "a": _auth_digest(key.user)})


def api_token_user(*, token: str, key: ApiKey):
    """The user a token was issued to, when it is unexpired, issued with `key`, and still valid; else None."""
    if not token or len(token) > 500:
        return None
    try:
        payload = signing.TimestampSigner(salt=_TOKEN_SALT).unsign_object(token, max_age=settings.API_TOKEN_EXPIRY_SECONDS)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or payload.get("k") != key.pk:
        return None
    if not constant_time_compare(str(payload.get("a", "")), _auth_digest(key.user)):
        return None
    return key.user


def _auth_digest(user) -> str:
    return user.get_session_auth_hash()[:20]


def _throttle_key(key: ApiKey, username: str) -> str:
    who = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:24]
    return f"api-login-failures:{key.key_hash[:24]}:{who}"


def api_login(*, key: ApiKey, username: str, password: str, request: HttpRequest) -> str:
    """Checks the user's password and that `key` is theirs; returns a bearer token.

    Failed attempts are counted per key and username; after API_LOGIN_MAX_FAILURES within
    API_LOGIN_LOCKOUT_SECONDS the pair is locked out until that window ends (LoginThrottled).
    They also count towards the web login's lock of the username and address (django-axes), which refuses too.
    """
    counter = _throttle_key(key, username)
    locked_until = cache.get(f"{counter}:until")
    if locked_until is not None and locked_until > time.time():
        raise LoginThrottled(max(1, math.ceil(locked_until - time.time())))
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        ends = login_throttle.login_lockout_ends(request, {"username": username})
        raise LoginThrottled(max(1, math.ceil((ends - timezone.now()).total_seconds())))
    if user is None or user.pk != key.user_id:
        _count_failure(counter)
        raise LoginRefused("Wrong username or password.")
    cache.delete_many([counter, f"{counter}:until"])
    key.user = user
    return api_token_issue(key=key)


def _count_failure(counter: str) -> None:
    window = settings.API_LOGIN_LOCKOUT_SECONDS
    cache.add(counter, 0, timeout=window)
    try:
        failures = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, failures := 1, timeout=window)
    if failures >= settings.API_LOGIN_MAX_FAILURES:
        cache.set(f"{counter}:until", time.time() + window, timeout=window)

