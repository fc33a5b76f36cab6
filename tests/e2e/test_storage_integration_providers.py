"""Adding a Google Cloud Storage bucket and an Azure container in real Chromium: each provider's link shows only
its own fields, a wrong entry comes back with its reason, and a right one is saved and validated against the
emulators (tests/cloud_emulators.py). Screenshots: test-results/screens/storage-integration-gcs.png,
storage-integration-azure.png, storage-integrations-validated.png."""

from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas
from django.urls import reverse
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

from tests import cloud_emulators
from tests.cloud_emulators import AZURITE_ACCOUNT, AZURITE_KEY
from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401
from tests.media_factory import make_jpeg
from uploads.models import StorageIntegration

pytestmark = [pytest.mark.e2e, skip_without_chromium, pytest.mark.usefixtures("served_static")]


def _labels(page) -> list[str]:
    return [label.inner_text().strip() for label in page.locator("form .field > label").all()]


def test_gcs_and_azure_integrations_are_added_with_their_own_fields_and_validated(
    live_server, organization, owner, screens_dir, settings, gcs_endpoint, azurite_endpoint
):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True  # the emulators listen on loopback
    settings.URL_IMPORT_CONNECT_TIMEOUT, settings.URL_IMPORT_READ_TIMEOUT = 2, 5
    known = cloud_emulators.new_private_key()
    account_url = azurite_endpoint
    with cloud_emulators.google_token_endpoint([known]) as token_uri, chromium_page() as page:
        gcs.Client(project="survey", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_endpoint}).create_bucket(
            "survey-browser").blob("photos/one.jpg").upload_from_string(make_jpeg())
        service = BlobServiceClient(account_url, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY})
        service.create_container("survey-browser").upload_blob("photos/one.jpg", make_jpeg())
        sas = generate_container_sas(AZURITE_ACCOUNT, "survey-browser", account_key=AZURITE_KEY,
                                     permission=ContainerSasPermissions(read=True, list=True), expiry=datetime.now(UTC) + timedelta(hours=1))

        log_in(page, live_server, owner)
        page.goto(live_server.url + reverse("uploads:integrations", args=[organization.pk]))
        page.get_by_role("link", name="Google Cloud Storage").click()
        page.wait_for_selector("#id_service_account_key")
        assert _labels(page) == ["Name", "Bucket", "Prefix", "Service-account key (JSON)", "Endpoint URL"]
        page.fill("#id_name", "Survey photos (GCS)")
        page.fill("#id_bucket", "survey-browser")
        page.fill("#id_prefix", "photos/")
        page.fill("#id_service_account_key", '{"type": "authorized_user"}')
        page.fill("#id_endpoint_url", gcs_endpoint)
        page.get_by_role("button", name="Save and validate").click()
        page.wait_for_selector(".field.has-error")
        assert "not a service-account key" in page.locator(".field.has-error").inner_text()
        assert page.locator(".provider-tabs [aria-current=page]").inner_text() == "Google Cloud Storage"
        page.screenshot(path=screens_dir / "storage-integration-gcs.png", full_page=True)
        page.fill("#id_service_account_key", cloud_emulators.service_account_key(known, token_uri=token_uri))
        page.get_by_role("button", name="Save and validate").click()
        page.wait_for_selector("text=was saved and validated")

        page.get_by_role("link", name="Azure Blob Storage").click()
        page.wait_for_selector("#id_azure_secret")
        assert _labels(page) == ["Name", "Storage account", "Container", "Prefix", "Sign in with", "SAS token or account key", "Endpoint URL"]
        page.fill("#id_name", "Survey photos (Azure)")
        page.fill("#id_account", AZURITE_ACCOUNT)
        page.fill("#id_container", "survey-browser")
        page.fill("#id_prefix", "photos/")
        page.get_by_label("SAS token", exact=True).check()
        page.fill("#id_azure_secret", "not-a-token")
        page.fill("#id_endpoint_url", account_url)
        page.get_by_role("button", name="Save and validate").click()
        page.wait_for_selector(".field.has-error")
        assert "not a SAS token" in page.locator(".field.has-error").inner_text()
        page.screenshot(path=screens_dir / "storage-integration-azure.png", full_page=True)
        page.get_by_label("SAS token", exact=True).check()
        page.fill("#id_azure_secret", "?" + sas)
        page.get_by_role("button", name="Save and validate").click()
        page.wait_for_selector("text=was saved and validated")
        page.screenshot(path=screens_dir / "storage-integrations-validated.png", full_page=True)
        page_text = page.content()

    saved = {i.provider: i for i in StorageIntegration.objects.filter(organization=organization)}
    assert set(saved) == {"gcs", "azure"} and all(i.validated_at for i in saved.values())
    assert saved["azure"].credential == "sas_token" and sas.split("sig=")[1][:12] not in page_text
    assert "portal-reader@survey.iam.gserviceaccount.com" in page_text and "BEGIN PRIVATE KEY" not in page_text
