"""Workflows (projects), batches and input records through the API (seed 001)."""

import uuid

import pytest

from assets.models import Asset
from projects.models import Batch, Project, Record
from tests.api import Api

S = Asset.Status


@pytest.fixture
def api(owner, project):
    return Api(owner)


def _asset(project, *, organization=None, status=S.READY, name="a.jpg", **fields) -> Asset:
    organization = organization or project.organization
    return Asset.objects.create(organization=organization, project=project, name=name, original_filename=name,
                                asset_type=fields.pop("asset_type", "image"), status=status, **fields)


@pytest.fixture
def batch(project, owner):
    return Batch.objects.create(project=project, name="First batch", created_by=owner)


# --- workflows --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/workflows", "/projects"])
def test_workflows_are_the_persons_projects_in_the_seeds_shape(api, project, other_project, path):
    response = api.get(path)

    assert response.status_code == 200
    [workflow] = response.json()
    assert workflow["id"] == str(project.pk)
    assert workflow["name"] == "Street scenes"
    assert {"description", "isActive", "isVisible", "isArchived", "createdAt", "isLimitWorkerToOncePerInputRecord"} <= set(workflow)
    assert response["X-Total-Count"] == "1"


def test_another_organizations_workflow_is_404(api, other_project):
    assert api.get(f"/workflows/{other_project.pk}").status_code == 404
    assert api.get(f"/workflows/{other_project.pk}/batches").status_code == 404
    assert api.post(f"/workflows/{other_project.pk}/batches", {"name": "x"}).status_code == 404


# --- batches ----------------------------------------------------------------------------------


def test_creating_a_batch_answers_the_seeds_fields(api, project, owner):
    response = api.post(f"/workflows/{project.pk}/batches", {"name": "Batch Name", "isEnabled": False})

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["workflowId"], body["priority"], body["isEnabled"]) == ("Batch Name", str(project.pk), "normal", False)
    assert body["createdAt"].endswith("Z")
    batch = Batch.objects.get(pk=body["id"])
    assert (batch.project, batch.is_enabled, batch.created_by) == (project, False, owner)


def test_a_viewer_cannot_create_a_batch(viewer, project):
    assert Api(viewer).post(f"/workflows/{project.pk}/batches", {"name": "x"}).status_code == 403


def test_a_batch_needs_a_name(api, project):
    response = api.post(f"/workflows/{project.pk}/batches", {"isEnabled": True})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_listing_batches_counts_records_by_status(api, project, batch, owner):
    other = Batch.objects.create(project=project, name="Empty", created_by=owner)
    for status in ["queued", "queued", "complete", "exception"]:
        Record.objects.create(batch=batch, asset=_asset(project), status=status)

    rows = {row["name"]: row for row in api.get(f"/workflows/{project.pk}/batches").json()}

    counted = rows["First batch"]
    assert (counted["recordCount"], counted["queued"], counted["complete"], counted["exceptions"], counted["inProgress"]) == (4, 2, 1, 1, 0)
    assert rows[other.name]["recordCount"] == 0


def test_reading_a_batch(api, batch, project):
    body = api.get(f"/batches/{batch.pk}").json()

    assert (body["id"], body["name"], body["workflowId"], body["isEnabled"]) == (str(batch.pk), "First batch", str(project.pk), True)


def test_another_organizations_batch_is_404(api, other_project, outsider):
    foreign = Batch.objects.create(project=other_project, name="Secret", created_by=outsider)

    assert api.get(f"/batches/{foreign.pk}").status_code == 404
    assert api.get(f"/batches/{foreign.pk}/records").status_code == 404
    assert api.post(f"/batches/{foreign.pk}/records/assets", {"assetIds": []}).status_code == 404
    assert api.get(f"/batches/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("path", ["/batches/{bad}", "/batches/{bad}/records", "/workflows/{bad}/batches", "/assets/{bad}"])
def test_a_malformed_id_is_422_naming_it(api, path):
    response = api.get(path.format(bad="739b1978-cb5b-4188"))

    assert response.status_code == 422
    assert response.json()["message"] == "Invalid UUID string: 739b1978-cb5b-4188"


# --- records ----------------------------------------------------------------------------------


def test_records_are_created_for_assets_of_the_project(api, batch, project):
    ready, uploaded = _asset(project), _asset(project, status=S.UPLOADED)

    response = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": [str(ready.pk), str(uploaded.pk)]})

    assert response.status_code == 201
    body = response.json()
    assert body["assetValidationErrors"] == []
    assert sorted(r["assetId"] for r in body["created"]) == sorted([str(ready.pk), str(uploaded.pk)])
    assert Record.objects.filter(batch=batch, status="queued").count() == 2
    assert {r["id"] for r in body["created"]} == {str(pk) for pk in Record.objects.values_list("pk", flat=True)}


def test_assets_that_cannot_join_are_listed_with_the_reason_and_the_rest_joins(api, batch, project, organization, owner, other_project):
    sibling = Project.objects.create(organization=organization, name="Aerial", created_by=owner)
    good = _asset(project)
    elsewhere = _asset(sibling)
    uploading = _asset(project, status=S.UPLOADING)
    failed = _asset(project, status=S.UPLOAD_ERROR, error_reason="Not an image.")
    foreign = _asset(other_project)
    already = _asset(project)
    Record.objects.create(batch=batch, asset=already)
    unknown = uuid.uuid4()

    ids = [good, elsewhere, uploading, failed, foreign, already]
    response = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": [str(a.pk) for a in ids] + [str(unknown)]})

    assert response.status_code == 201
    body = response.json()
    assert [r["assetId"] for r in body["created"]] == [str(good.pk)]
    reasons = {e["assetId"]: e["reason"] for e in body["assetValidationErrors"]}
    assert "another project (Aerial)" in reasons[str(elsewhere.pk)]
    assert "has not arrived yet" in reasons[str(uploading.pk)]
    assert "upload failed: Not an image." in reasons[str(failed.pk)]
    assert reasons[str(foreign.pk)] == reasons[str(unknown)] == "No asset with this id in your organization."
    assert reasons[str(already.pk)] == "The asset is already in this batch."


def test_a_library_asset_is_tied_to_the_batchs_project(api, batch, project, organization):
    library = _asset(None, organization=organization)

    response = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": [str(library.pk)]})

    assert len(response.json()["created"]) == 1
    library.refresh_from_db()
    assert library.project == project


def test_a_library_asset_whose_content_is_in_the_project_stays_out(api, batch, project, organization):
    _asset(project, sha256="c" * 64, name="in-project.jpg")
    library = _asset(None, organization=organization, sha256="c" * 64)

    body = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": [str(library.pk)]}).json()

    assert body["created"] == []
    assert "already in Street scenes as “in-project.jpg”" in body["assetValidationErrors"][0]["reason"]
    library.refresh_from_db()
    assert library.project is None


def test_the_same_id_twice_makes_one_record(api, batch, project):
    asset = _asset(project)

    body = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": [str(asset.pk), str(asset.pk).upper()]}).json()

    assert len(body["created"]) == 1
    assert Record.objects.count() == 1


def test_more_than_1000_asset_ids_is_422_and_creates_nothing(api, batch, project):
    asset = _asset(project)
    ids = [str(asset.pk)] + [str(uuid.uuid4()) for _ in range(1000)]

    response = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": ids})

    assert response.status_code == 422
    assert "at most 1,000" in response.json()["message"]
    assert not Record.objects.exists()


def test_exactly_1000_asset_ids_are_accepted(api, batch, project):
    response = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": [str(uuid.uuid4()) for _ in range(1000)]})

    assert response.status_code == 201
    assert len(response.json()["assetValidationErrors"]) == 1000


def test_a_malformed_asset_id_is_422_naming_it(api, batch):
    response = api.post(f"/batches/{batch.pk}/records/assets", {"assetIds": ["c226197c-17c5-4cc6-9529"]})

    assert response.status_code == 422
    assert response.json()["message"] == "Invalid UUID string: c226197c-17c5-4cc6-9529"


def test_a_viewer_cannot_create_records(viewer, batch, project):
    asset = _asset(project)

    assert Api(viewer).post(f"/batches/{batch.pk}/records/assets", {"assetIds": [str(asset.pk)]}).status_code == 403


def test_listing_records_filters_by_status(api, batch, project):
    for status in ["queued", "exception", "canceled", "complete"]:
        Record.objects.create(batch=batch, asset=_asset(project, name=f"{status}.jpg"), status=status)

    everything = api.get(f"/batches/{batch.pk}/records")
    finished_badly = api.get(f"/batches/{batch.pk}/records", {"status": "exception,canceled", "page": 1, "pageSize": 1})

    assert everything["X-Total-Count"] == "4"
    assert finished_badly["X-Total-Count"] == "2"
    [record] = finished_badly.json()
    assert record["status"] in {"exception", "canceled"}
    assert {"id", "assetId", "batchId", "workflowId", "status", "createdAt"} <= set(record)
    assert api.get(f"/batches/{batch.pk}/records", {"status": "done"}).status_code == 422
