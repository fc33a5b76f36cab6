"""Reading CSV (seed 000) and JSON (seed 002) lists: what the preview finds, every bad row with its line and
reason, lists that cannot be read at all, and nothing imported until people confirm."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from projects.models import Batch
from tests.imports_support import open_session
from uploads import imports
from uploads.models import UploadSession, UrlImport
from uploads.services import UploadRefused

CSV, JSON = UploadSession.Source.CSV, UploadSession.Source.JSON


def preview(session, user, data: bytes | str, name="list.csv"):
    data = data.encode() if isinstance(data, str) else data
    return imports.url_import_preview(session=session, user=user, uploaded=SimpleUploadedFile(name, data))


@pytest.fixture
def csv_session(project, member):
    return open_session(project, member, CSV)


@pytest.fixture
def json_session(project, member):
    return open_session(project, member, JSON, asset_type="video")


def test_a_csv_with_a_header_and_quoted_names_is_read(csv_session, member):
    found = preview(csv_session, member, 'url,name\r\nhttps://cdn.example.com/a.jpg,"North gate, cam 2"\r\n\r\nhttps://cdn.example.com/b%20c.jpg,South\r\n')
    assert found.row_count == 2 and found.problems == []
    assert [(r["line"], r["name"], r["file_name"]) for r in found.rows] == [(2, "North gate, cam 2", "a.jpg"), (4, "South", "b c.jpg")]
    assert found.status == UrlImport.Status.PREVIEW
    assert not Asset.objects.exists()


def test_a_csv_without_a_header_starts_with_a_file(csv_session, member):
    found = preview(csv_session, member, "https://cdn.example.com/a.jpg,First\nhttps://cdn.example.com/b.jpg,Second")
    assert [r["name"] for r in found.rows] == ["First", "Second"]


def test_every_bad_csv_row_is_listed_with_its_line_and_reason(csv_session, member):
    found = preview(
        csv_session,
        member,
        "\n".join(
            [
                "url,name",
                "https://cdn.example.com/ok.jpg,Good",
                "just some words,Not a link",
                "ftp://cdn.example.com/a.jpg,FTP",
                "https://cdn.example.com/noname.jpg,",
                "https://cdn.example.com/ok.jpg,Again",
                "https://cdn.example.com/two.jpg",
                "http://192.168.1.20/cam.jpg,LAN",
            ]
        ),
    )
    assert [r["line"] for r in found.rows] == [2]
    reasons = {p["line"]: p["reason"] for p in found.problems}
    assert reasons[3].startswith("Not a URL")
    assert "only http and https" in reasons[4]
    assert reasons[5].startswith("Empty name") and reasons[7].startswith("Empty name")
    assert reasons[6] == "The same URL is on line 2."
    assert "Private-Use" in reasons[8]


def test_a_json_list_is_read_with_its_optional_fields(json_session, member, project):
    week = Batch.objects.create(project=project, name="Week 12")
    rows = [
        {"data": "https://cdn.example.com/a.mp4", "externalId": "a.mp4",
         "metadata": {"frameRate": 29.97, "frameCount": 300, "width": 1280, "height": 720},
         "contextData": {"weather": "rain"}, "batches": ["Week 12"]},
        {"data": "https://cdn.example.com/b.mp4", "externalId": 17, "batches": [str(week.pk)]},
    ]
    found = preview(json_session, member, json.dumps(rows, indent=2), name="list.json")
    assert found.problems == []
    first, second = found.rows
    assert first["line"] == 2 and second["line"] == 18
    assert first["metadata"] == {"frame_rate": 29.97, "frame_count": 300, "width": 1280, "height": 720, "provided": True}
    assert first["context_data"] == {"weather": "rain"} and first["batch_ids"] == [str(week.pk)]
    assert second["external_id"] == "17" and second["batch_ids"] == [str(week.pk)] and second["metadata"] == {}


def test_every_bad_json_row_is_listed_with_its_line_and_reason(json_session, member, project):
    Batch.objects.create(project=project, name="Twice")
    Batch.objects.create(project=project, name="Twice")
    rows = [
        {"data": "https://cdn.example.com/a.mp4", "externalId": "a"},
        {"externalId": "no-data"},
        {"data": "https://cdn.example.com/c.mp4", "externalId": "a"},
        {"data": "https://cdn.example.com/d.mp4", "externalId": "d", "batches": ["Nope"]},
        {"data": "https://cdn.example.com/e.mp4", "externalId": "e", "batches": ["Twice"]},
        {"data": "https://cdn.example.com/f.mp4", "externalId": "f", "metadata": {"frameRate": 24}},
        {"data": "https://cdn.example.com/g.mp4", "externalId": "g", "contextData": ["not", "an", "object"]},
        {"data": "https://cdn.example.com/h.mp4"},
        "https://cdn.example.com/i.mp4",
    ]
    found = preview(json_session, member, "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]", name="list.json")
    assert [r["line"] for r in found.rows] == [2]
    reasons = {p["line"]: p["reason"] for p in found.problems}
    assert reasons[3].startswith("data is missing")
    assert reasons[4] == "externalId “a” is also on line 2."
    assert reasons[5].startswith("Unknown batch “Nope”")
    assert reasons[6].startswith("Several batches are named “Twice”")
    assert reasons[7].startswith("metadata lacks frameCount, width, height")
    assert reasons[8].startswith("contextData must be an object")
    assert reasons[9].startswith("externalId is missing")
    assert reasons[10].startswith("Each item must be an object")


def test_rows_past_the_session_cap_are_bad_rows(csv_session, member, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 3
    Asset.objects.create(organization=csv_session.project.organization, project=csv_session.project, upload_session=csv_session,
                         name="held.jpg", original_filename="held.jpg", asset_type="image")
    found = preview(csv_session, member, "\n".join(f"https://cdn.example.com/{n}.jpg,File {n}" for n in range(4)))
    assert [r["line"] for r in found.rows] == [1, 2]
    assert [p["line"] for p in found.problems] == [3, 4]
    assert "Over the session cap: a session holds at most 3 files and this one has room for 2" in found.problems[0]["reason"]


def test_a_list_with_bad_rows_starts_only_when_asked_to_import_the_good_rows(csv_session, member, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(imports, "_queue_fetches", queued.extend)
    found = preview(csv_session, member, "https://cdn.example.com/a.jpg,A\nnot a url,B\nhttps://cdn.example.com/c.jpg,C")
    with pytest.raises(UploadRefused, match="1 bad row"):
        imports.url_import_start(url_import=found, user=member)
    assert not Asset.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.url_import_start(url_import=found, user=member, good_rows_only=True) == 2
    assets = Asset.objects.filter(upload_session=csv_session).order_by("name")
    assert [(a.name, a.status, a.source) for a in assets] == [("A", "uploading", "url"), ("C", "uploading", "url")]
    assert sorted(queued) == sorted(str(a.pk) for a in assets)
    with pytest.raises(UploadRefused, match="already imported"):
        imports.url_import_start(url_import=UrlImport.objects.get(pk=found.pk), user=member, good_rows_only=True)


def test_a_list_cannot_start_in_a_finalized_session(csv_session, member):
    found = preview(csv_session, member, "https://cdn.example.com/a.jpg,A")
    csv_session.mark_finalized()
    with pytest.raises(UploadRefused, match="finalized"):
        imports.url_import_start(url_import=found, user=member)


@pytest.mark.parametrize(
    ("source", "data", "message"),
    [
        (CSV, b"", "The list is empty"),
        (CSV, b"\n\n  \n", "The list is empty"),
        (CSV, b"url,name\n", "has no rows"),
        (CSV, "https://cdn.example.com/caf\u00e9.jpg,Caf\u00e9\n".encode("latin-1"), r"not UTF-8 text \(line 1"),
        (JSON, b'{"data": "https://cdn.example.com/a.mp4", "externalId": "a"}', "The JSON is not a list"),
        (JSON, b'[{"data": "https://cdn.example.com/a.mp4", "externalId": "a"},', "The JSON is not valid at line 1"),
        (JSON, b"[]", "has no rows"),
    ],
    ids=["empty", "blank lines", "header only", "not utf-8", "json object", "json cut short", "json empty list"],
)
def test_a_list_that_cannot_be_read_gets_a_clear_message_and_imports_nothing(project, member, source, data, message):
    session = open_session(project, member, source)
    with pytest.raises(UploadRefused, match=message):
        preview(session, member, data)
    assert not UrlImport.objects.exists() and not Asset.objects.exists()


def test_a_list_of_1501_rows_imports_nothing_and_says_which_row_is_over_the_cap(csv_session, member):
    found = preview(csv_session, member, "\n".join(f"https://cdn.example.com/{n}.jpg,File {n}" for n in range(1501)))
    assert len(found.rows) == 1500
    assert found.problems == [{"line": 1501, "reason": "Over the session cap: a session holds at most 1,500 files and this one has room for 1,500."}]
    with pytest.raises(UploadRefused, match="1 bad row"):
        imports.url_import_start(url_import=found, user=member)
    assert not Asset.objects.exists()


def test_a_50_mb_list_is_refused_before_it_is_read(csv_session, member):
    line = b"https://cdn.example.com/a-rather-long-path/to/a/file/of/the/survey.jpg,Survey file\n"
    data = line * (50 * 1024 * 1024 // len(line) + 1)
    with pytest.raises(UploadRefused, match=r"The list is 50\.0\xa0MB; a list may be at most 10\.0\xa0MB"):
        preview(csv_session, member, data)
    assert not UrlImport.objects.exists() and not Asset.objects.exists()


def test_a_list_with_more_rows_than_any_session_holds_is_refused_whole(csv_session, member, settings):
    settings.URL_IMPORT_MAX_ROWS = 5
    with pytest.raises(UploadRefused, match="more than 5 rows"):
        preview(csv_session, member, "\n".join(f"https://cdn.example.com/{n}.jpg,File {n}" for n in range(6)))


def test_a_bucket_address_without_a_storage_integration_says_what_is_missing(json_session, member):
    found = preview(json_session, member, '[{"data": "s3://survey/cams/a.mp4", "externalId": "a"}]', name="list.json")
    assert found.problems == [{"line": 1, "reason": "An s3:// address names an object of a bucket: choose the bucket's storage integration with the list."}]
