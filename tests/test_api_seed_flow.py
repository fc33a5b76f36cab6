"""Seed 001's round trip replayed step by step with `requests` against a running portal, as a customer's
script would: the same calls, headers and bodies as the tutorial's curl commands, only the base URL differs.
The signed PUT really goes to storage: the portal's own endpoint, and an S3-compatible server (moto)."""

import json
import re

import pytest
import requests

from accounts import services
from assets.models import Asset
from projects.models import Record
from tests.conftest import PASSWORD
from tests.media_factory import make_video

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TIMEOUT = 30


@pytest.fixture
def script(live_server, owner):
    """What a customer's script starts from: the base URL, an API key and a username/password."""
    _, secret = services.api_key_create(user=owner, name="seed 001 script")
    return {"base": f"{live_server.url}/api/v1", "key": secret, "username": owner.username, "password": PASSWORD}


def _login(script) -> str:
    response = requests.post(
        f"{script['base']}/login",
        headers={"x-api-key": script["key"], "Content-Type": "application/json", "cache-control": "no-cache"},
        data=json.dumps({"username": script["username"], "password": script["password"]}),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == 3600
    assert body["token_type"] == "bearer"
    return body["access_token"]


def test_the_seeds_round_trip_works_unchanged(script, storage_backend, project, queued_processing, tmp_path):
    base, key = script["base"], script["key"]
    token = _login(script)
    auth = {"x-api-key": key, "authorization": f"Bearer {token}"}

    # Register the asset
    registered = requests.post(
        f"{base}/assets",
        headers={"Content-Type": "application/json", **auth},
        data=json.dumps({"name": "cars-1900 from api", "fileName": "cars-1900.mp4", "fps": 25, "frameCount": 1500, "type": "video"}),
        timeout=TIMEOUT,
    )
    assert registered.status_code == 201, registered.text
    asset = registered.json()
    assert UUID.match(asset["id"])
    assert (asset["name"], asset["fileName"], asset["status"], asset["source"], asset["type"]) == (
        "cars-1900 from api", "cars-1900.mp4", "uploading", "file", "video"
    )
    assert ISO_UTC.match(asset["createdAt"]), asset["createdAt"]

    # Create an asset upload session: a POST without a body
    opened = requests.post(f"{base}/assets/{asset['id']}/upload", headers=auth, timeout=TIMEOUT)
    assert opened.status_code == 200, opened.text
    assert list(opened.json()) == ["url"]
    url = opened.json()["url"]
    assert url.startswith("http://" if storage_backend == "embedded" else "http://127.0.0.1:")
    if storage_backend == "s3":
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url

    # Upload the asset: curl --upload-file, without the API key or the token
    clip = make_video(tmp_path / "cars-1900.mp4", frames=10)
    with open(clip, "rb") as body:
        stored = requests.put(url, data=body, timeout=TIMEOUT)
    assert stored.status_code == 200, stored.text
    assert stored.headers.get("ETag")

    # Close the upload session
    closed = requests.delete(f"{base}/assets/{asset['id']}/upload", headers=auth, timeout=TIMEOUT)
    assert closed.status_code == 204, closed.text
    assert closed.content == b""
    saved = Asset.objects.get(pk=asset["id"])
    assert saved.status == Asset.Status.UPLOADED
    assert saved.size == clip.stat().st_size
    assert saved.media_metadata == {"frame_rate": 25, "frame_count": 1500, "provided": True}
    assert [a.pk for a in queued_processing] == [saved.pk]
    status = requests.get(f"{base}/assets/{asset['id']}", headers=auth, timeout=TIMEOUT).json()
    assert status["status"] == "uploaded"

    # Creating a batch in a workflow
    workflows = requests.get(f"{base}/workflows", headers={**auth, "Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert workflows.status_code == 200
    assert [w["id"] for w in workflows.json()] == [str(project.pk)]
    workflow_id = workflows.json()[0]["id"]
    created = requests.post(
        f"{base}/workflows/{workflow_id}/batches",
        headers={**auth, "content-type": "application/json", "accept": "application/json"},
        data=json.dumps({"name": "Batch Name", "isEnabled": False}),
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    batch = created.json()
    assert UUID.match(batch["id"])
    assert (batch["name"], batch["workflowId"], batch["priority"], batch["isEnabled"]) == ("Batch Name", workflow_id, "normal", False)
    assert ISO_UTC.match(batch["createdAt"])

    # Creating input records for assets (the library asset joins the batch's project)
    records = requests.post(
        f"{base}/batches/{batch['id']}/records/assets",
        headers={**auth, "Content-Type": "application/json"},
        data=json.dumps({"assetIds": [asset["id"]]}),
        timeout=TIMEOUT,
    )
    assert records.status_code == 201, records.text
    [record] = records.json()["created"]
    assert UUID.match(record["id"]) and record["assetId"] == asset["id"]
    assert records.json()["assetValidationErrors"] == []
    assert Asset.objects.get(pk=asset["id"]).project_id == project.pk

    # Metadata about the batch, and the batch in its workflow's list with its records counted
    about = requests.get(f"{base}/batches/{batch['id']}", headers=auth, timeout=TIMEOUT).json()
    assert (about["id"], about["name"], about["workflowId"], about["isEnabled"]) == (batch["id"], "Batch Name", workflow_id, False)
    listed = requests.get(f"{base}/workflows/{workflow_id}/batches", headers=auth, timeout=TIMEOUT).json()
    assert [(b["id"], b["recordCount"], b["queued"]) for b in listed] == [(batch["id"], 1, 1)]


def test_45_records_page_by_20_with_link_and_total_count(script, project, owner, queued_processing):
    base = script["base"]
    auth = {"x-api-key": script["key"], "Authorization": f"Bearer {_login(script)}"}
    assets = Asset.objects.bulk_create(
        Asset(organization=project.organization, project=project, name=f"frame-{n:02d}.jpg", original_filename=f"frame-{n:02d}.jpg",
              asset_type="image", status=Asset.Status.READY)
        for n in range(45)
    )
    batch = requests.post(f"{base}/workflows/{project.pk}/batches", headers=auth, json={"name": "Paging", "isEnabled": True}, timeout=TIMEOUT).json()
    created = requests.post(f"{base}/batches/{batch['id']}/records/assets", headers=auth, json={"assetIds": [str(a.pk) for a in assets]}, timeout=TIMEOUT)
    assert created.status_code == 201
    assert len(created.json()["created"]) == 45

    url = f"{base}/batches/{batch['id']}/records?page=1&pageSize=20&sort=-createdAt"
    pages, seen = [], []
    while url:
        response = requests.get(url, headers=auth, timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "45"
        links = {rel: link["url"] for rel, link in response.links.items()}
        assert links["first"] == f"{base}/batches/{batch['id']}/records?page=1&pageSize=20&sort=-createdAt"
        assert links["last"] == f"{base}/batches/{batch['id']}/records?page=3&pageSize=20&sort=-createdAt"
        pages.append((len(response.json()), sorted(links)))
        seen += [record["id"] for record in response.json()]
        url = links.get("next")
        assert len(pages) <= 3

    assert pages == [(20, ["first", "last", "next"]), (20, ["first", "last", "next", "prev"]), (5, ["first", "last", "prev"])]
    assert sorted(seen) == sorted(str(pk) for pk in Record.objects.filter(batch_id=batch["id"]).values_list("pk", flat=True))
    assert len(set(seen)) == 45
    ascending = requests.get(f"{base}/batches/{batch['id']}/records", params={"pageSize": 45, "sort": "+createdAt"}, headers=auth, timeout=TIMEOUT)
    assert [r["id"] for r in ascending.json()] == list(reversed(seen))


def test_the_errors_the_seed_lists(script, project, outsider, other_project):
    base = script["base"]
    token = _login(script)
    auth = {"x-api-key": script["key"], "Authorization": f"Bearer {token}"}

    malformed = requests.get(f"{base}/batches/not-a-batch-id", headers=auth, timeout=TIMEOUT)
    assert malformed.status_code == 422
    assert "not-a-batch-id" in malformed.json()["message"]

    no_key = requests.get(f"{base}/workflows", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert no_key.status_code == 403

    bad_token = requests.get(f"{base}/workflows", headers={"x-api-key": script["key"], "Authorization": "Bearer expired"}, timeout=TIMEOUT)
    assert (bad_token.status_code, bad_token.content) == (401, b"")

    too_many = requests.post(
        f"{base}/batches/{_batch(base, auth, project)}/records/assets",
        headers=auth, json={"assetIds": [f"00000000-0000-4000-8000-{n:012d}" for n in range(1001)]}, timeout=TIMEOUT,
    )
    assert too_many.status_code == 422

    assert requests.get(f"{base}/workflows/{other_project.pk}/batches", headers=auth, timeout=TIMEOUT).status_code == 404


def _batch(base, auth, project) -> str:
    return requests.post(f"{base}/workflows/{project.pk}/batches", headers=auth, json={"name": "x"}, timeout=TIMEOUT).json()["id"]
