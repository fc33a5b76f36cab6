"""Assets through the API: register, open an upload session, PUT, close, read and list (seed 001)."""

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from assets import storage
from assets.models import Asset
from projects.models import Membership, Organization, Project
from tests.api import Api
from tests.conftest import PASSWORD
from tests.media_factory import make_jpeg, make_png

S = Asset.Status


@pytest.fixture
def api(owner, project):
    return Api(owner)


def _put(api: Api, url: str, data: bytes, **headers):
    """A PUT to the signed URL the way `curl --upload-file` sends it: the bytes, nothing else."""
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "testserver", url
    return api.client.generic("PUT", f"{parts.path}?{parts.query}", data=data, content_type="", headers=headers)


# --- register ---------------------------------------------------------------------------------


def test_registering_answers_201_with_the_seeds_fields(api):
    response = api.register(name="cars-1900 from api", fileName="cars-1900.mp4", type="video", fps=25, frameCount=1500)

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "cars-1900 from api"
    assert body["fileName"] == "cars-1900.mp4"
    assert body["status"] == "uploading"
    assert body["source"] == "file"
    assert body["type"] == "video"
    assert body["createdAt"].endswith("Z")
    created = datetime.fromisoformat(body["createdAt"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)
    assert Asset.objects.filter(pk=body["id"], status=S.UPLOADING).exists()


def test_frame_rate_and_count_given_at_registration_are_kept_as_provided_metadata(api):
    body = api.register(fileName="clip.mp4", type="video", fps=29.97, frameCount=900).json()

    asset = Asset.objects.get(pk=body["id"])
    assert asset.media_metadata == {"frame_rate": 29.97, "frame_count": 900, "provided": True}
    assert (body["fps"], body["frameCount"]) == (29.97, 900)


def test_without_a_project_the_asset_sits_in_the_organizations_library(api, organization):
    body = api.register().json()

    asset = Asset.objects.get(pk=body["id"])
    assert asset.project is None
    assert asset.organization == organization
    assert body["projectId"] is None


def test_with_a_project_the_asset_joins_it_with_its_other_fields(api, project, owner):
    sha = "ab" * 32
    response = api.register(projectId=str(project.pk), externalId="cam-7/0001", contextData={"site": "north"}, sha256=sha.upper(), size=2048)

    assert response.status_code == 201
    asset = Asset.objects.get(pk=response.json()["id"])
    assert (asset.project, asset.external_id, asset.context_data) == (project, "cam-7/0001", {"site": "north"})
    assert (asset.sha256, asset.size, asset.uploaded_by) == (sha, 2048, owner)


def test_the_same_content_in_the_project_is_409_with_the_existing_asset(api, project):
    sha = hashlib.sha256(b"x").hexdigest()
    first = api.register(projectId=str(project.pk), sha256=sha).json()

    again = api.register(projectId=str(project.pk), sha256=sha, name="another name")

    assert again.status_code == 409
    assert again.json()["existingId"] == first["id"]
    assert again.json()["status"] == "uploading"
    assert Asset.objects.count() == 1


def test_the_same_content_in_the_library_is_a_duplicate_for_a_project_too(api, project):
    sha = hashlib.sha256(b"y").hexdigest()
    library = api.register(sha256=sha).json()

    assert api.register(projectId=str(project.pk), sha256=sha).json()["existingId"] == library["id"]


def test_a_failed_asset_with_the_same_content_is_not_a_duplicate(api, project):
    sha = hashlib.sha256(b"z").hexdigest()
    failed = api.register(projectId=str(project.pk), sha256=sha).json()
    Asset.objects.filter(pk=failed["id"]).update(status=S.UPLOAD_ERROR, error_reason="Never arrived.")

    assert api.register(projectId=str(project.pk), sha256=sha).status_code == 201


def test_the_same_content_in_another_project_is_not_a_duplicate(api, project, organization, owner):
    sibling = Project.objects.create(organization=organization, name="Aerial", created_by=owner)
    sha = hashlib.sha256(b"w").hexdigest()
    api.register(projectId=str(sibling.pk), sha256=sha)

    assert api.register(projectId=str(project.pk), sha256=sha).status_code == 201


def test_another_organizations_project_is_404(api, other_project):
    response = api.register(projectId=str(other_project.pk))

    assert response.status_code == 404
    assert not Asset.objects.exists()


def test_a_viewer_cannot_register(viewer, project):
    response = Api(viewer).register(projectId=str(project.pk))

    assert response.status_code == 403
    assert not Asset.objects.exists()


def test_a_project_that_does_not_take_the_type_is_422(api, project):
    project.allow_videos = False
    project.save()

    response = api.register(projectId=str(project.pk), type="video", fileName="a.mp4")

    assert response.status_code == 422
    assert "does not take videos" in response.json()["message"]


def test_a_file_over_the_size_limit_is_422(api, settings):
    settings.UPLOAD_MAX_FILE_SIZE = 1000

    response = api.register(size=1001)

    assert response.status_code == 422
    assert "largest file" in response.json()["message"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": None}, "name"),
        ({"type": "audio"}, "type"),
        ({"sha256": "not-hex"}, "sha256"),
        ({"size": 0}, "size"),
        ({"fps": -1}, "fps"),
        ({"name": "bad\x00name"}, "name"),
        ({"contextData": {"k": "v\x00"}}, "contextData"),
    ],
)
def test_a_registration_that_does_not_fit_is_422_naming_the_field(api, fields, field):
    response = api.register(**fields)

    assert response.status_code == 422
    body = response.json()
    assert field in [error["field"] for error in body["errors"]]
    assert field in body["message"]


def test_a_malformed_project_id_is_422_naming_the_value(api):
    response = api.register(projectId="12345-not-a-uuid")

    assert response.status_code == 422
    assert "12345-not-a-uuid" in response.json()["message"]


def test_someone_in_two_organizations_names_the_library(member, organization, project):
    second = Organization.objects.create(name="Second")
    Membership.objects.create(organization=second, user=member, role=Membership.Role.UPLOADER)
    api = Api(member)

    assert api.register().status_code == 422
    response = api.register(organizationId=str(second.pk))
    assert response.status_code == 201
    assert Asset.objects.get(pk=response.json()["id"]).organization == second


# --- upload session ---------------------------------------------------------------------------


def test_the_signed_url_takes_a_plain_put_and_closing_verifies_and_queues_processing(
    api, project, queued_processing, django_capture_on_commit_callbacks
):
    data = make_jpeg(64, 48)
    asset_id = api.register(projectId=str(project.pk), size=len(data)).json()["id"]

    opened = api.post(f"/assets/{asset_id}/upload")
    assert opened.status_code == 200
    url = opened.json()["url"]
    assert url.startswith("http://testserver/")
    assert _put(api, url, data).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        closed = api.delete(f"/assets/{asset_id}/upload")

    assert closed.status_code == 204
    assert closed.content == b""
    asset = Asset.objects.get(pk=asset_id)
    assert asset.status == S.UPLOADED
    assert [a.pk for a in queued_processing] == [asset.pk]
    assert api.get(f"/assets/{asset_id}").json()["status"] == "uploaded"


def test_the_signed_url_binds_the_declared_length_and_sha256_and_needs_no_header(api):
    data = make_png()
    asset_id = api.register(fileName="a.png", size=len(data), sha256=hashlib.sha256(data).hexdigest()).json()["id"]
    url = api.post(f"/assets/{asset_id}/upload").json()["url"]

    assert "content" not in url.lower()
    assert _put(api, url, data + b"!").status_code == 400  # another length
    assert _put(api, url, data[:-1] + b"!").status_code == 400  # same length, other bytes
    assert _put(api, url, data, **{"Content-Type": "text/plain"}).status_code == 200


def test_closing_without_the_file_is_422_and_an_upload_error(api, queued_processing):
    asset_id = api.register().json()["id"]
    api.post(f"/assets/{asset_id}/upload")

    response = api.delete(f"/assets/{asset_id}/upload")

    assert response.status_code == 422
    assert "never arrived" in response.json()["message"]
    asset = Asset.objects.get(pk=asset_id)
    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason
    assert queued_processing == []


def test_closing_with_the_wrong_content_is_422_with_the_reason(api, queued_processing):
    data = b"%PDF-1.7 this is not an image at all" * 20
    asset_id = api.register(size=len(data)).json()["id"]
    _put(api, api.post(f"/assets/{asset_id}/upload").json()["url"], data)

    response = api.delete(f"/assets/{asset_id}/upload")

    assert response.status_code == 422
    assert "not an image" in response.json()["message"]


def test_after_an_upload_error_opening_again_retries_with_a_fresh_key(api, queued_processing):
    data = make_jpeg(32, 32)
    asset_id = api.register(size=len(data)).json()["id"]
    api.post(f"/assets/{asset_id}/upload")
    api.delete(f"/assets/{asset_id}/upload")
    failed_key = Asset.objects.get(pk=asset_id).storage_key

    url = api.post(f"/assets/{asset_id}/upload").json()["url"]
    _put(api, url, data)

    assert api.delete(f"/assets/{asset_id}/upload").status_code == 204
    asset = Asset.objects.get(pk=asset_id)
    assert asset.status == S.UPLOADED
    assert asset.storage_key != failed_key


def test_closing_twice_changes_nothing(api, queued_processing, django_capture_on_commit_callbacks):
    data = make_jpeg(32, 32)
    asset_id = api.register(size=len(data)).json()["id"]
    _put(api, api.post(f"/assets/{asset_id}/upload").json()["url"], data)
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"/assets/{asset_id}/upload")
        again = api.delete(f"/assets/{asset_id}/upload")

    assert again.status_code == 204
    assert len(queued_processing) == 1
    assert api.post(f"/assets/{asset_id}/upload").status_code == 409  # nothing more to upload


def test_the_upload_state_says_what_already_arrived(api, queued_processing):
    data = make_jpeg(32, 32)
    asset_id = api.register(size=len(data)).json()["id"]
    url = api.post(f"/assets/{asset_id}/upload").json()["url"]
    assert api.get(f"/assets/{asset_id}/upload").json()["received"] is False

    _put(api, url, data)

    state = api.get(f"/assets/{asset_id}/upload").json()
    assert (state["received"], state["receivedSize"], state["status"]) == (True, len(data), "uploading")


def test_a_multipart_upload_signs_parts_on_request_and_is_joined_on_close(api, settings, queued_processing):
    settings.UPLOAD_PART_SIZE = 5 * 1024**2
    data = make_png(32, 32) + bytes(range(256)) * (45_000)  # ~11 MiB: three parts
    asset_id = api.register(fileName="big.png", size=len(data)).json()["id"]

    started = api.post(f"/assets/{asset_id}/upload?multipart=true").json()["multipart"]
    assert (started["partSize"], started["partCount"], started["receivedParts"]) == (settings.UPLOAD_PART_SIZE, 3, [])
    signed = api.post(f"/assets/{asset_id}/upload/parts", {"partNumbers": [1, 2]}).json()["parts"]
    for part in signed:
        start = (part["partNumber"] - 1) * started["partSize"]
        assert _put(api, part["url"], data[start : start + started["partSize"]]).status_code == 200
    assert api.get(f"/assets/{asset_id}/upload").json()["multipart"]["receivedParts"] == [1, 2]
    [last] = api.post(f"/assets/{asset_id}/upload/parts", {"partNumbers": [3]}).json()["parts"]
    _put(api, last["url"], data[2 * started["partSize"] :])

    assert api.delete(f"/assets/{asset_id}/upload").status_code == 204
    asset = Asset.objects.get(pk=asset_id)
    assert asset.status == S.UPLOADED
    assert storage.stored_size(asset.storage_key) == len(data)


def test_parts_outside_the_file_are_422(api, settings):
    settings.UPLOAD_PART_SIZE = 5 * 1024**2
    asset_id = api.register(size=6 * 1024**2).json()["id"]
    api.post(f"/assets/{asset_id}/upload?multipart=true")

    response = api.post(f"/assets/{asset_id}/upload/parts", {"partNumbers": [3]})

    assert response.status_code == 422


def test_only_the_person_who_registered_or_a_manager_uploads(project, member, manager, owner):
    asset_id = Api(member).register(projectId=str(project.pk)).json()["id"]
    carl = owner.__class__.objects.create_user("carl", password=PASSWORD)
    Membership.objects.create(organization=project.organization, user=carl, role=Membership.Role.UPLOADER)
    colleague = Api(carl)

    assert colleague.post(f"/assets/{asset_id}/upload").status_code == 403
    assert Api(manager).post(f"/assets/{asset_id}/upload").status_code == 200


def test_another_organizations_asset_is_404_everywhere(api, outsider, other_project):
    foreign = Api(outsider).register(projectId=str(other_project.pk)).json()["id"]

    assert api.get(f"/assets/{foreign}").status_code == 404
    assert api.post(f"/assets/{foreign}/upload").status_code == 404
    assert api.get(f"/assets/{foreign}/upload").status_code == 404
    assert api.delete(f"/assets/{foreign}/upload").status_code == 404


def test_an_asset_of_a_browser_session_is_not_uploaded_through_the_api(api, upload_session, project):
    asset = Asset.objects.create(organization=project.organization, project=project, upload_session=upload_session,
                                 name="a.jpg", original_filename="a.jpg", asset_type="image", uploaded_by=api.user)

    assert api.post(f"/assets/{asset.pk}/upload").status_code == 409


# --- read and list ----------------------------------------------------------------------------


def test_reading_an_asset_gives_its_status_and_metadata(api, project):
    asset_id = api.register(projectId=str(project.pk), externalId="e-1").json()["id"]
    Asset.objects.filter(pk=asset_id).update(status=S.UPLOAD_ERROR, error_reason="Not an image.")

    body = api.get(f"/assets/{asset_id}").json()

    assert (body["status"], body["statusLabel"], body["errorReason"]) == ("upload_error", "Upload Error", "Not an image.")
    assert (body["projectId"], body["externalId"]) == (str(project.pk), "e-1")


@pytest.fixture
def listed(api, project, organization, owner, outsider, other_project):
    """Assets of several projects, statuses, types and dates, plus one of another organization."""
    day = datetime(2026, 3, 4, tzinfo=UTC)
    sibling = Project.objects.create(organization=organization, name="Aerial", created_by=owner)
    rows = [
        (project, "image", S.READY, day),
        (project, "video", S.UPLOADING, day + timedelta(days=1)),
        (project, "image", S.UPLOAD_ERROR, day + timedelta(days=2)),
        (sibling, "image", S.READY, day + timedelta(days=3)),
        (None, "video", S.UPLOADED, day + timedelta(days=4)),
        (other_project, "image", S.READY, day + timedelta(days=5)),
    ]
    return [
        Asset.objects.create(
            organization=(p.organization if p else organization), project=p, name=f"a{n}", original_filename=f"a{n}.x",
            asset_type=kind, status=status, created_at=created, external_id=f"ext-{n}", sha256=f"{n:064x}",
        )
        for n, (p, kind, status, created) in enumerate(rows)
    ]


def _names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [asset["name"] for asset in response.json()]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["a4", "a3", "a2", "a1", "a0"]),
        ({"sort": "+createdAt"}, ["a0", "a1", "a2", "a3", "a4"]),
        ({"sort": " createdAt"}, ["a0", "a1", "a2", "a3", "a4"]),
        ({"status": "ready"}, ["a3", "a0"]),
        ({"status": "ready,upload_error"}, ["a3", "a2", "a0"]),
        ({"type": "video"}, ["a4", "a1"]),
        ({"library": "true"}, ["a4"]),
        ({"minCreatedAt": "2026-03-05T00:00:00Z", "maxCreatedAt": "2026-03-06T00:00:00Z"}, ["a2", "a1"]),
        ({"sha256": f"{3:064x}"}, ["a3"]),
        ({"externalId": "ext-2"}, ["a2"]),
    ],
)
def test_listing_filters_and_sorts(api, listed, params, expected):
    assert _names(api.get("/assets", params)) == expected


def test_listing_by_project(api, listed, project):
    assert _names(api.get("/assets", {"projectId": str(project.pk)})) == ["a2", "a1", "a0"]


def test_listing_another_organizations_project_is_404(api, listed, other_project):
    assert api.get("/assets", {"projectId": str(other_project.pk)}).status_code == 404


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"type": "audio"}, {"pageSize": "101"}, {"pageSize": "0"},
                                    {"page": "0"}, {"sort": "name"}, {"minCreatedAt": "yesterday"}])
def test_listing_filters_that_do_not_fit_are_422(api, listed, params):
    assert api.get("/assets", params).status_code == 422


def test_lists_are_paginated_with_link_and_total_count(api, listed):
    response = api.get("/assets", {"pageSize": 2, "page": 2, "type": "image"})

    assert _names(response) == ["a0"]  # images, newest first: a3, a2 | a0
    assert response["X-Total-Count"] == "3"
    links = {rel: url for url, rel in _links(response["Link"])}
    assert set(links) == {"first", "prev", "last"}
    assert links["first"] == "http://testserver/api/v1/assets?type=image&page=1&pageSize=2&sort=-createdAt"
    assert links["prev"].endswith("page=1&pageSize=2&sort=-createdAt")
    assert links["last"].endswith("page=2&pageSize=2&sort=-createdAt")


def _links(header: str) -> list[tuple[str, str]]:
    found = []
    for part in header.split(","):
        url, rel = part.split(";")
        found.append((url.strip()[1:-1], rel.split("=")[1].strip('"')))
    return found


def test_a_file_over_5_gib_must_go_in_parts(api):
    asset_id = api.register(size=5 * 1024**3 + 1).json()["id"]

    single = api.post(f"/assets/{asset_id}/upload")
    parts = api.post(f"/assets/{asset_id}/upload?multipart=true")

    assert single.status_code == 422
    assert "multipart=true" in single.json()["message"]
    assert parts.status_code == 200
