"""Completing transfers: `upload_complete` queues `verify_uploads`, which checks each stored object and moves the
file to Uploaded or Upload Error — on the embedded storage and on an S3-compatible endpoint (moto)."""

import hashlib
import re
from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from celery.exceptions import TimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from assets import storage, tasks
from assets.models import Asset
from tests.media_factory import make_jpeg, make_png
from uploads.models import UploadSession
from uploads.services import UploadRefused, upload_complete, upload_session_register, upload_sign

S = Asset.Status
TEXT = b"name,url\nfront door,https://example.com/a.jpg\n" * 40


@pytest.fixture
def verify(eager_tasks, django_capture_on_commit_callbacks, queued_processing):
    """Completes files the way the browser does; the verification task runs when the request's transaction commits."""

    def complete(session, *assets) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            queued = upload_complete(session=session, asset_ids=[str(a.pk) for a in assets])
        for asset in assets:
            asset.refresh_from_db()
        return queued

    return complete


def _register(session, name: str, data: bytes, content_type: str) -> Asset:
    [result] = upload_session_register(
        session=session,
        user=session.created_by,
        files=[{"name": name, "size": len(data), "contentType": content_type, "sha256": hashlib.sha256(data).hexdigest()}],
    )
    assert result.outcome == "upload", result.reason
    return result.asset


def _send(client, transfer, data: bytes = b""):
    """Sends one signed request where it points: the store (an absolute URL) or the portal's own endpoint."""
    headers = dict(transfer.get("headers", {}))
    if transfer["url"].startswith("http"):
        response = requests.request(transfer["method"], transfer["url"], data=data, headers=headers, timeout=30)
        return response.status_code, response.headers, response.content
    content_type = headers.pop("Content-Type", "application/octet-stream")
    response = client.generic(transfer["method"], transfer["url"], data=data, content_type=content_type, headers=headers)
    return response.status_code, response, response.content


def _put(client, asset: Asset, data: bytes) -> None:
    transfer = storage.presign("put", asset.storage_key, size=asset.size, sha256=asset.sha256, content_type=asset.content_type)
    status, _, body = _send(client, transfer, data)
    assert status == 200, body


@pytest.fixture
def bystander(upload_session) -> Asset:
    """Another file of the session, still uploading: nothing that happens to its neighbours may touch it."""
    return _register(upload_session, "bystander.jpg", make_jpeg(40, 30), "image/jpeg")


def _snapshot(asset: Asset) -> tuple:
    asset = Asset.objects.get(pk=asset.pk)
    return asset.status, asset.storage_key, asset.error_reason, asset.updated_at


# --- the happy path --------------------------------------------------------------------------------


def test_a_file_put_with_the_right_bytes_becomes_uploaded(storage_backend, client, upload_session, verify, queued_processing, bystander):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    before = _snapshot(bystander)
    _put(client, asset, data)

    assert verify(upload_session, asset) == 1

    assert (asset.status, asset.error_reason) == (S.UPLOADED, "")
    assert (asset.size, asset.content_type) == (len(data), "image/jpeg")
    assert storage.stored_size(asset.storage_key) == len(data)
    assert [queued.pk for queued in queued_processing] == [asset.pk]
    assert _snapshot(bystander) == before


def test_content_type_comes_from_the_bytes_not_the_declaration(storage_backend, client, upload_session, verify):
    data = make_png()
    asset = _register(upload_session, "scan.png", data, "")
    _put(client, asset, data)

    verify(upload_session, asset)

    assert (asset.status, asset.content_type) == (S.UPLOADED, "image/png")


def test_a_file_sent_in_parts_becomes_uploaded(storage_backend, client, upload_session, verify, settings):
    settings.UPLOAD_MULTIPART_THRESHOLD = 1024
    data = make_jpeg(96, 64)
    asset = _register(upload_session, "big.jpg", data, "image/jpeg")
    key = asset.storage_key

    _, _, created = _send(client, upload_sign(session=upload_session, request={"method": "POST", "key": key}))
    upload_id = re.search(rb"<UploadId>([^<]+)</UploadId>", created).group(1).decode()
    part = upload_sign(session=upload_session, request={"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1})
    status, headers, _ = _send(client, part, data)
    assert status == 200
    done = upload_sign(session=upload_session, request={"method": "POST", "key": key, "uploadId": upload_id})
    body = f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{headers['ETag']}</ETag></Part></CompleteMultipartUpload>"
    assert _send(client, done, body.encode())[0] == 200

    verify(upload_session, asset)

    assert asset.status == S.UPLOADED
    assert storage.stored_size(asset.storage_key) == len(data)


def test_verifying_twice_moves_a_file_once(storage_backend, client, upload_session, verify, queued_processing, django_capture_on_commit_callbacks):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    _put(client, asset, data)
    verify(upload_session, asset)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.verify_uploads([str(asset.pk)])

    asset.refresh_from_db()
    assert asset.status == S.UPLOADED
    assert len(queued_processing) == 1


def test_the_keys_a_batch_was_sent_to_are_gone_once_sealed_and_s3_deletes_them_in_one_request(
    storage_backend, client, upload_session, verify, queued_processing
):
    files = [make_jpeg(40 + n, 30) for n in range(3)]
    assets = [_register(upload_session, f"gate-{n}.jpg", data, "image/jpeg") for n, data in enumerate(files)]
    sent_to = [asset.storage_key for asset in assets]
    for asset, data in zip(assets, files):
        _put(client, asset, data)
    operations: list[str] = []
    if storage_backend == "s3":
        events = storage.backend().client.meta.events
        events.register("before-call.s3", lambda model, **kwargs: operations.append(model.name), unique_id="count-ops")

    try:
        assert verify(upload_session, *assets) == 3
    finally:
        if storage_backend == "s3":
            events.unregister("before-call.s3", unique_id="count-ops")

    assert [asset.status for asset in assets] == [S.UPLOADED] * 3
    assert [storage.stored_size(key) for key in sent_to] == [None] * 3
    assert [storage.stored_size(asset.storage_key) for asset in assets] == [len(data) for data in files]
    if storage_backend == "s3":
        assert (operations.count("CopyObject"), operations.count("DeleteObject"), operations.count("DeleteObjects")) == (3, 0, 1)


def test_a_sealed_key_the_store_would_not_delete_is_left_for_the_sweep_and_the_file_still_goes_on(
    s3_storage, client, upload_session, verify, queued_processing, monkeypatch
):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    sent_to = asset.storage_key
    _put(client, asset, data)
    monkeypatch.setattr(
        type(storage.backend().client), "delete_objects",
        lambda self, **kwargs: {"Errors": [{"Key": sent_to, "Code": "InternalError"}]}, raising=False,
    )

    verify(upload_session, asset)

    assert asset.status == S.UPLOADED
    assert storage.stored_size(asset.storage_key) == len(data)
    assert storage.stored_size(sent_to) == len(data)  # the orphan sweep deletes it (tests/test_orphan_sweep.py)


# --- what goes wrong -------------------------------------------------------------------------------


def test_a_file_that_never_arrived_is_an_upload_error(storage_backend, upload_session, verify, queued_processing, bystander):
    asset = _register(upload_session, "lost.jpg", make_jpeg(), "image/jpeg")
    before = _snapshot(bystander)

    verify(upload_session, asset)

    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason == "The file never arrived in storage. Retry to upload it again."
    assert queued_processing == []
    assert _snapshot(bystander) == before


def test_a_stored_object_of_another_size_is_an_upload_error_and_discarded(storage_backend, upload_session, verify, queued_processing, bystander):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    shorter = data[: len(data) // 2]
    assert default_storage.save(asset.storage_key, ContentFile(shorter)) == asset.storage_key
    before = _snapshot(bystander)

    verify(upload_session, asset)

    assert asset.status == S.UPLOAD_ERROR
    assert f"The stored file is {_size(len(shorter))} but {_size(len(data))} were declared" in asset.error_reason
    assert asset.error_reason.endswith("it was discarded. Retry to upload it again.")
    assert storage.stored_size(asset.storage_key) is None
    assert queued_processing == []
    assert _snapshot(bystander) == before


def _size(n: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return f"{filesizeformat(n)} ({n:,} bytes)"


def test_a_png_named_jpg_is_refused_by_a_project_that_takes_only_jpeg(storage_backend, client, upload_session, verify, queued_processing, bystander):
    project = upload_session.project
    project.image_formats = ["JPEG"]
    project.save()
    data = make_png()
    asset = _register(upload_session, "holiday.jpg", data, "image/jpeg")
    _put(client, asset, data)
    before = _snapshot(bystander)

    verify(upload_session, asset)

    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason == "The file is a PNG image; this project takes only JPEG images."
    assert storage.stored_size(asset.storage_key) is None
    assert queued_processing == []
    assert _snapshot(bystander) == before


def test_a_jpeg_is_taken_by_a_project_that_takes_only_jpeg(storage_backend, client, upload_session, verify):
    project = upload_session.project
    project.image_formats = ["JPEG"]
    project.save()
    data = make_jpeg()
    asset = _register(upload_session, "holiday.jpg", data, "image/jpeg")
    _put(client, asset, data)

    verify(upload_session, asset)

    assert asset.status == S.UPLOADED


def test_a_text_file_declared_as_a_video_is_an_upload_error(storage_backend, client, project, member, verify, queued_processing):
    session = UploadSession.objects.create(
        project=project, created_by=member, asset_type="video", view_name="Gate", capture_date=date(2026, 11, 20)
    )
    bystander = _register(session, "real.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(64), "video/mp4")
    asset = _register(session, "clip.mp4", TEXT, "video/mp4")
    _put(client, asset, TEXT)
    before = _snapshot(bystander)

    verify(session, asset)

    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason == "The file's content is text, not a video, whatever its name says."
    assert storage.stored_size(asset.storage_key) is None
    assert queued_processing == []
    assert _snapshot(bystander) == before


def test_an_image_in_a_video_session_is_an_upload_error(storage_backend, client, project, member, verify):
    session = UploadSession.objects.create(
        project=project, created_by=member, asset_type="video", view_name="Gate", capture_date=date(2026, 11, 20)
    )
    data = make_jpeg()
    asset = _register(session, "clip.mp4", data, "video/mp4")
    _put(client, asset, data)

    verify(session, asset)

    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason == "The file's content is a JPEG image, not a video, whatever its name says."


def test_bytes_other_than_declared_are_discarded_when_the_worker_reads_them(storage_backend, upload_session, eager_tasks, django_capture_on_commit_callbacks):
    pytest.importorskip("assets.media")
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    # Same size and still a JPEG, other bytes: only the sha256 tells (moto does not check checksums).
    other = data[:-3] + bytes(3)
    default_storage.save(asset.storage_key, ContentFile(other))

    with django_capture_on_commit_callbacks(execute=True):
        upload_complete(session=upload_session, asset_ids=[str(asset.pk)])

    asset.refresh_from_db()
    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason == (
        "The stored bytes do not match the sha256 declared for this file; it was discarded. Retry to upload it again."
    )
    assert storage.stored_size(asset.storage_key) is None


# --- when the storage keeps failing ----------------------------------------------------------------

ACCESS_DENIED = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}


@pytest.fixture
def worker_verify(verify, eager_tasks):
    """`verify`, with a task's failure handled the way a worker handles it instead of raised to the test."""
    eager_tasks.conf.task_eager_propagates = False
    return verify


def _failing(monkeypatch, target, errors: list):
    """Makes `target` (a function of assets.storage) raise the given errors in turn, then do its real work."""
    real = getattr(storage, target)
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if errors:
            raise errors.pop(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(storage, target, flaky)
    return calls


def test_a_file_the_storage_never_lets_the_portal_read_ends_as_upload_error_saying_so(
    storage_backend, client, upload_session, worker_verify, bystander, monkeypatch
):
    # S3 answers 403, not 404, about a missing object when the portal may not list the bucket.
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    _put(client, asset, data)
    tries = tasks.verify_uploads.max_retries + 1
    calls = _failing(monkeypatch, "inspect_many", [ClientError(ACCESS_DENIED, "GetObject") for _ in range(tries)])
    before = _snapshot(bystander)

    worker_verify(upload_session, asset)

    asset.refresh_from_db()
    assert len(calls) == tries
    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason == (
        f"The portal gave up checking the stored file: the storage answered AccessDenied (HTTP 403) on all {tries} tries. "
        "Retry to upload it again; if it keeps failing, an admin should check the portal's access to the storage."
    )
    assert _snapshot(bystander) == before



def test_one_object_the_storage_will_not_show_does_not_hold_up_its_batch(
    storage_backend, client, upload_session, worker_verify, queued_processing, monkeypatch
):
    sent = {}
    for name, data in (("north-1.jpg", make_jpeg(41, 30)), ("north-2.jpg", make_jpeg(42, 30))):
        sent[name] = _register(upload_session, name, data, "image/jpeg")
        _put(client, sent[name], data)
    shown, hidden = sent.values()
    shown_key, hidden_key = shown.storage_key, hidden.storage_key
    asked = []

    def refuse_one(read):
        def inspect(backend, key, length):
            asked.append(key)
            if key == hidden.storage_key:
                raise ClientError(ACCESS_DENIED, "GetObject")
            return read(backend, key, length)

        return inspect

    backend_class = type(storage.backend())
    monkeypatch.setattr(backend_class, "inspect", refuse_one(backend_class.inspect))

    worker_verify(upload_session, shown, hidden)

    assert (shown.status, shown.error_reason) == (S.UPLOADED, "")
    assert hidden.status == S.UPLOAD_ERROR and "AccessDenied (HTTP 403) on all 6 tries" in hidden.error_reason
    # The tries after the first asked only about the object still waiting.
    assert asked.count(shown_key) == 1 and asked.count(hidden_key) == 6


def test_a_finalized_session_whose_last_file_cannot_be_checked_still_completes(
    client, upload_session, worker_verify, monkeypatch, django_capture_on_commit_callbacks
):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    _put(client, asset, data)
    upload_session.mark_finalized()
    _failing(monkeypatch, "inspect_many", [EndpointConnectionError(endpoint_url="http://s3.invalid")] * 6)

    worker_verify(upload_session, asset)

    asset.refresh_from_db()
    upload_session.refresh_from_db()
    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason.startswith("The portal gave up checking the stored file: the storage could not be reached on all 6 tries.")
    assert upload_session.status == UploadSession.Status.COMPLETE


def test_a_storage_hiccup_is_retried_and_the_file_goes_on(storage_backend, client, upload_session, worker_verify, queued_processing, monkeypatch):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    _put(client, asset, data)
    calls = _failing(monkeypatch, "inspect_many", [ClientError(ACCESS_DENIED, "GetObject")])

    worker_verify(upload_session, asset)

    assert len(calls) == 2
    assert (asset.status, asset.error_reason) == (S.UPLOADED, "")


def test_giving_up_leaves_a_file_another_run_took_further_alone(upload_session, worker_verify, monkeypatch):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")

    def checked_elsewhere_then_fails(keys, *args, **kwargs):
        Asset.objects.get(pk=asset.pk).mark_uploaded()  # another delivery of the task got there first
        raise ClientError(ACCESS_DENIED, "GetObject")

    monkeypatch.setattr(storage, "inspect_many", checked_elsewhere_then_fails)
    worker_verify(upload_session, asset)

    asset.refresh_from_db()
    assert (asset.status, asset.error_reason) == (S.UPLOADED, "")


def test_an_image_whose_processing_fails_for_good_ends_as_upload_error(storage_backend, client, upload_session, worker_verify, monkeypatch):
    data = make_jpeg()
    asset = _register(upload_session, "north-1.jpg", data, "image/jpeg")
    _put(client, asset, data)
    worker_verify(upload_session, asset)
    assert asset.status == S.UPLOADED
    _failing(monkeypatch, "write", [ClientError(ACCESS_DENIED, "PutObject") for _ in range(6)])

    tasks.process_image.delay(str(asset.pk))

    asset.refresh_from_db()
    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason.startswith("The portal gave up processing the image: the storage answered AccessDenied (HTTP 403)")


def test_an_error_nobody_expected_is_not_shown_to_people_as_it_is(upload_session, worker_verify, monkeypatch):
    asset = _register(upload_session, "north-1.jpg", make_jpeg(), "image/jpeg")
    _failing(monkeypatch, "inspect_many", [KeyError("internal detail")])

    worker_verify(upload_session, asset)

    asset.refresh_from_db()
    assert asset.status == S.UPLOAD_ERROR
    assert asset.error_reason == (
        "Checking the stored file failed unexpectedly. Retry to upload it again; contact support if it keeps failing."
    )


def test_a_task_stopped_by_its_hard_time_limit_says_it_took_too_long(upload_session, worker_verify, monkeypatch):
    asset = _register(upload_session, "north-1.jpg", make_jpeg(), "image/jpeg")
    _failing(monkeypatch, "inspect_many", [TimeLimitExceeded(60)])

    worker_verify(upload_session, asset)

    asset.refresh_from_db()
    assert asset.error_reason == "Checking the stored file took longer than the portal allows for one file. Retry to upload it again."


# --- which files a completion touches ---------------------------------------------------------------


def test_completion_queues_only_uploading_files_of_the_session(storage_backend, upload_session, project, member, verify):
    failed = _register(upload_session, "failed.jpg", make_jpeg(30, 20), "image/jpeg")
    assert failed.mark_upload_error("The transfer failed.")
    other_session = UploadSession.objects.create(
        project=project, created_by=member, asset_type="image", view_name="Other", capture_date=date(2026, 11, 20)
    )
    elsewhere = _register(other_session, "elsewhere.jpg", make_jpeg(20, 20), "image/jpeg")

    assert verify(upload_session, failed, elsewhere) == 0

    assert (failed.status, failed.error_reason) == (S.UPLOAD_ERROR, "The transfer failed.")
    assert elsewhere.status == S.UPLOADING


def test_completion_with_ids_that_are_not_ids_is_refused(upload_session):
    with pytest.raises(UploadRefused, match="Some asset ids are not valid ids."):
        upload_complete(session=upload_session, asset_ids=["not-an-id"])


# --- signing for S3 ---------------------------------------------------------------------------------


def test_an_s3_put_url_binds_the_length_and_the_checksum(s3_storage):
    data = make_jpeg()
    transfer = storage.presign(
        "put", "assets/o/a/k.jpg", size=len(data), sha256=hashlib.sha256(data).hexdigest(), content_type="image/jpeg"
    )

    signed = parse_qs(urlsplit(transfer["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-length", "content-type", "x-amz-checksum-sha256"} <= set(signed)
    assert transfer["headers"] == {
        "Content-Type": "image/jpeg",
        "x-amz-checksum-sha256": storage.sha256_hex_to_base64(hashlib.sha256(data).hexdigest()),
    }

    response = requests.put(transfer["url"], data=data, headers=transfer["headers"], timeout=30)

    assert response.status_code == 200
    assert storage.stored_size("assets/o/a/k.jpg") == len(data)
    assert storage.inspect("assets/o/a/k.jpg", 4) == (len(data), data[:4])


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="path-style endpoint"),
        pytest.param({"endpoint_url": "https://MinIO.example.com:9000", "region_name": "eu-central-1"}, id="https endpoint, own port"),
        pytest.param({"endpoint_url": "https://minio.example.com:443"}, id="https endpoint, default port"),
        pytest.param(
            {"endpoint_url": None, "region_name": "eu-west-1", "security_token": "session-token",
             "client_config": Config(signature_version="s3v4", s3={"addressing_style": "virtual"})},
            id="AWS, virtual-hosted, temporary credentials",
        ),
    ],
)
def test_a_put_url_is_the_one_boto3_signs(settings, monkeypatch, options):
    """Single PUTs are signed by botocore's signer without boto3's request pipeline: the URL must not differ."""
    from tests import s3

    default = s3.storage_settings("http://127.0.0.1:9", "assets-bucket")
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": {**default["OPTIONS"], **options}}}
    frozen = lambda *a, **k: datetime(2026, 11, 23, 17, 5, 9)  # noqa: E731
    monkeypatch.setattr("botocore.auth.get_current_datetime", frozen)
    monkeypatch.setattr("assets.storage.s3.get_current_datetime", frozen)
    key = "assets/org/asset/0123abcd~x y+é.jpg"
    sha256 = hashlib.sha256(b"bytes").hexdigest()

    ours = storage.presign("put", key, size=5, sha256=sha256, content_type="image/jpeg", expires=900)["url"]

    boto3_client = default_storage.connection.meta.client
    theirs = boto3_client.generate_presigned_url(
        "put_object",
        Params={"Bucket": "assets-bucket", "Key": key, "ContentLength": 5, "ContentType": "image/jpeg",
                "ChecksumSHA256": storage.sha256_hex_to_base64(sha256)},
        ExpiresIn=900,
    )
    assert ours == theirs
    assert "X-Amz-Signature=" in ours and "X-Amz-Date=20261123T170509Z" in ours


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "download"])
@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="path-style endpoint"),
        pytest.param({"endpoint_url": "https://MinIO.example.com:9000", "region_name": "eu-central-1"}, id="https endpoint, own port"),
        pytest.param(
            {"endpoint_url": None, "region_name": "eu-west-1", "security_token": "session-token",
             "client_config": Config(signature_version="s3v4", s3={"addressing_style": "virtual"})},
            id="AWS, virtual-hosted, temporary credentials",
        ),
    ],
)
def test_a_get_url_is_the_one_boto3_signs(settings, monkeypatch, options, inline):
    """GETs (a page of thumbnails signs one per row) go through the same signer as single PUTs: the URL must not differ,
    the served type and disposition included."""
    from tests import s3

    default = s3.storage_settings("http://127.0.0.1:9", "assets-bucket")
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": {**default["OPTIONS"], **options}}}
    frozen = lambda *a, **k: datetime(2026, 11, 23, 17, 5, 9)  # noqa: E731
    monkeypatch.setattr("botocore.auth.get_current_datetime", frozen)
    monkeypatch.setattr("assets.storage.s3.get_current_datetime", frozen)
    key = "assets/org/asset/0123abcd~x y+é.jpg"

    boto3_client = default_storage.connection.meta.client
    through_boto3 = []
    boto3_client.meta.events.register(
        "provide-client-params.s3.GetObject", lambda **kwargs: through_boto3.append(1), unique_id="count-get-signing"
    )

    ours = storage.presign("get", key, content_type="image/jpeg", filename="Pförtner 1.jpg", inline=inline, expires=900)["url"]

    assert through_boto3 == []  # signed without boto3's request pipeline
    boto3_client.meta.events.unregister("provide-client-params.s3.GetObject", unique_id="count-get-signing")
    served_type, disposition = storage.response_headers("image/jpeg", "Pförtner 1.jpg", inline=inline)
    theirs = boto3_client.generate_presigned_url(
        "get_object",
        Params={"Bucket": "assets-bucket", "Key": key, "ResponseContentType": served_type,
                "ResponseContentDisposition": disposition},
        ExpiresIn=900,
    )
    assert ours == theirs
    assert ("inline" if inline else "attachment") in disposition and "response-content-disposition=" in ours


# --- a transfer overtaken by a resume ----------------------------------------------------------------


def _resume(session, asset: Asset) -> Asset:
    [result] = upload_session_register(
        session=session, user=session.created_by,
        files=[{"name": asset.name, "size": asset.size, "contentType": asset.content_type, "sha256": asset.sha256, "resume": True}],
    )
    assert result.outcome == "upload" and result.asset.pk == asset.pk
    return result.asset


def test_a_transfer_to_a_key_the_file_no_longer_has_is_not_verified_and_what_it_left_goes(
    upload_session, eager_tasks, django_capture_on_commit_callbacks
):
    data = make_jpeg(40, 30)
    asset = _register(upload_session, "gate.jpg", data, "image/jpeg")
    old_key = asset.storage_key
    with django_capture_on_commit_callbacks(execute=True):
        asset = _resume(upload_session, asset)
    # The first tab's PUT lands late, under the key it was given before the resume.
    default_storage.save(old_key, ContentFile(data))

    with django_capture_on_commit_callbacks(execute=True):
        queued = upload_complete(session=upload_session, asset_ids=[str(asset.pk)], keys={str(asset.pk): old_key})

    assert queued == 0
    new_key = asset.storage_key
    asset.refresh_from_db()
    assert (asset.status, asset.storage_key) == (S.UPLOADING, new_key)
    assert new_key != old_key
    assert storage.stored_size(old_key) is None
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert upload_complete(session=upload_session, asset_ids=[str(asset.pk)], keys={str(asset.pk): asset.storage_key}) == 1
    assert len(callbacks) == 1


def test_a_completion_never_deletes_what_is_not_one_of_the_files_own_keys(
    upload_session, eager_tasks, django_capture_on_commit_callbacks
):
    mine = _register(upload_session, "mine.jpg", make_jpeg(40, 30), "image/jpeg")
    theirs = _register(upload_session, "theirs.jpg", make_jpeg(41, 30), "image/jpeg")
    default_storage.save(theirs.storage_key, ContentFile(b"their bytes"))

    with django_capture_on_commit_callbacks(execute=True):
        queued = upload_complete(session=upload_session, asset_ids=[str(mine.pk)], keys={str(mine.pk): theirs.storage_key})

    assert queued == 0
    assert storage.stored_size(theirs.storage_key) == len(b"their bytes")
