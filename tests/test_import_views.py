"""The pages of imports: the Add Assets panel offers CSV and JSON, the session page takes a list, the preview
shows rows and bad rows, confirming starts it, rows show bytes received and retry; and the storage
integrations page of an organization's admins."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets.models import Asset
from tests.helpers import table_rows, text_of
from tests.imports_support import open_session
from uploads import imports
from uploads.models import StorageIntegration, UploadSession, UrlImport, UrlImportItem


@pytest.fixture
def no_fetching(monkeypatch) -> list[str]:
    """Fetching is the worker's job (tested elsewhere): record what would be queued."""
    queued: list[str] = []
    monkeypatch.setattr(imports, "_queue_fetches", queued.extend)
    return queued


@pytest.fixture
def csv_session(project, member):
    return open_session(project, member, UploadSession.Source.CSV)


def _url(name, session, **extra):
    return reverse(f"uploads:{name}", kwargs={"project_id": session.project_id, "session_id": session.pk, **extra})


def test_the_add_assets_panel_offers_csv_and_json_lists(member_client, project):
    response = member_client.get(reverse("uploads:new", args=[project.pk]))
    page = text_of(response.content)
    assert "Direct file upload" in page and "CSV file of URLs" in page and "JSON file of URLs" in page
    response = member_client.post(
        reverse("uploads:new", args=[project.pk]),
        {"asset_type": "image", "source": "csv", "view_name": "Roof", "capture_date": "2026-11-20"},
    )
    session = UploadSession.objects.get(view_name="Roof")
    assert response.status_code == 302 and session.source == UploadSession.Source.CSV


def test_a_csv_session_page_asks_for_the_list_instead_of_files(member_client, csv_session):
    page = member_client.get(csv_session.get_absolute_url()).content.decode()
    assert "data-dropzone" not in page
    assert 'name="list_file"' in page and "Preview the list" in page
    assert _url("import_preview", csv_session) in page


def test_choosing_a_list_shows_its_preview_and_starts_nothing(member_client, csv_session, no_fetching):
    data = "url,name\nhttps://cdn.example.com/a.jpg,A\nnot a url,B\nhttps://cdn.example.com/c.jpg,C\n"
    response = member_client.post(_url("import_preview", csv_session), {"list_file": SimpleUploadedFile("gate.csv", data.encode())})
    url_import = UrlImport.objects.get(session=csv_session)
    assert response.status_code == 302 and response["Location"] == _url("import_detail", csv_session, import_id=url_import.pk)
    page = member_client.get(response["Location"])
    text = text_of(page.content)
    assert "Rows found 3" in text and "Ready to import 2" in text and "Bad rows 1" in text
    assert table_rows(page.content, table=0) == [{"Line": "3", "Reason": "Bad row Not a URL: “not a url”."}]
    assert [row["Name"] for row in table_rows(page.content, table=1)] == ["A", "C"]
    assert "Import only the 2 good rows" in text
    assert not Asset.objects.exists() and no_fetching == []


def test_confirming_imports_the_good_rows_and_the_session_page_shows_them(member_client, csv_session, no_fetching, django_capture_on_commit_callbacks):
    found = imports.url_import_preview(
        session=csv_session, user=csv_session.created_by,
        uploaded=SimpleUploadedFile("gate.csv", b"https://cdn.example.com/a.jpg,A\nftp://x/b.jpg,B\n"),
    )
    response = member_client.post(_url("import_start", csv_session, import_id=found.pk))
    assert response.status_code == 302 and response["Location"] == _url("import_detail", csv_session, import_id=found.pk)
    assert not Asset.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(_url("import_start", csv_session, import_id=found.pk), {"good_rows_only": "1"}, follow=True)
    asset = Asset.objects.get(upload_session=csv_session)
    assert no_fetching == [str(asset.pk)]
    rows = table_rows(response.content, table=1)
    assert rows[0]["Name"] == "A" and rows[0]["Status"] == "Uploading" and rows[0]["Reason"] == "Waiting to be fetched"
    assert "Importing 1 file from “gate.csv”" in text_of(response.content)
    UrlImportItem.objects.filter(asset=asset).update(bytes_received=3 * 1024 * 1024)
    rows = table_rows(member_client.get(csv_session.get_absolute_url()).content, table=1)
    assert rows[0]["Reason"] == "3.0 MB received"


def test_a_list_that_cannot_be_read_is_explained_on_the_form(member_client, csv_session):
    response = member_client.post(_url("import_preview", csv_session), {"list_file": SimpleUploadedFile("empty.csv", b"   ")})
    assert response.status_code == 422
    assert "The list is empty" in text_of(response.content)
    assert not UrlImport.objects.exists()


def test_a_json_session_offers_the_organizations_storage_integrations(member_client, project, member, owner):
    StorageIntegration.objects.create(organization=project.organization, name="Survey bucket", bucket="survey", access_key_id="AK", secret_encrypted="x")
    session = open_session(project, member, UploadSession.Source.JSON)
    page = member_client.get(session.get_absolute_url()).content.decode()
    assert "Survey bucket" in page and "Public URLs (fetched by the portal)" in page


def test_other_people_cannot_import_into_a_session(viewer_client, manager_client, outsider_client, csv_session):
    upload = {"list_file": SimpleUploadedFile("a.csv", b"https://cdn.example.com/a.jpg,A")}
    assert outsider_client.post(_url("import_preview", csv_session), upload).status_code == 404
    assert viewer_client.post(_url("import_preview", csv_session), upload).status_code == 404
    upload["list_file"].seek(0)
    assert manager_client.post(_url("import_preview", csv_session), upload).status_code == 403
    assert not UrlImport.objects.exists()


def test_retrying_a_failed_imported_file_queues_it_again(member_client, csv_session, no_fetching, django_capture_on_commit_callbacks):
    found = imports.url_import_preview(session=csv_session, user=csv_session.created_by, uploaded=SimpleUploadedFile("a.csv", b"https://cdn.example.com/a.jpg,A"))
    imports.url_import_start(url_import=found, user=csv_session.created_by)
    asset = Asset.objects.get(upload_session=csv_session)
    asset.mark_upload_error("The server answered HTTP 404 Not Found. Retry to fetch it again.")
    page = member_client.get(csv_session.get_absolute_url()).content.decode()
    assert _url("import_retry", csv_session) in page and "Retry all failed (1)" in page
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(_url("import_retry", csv_session), {"asset": str(asset.pk)})
    asset.refresh_from_db()
    assert asset.status == Asset.Status.UPLOADING and no_fetching == [str(asset.pk)]


def test_the_poll_takes_away_rows_dropped_as_duplicates(member_client, csv_session, no_fetching):
    found = imports.url_import_preview(session=csv_session, user=csv_session.created_by, uploaded=SimpleUploadedFile("a.csv", b"https://cdn.example.com/a.jpg,A"))
    imports.url_import_start(url_import=found, user=csv_session.created_by)
    asset = Asset.objects.get(upload_session=csv_session)
    UrlImportItem.objects.filter(asset=asset).update(duplicate_of="first.jpg (this session)", updated_at=timezone.now())
    asset_id = asset.pk
    asset.delete()
    since = (timezone.now() - timedelta(seconds=30)).isoformat()
    response = member_client.get(_url("changes", csv_session), {"since": since})
    assert f'<div data-removed-rows="{asset_id}"></div>' in response.content.decode()


def test_admins_add_validate_and_remove_storage_integrations(owner_client, organization, settings):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = False
    page = reverse("uploads:integrations", args=[organization.pk])
    response = owner_client.post(page, {
        "name": "Survey bucket", "endpoint_url": "http://169.254.169.254", "region": "", "bucket": "survey",
        "prefix": "", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "top-secret-value",
    })
    assert response.status_code == 422 and "does not fetch from this address" in text_of(response.content)
    response = owner_client.post(page, {
        "name": "Survey bucket", "endpoint_url": "", "region": "eu-west-1", "bucket": "survey",
        "prefix": "cams/", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "top-secret-value",
    }, follow=True)
    integration = StorageIntegration.objects.get(organization=organization)
    assert integration.region == "eu-west-1" and integration.prefix == "cams/"
    html = response.content.decode()
    assert "top-secret-value" not in html and "AKIAEXAMPLE" in html and "secret saved" in html
    rows = table_rows(response.content, table=0)
    assert rows[0]["Name"] == "Survey bucket"


def test_only_admins_see_storage_integrations(manager_client, outsider_client, organization):
    page = reverse("uploads:integrations", args=[organization.pk])
    assert manager_client.get(page).status_code == 403
    assert outsider_client.get(page).status_code == 404


def test_the_preview_of_a_json_list_of_videos_shows_their_metadata(member_client, project, member):
    session = open_session(project, member, UploadSession.Source.JSON, asset_type="video")
    rows = [{"data": "https://cdn.example.com/a.mp4", "externalId": "a.mp4", "metadata": {"frameRate": 24, "frameCount": 150, "width": 450, "height": 450}}]
    member_client.post(_url("import_preview", session), {"list_file": SimpleUploadedFile("a.json", json.dumps(rows).encode())})
    url_import = UrlImport.objects.get(session=session)
    page = member_client.get(_url("import_detail", session, import_id=url_import.pk))
    [row] = table_rows(page.content, table=0)
    assert row["Name"] == "a.mp4" and row["Metadata"] == "450×450, 24 fps, 150 frames"
    assert "Import 1 file" in text_of(page.content)


def test_the_poll_brings_the_bytes_received_of_a_file_being_fetched(member_client, csv_session, no_fetching):
    found = imports.url_import_preview(session=csv_session, user=csv_session.created_by, uploaded=SimpleUploadedFile("a.csv", b"https://cdn.example.com/a.jpg,A"))
    imports.url_import_start(url_import=found, user=csv_session.created_by)
    asset = Asset.objects.get(upload_session=csv_session)
    Asset.objects.filter(pk=asset.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    since = timezone.now().isoformat()
    UrlImportItem.objects.filter(asset=asset).update(bytes_received=5 * 1024 * 1024)
    Asset.objects.filter(pk=asset.pk).update(updated_at=timezone.now())
    response = member_client.get(_url("changes", csv_session), {"since": since})
    assert f'id="asset-{asset.pk}"' in response.content.decode() and "5.0 MB received" in text_of(response.content)


def test_the_session_page_and_its_poll_take_the_same_queries_for_3_and_30_imported_files(member_client, csv_session, no_fetching):
    """Rows of imported files show how their fetch goes (note, bytes received, Retry): all of it in the rows' query."""
    def add(start: int, count: int) -> None:
        lines = "\n".join(f"https://cdn.example.com/{n}.jpg,F{n}" for n in range(start, start + count))
        found = imports.url_import_preview(session=csv_session, user=csv_session.created_by, uploaded=SimpleUploadedFile("a.csv", lines.encode()))
        imports.url_import_start(url_import=found, user=csv_session.created_by)
        for n, asset in enumerate(Asset.objects.filter(upload_session=csv_session, name__in=[f"F{n}" for n in range(start, start + count)])):
            if n % 3 == 0:
                asset.mark_upload_error("The server answered HTTP 404 Not Found. Retry to fetch it again.")
            else:
                progress = {"bytes_received": 1024 * n} if n % 3 == 1 else {"note": "Waiting for the server to answer"}
                UrlImportItem.objects.filter(asset=asset).update(**progress)

    def queries() -> tuple[int, int, int]:
        since = (timezone.now() - timedelta(minutes=1)).isoformat()
        with CaptureQueriesContext(connection) as page:
            assert member_client.get(csv_session.get_absolute_url()).status_code == 200
        with CaptureQueriesContext(connection) as poll:
            response = member_client.get(_url("changes", csv_session), {"since": since})
        return len(page), len(poll), response.content.decode().count('<tr id="asset-')

    add(0, 3)
    page_few, poll_few, rows_few = queries()
    add(3, 27)
    page_many, poll_many, rows_many = queries()

    assert (rows_few, rows_many) == (3, 30)
    assert (page_many, poll_many) == (page_few, poll_few)
