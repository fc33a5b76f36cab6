"""Who is calling: every request carries an API key (`x-api-key`); all but /login also a bearer token."""

from django.http import HttpRequest

from accounts import services
from accounts.models import ApiKey
from api.errors import KeyRefused, TokenRefused


class ApiKeyOnly:
    """/login: an active API key is enough. `request.auth` is the key."""

    def __call__(self, request: HttpRequest) -> ApiKey:
        key = services.api_key_for_secret(request.headers.get("x-api-key", "").strip())
        if key is None:
            raise KeyRefused
        request.api_key = key
        return key


class ApiKeyAndToken(ApiKeyOnly):
    """Everything else: the key and a bearer token issued with it. `request.auth` is the user."""

    def __call__(self, request: HttpRequest):
        key = super().__call__(request)
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            raise TokenRefused
        user = services.api_token_user(token=token.strip(), key=key)
        if user is None:
            raise TokenRefused
        return user
