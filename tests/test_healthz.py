"""GET /healthz: 200 only when the database, the object storage and the task broker answer."""

import pytest
from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from portal import views

PARTS = ["database", "storage", "broker"]


def _fail(part: str):
    def check() -> None:
        raise ConnectionError(f"{part} is down")

    return check


@pytest.mark.django_db
def test_it_answers_200_with_every_check_when_all_parts_answer(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_it_needs_no_login(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert "Location" not in response


@pytest.mark.django_db
def test_it_is_never_cached(client):
    response = client.get(reverse("healthz"))

    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("failing", PARTS)
def test_it_answers_503_naming_the_part_that_fails(client, monkeypatch, failing):
    monkeypatch.setattr(views, f"_check_{failing}", _fail(failing))

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {part: ("unavailable" if part == failing else "ok") for part in PARTS}


@pytest.mark.django_db
def test_it_reports_every_failing_part_at_once(client, monkeypatch):
    monkeypatch.setattr(views, "_check_storage", _fail("storage"))
    monkeypatch.setattr(views, "_check_broker", _fail("broker"))

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "storage": "unavailable", "broker": "unavailable"}


@pytest.mark.django_db
def test_it_logs_why_a_part_failed(client, monkeypatch, caplog):
    monkeypatch.setattr(views, "_check_broker", _fail("broker"))

    with caplog.at_level("WARNING", logger="portal.views"):
        client.get(reverse("healthz"))

    assert "healthz: broker is not answering: broker is down" in caplog.text


class UnreachableStorage(FileSystemStorage):
    def exists(self, name):
        raise OSError("bucket unreachable")


@pytest.mark.django_db
def test_it_answers_503_when_the_storage_backend_itself_fails(client, settings):
    # The real storage check against a store that fails, not only a replaced check function.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.UnreachableStorage"}}

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "storage": "unavailable", "broker": "ok"}


@pytest.mark.django_db
def test_it_refuses_post(client):
    assert client.post(reverse("healthz")).status_code == 405
