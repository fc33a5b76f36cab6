"""Registering and closing many assets per call (POST /assets/bulk, POST /assets/bulk/close): what portal-upload uses."""

import hashlib
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assets.models import Asset, AssetEvent
from tests.api import Api
from tests.media_factory import make_jpeg

S = Asset.Status


@pytest.fixture
def api(owner, project):
    return Api(owner)


def _file(data: bytes = b"", **fields) -> dict:
    body = {"name": "gate", "fileName": "gate.jpg", "type": "image"}
    if data:
        body |= {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return body | fields


def _register(api: Api, project, files: list[dict]):
    return api.post("/assets/bulk", {"projectId": str(project.pk), "assets": files})


def _send(api: Api, upload: dict, data: bytes) -> int:
    """The PUT a script sends: the signed URL with exactly the headers the portal gave."""
    parts = urlsplit(upload["url"])
    if parts.netloc == "testserver":  # the embedded storage, served by the portal itself
        headers = {k: v for k, v in upload["headers"].items() if k.lower() != "content-type"}
        return api.client.generic(
            "PUT", f"{parts.path}?{parts.query}", data=data, content_type=upload["headers"].get("Content-Type", ""),
            headers=headers,
        ).status_code
    return requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).status_code


def test_each_file_gets_its_answer_in_the_order_sent(api, project, owner):
    project.allow_videos = False
    project.save()
    earlier = make_jpeg(16, 16)
    first = _register(api, project, [_file(earlier)]).json()["results"][0]["asset"]["id"]
    fresh = make_jpeg(20, 20)

    response = _register(api, project, [_file(fresh, name="new"), _file(earlier, name="again"), _file(type="video")])

    assert response.status_code == 200
    new, duplicate, refused = response.json()["results"]
    assert new["asset"]["name"] == "new" and new["asset"]["status"] == "uploading"
    assert new["upload"]["url"] and new["upload"]["headers"]
    assert duplicate["refused"] == {
        "status": 409, "message": "The same file is already in the project as “gate”.", "existingId": first,
        "existingStatus": "uploading",
    }
    assert refused["refused"]["status"] == 422 and "does not take videos" in refused["refused"]["message"]
    assert Asset.objects.filter(project=project).count() == 2
    added = AssetEvent.objects.get(asset_id=new["asset"]["id"])  # the history says who added it
    assert (added.action, added.actor) == (AssetEvent.Action.ADDED, owner)


def test_the_same_content_twice_in_one_call_is_registered_once(api, project):
    data = make_jpeg(16, 16)

    first, second = _register(api, project, [_file(data, name="a"), _file(data, name="b")]).json()["results"]

    assert first["asset"]["name"] == "a"
    assert second["refused"]["status"] == 409 and second["refused"]["existingId"] == first["asset"]["id"]
    assert Asset.objects.count() == 1


def test_a_call_that_would_pass_a_quota_registers_nothing(api, project, settings):
    settings.UPLOAD_QUOTA_FILES_PER_USER_PER_DAY = 2

    response = _register(api, project, [_file(make_jpeg(8 + n, 8)) for n in range(3)])

    assert response.status_code == 429
    assert "2 files a day" in response.json()["message"]
    assert not Asset.objects.exists()


def test_at_most_a_hundred_files_per_call(api, project):
    assert _register(api, project, [_file() for _ in range(101)]).status_code == 422
    assert _register(api, project, []).status_code == 422
    assert not Asset.objects.exists()


def test_registering_a_hundred_costs_the_queries_of_registering_two(api, project):
    def queries(count: int, offset: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = _register(api, project, [_file(make_jpeg(8 + offset + n, 8)) for n in range(count)])
        assert response.status_code == 200
        return len(captured)

    assert queries(100, 0) == queries(2, 200)


def test_another_organizations_project_is_404(api, other_project):
    assert _register(api, other_project, [_file()]).status_code == 404
    assert not Asset.objects.exists()


def test_sent_files_are_closed_together_and_each_says_how_it_went(api, project, storage_backend, queued_processing):
    good, other, fake = make_jpeg(24, 24), make_jpeg(30, 30), b"%PDF-1.7 a document, not a picture" * 30
    results = _register(api, project, [_file(good), _file(other), _file(fake, fileName="fake.jpg")]).json()["results"]
    for result, data in zip(results, (good, other, fake)):
        assert _send(api, result["upload"], data) == 200
    ids = [result["asset"]["id"] for result in results]

    response = api.post("/assets/bulk/close", {"ids": ids})

    assert response.status_code == 200
    closed = response.json()["results"]
    assert [entry["id"] for entry in closed] == ids
    assert [entry["status"] for entry in closed] == ["uploaded", "uploaded", "upload_error"]
    assert closed[2]["refused"]["status"] == 422 and "not an image" in closed[2]["refused"]["message"]
    assert {asset.pk for asset in queued_processing} == {Asset.objects.get(pk=i).pk for i in ids[:2]}
    assert api.post("/assets/bulk/close", {"ids": ids[:2]}).json()["results"][0]["status"] == "uploaded"  # again: no change
    assert len(queued_processing) == 2


def test_a_file_that_never_arrived_is_an_upload_error_with_the_reason(api, project, queued_processing):
    asset_id = _register(api, project, [_file(make_jpeg(12, 12))]).json()["results"][0]["asset"]["id"]

    (closed,) = api.post("/assets/bulk/close", {"ids": [asset_id]}).json()["results"]

    assert closed["status"] == "upload_error" and "never arrived" in closed["refused"]["message"]
    assert queued_processing == []


def test_closing_with_an_id_of_another_organization_closes_nothing(api, project, outsider, other_project, queued_processing):
    data = make_jpeg(12, 12)
    (mine,) = _register(api, project, [_file(data)]).json()["results"]
    _send(api, mine["upload"], data)
    theirs = _register(Api(outsider), other_project, [_file(make_jpeg(14, 14))]).json()["results"][0]["asset"]["id"]

    response = api.post("/assets/bulk/close", {"ids": [mine["asset"]["id"], theirs]})

    assert response.status_code == 404
    assert Asset.objects.get(pk=mine["asset"]["id"]).status == S.UPLOADING
    assert Asset.objects.get(pk=theirs).status == S.UPLOADING


def test_a_member_cannot_close_what_another_member_registered(api, project, member, queued_processing):
    asset_id = _register(api, project, [_file(make_jpeg(12, 12))]).json()["results"][0]["asset"]["id"]

    response = Api(member).post("/assets/bulk/close", {"ids": [asset_id]})

    assert response.status_code == 403
    assert Asset.objects.get(pk=asset_id).status == S.UPLOADING
