"""Azure Blob Storage integrations against Azurite (tests/cloud_emulators.py), which checks Shared Key and SAS
signatures: Validate with the account key and with a SAS token, a wrong key, a forged or expired SAS token, a
missing container and an unreachable account; secrets stay encrypted; a JSON import by reference reaches Ready
without a copy, linked by a SAS of its own (account key) or by the portal's expiring link (a SAS token, which no
page shows) (docs/SECURITY.md)."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assets.models import Asset
from tests.cloud_emulators import AZURITE_ACCOUNT, AZURITE_KEY
from tests.imports_support import eager_fetching, open_session  # noqa: F401
from tests.media_factory import make_jpeg, make_png
from tests.s3 import free_port
from uploads import imports, integrations
from uploads.forms import StorageIntegrationForm
from uploads.models import StorageIntegration, UploadSession

CONTAINER = "survey-photos"
KEY, SAS = StorageIntegration.Credential.ACCOUNT_KEY, StorageIntegration.Credential.SAS_TOKEN


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """Azurite listens on loopback: on-premise style, the setting lets the portal reach it."""
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True
    settings.URL_IMPORT_CONNECT_TIMEOUT = 2
    settings.URL_IMPORT_READ_TIMEOUT = 5


def _sas(*, expiry: timedelta, permission: str = "rl") -> str:
    return generate_container_sas(
        AZURITE_ACCOUNT, CONTAINER, account_key=AZURITE_KEY, permission=ContainerSasPermissions.from_string(permission),
        expiry=datetime.now(UTC) + expiry,
    )


@pytest.fixture(scope="module")
def azure(azurite_endpoint):
    """Azurite with a container holding three images under photos/: its account URL and the blobs."""
    service = BlobServiceClient(azurite_endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY})
    # Azurite lives for the whole run; pytest may set this fixture up more than once in it.
    container = service.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    objects = {"photos/gate one.jpg": make_jpeg(64, 48), "photos/gate-2.png": make_png(50, 40), "photos/copy.jpg": make_jpeg(64, 48)}
    for key, body in objects.items():
        container.upload_blob(key, body, overwrite=True)
    return {"account_url": azurite_endpoint, "objects": objects}


def _integration(organization, owner, account_url, *, credential=KEY, secret=AZURITE_KEY, container=CONTAINER, prefix=""):
    return integrations.integration_create(
        organization=organization, user=owner, name=f"Azure {uuid.uuid4().hex[:6]}", provider=StorageIntegration.Provider.AZURE,
        endpoint_url=account_url, account=AZURITE_ACCOUNT, bucket=container, prefix=prefix, credential=credential, secret=secret,
    )


def test_validate_passes_with_the_account_key_or_a_sas_token_and_says_clearly_what_is_wrong(organization, owner, azure):
    url = azure["account_url"]
    assert integrations.integration_validate(integration=_integration(organization, owner, url, prefix="photos/")) == ""
    assert integrations.integration_validate(integration=_integration(organization, owner, url, credential=SAS, secret="?" + _sas(expiry=timedelta(hours=1)))) == ""

    wrong_key = _integration(organization, owner, url, secret="AAAA" + AZURITE_KEY[4:])
    assert integrations.integration_validate(integration=wrong_key) == "The storage account refused the account key: check it."
    forged = _sas(expiry=timedelta(hours=1)).replace("sig=", "sig=AAAA")
    expired = _sas(expiry=timedelta(hours=-1))
    for token in (forged, expired):
        refused = _integration(organization, owner, url, credential=SAS, secret=token)
        assert integrations.integration_validate(integration=refused) == "The storage account refused the SAS token (it may have expired): check it."
    read_only = _integration(organization, owner, url, credential=SAS, secret=_sas(expiry=timedelta(hours=1), permission="r"))
    assert integrations.integration_validate(integration=read_only) == (
        "The SAS token may not do this: it needs the read and list permissions on the container and its blobs."
    )
    missing = _integration(organization, owner, url, container="no-such-container")
    assert integrations.integration_validate(integration=missing) == (
        f"There is no container named “no-such-container” in the storage account “{AZURITE_ACCOUNT}”."
    )
    closed = f"http://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT}"  # nothing listens there
    unreachable = _integration(organization, owner, closed)
    assert integrations.integration_validate(integration=unreachable) == (
        f"Could not reach the storage account at {closed}: check the account name or endpoint."
    )
    wrong_key.refresh_from_db()
    assert wrong_key.validated_at is None and "refused the account key" in wrong_key.validation_error


def test_the_form_asks_for_azures_fields_and_checks_the_secrets_shape(organization, settings):
    def errors(**fields) -> dict:
        form = StorageIntegrationForm({"provider": "azure", "name": "Photos", "account": AZURITE_ACCOUNT, "container": CONTAINER, **fields}, organization=organization)
        assert not form.is_valid()
        return form.errors

    assert "not a SAS token" in " ".join(errors(credential=SAS, azure_secret="my-password")["azure_secret"])
    assert "base64" in " ".join(errors(credential=KEY, azure_secret="not base64!")["azure_secret"])
    assert "3 to 24 lowercase" in " ".join(errors(account="My_Account", credential=KEY, azure_secret=AZURITE_KEY)["account"])
    form = StorageIntegrationForm({"provider": "azure", "name": "Photos"}, organization=organization)
    assert not form.is_valid() and {"account", "container", "azure_secret"} <= set(form.errors) and "access_key_id" not in form.fields
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = False
    assert "Loopback" in " ".join(errors(credential=KEY, azure_secret=AZURITE_KEY, endpoint_url="http://127.0.0.1:10000/devstoreaccount1")["endpoint_url"])


def test_secrets_are_kept_encrypted_and_never_shown_again(organization, owner, owner_client, azure):
    token = _sas(expiry=timedelta(hours=1))
    with_sas = _integration(organization, owner, azure["account_url"], credential=SAS, secret="?" + token)
    with_key = _integration(organization, owner, azure["account_url"])
    for integration, secret in ((with_sas, token), (with_key, AZURITE_KEY)):
        stored = StorageIntegration.objects.get(pk=integration.pk)
        assert secret not in stored.secret_encrypted and integrations.decrypt_secret(stored.secret_encrypted) == secret
    page = owner_client.get(reverse("uploads:integrations", args=[organization.pk]) + "?provider=azure").content.decode()
    assert token.split("sig=")[1][:20] not in page and AZURITE_KEY not in page
    assert "SAS token" in page and "Account key" in page and 'name="azure_secret"' in page


def _import(project, member, integration, rows):
    session = open_session(project, member, UploadSession.Source.JSON)
    url_import = imports.url_import_preview(
        session=session, user=member, uploaded=SimpleUploadedFile("refs.json", json.dumps(rows).encode()), integration=integration
    )
    return session, url_import


def test_a_json_import_by_reference_reads_the_container_copies_nothing_and_links_a_sas_url(
    project, member, owner, organization, azure, eager_fetching, django_capture_on_commit_callbacks
):
    integration = _integration(organization, owner, azure["account_url"], prefix="photos/")
    rows = [
        {"data": f"https://{AZURITE_ACCOUNT}.blob.core.windows.net/{CONTAINER}/photos/gate%20one.jpg", "externalId": "gate-1"},
        {"data": f"{azure['account_url']}/{CONTAINER}/photos/gate-2.png", "externalId": "gate-2"},
        {"data": f"{azure['account_url']}/{CONTAINER}/photos/copy.jpg", "externalId": "gate-1-again"},
        {"data": f"https://otheraccount.blob.core.windows.net/{CONTAINER}/photos/y.jpg", "externalId": "other-account"},
        {"data": f"{azure['account_url']}/other-container/photos/y.jpg", "externalId": "other-container"},
    ]
    session, url_import = _import(project, member, integration, rows)
    reasons = " ".join(p["reason"] for p in url_import.problems)
    assert "in the storage account “otheraccount”" in reasons and "in container “other-container”" in reasons
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
    assert url.startswith(f"{azure['account_url']}/{CONTAINER}/photos/gate%20one.jpg?") and "sp=r&" in url and "sig=" in url
    shown = requests.get(url, timeout=30)
    assert shown.content == azure["objects"]["photos/gate one.jpg"]
    assert (shown.headers["Content-Type"], shown.headers["Content-Disposition"].split(";")[0]) == ("image/jpeg", "attachment")
    # The SAS is for this one blob: it reads no other.
    other = url.replace("gate%20one.jpg", "gate-2.png")
    assert requests.get(other, timeout=30).status_code == 403


def test_with_a_sas_token_pages_link_the_portals_own_expiring_url_and_never_the_token(
    project, member, owner, organization, azure, eager_fetching, django_capture_on_commit_callbacks, client, settings
):
    token = _sas(expiry=timedelta(hours=1))
    integration = _integration(organization, owner, azure["account_url"], credential=SAS, secret=token)
    session, url_import = _import(project, member, integration, [{"data": f"{azure['account_url']}/{CONTAINER}/photos/gate-2.png", "externalId": "gate-2"}])
    with django_capture_on_commit_callbacks(execute=True):
        imports.url_import_start(url_import=url_import, user=member)
    asset = Asset.objects.get(upload_session=session)
    assert asset.status == Asset.Status.READY

    url = asset.file_url()
    assert url.startswith("/storage/references/") and token.split("sig=")[1][:12] not in url
    shown = client.get(url)
    assert b"".join(shown.streaming_content) == azure["objects"]["photos/gate-2.png"]
    assert (shown["Content-Type"], shown["Content-Disposition"].split(";")[0], shown["X-Content-Type-Options"]) == ("image/png", "attachment", "nosniff")
    assert client.get(url[:-3] + "xyz/").status_code == 404  # a link changed by hand
    settings.DOWNLOAD_URL_EXPIRY_SECONDS = -1
    assert client.get(asset.file_url()).status_code == 404  # an expired link
