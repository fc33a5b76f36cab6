"""Calling the public API from tests: the Django test client with the headers seed 001 prescribes."""

from django.test import Client

from accounts import services
from tests.conftest import PASSWORD

BASE = "/api/v1"


class Api:
    """One person's script: their API key on every request and a bearer token from /login."""

    def __init__(self, user, *, name: str = "test script"):
        self.user = user
        self.key, self.secret = services.api_key_create(user=user, name=name)
        self.client = Client()
        response = self.client.post(
            f"{BASE}/login",
            {"username": user.username, "password": PASSWORD},
            content_type="application/json",
            headers={"x-api-key": self.secret},
        )
        assert response.status_code == 200, response.content
        self.token = response.json()["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.secret, "Authorization": f"Bearer {self.token}"}

    def get(self, path: str, params: dict | None = None, **headers):
        return self.client.get(f"{BASE}{path}", params or {}, headers={**self.headers, **headers})

    def post(self, path: str, body=None, **headers):
        if body is None:
            return self.client.post(f"{BASE}{path}", headers={**self.headers, **headers})
        return self.client.post(f"{BASE}{path}", body, content_type="application/json", headers={**self.headers, **headers})

    def delete(self, path: str, **headers):
        return self.client.delete(f"{BASE}{path}", headers={**self.headers, **headers})

    def register(self, **fields):
        """POST /assets with a valid image registration, overridden by `fields`."""
        body = {"name": "gate 2", "fileName": "gate-2.jpg", "type": "image", **fields}
        return self.post("/assets", {k: v for k, v in body.items() if v is not None})
