"""The embedded storage endpoint: the S3 subset (single PUT, multipart, GET) the portal serves when no bucket is set."""

import base64
import hashlib
import re
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from assets import storage
from assets.storage import local
from assets.models import Asset

KEY = "assets/org/asset/3f2a9c.jpg"
DATA = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


@pytest.fixture
def media(settings) -> Path:
    return Path(settings.STORAGES["default"]["OPTIONS"]["location"])


@pytest.fixture(autouse=True)
def uploading(db, organization):
    """The files whose transfers these tests send: the endpoint takes writes only for a file still Uploading to its key."""
    return {
        key: Asset.objects.create(organization=organization, name=key, asset_type="image", storage_key=key)
        for key in (KEY, "assets/org/other/file.jpg")
    }


def _signed_anyway(operation: str, key: str, **fields) -> str:
    """A URL signed for a key presign() refuses to sign: what a forged or older signature would look like."""
    return local.signed_url(operation, key, {name: str(value) for name, value in fields.items()}, expires=600)


def _put_url(key: str = KEY, data: bytes = DATA, **overrides) -> str:
    options = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **overrides}
    return storage.presign("put", key, **options)["url"]


def _put(client, url: str, data: bytes = DATA, **headers):
    return client.generic("PUT", url, data=data, content_type="image/jpeg", headers=headers)


def _with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | {name: str(value) for name, value in changes.items()}
    return f"{parts.path}?{urlencode(query)}"


def _error_code(response) -> str:
    match = re.search(rb"<Code>([^<]+)</Code>", response.content)
    return match.group(1).decode() if match else ""


def _stored_files(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()) if media.exists() else []


# --- single PUT ----------------------------------------------------------------------------------


def test_a_signed_put_stores_the_bytes_under_the_key(client, media):
    response = _put(client, _put_url())

    assert response.status_code == 200
    assert response["ETag"] == f'"{hashlib.md5(DATA).hexdigest()}"'
    assert (media / KEY).read_bytes() == DATA
    assert _stored_files(media) == [KEY]


def test_a_put_with_the_signed_checksum_header_is_accepted(client, media):
    checksum = base64.b64encode(hashlib.sha256(DATA).digest()).decode()

    response = _put(client, _put_url(), **{"x-amz-checksum-sha256": checksum})

    assert response.status_code == 200
    assert (media / KEY).read_bytes() == DATA


def test_a_body_of_another_length_than_signed_is_refused_and_nothing_stored(client, media):
    response = _put(client, _put_url(size=len(DATA) + 1))

    assert response.status_code == 400
    assert f"The body is {len(DATA)} bytes but the URL was signed for {len(DATA) + 1} bytes." in response.content.decode()
    assert _stored_files(media) == []


def test_bytes_with_another_sha256_than_signed_are_refused_and_nothing_stored(client, media):
    other = DATA[:-1] + b"\x00"

    response = _put(client, _put_url(), data=other)

    assert response.status_code == 400
    assert _error_code(response) == "BadDigest"
    assert response["x-amz-error-code"] == "BadDigest"
    assert _stored_files(media) == []


def test_a_checksum_header_that_does_not_match_the_bytes_is_refused(client, media):
    url = storage.presign("put", KEY, size=len(DATA))["url"]
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()

    response = _put(client, url, **{"x-amz-checksum-sha256": wrong})

    assert response.status_code == 400
    assert _error_code(response) == "BadDigest"
    assert _stored_files(media) == []


def test_a_failed_put_leaves_an_earlier_object_as_it_was(client, media):
    assert _put(client, _put_url()).status_code == 200

    assert _put(client, _put_url(), data=b"x" * len(DATA)).status_code == 400

    assert (media / KEY).read_bytes() == DATA


def test_an_expired_url_is_refused_with_a_message_about_expiry(client, media, monkeypatch):
    url = _put_url(expires=60)
    monkeypatch.setattr(local, "time", SimpleNamespace(time=lambda: time.time() + 61))

    response = _put(client, url)

    assert response.status_code == 403
    assert _error_code(response) == "AccessDenied"
    assert "This upload URL has expired: ask the portal for a fresh one (Retry does)." in response.content.decode()
    assert _stored_files(media) == []


def test_a_url_is_valid_until_it_expires(client, media, monkeypatch):
    url = _put_url(expires=60)
    monkeypatch.setattr(local, "time", SimpleNamespace(time=lambda: time.time() + 55))

    assert _put(client, url).status_code == 200


def test_urls_expire_after_the_configured_time(client, settings, monkeypatch):
    settings.UPLOAD_URL_EXPIRY_SECONDS = 30
    url = _put_url()
    monkeypatch.setattr(local, "time", SimpleNamespace(time=lambda: time.time() + 31))

    assert _put(client, url).status_code == 403


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: _with_query(url, size=len(DATA) + 10),
        lambda url: _with_query(url, sha256=hashlib.sha256(b"other").hexdigest()),
        lambda url: _with_query(url, expires=int(time.time()) + 10 * 365 * 86400),
        lambda url: _with_query(url, op="get"),
        lambda url: _with_query(url, signature="A" * 27),
        lambda url: _with_query(url, extra="1"),
        lambda url: url.replace(KEY, "assets/org/asset/other.jpg"),
        lambda url: url.replace(KEY, "assets/other-org/asset/3f2a9c.jpg"),
    ],
    ids=["size", "sha256", "expiry", "operation", "signature", "added-field", "key", "organization"],
)
def test_a_tampered_url_is_refused_and_nothing_stored(client, media, tamper):
    response = _put(client, tamper(_put_url()))

    assert response.status_code == 403
    assert _error_code(response) == "AccessDenied"
    assert _stored_files(media) == []


def test_an_unsigned_request_is_refused(client, media):
    assert _put(client, f"/storage/{KEY}").status_code == 403
    assert client.get(f"/storage/{KEY}").status_code == 403


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_a_url_signed_for_put_answers_405_to_other_methods(client, media, method):
    response = client.generic(method, _put_url(), data=DATA if method == "POST" else b"", content_type="image/jpeg")

    assert response.status_code == 405
    assert "This URL was signed for PUT, not " + method in response.content.decode()
    assert _stored_files(media) == []


def test_a_put_without_content_length_is_refused(client, media):
    response = client.generic("PUT", _put_url(), data=b"")

    assert response.status_code == 411
    assert _stored_files(media) == []


# --- reading back ----------------------------------------------------------------------------------


def test_a_signed_get_returns_the_stored_bytes(client, media):
    _put(client, _put_url())

    response = client.get(storage.presign("get", KEY, filename="North gate.jpg")["url"])

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == DATA
    assert "North gate.jpg" in response["Content-Disposition"]


def test_a_get_for_a_missing_object_is_404(client, media):
    response = client.get(storage.presign("get", KEY)["url"])

    assert response.status_code == 404
    assert _error_code(response) == "NoSuchKey"


# --- multipart --------------------------------------------------------------------------------------


def _create(client, key: str = KEY) -> str:
    response = client.post(storage.presign("create_multipart", key)["url"])
    assert response.status_code == 200
    match = re.search(rb"<UploadId>([0-9a-f]+)</UploadId>", response.content)
    assert match, response.content
    return match.group(1).decode()


def _upload_part(client, upload_id: str, number: int, data: bytes, key: str = KEY):
    url = storage.presign("upload_part", key, upload_id=upload_id, part_number=number)["url"]
    return client.generic("PUT", url, data=data)


def _complete(client, upload_id: str, parts: list[tuple[int, str]], key: str = KEY):
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in parts
    ) + "</CompleteMultipartUpload>"
    url = storage.presign("complete_multipart", key, upload_id=upload_id)["url"]
    return client.generic("POST", url, data=body, content_type="application/xml")


def _list(client, upload_id: str, key: str = KEY):
    return client.get(storage.presign("list_parts", key, upload_id=upload_id)["url"])


PART_1 = b"a" * 5000
PART_2 = b"b" * 3000


def test_a_multipart_upload_stores_the_parts_joined_in_order(client, media):
    upload_id = _create(client)
    second = _upload_part(client, upload_id, 2, PART_2)
    first = _upload_part(client, upload_id, 1, PART_1)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first["ETag"] == f'"{hashlib.md5(PART_1).hexdigest()}"'
    assert second["ETag"] == f'"{hashlib.md5(PART_2).hexdigest()}"'

    listed = _list(client, upload_id)
    assert listed.status_code == 200
    assert re.findall(rb"<PartNumber>(\d+)</PartNumber><ETag>([^<]+)</ETag><Size>(\d+)</Size>", listed.content) == [
        (b"1", first["ETag"].encode(), b"5000"),
        (b"2", second["ETag"].encode(), b"3000"),
    ]
    assert not (media / KEY).exists()

    response = _complete(client, upload_id, [(1, first["ETag"]), (2, second["ETag"])])

    assert response.status_code == 200
    body = response.content.decode()
    assert f"<Key>{KEY}</Key>" in body
    assert re.search(rf"<Location>http://testserver/storage/{KEY}</Location>", body)
    md5s = hashlib.md5(bytes.fromhex(hashlib.md5(PART_1).hexdigest()) + bytes.fromhex(hashlib.md5(PART_2).hexdigest()))
    assert f"<ETag>\"{md5s.hexdigest()}-2\"</ETag>" in body
    assert (media / KEY).read_bytes() == PART_1 + PART_2
    assert _stored_files(media) == [KEY]


def test_a_part_sent_again_replaces_the_earlier_one(client, media):
    upload_id = _create(client)
    _upload_part(client, upload_id, 1, b"first try")
    etag = _upload_part(client, upload_id, 1, PART_1)["ETag"]

    assert _complete(client, upload_id, [(1, etag)]).status_code == 200
    assert (media / KEY).read_bytes() == PART_1


def test_completing_with_a_wrong_etag_is_refused_and_stores_nothing(client, media):
    upload_id = _create(client)
    etag = _upload_part(client, upload_id, 1, PART_1)["ETag"]
    _upload_part(client, upload_id, 2, PART_2)

    response = _complete(client, upload_id, [(1, etag), (2, '"' + "0" * 32 + '"')])

    assert response.status_code == 400
    assert _error_code(response) == "InvalidPart"
    assert not (media / KEY).exists()
    assert _list(client, upload_id).status_code == 200


def test_completing_with_a_part_never_uploaded_or_out_of_order_is_refused(client, media):
    upload_id = _create(client)
    first = _upload_part(client, upload_id, 1, PART_1)["ETag"]
    second = _upload_part(client, upload_id, 2, PART_2)["ETag"]

    assert _error_code(_complete(client, upload_id, [(1, first), (3, second)])) == "InvalidPart"
    assert _error_code(_complete(client, upload_id, [(2, second), (1, first)])) == "InvalidPartOrder"
    assert _error_code(_complete(client, upload_id, [])) == "InvalidPartOrder"
    assert not (media / KEY).exists()


def test_abort_removes_the_parts(client, media):
    upload_id = _create(client)
    etag = _upload_part(client, upload_id, 1, PART_1)["ETag"]

    response = client.delete(storage.presign("abort_multipart", KEY, upload_id=upload_id)["url"])

    assert response.status_code == 204
    assert _stored_files(media) == []
    assert _error_code(_list(client, upload_id)) == "NoSuchUpload"
    assert _complete(client, upload_id, [(1, etag)]).status_code == 404
    assert not (media / KEY).exists()


def test_an_upload_id_only_works_for_the_key_it_was_created_for(client, media):
    upload_id = _create(client)

    response = _upload_part(client, upload_id, 1, PART_1, key="assets/org/other/file.jpg")

    assert response.status_code == 404
    assert _error_code(response) == "NoSuchUpload"


def test_a_signed_part_url_is_bound_to_its_part_number_and_upload(client, media):
    upload_id = _create(client)
    url = storage.presign("upload_part", KEY, upload_id=upload_id, part_number=1)["url"]

    assert client.generic("PUT", _with_query(url, partNumber=2), data=PART_1).status_code == 403
    assert client.generic("PUT", _with_query(url, uploadId="f" * 32), data=PART_1).status_code == 403


# --- keys never leave the storage location -----------------------------------------------------------


@pytest.fixture(params=["../outside/passwd", "assets/../../outside/passwd", "absolute"])
def climbing_key(request, tmp_path) -> str:
    """A key that would land in tmp_path/outside/ (next to the storage location, never a real system file)."""
    return f"{tmp_path}/outside/passwd" if request.param == "absolute" else request.param


def test_a_key_that_climbs_out_of_the_storage_location_stores_nothing_outside(client, media, tmp_path, climbing_key):
    data = b"root:x:0:0:root:/root:/bin/bash\n"
    with pytest.raises(storage.UnsafeKey):
        _put_url(key=climbing_key, data=data)

    response = _put(client, _signed_anyway("put", climbing_key, size=len(data)), data=data)

    assert response.status_code == 400
    assert not (tmp_path / "outside").exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == data] == []


def test_a_multipart_key_that_climbs_out_of_the_storage_location_stores_nothing_outside(client, media, tmp_path, climbing_key):
    with pytest.raises(storage.UnsafeKey):
        storage.multipart_start(climbing_key)

    created = client.post(_signed_anyway("create_multipart", climbing_key))
    part = client.generic("PUT", _signed_anyway("upload_part", climbing_key, uploadId="a" * 32, partNumber=1), data=PART_1)
    response = client.post(_signed_anyway("complete_multipart", climbing_key, uploadId="a" * 32), data=b"<x/>", content_type="application/xml")

    assert (created.status_code, part.status_code) == (400, 400)
    assert response.status_code == 400
    assert not (tmp_path / "outside").exists()


def test_a_get_for_a_key_outside_the_storage_location_reads_nothing(client, media, tmp_path, climbing_key):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "passwd").write_bytes(b"secret")

    with pytest.raises(storage.UnsafeKey):
        storage.presign("get", climbing_key)
    response = client.get(_signed_anyway("get", climbing_key))

    assert response.status_code == 400
    assert b"secret" not in b"".join(getattr(response, "streaming_content", [response.content]))
