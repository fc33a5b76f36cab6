"""Daily upload quotas (files and bytes, per organization and per person, counted since 00:00 UTC) hold at every door
that adds files: the browser's bulk registration, the API's single registration and URL imports; and a script
cannot hold more files Uploading through the API than a session holds (docs/SECURITY.md)."""

import hashlib
import json
from datetime import UTC, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from assets.models import Asset
from tests.api import Api
from tests.helpers import bulk_assets, make_asset, text_of
from tests.imports_support import open_session
from uploads import imports
from uploads.models import UploadSession, UrlImport
from uploads.services import UploadRefused, upload_session_register

S = Asset.Status


def _file(name: str, size: int = 2048) -> dict:
    return {"name": name, "size": size, "contentType": "image/jpeg", "sha256": hashlib.sha256(name.encode()).hexdigest()}


def _register(client, session, *files) -> tuple[int, dict]:
    url = reverse("uploads:register", args=[session.project_id, session.pk])
    response = client.post(url, data=json.dumps({"files": list(files)}), content_type="application/json")
    return response.status_code, response.json()


def _plain(message: str) -> str:
    return message.replace("\xa0", " ")  # filesizeformat keeps a number and its unit together


def _midnight_utc():
    return timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# --- the browser's bulk registration -------------------------------------------------------------------


def test_a_drop_past_the_organizations_daily_file_quota_is_refused_whole(settings, member_client, upload_session, project, owner):
    settings.UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY = 5
    bulk_assets(project, 3, uploaded_by=owner)

    status, body = _register(member_client, upload_session, _file("a.jpg"), _file("b.jpg"), _file("c.jpg"))

    assert status == 429
    assert "Your organization may add 5 files a day; 3 were added today and these are 3 more." in body["error"]
    assert "Nothing was added" in body["error"] and "resets at midnight UTC, in " in body["error"]
    assert not Asset.objects.filter(upload_session=upload_session).exists()


def test_a_drop_that_fits_the_rest_of_the_daily_quota_is_registered(settings, member_client, upload_session, project, owner):
    settings.UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY = 5
    bulk_assets(project, 3, uploaded_by=owner)

    status, body = _register(member_client, upload_session, _file("a.jpg"), _file("b.jpg"))

    assert status == 200
    assert [entry["outcome"] for entry in body["files"]] == ["upload", "upload"]


def test_files_registered_before_midnight_utc_do_not_count(settings, member_client, upload_session, project, member):
    settings.UPLOAD_QUOTA_FILES_PER_USER_PER_DAY = 5
    bulk_assets(project, 5, uploaded_by=member, created_at=_midnight_utc() - timedelta(minutes=1))

    status, body = _register(member_client, upload_session, _file("a.jpg"))

    assert status == 200 and body["files"][0]["outcome"] == "upload"


def test_a_drop_past_a_persons_daily_bytes_quota_is_refused(settings, member_client, upload_session, project, member):
    settings.UPLOAD_QUOTA_BYTES_PER_USER_PER_DAY = 10_000
    make_asset(project, uploaded_by=member, size=6_000)

    status, body = _register(member_client, upload_session, _file("a.jpg", size=5_000))

    assert status == 429
    assert "You may add 9.8 KB a day; 5.9 KB were added today and these are 4.9 KB more." in _plain(body["error"])
    assert not Asset.objects.filter(upload_session=upload_session).exists()


def test_another_persons_files_do_not_count_against_your_own_quota(settings, member_client, upload_session, project, owner):
    settings.UPLOAD_QUOTA_FILES_PER_USER_PER_DAY = 2
    settings.UPLOAD_QUOTA_BYTES_PER_USER_PER_DAY = 10_000
    bulk_assets(project, 5, uploaded_by=owner, size=50_000)

    status, body = _register(member_client, upload_session, _file("a.jpg"), _file("b.jpg"))

    assert status == 200 and [entry["outcome"] for entry in body["files"]] == ["upload", "upload"]


def test_a_quota_of_zero_is_no_quota(settings, member_client, upload_session, project, member):
    settings.UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY = settings.UPLOAD_QUOTA_FILES_PER_USER_PER_DAY = 0
    settings.UPLOAD_QUOTA_BYTES_PER_ORGANIZATION_PER_DAY = settings.UPLOAD_QUOTA_BYTES_PER_USER_PER_DAY = 0
    bulk_assets(project, 20, uploaded_by=member, size=10**12)

    status, body = _register(member_client, upload_session, _file("a.jpg"))

    assert status == 200 and body["files"][0]["outcome"] == "upload"


def test_retrying_a_failed_file_adds_nothing_to_the_quota(settings, upload_session, member):
    [first] = upload_session_register(session=upload_session, user=member, files=[_file("a.jpg")])
    first.asset.mark_upload_error("The transfer failed.")
    settings.UPLOAD_QUOTA_FILES_PER_USER_PER_DAY = 1

    [again] = upload_session_register(session=upload_session, user=member, files=[_file("a.jpg")])

    assert again.outcome == "upload" and again.asset.pk == first.asset.pk
    with pytest.raises(UploadRefused) as refused:
        upload_session_register(session=upload_session, user=member, files=[_file("b.jpg")])
    assert refused.value.status == 429


# --- the API's single registration ---------------------------------------------------------------------


def test_an_api_registration_past_the_organizations_daily_quota_answers_429(settings, owner, project):
    api = Api(owner)
    settings.UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY = 2
    bulk_assets(project, 2, uploaded_by=owner)

    response = api.register(projectId=str(project.pk))

    assert response.status_code == 429
    assert "Your organization may add 2 files a day; 2 were added today and these are 1 more." in response.json()["message"]
    assert Asset.objects.count() == 2


def test_an_api_registration_past_the_daily_bytes_quota_answers_429(settings, owner, project):
    api = Api(owner)
    settings.UPLOAD_QUOTA_BYTES_PER_ORGANIZATION_PER_DAY = 1_000_000

    response = api.register(projectId=str(project.pk), size=1_000_001)

    assert response.status_code == 429
    assert "may add 976.6 KB a day; 0 bytes were added today and these are 976.6 KB more" in _plain(response.json()["message"])


def test_a_script_may_hold_only_a_sessions_worth_of_files_waiting_for_their_bytes(settings, owner, project):
    api = Api(owner)
    settings.UPLOAD_SESSION_MAX_FILES = 2
    waiting = [api.register(projectId=str(project.pk), name=f"gate {n}").json()["id"] for n in (1, 2)]

    refused = api.register(projectId=str(project.pk), name="gate 3")

    assert refused.status_code == 429
    assert "You have 2 files registered through the API whose bytes have not arrived; at most 2 may wait" in (
        refused.json()["message"]
    )
    Asset.objects.filter(pk=waiting[0]).update(status=S.UPLOADED)
    assert api.register(projectId=str(project.pk), name="gate 3").status_code == 201


def test_files_waiting_in_a_browser_session_do_not_count_against_the_api_cap(settings, owner, project):
    api = Api(owner)
    settings.UPLOAD_SESSION_MAX_FILES = 2
    session = open_session(project, owner, UploadSession.Source.DIRECT)
    upload_session_register(session=session, user=owner, files=[_file("a.jpg"), _file("b.jpg")])

    assert api.register(projectId=str(project.pk)).status_code == 201


# --- URL imports ---------------------------------------------------------------------------------------


@pytest.fixture
def csv_session(project, member):
    return open_session(project, member, UploadSession.Source.CSV)


@pytest.fixture
def no_fetching(monkeypatch) -> list[str]:
    queued: list[str] = []
    monkeypatch.setattr(imports, "_queue_fetches", queued.extend)
    return queued


def _preview(session, rows: int) -> UrlImport:
    data = "".join(f"https://cdn.example.com/{n}.jpg,Gate {n}\n" for n in range(rows))
    return imports.url_import_preview(session=session, user=session.created_by, uploaded=SimpleUploadedFile("gate.csv", data.encode()))


def test_a_url_import_past_a_persons_daily_file_quota_imports_nothing_and_says_why(settings, member_client, csv_session, no_fetching):
    settings.UPLOAD_QUOTA_FILES_PER_USER_PER_DAY = 2
    url_import = _preview(csv_session, 3)
    start = reverse("uploads:import_start", args=[csv_session.project_id, csv_session.pk, url_import.pk])

    response = member_client.post(start, follow=True)

    assert "You may add 2 files a day; 0 were added today and these are 3 more." in text_of(response.content)
    assert not Asset.objects.exists() and no_fetching == []
    url_import.refresh_from_db()
    assert url_import.status == UrlImport.Status.PREVIEW


def test_a_url_import_is_refused_once_the_bytes_quota_is_used_up(settings, csv_session, project, member, no_fetching):
    settings.UPLOAD_QUOTA_BYTES_PER_ORGANIZATION_PER_DAY = 1_000
    make_asset(project, uploaded_by=member, size=1_001)
    url_import = _preview(csv_session, 1)

    with pytest.raises(UploadRefused) as refused:
        imports.url_import_start(url_import=url_import, user=member)

    assert refused.value.status == 429
    assert "Your organization may add 1000 bytes a day; 1001 bytes were added today" in _plain(refused.value.message)
    assert Asset.objects.count() == 1
