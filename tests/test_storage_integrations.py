"""Storage integrations against moto's S3 server: Validate with good and bad credentials (moto's IAM checks
switched on in a server process of its own), a missing bucket, an unreachable endpoint; the secret stays
encrypted; a JSON import by reference makes ready assets whose bytes never enter the portal's storage; and boto3's
connections go to the address the policy checked, so DNS rebinding cannot reach loopback (docs/SECURITY.md)."""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from tests import s3
from tests.file_server import connection_spy, file_server
from tests.imports_support import eager_fetching, open_session  # noqa: F401
from tests.media_factory import make_jpeg, make_png
from uploads import imports, integrations
from uploads.models import StorageIntegration, UploadSession

# Requests moto serves before it starts checking credentials: the set-up below makes exactly these.
SETUP_REQUESTS = 5


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """moto listens on loopback: on-premise style, the setting lets the portal reach it."""
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True
    settings.URL_IMPORT_CONNECT_TIMEOUT = 2
    settings.URL_IMPORT_READ_TIMEOUT = 5


def _client(endpoint: str, key: str, secret: str, service: str = "s3"):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=s3.REGION, aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required", response_checksum_validation="when_required"),
    )


@contextmanager
def moto_with_credentials_checked(tmp_path: Path):
    """moto's server in its own process with IAM authentication on after SETUP_REQUESTS requests.

    Yields (endpoint, access key, secret) of a user allowed to do anything, and a bucket with one object.
    """
    port = s3.free_port()
    log = open(tmp_path / "moto.log", "wb")
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_REQUESTS)}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"moto did not start: {(tmp_path / 'moto.log').read_text(errors='replace')[-2000:]}") from None
                time.sleep(0.1)
        iam = _client(endpoint, "setup", "setup", "iam")
        iam.create_user(UserName="portal")
        key = iam.create_access_key(UserName="portal")["AccessKey"]
        iam.put_user_policy(UserName="portal", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ))
        bucket = _client(endpoint, "setup", "setup")
        bucket.create_bucket(Bucket="customer")
        bucket.put_object(Bucket="customer", Key="photos/one.jpg", Body=make_jpeg())
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _integration(organization, owner, endpoint, *, bucket="customer", key=s3.ACCESS_KEY, secret=s3.SECRET_KEY, prefix="") -> StorageIntegration:
    return integrations.integration_create(
        organization=organization, user=owner, name=f"Bucket {bucket} {uuid.uuid4().hex[:6]}", endpoint_url=endpoint, region="",
        bucket=bucket, prefix=prefix, access_key_id=key, secret=secret,
    )


def test_validate_passes_with_good_credentials_and_fails_clearly_with_bad_ones(organization, owner, tmp_path):
    with moto_with_credentials_checked(tmp_path) as (endpoint, key, secret):
        good = _integration(organization, owner, endpoint, key=key, secret=secret)
        assert integrations.integration_validate(integration=good) == ""
        wrong_secret = _integration(organization, owner, endpoint, key=key, secret="not-the-secret")
        unknown_key = _integration(organization, owner, endpoint, key="AKIAUNKNOWN000000000", secret=secret)
        assert integrations.integration_validate(integration=wrong_secret) == "The bucket refused the access key or secret: check both."
        assert integrations.integration_validate(integration=unknown_key) == "The bucket refused the access key or secret: check both."
    good.refresh_from_db()
    wrong_secret.refresh_from_db()
    assert good.validated_at is not None and good.validation_error == ""
    assert wrong_secret.validated_at is None and "refused the access key" in wrong_secret.validation_error
    assert good.region == "us-east-1"


def test_validate_names_a_missing_bucket(organization, owner, s3_endpoint):
    missing = _integration(organization, owner, s3_endpoint, bucket="no-such-bucket-here")
    assert integrations.integration_validate(integration=missing) == "There is no bucket named “no-such-bucket-here” at this endpoint."


def test_validate_says_when_the_endpoint_cannot_be_reached(organization, owner):
    closed = s3.free_port()  # nothing listens there
    unreachable = _integration(organization, owner, f"http://127.0.0.1:{closed}")
    assert integrations.integration_validate(integration=unreachable).startswith("Could not reach the endpoint")


def test_an_endpoint_on_a_private_address_is_refused_by_default(organization, owner, settings):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = False
    assert "Loopback" in integrations.endpoint_problem("http://127.0.0.1:9000")
    assert "metadata" in integrations.endpoint_problem("http://169.254.169.254")
    assert integrations.endpoint_problem("ftp://files.example.com") == "The endpoint must be an http or https URL."
    local = _integration(organization, owner, "http://127.0.0.1:9000")
    assert "Loopback" in integrations.integration_validate(integration=local)


def test_the_secret_is_kept_encrypted_with_a_key_from_the_settings(organization, owner, settings):
    integration = _integration(organization, owner, "https://minio.example.com", secret="s3cr3t-value")
    stored = StorageIntegration.objects.get(pk=integration.pk)
    assert "s3cr3t-value" not in stored.secret_encrypted
    assert integrations.decrypt_secret(stored.secret_encrypted) == "s3cr3t-value"
    settings.STORAGE_INTEGRATION_KEY = "another key entirely"
    with pytest.raises(integrations.IntegrationError, match="enter the secret again"):
        integrations.decrypt_secret(stored.secret_encrypted)


@pytest.fixture
def customer_bucket(s3_endpoint):
    """A customer's bucket on the S3-compatible endpoint, with three images under photos/."""
    name = s3.create_bucket(s3_endpoint)
    client = s3.client(s3_endpoint)
    objects = {"photos/gate one.jpg": make_jpeg(64, 48), "photos/gate-2.png": make_png(50, 40), "photos/copy.jpg": make_jpeg(64, 48)}
    for key, body in objects.items():
        client.put_object(Bucket=name, Key=key, Body=body)
    return name, objects


def test_a_json_import_by_reference_reads_the_bucket_and_copies_nothing(
    project, member, owner, organization, s3_endpoint, customer_bucket, eager_fetching, django_capture_on_commit_callbacks
):
    bucket, objects = customer_bucket
    integration = _integration(organization, owner, s3_endpoint, bucket=bucket, prefix="photos/")
    rows = [
        {"data": f"https://{bucket}.s3.us-east-1.amazonaws.com/photos/gate%20one.jpg", "externalId": "gate-1", "contextData": {"pole": 7}},
        {"data": f"s3://{bucket}/photos/gate-2.png", "externalId": "gate-2"},
        {"data": f"s3://{bucket}/photos/copy.jpg", "externalId": "gate-1-again"},
        {"data": f"s3://{bucket}/elsewhere/x.jpg", "externalId": "outside"},
        {"data": "s3://another-bucket/photos/y.jpg", "externalId": "other"},
    ]
    session = open_session(project, member, UploadSession.Source.JSON)
    url_import = imports.url_import_preview(
        session=session, user=member, uploaded=SimpleUploadedFile("refs.json", json.dumps(rows).encode()), integration=integration
    )
    assert [p["line"] for p in url_import.problems] == [1, 1]  # one line of JSON: the two outsiders
    reasons = " ".join(p["reason"] for p in url_import.problems)
    assert "outside the integration's prefix “photos/”" in reasons and "in bucket “another-bucket”" in reasons
    with django_capture_on_commit_callbacks(execute=True):
        imports.url_import_start(url_import=url_import, user=member, good_rows_only=True)

    session.refresh_from_db()
    assets = {a.external_id: a for a in Asset.objects.filter(upload_session=session)}
    assert set(assets) == {"gate-1", "gate-2"} and session.duplicate_count == 1
    for asset in assets.values():
        assert asset.status == Asset.Status.READY and asset.source == Asset.Source.REFERENCE and asset.thumbnail_key
    assert assets["gate-1"].context_data == {"pole": 7} and assets["gate-1"].original_filename == "gate one.jpg"
    # The originals stayed in the customer's bucket: the portal's storage holds thumbnails only.
    stored = [path for path in Path(django_settings.STORAGES["default"]["OPTIONS"]["location"]).rglob("*") if path.is_file()]
    assert stored and all(path.name.endswith(".thumb.jpg") for path in stored)
    assert not any(path.read_bytes() in objects.values() for path in stored)
    url = assets["gate-1"].file_url()
    assert url.startswith(f"{s3_endpoint}/{bucket}/photos/gate%20one.jpg?") and "X-Amz-Expires=" in url
    # Shown like the portal's own originals: the type verification read, as a download (docs/SECURITY.md).
    shown = requests.get(url, timeout=30)
    assert (shown.headers["Content-Type"], shown.headers["Content-Disposition"].split(";")[0]) == ("image/jpeg", "attachment")


def test_an_integration_used_by_an_import_cannot_be_removed(organization, owner, member, project, owner_client):
    integration = _integration(organization, owner, "https://minio.example.com")
    session = open_session(project, member, UploadSession.Source.JSON)
    imports.url_import_preview(
        session=session, user=member, integration=integration,
        uploaded=SimpleUploadedFile("refs.json", b'[{"data": "s3://customer/a.jpg", "externalId": "a"}]'),
    )
    response = owner_client.post(f"/orgs/{organization.pk}/storage/{integration.pk}/delete/", follow=True)
    assert "is used by imports" in response.content.decode()
    assert StorageIntegration.objects.filter(pk=integration.pk).exists()


PUBLIC_TEST_ADDRESS = "93.184.215.14"  # a public address; the connection spy refuses anything but the loopback server


def _resolving(monkeypatch, name: str, answers) -> list:
    """socket.getaddrinfo answers `name` with the next address of `answers` on each call (the last one for ever after);
    returns the addresses it handed out, in order."""
    real_getaddrinfo = socket.getaddrinfo
    given: list = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = answers[min(len(given), len(answers) - 1)]
        given.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return given


def test_a_name_that_rebinds_to_loopback_after_the_check_never_reaches_the_loopback_server(organization, owner, settings, monkeypatch):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = False  # the default: the rebinding target is refused
    with file_server() as internal:
        port = int(internal.url.rsplit(":", 1)[1])
        given = _resolving(monkeypatch, "bucket.rebind.test", [PUBLIC_TEST_ADDRESS, "127.0.0.1"])
        rebinding = _integration(organization, owner, f"http://bucket.rebind.test:{port}")
        with connection_spy(monkeypatch, allow_loopback_ports=(port,)) as attempts:
            problem = integrations.integration_validate(integration=rebinding)
    assert given[:2] == [PUBLIC_TEST_ADDRESS, "127.0.0.1"], "the check saw the public address, the connection the loopback one"
    assert "Loopback" in problem and "127.0.0.1" in problem
    assert internal.connections == [] and attempts == []


def test_an_endpoint_reached_by_name_still_lists_and_reads_through_the_checked_address(
    organization, owner, s3_endpoint, customer_bucket, monkeypatch
):
    bucket, objects = customer_bucket
    port = int(s3_endpoint.rsplit(":", 1)[1])
    # On-premise, as a container is named (moto takes a dotted name's first label for a bucket): the setting allows it.
    _resolving(monkeypatch, "minio", ["127.0.0.1"])
    named = _integration(organization, owner, f"http://minio:{port}", bucket=bucket, prefix="photos/")
    assert integrations.integration_validate(integration=named) == ""
    ref = integrations.ObjectRef(bucket=bucket, key="photos/gate one.jpg")
    assert integrations.object_size(named, ref) == len(objects["photos/gate one.jpg"])
    body = integrations.open_object(named, ref)
    try:
        assert body.read() == objects["photos/gate one.jpg"]
    finally:
        body.close()
