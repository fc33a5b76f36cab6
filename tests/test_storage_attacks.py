"""What an uploader could try against the stored files, and what stops it (docs/SECURITY.md, "Stored files").

Each test is one attack: script served from the portal's origin, a key that climbs into another organization,
an old signed URL sent again after the file was verified, a multipart upload started twice, a part longer than
its share of the file.
"""

import hashlib
import io
import re
from urllib.parse import urlsplit

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from assets import storage
from assets.models import Asset
from tests.api import Api
from tests.media_factory import make_jpeg
from tests.test_upload_complete import _register, _send
from uploads.services import UploadRefused, transfer_instructions, upload_complete, upload_sign

S = Asset.Status
SCRIPT = b"<html><body><script>console.log('pwned'); document.title = 'pwned'</script></body></html>"


def png_with_script() -> bytes:
    """A valid PNG whose text chunk holds an HTML page with a script: fine as an image, dangerous as a page."""
    info = PngInfo()
    info.add_text("Comment", SCRIPT.decode())
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


@pytest.fixture
def processed(eager_tasks, django_capture_on_commit_callbacks):
    """Completes files the way the browser does; verification and processing run as the transaction commits."""

    def complete(session, *assets, keys=None):
        with django_capture_on_commit_callbacks(execute=True):
            upload_complete(session=session, asset_ids=[str(a.pk) for a in assets], keys=keys)
        for asset in assets:
            asset.refresh_from_db()

    return complete


def _stored(key: str) -> bytes:
    with default_storage.open(key, "rb") as stored:
        return stored.read()


# --- no script on the portal's origin -----------------------------------------------------------------


def test_a_png_named_html_is_served_as_a_download_with_nosniff_and_a_sandbox(client, upload_session, processed):
    data = png_with_script()
    asset = _register(upload_session, "evil.html", data, "")
    assert _send(client, transfer_instructions(asset)["put"], data)[0] == 200

    processed(upload_session, asset)
    response = client.get(asset.file_url())

    assert asset.status == S.READY
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"  # what verification read from the bytes, never text/html
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"


def test_a_file_not_verified_yet_is_served_as_application_octet_stream(client, upload_session):
    data = png_with_script()
    asset = _register(upload_session, "evil.html", data, "image/png")
    assert _send(client, transfer_instructions(asset)["put"], data)[0] == 200

    response = client.get(asset.file_url())

    assert response["Content-Type"] == "application/octet-stream"  # the declared type is only the uploader's word
    assert response["Content-Disposition"].startswith("attachment;")


def test_error_answers_of_the_storage_endpoint_carry_nosniff_and_a_sandbox(client):
    response = client.get("/storage/assets/a/b/c.html")

    assert response.status_code == 403
    assert (response["X-Content-Type-Options"], response["Content-Security-Policy"]) == ("nosniff", "sandbox")


def test_thumbnails_are_shown_inline_as_the_jpegs_the_portal_made(client, upload_session, processed):
    data = make_jpeg(64, 48)
    asset = _register(upload_session, "gate.jpg", data, "image/jpeg")
    _send(client, transfer_instructions(asset)["put"], data)

    processed(upload_session, asset)
    response = client.get(asset.thumbnail_url)

    assert (response["Content-Type"], response["Content-Disposition"].split(";")[0]) == ("image/jpeg", "inline")


def test_s3_urls_name_the_verified_type_and_a_download(s3_storage, upload_session, processed, client):
    data = png_with_script()
    asset = _register(upload_session, "evil.html", data, "")
    assert _send(client, transfer_instructions(asset)["put"], data)[0] == 200

    processed(upload_session, asset)
    response = requests.get(asset.file_url(), timeout=30)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_s3_puts_always_sign_an_allowed_content_type(s3_storage, upload_session):
    asset = _register(upload_session, "evil.html", b"<html>" * 10, "")
    other = _register(upload_session, "gate.jpg", b"\xff\xd8\xff" * 10, "image/jpeg")

    assert transfer_instructions(asset)["put"]["headers"]["Content-Type"] == "application/octet-stream"
    assert transfer_instructions(other)["put"]["headers"]["Content-Type"] == "image/jpeg"
    assert "content-type" in transfer_instructions(asset)["put"]["url"].lower()  # among X-Amz-SignedHeaders


# --- keys ------------------------------------------------------------------------------------------


@pytest.fixture
def their_ready_asset(other_project):
    """Another organization's verified original, stored under its own prefix."""
    asset = Asset.objects.create(
        organization=other_project.organization, project=other_project, name="secret.jpg", asset_type="image",
        status=S.READY, sha256="a" * 64,
    )
    asset.storage_key = storage.new_key(organization_id=asset.organization_id, asset_id=asset.pk, extension=".jpg")
    asset.save()
    default_storage.save(asset.storage_key, ContentFile(b"their original"))
    return asset


def test_a_completion_naming_a_key_that_climbs_into_another_organization_deletes_nothing(
    upload_session, their_ready_asset, processed, queued_processing
):
    mine = _register(upload_session, "mine.jpg", make_jpeg(40, 30), "image/jpeg")
    climbing = f"{storage.key_prefix(organization_id=mine.organization_id, asset_id=mine.pk)}../../" + their_ready_asset.storage_key.removeprefix("assets/")
    assert storage.key_belongs_to(climbing, organization_id=mine.organization_id, asset_id=mine.pk) is False

    processed(upload_session, mine, keys={str(mine.pk): climbing})

    their_ready_asset.refresh_from_db()
    assert _stored(their_ready_asset.storage_key) == b"their original"
    assert their_ready_asset.status == S.READY
    with pytest.raises(storage.UnsafeKey):
        storage.delete(climbing)


def test_a_completion_naming_another_key_under_the_files_own_prefix_deletes_nothing(upload_session, processed, queued_processing):
    mine = _register(upload_session, "mine.jpg", make_jpeg(40, 30), "image/jpeg")
    never_issued = storage.new_key(organization_id=mine.organization_id, asset_id=mine.pk, extension=".jpg")
    default_storage.save(never_issued, ContentFile(b"something else"))

    processed(upload_session, mine, keys={str(mine.pk): never_issued})

    assert _stored(never_issued) == b"something else"  # only keys the portal issued to the file are ever deleted


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "assets/a\\b", "assets/a\x00b", "assets//b", "assets/./b"])
def test_every_storage_operation_refuses_a_key_the_portal_would_not_issue(key):
    for operation in (storage.delete, storage.stored_size, storage.inspect, storage.open, storage.multipart_start):
        with pytest.raises(storage.UnsafeKey):
            operation(key)
    with pytest.raises(storage.UnsafeKey):
        storage.presign("get", key)


# --- writes only while a file is uploading ------------------------------------------------------------


def test_an_old_signed_put_against_a_ready_asset_is_refused_and_changes_nothing(client, upload_session, processed):
    data = make_jpeg(64, 48)
    asset = _register(upload_session, "gate.jpg", data, "image/jpeg")
    put = transfer_instructions(asset)["put"]
    assert _send(client, put, data)[0] == 200
    processed(upload_session, asset)
    assert asset.status == S.READY

    status, _, body = _send(client, put, data)

    assert status == 403 and b"AccessDenied" in body
    asset.refresh_from_db()
    assert _stored(asset.storage_key) == data
    assert asset.sha256 == hashlib.sha256(data).hexdigest()


def test_an_old_api_put_with_other_bytes_of_the_same_length_cannot_replace_a_ready_asset(owner, project, eager_tasks, django_capture_on_commit_callbacks):
    api = Api(owner)
    data = make_jpeg(64, 48)
    asset_id = api.register(projectId=str(project.pk)).json()["id"]  # no size, no sha256: the URL binds nothing
    url = urlsplit(api.post(f"/assets/{asset_id}/upload").json()["url"])
    put = f"{url.path}?{url.query}"
    assert api.client.generic("PUT", put, data=data, content_type="").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/assets/{asset_id}/upload").status_code == 204
    asset = Asset.objects.get(pk=asset_id)
    assert asset.status == S.READY

    response = api.client.generic("PUT", put, data=bytes(reversed(data)), content_type="")

    assert response.status_code == 403
    asset.refresh_from_db()
    assert _stored(asset.storage_key) == data
    assert asset.sha256 == hashlib.sha256(data).hexdigest()


def test_on_s3_an_old_signed_put_only_writes_to_a_key_no_asset_has(s3_storage, client, upload_session, processed):
    data = make_jpeg(64, 48)
    asset = _register(upload_session, "gate.jpg", data, "image/jpeg")
    put = transfer_instructions(asset)["put"]
    sent_to = asset.storage_key
    assert _send(client, put, data)[0] == 200
    processed(upload_session, asset)

    _send(client, put, bytes(reversed(data)))  # moto does not check the signed checksum: the store takes it

    asset.refresh_from_db()
    assert asset.status == S.READY and asset.storage_key != sent_to
    assert _stored(asset.storage_key) == data
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert not Asset.objects.filter(storage_key=sent_to).exists()


def test_a_put_for_a_file_that_failed_is_refused(client, upload_session):
    data = make_jpeg(40, 30)
    asset = _register(upload_session, "gate.jpg", data, "image/jpeg")
    put = transfer_instructions(asset)["put"]
    asset.mark_upload_error("The transfer failed.")

    assert _send(client, put, data)[0] == 403
    assert storage.stored_size(asset.storage_key) is None


# --- multipart ---------------------------------------------------------------------------------------


@pytest.fixture
def small_parts(settings):
    settings.UPLOAD_MULTIPART_THRESHOLD = 1500
    settings.UPLOAD_PART_SIZE = 1000


def _created_upload_id(body: bytes) -> str:
    return re.search(rb"<UploadId>([^<]+)</UploadId>", body).group(1).decode()


def test_a_second_create_multipart_on_a_used_url_is_refused(client, upload_session, small_parts):
    asset = _register(upload_session, "big.jpg", b"\xff\xd8\xff" + b"x" * 2497, "image/jpeg")
    create = upload_sign(session=upload_session, request={"method": "POST", "key": asset.storage_key})

    first = _send(client, create)
    second = _send(client, create)

    assert first[0] == 200
    assert second[0] == 409 and b"already started" in second[2]
    asset.refresh_from_db()
    assert asset.upload_id == _created_upload_id(first[2])
    with pytest.raises(UploadRefused) as refused:
        upload_sign(session=upload_session, request={"method": "POST", "key": asset.storage_key})
    assert refused.value.status == 409


def test_parts_are_signed_only_for_the_recorded_upload(storage_backend, client, upload_session, small_parts):
    asset = _register(upload_session, "big.jpg", b"\xff\xd8\xff" + b"x" * 2497, "image/jpeg")
    upload_id = _created_upload_id(_send(client, upload_sign(session=upload_session, request={"method": "POST", "key": asset.storage_key}))[2])
    part = {"method": "PUT", "key": asset.storage_key, "uploadId": upload_id, "partNumber": 1}
    upload_sign(session=upload_session, request=part)

    with pytest.raises(UploadRefused) as refused:
        upload_sign(session=upload_session, request={**part, "uploadId": "f" * 32})

    assert refused.value.status == 403
    asset.refresh_from_db()
    assert asset.upload_id == upload_id


def test_a_part_longer_than_its_share_of_the_declared_size_is_refused(client, upload_session, small_parts):
    data = b"\xff\xd8\xff" + b"x" * 2497  # parts of 1,000, 1,000 and 500 bytes
    asset = _register(upload_session, "big.jpg", data, "image/jpeg")
    upload_id = _created_upload_id(_send(client, upload_sign(session=upload_session, request={"method": "POST", "key": asset.storage_key}))[2])

    def part(number: int, body: bytes):
        signed = upload_sign(session=upload_session, request={"method": "PUT", "key": asset.storage_key, "uploadId": upload_id, "partNumber": number})
        return _send(client, signed, body)[0]

    assert part(1, data[:1001]) == 400
    assert part(3, data[2000:] + b"more") == 400
    assert part(1, data[:1000]) == 200
    with pytest.raises(UploadRefused):
        upload_sign(session=upload_session, request={"method": "PUT", "key": asset.storage_key, "uploadId": upload_id, "partNumber": 4})


def test_an_api_part_longer_than_the_part_size_is_refused_when_no_size_was_declared(owner, project, small_parts):
    api = Api(owner)
    asset_id = api.register(projectId=str(project.pk)).json()["id"]
    api.post(f"/assets/{asset_id}/upload?multipart=true")
    [signed] = api.post(f"/assets/{asset_id}/upload/parts", {"partNumbers": [1]}).json()["parts"]
    url = urlsplit(signed["url"])

    response = api.client.generic("PUT", f"{url.path}?{url.query}", data=b"x" * 1001, content_type="")

    assert response.status_code == 400 and b"EntityTooLarge" in response.content


def test_a_put_with_no_signed_size_is_refused_above_the_largest_file(owner, project, settings):
    settings.UPLOAD_MAX_FILE_SIZE = 100
    api = Api(owner)
    asset_id = api.register(projectId=str(project.pk)).json()["id"]
    url = urlsplit(api.post(f"/assets/{asset_id}/upload").json()["url"])

    response = api.client.generic("PUT", f"{url.path}?{url.query}", data=b"x" * 101, content_type="")

    assert response.status_code == 400 and b"EntityTooLarge" in response.content


def test_a_completion_with_a_part_number_that_is_not_a_number_is_a_400(client, upload_session, small_parts):
    asset = _register(upload_session, "big.jpg", b"\xff\xd8\xff" + b"x" * 2497, "image/jpeg")
    upload_id = _created_upload_id(_send(client, upload_sign(session=upload_session, request={"method": "POST", "key": asset.storage_key}))[2])
    done = upload_sign(session=upload_session, request={"method": "POST", "key": asset.storage_key, "uploadId": upload_id})

    status, _, body = _send(client, done, b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")

    assert status == 400 and b"InvalidArgument" in body
