"""Google Cloud Storage integrations against gcp-storage-emulator (and a token endpoint that checks the service
account's signature, tests/cloud_emulators.py): Validate with the key, a key Google does not know, a missing
bucket and an unreachable endpoint; the key stays encrypted; a JSON import by reference reaches Ready without a
copy, and the page's link is a V4 signed URL of the service account (docs/SECURITY.md)."""

import json
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

from assets.models import Asset
from tests import cloud_emulators
from tests.imports_support import eager_fetching, open_session  # noqa: F401
from tests.media_factory import make_jpeg, make_png
from tests.s3 import free_port
from tests.test_csp import policy_of
from uploads import imports, integrations, integrations_gcs
from uploads.forms import StorageIntegrationForm
from uploads.models import StorageIntegration, UploadSession

BUCKET = "survey-photos"


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """The emulator and the token endpoint listen on loopback: on-premise style, the setting lets the portal reach them."""
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True
    settings.URL_IMPORT_CONNECT_TIMEOUT = 2
    settings.URL_IMPORT_READ_TIMEOUT = 5


@pytest.fixture(scope="module")
def google(gcs_endpoint):
    """The emulator with a bucket holding three images under photos/, the token endpoint, and the keys:
    `known` (Google grants it tokens) and `unknown` (a key Google never issued)."""
    endpoint = gcs_endpoint
    known = cloud_emulators.new_private_key()
    with cloud_emulators.google_token_endpoint([known]) as token_uri:
        admin = gcs.Client(project="survey", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint})
        # The emulator lives for the whole run; pytest may set this fixture up more than once in it.
        bucket = admin.lookup_bucket(BUCKET) or admin.create_bucket(BUCKET)
        objects = {"photos/gate one.jpg": make_jpeg(64, 48), "photos/gate-2.png": make_png(50, 40), "photos/copy.jpg": make_jpeg(64, 48)}
        for key, body in objects.items():
            bucket.blob(key).upload_from_string(body)
        yield {
            "endpoint": endpoint, "objects": objects,
            "key": cloud_emulators.service_account_key(known, token_uri=token_uri),
            "unknown_key": cloud_emulators.service_account_key(cloud_emulators.new_private_key(), token_uri=token_uri),
        }


def _integration(organization, owner, endpoint, key, *, bucket=BUCKET, prefix="") -> StorageIntegration:
    return integrations.integration_create(
        organization=organization, user=owner, name=f"GCS {uuid.uuid4().hex[:6]}", provider=StorageIntegration.Provider.GCS,
        endpoint_url=endpoint, bucket=bucket, prefix=prefix, secret=key,
    )


def test_validate_passes_with_the_service_account_key_and_says_clearly_what_is_wrong(organization, owner, google):
    good = _integration(organization, owner, google["endpoint"], google["key"], prefix="photos/")
    assert integrations.integration_validate(integration=good) == ""
    assert good.access_key_id == "portal-reader@survey.iam.gserviceaccount.com" and good.credential == "service_account"

    unknown = _integration(organization, owner, google["endpoint"], google["unknown_key"])
    assert integrations.integration_validate(integration=unknown) == (
        "Google refused the service-account key: check that the key and its service account still exist and are enabled."
    )
    missing = _integration(organization, owner, google["endpoint"], google["key"], bucket="no-such-bucket")
    assert integrations.integration_validate(integration=missing) == (
        f"There is no bucket named “no-such-bucket” in Google Cloud Storage ({google['endpoint']})."
    )
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    unreachable = _integration(organization, owner, closed, google["key"])
    assert integrations.integration_validate(integration=unreachable) == f"Could not reach the endpoint {closed}: check its address."

    good.refresh_from_db()
    unknown.refresh_from_db()
    assert good.validated_at is not None and good.validation_error == ""
    assert unknown.validated_at is None and "refused the service-account key" in unknown.validation_error


def test_the_form_refuses_what_is_not_a_service_account_key(organization, settings):
    def problem(key: str) -> str:
        form = StorageIntegrationForm(
            {"provider": "gcs", "name": "Photos", "bucket": BUCKET, "service_account_key": key}, organization=organization
        )
        assert not form.is_valid()
        return " ".join(form.errors["service_account_key"])

    assert "not JSON" in problem("key.json")
    assert "not a service-account key" in problem(json.dumps({"type": "authorized_user", "client_id": "x"}))
    key = json.loads(cloud_emulators.service_account_key(cloud_emulators.new_private_key(), token_uri="https://oauth2.googleapis.com/token"))
    assert "lacks private_key" in problem(json.dumps({**key, "private_key": ""}))
    assert "cannot be read" in problem(json.dumps({**key, "private_key": "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"}))
    # The key's token endpoint is an address the portal reaches, so the address policy applies to it too.
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = False
    assert "token_uri is refused" in problem(json.dumps({**key, "token_uri": "http://169.254.169.254/token"}))
    assert "Loopback" in integrations.endpoint_problem("http://127.0.0.1:9023")


def test_the_key_is_kept_encrypted_and_never_shown_again(organization, owner, owner_client, google):
    integration = _integration(organization, owner, google["endpoint"], google["key"])
    private_key = json.loads(google["key"])["private_key"]
    stored = StorageIntegration.objects.get(pk=integration.pk)
    assert private_key not in stored.secret_encrypted and "BEGIN PRIVATE KEY" not in stored.secret_encrypted
    assert integrations.decrypt_secret(stored.secret_encrypted) == google["key"]
    page = owner_client.get(reverse("uploads:integrations", args=[organization.pk]) + "?provider=gcs").content.decode()
    assert "portal-reader@survey.iam.gserviceaccount.com" in page and "BEGIN PRIVATE KEY" not in page
    assert 'name="service_account_key"' in page and 'name="access_key_id"' not in page


def test_a_json_import_by_reference_reads_the_bucket_copies_nothing_and_links_a_signed_url(
    project, member, owner, organization, google, eager_fetching, django_capture_on_commit_callbacks, member_client
):
    integration = _integration(organization, owner, google["endpoint"], google["key"], prefix="photos/")
    rows = [
        {"data": f"https://storage.googleapis.com/{BUCKET}/photos/gate%20one.jpg", "externalId": "gate-1"},
        {"data": f"gs://{BUCKET}/photos/gate-2.png", "externalId": "gate-2"},
        {"data": f"gs://{BUCKET}/photos/copy.jpg", "externalId": "gate-1-again"},
        {"data": f"gs://{BUCKET}/elsewhere/x.jpg", "externalId": "outside"},
        {"data": "gs://another-bucket/photos/y.jpg", "externalId": "other"},
    ]
    session = open_session(project, member, UploadSession.Source.JSON)
    url_import = imports.url_import_preview(
        session=session, user=member, uploaded=SimpleUploadedFile("refs.json", json.dumps(rows).encode()), integration=integration
    )
    reasons = " ".join(p["reason"] for p in url_import.problems)
    assert "outside the integration's prefix “photos/”" in reasons and "in bucket “another-bucket”" in reasons
    with django_capture_on_commit_callbacks(execute=True):
        imports.url_import_start(url_import=url_import, user=member, good_rows_only=True)

    session.refresh_from_db()
    assets = {a.external_id: a for a in Asset.objects.filter(upload_session=session)}
    assert set(assets) == {"gate-1", "gate-2"} and session.duplicate_count == 1
    for asset in assets.values():
        assert asset.status == Asset.Status.READY and asset.source == Asset.Source.REFERENCE and asset.thumbnail_key
    stored = [path for path in Path(django_settings.STORAGES["default"]["OPTIONS"]["location"]).rglob("*") if path.is_file()]
    assert stored and all(path.name.endswith(".thumb.jpg") for path in stored)

    url = assets["gate-1"].file_url()
    assert url.startswith(f"{google['endpoint']}/{BUCKET}/photos/gate%20one.jpg?")
    signed = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert signed["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256" and signed["X-Goog-Expires"] == str(django_settings.DOWNLOAD_URL_EXPIRY_SECONDS)
    assert signed["X-Goog-Credential"].startswith("portal-reader%40survey.iam.gserviceaccount.com")
    shown = requests.get(url, timeout=30)
    assert shown.content == google["objects"]["photos/gate one.jpg"]
    assert shown.headers["Content-Disposition"].split(";")[0] == "attachment"
    # The asset's page shows the original from the bucket: its policy lets images come from there, for that page only.
    page = member_client.get(reverse("assets:detail", args=[project.pk, assets["gate-1"].pk]))
    assert f'<img src="{google["endpoint"]}/{BUCKET}/photos/gate%20one.jpg?' in page.content.decode()
    assert policy_of(page)["img-src"][-1] == google["endpoint"] and google["endpoint"] not in policy_of(page)["connect-src"]
    assert google["endpoint"] not in member_client.get(reverse("assets:list", args=[project.pk]))["Content-Security-Policy"]


def test_a_signed_url_is_signed_by_the_service_accounts_key(google):
    """The signature checks out with the key's public half: Google verifies it the same way."""
    url = integrations_gcs.signed_get(
        key_text=google["key"], endpoint_url="", bucket=BUCKET, key="photos/a b.jpg", content_type="image/jpeg",
        disposition='attachment; filename="a b.jpg"', expires=300,
    )
    assert url.startswith(f"https://storage.googleapis.com/{BUCKET}/photos/a%20b.jpg?") and "X-Goog-Signature=" in url
    assert "response-content-type=image%2Fjpeg" in url and "X-Goog-Expires=300" in url
