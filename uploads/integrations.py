"""Storage integrations: an organization's own bucket, read by reference (seed 002): Amazon S3 or an
S3-compatible store (here), a Google Cloud Storage bucket (integrations_gcs) or an Azure Blob Storage
container (integrations_azure). Each has the same lifecycle: validate (list and read), import by reference,
read through the integration, shown through signed, short-lived URLs.

The portal never copies such files: it reads them through the integration to process them and shows
them through short-lived presigned GETs (S3), V4 signed URLs (GCS) or SAS URLs (Azure). The secret is encrypted at rest with a key derived from
STORAGE_INTEGRATION_KEY and never shown again. boto3 never opens a connection of its own to the endpoint:
each signed request goes through the address policy of URL imports (fetching.guarded_session), which
resolves the name once and connects to the address it checked, so a name that answers one address to a
check and another to the connection (DNS rebinding) cannot lead to an internal address (docs/SECURITY.md).
"""

import base64
import time
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import boto3
import requests
from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from google.api_core.exceptions import Forbidden, GoogleAPICallError, NotFound, Unauthorized
from google.auth.exceptions import GoogleAuthError, RefreshError
from ssrfguard import SSRFGuardError

from assets import storage
from uploads import fetching, integrations_azure, integrations_gcs
from uploads.models import StorageIntegration

DEFAULT_REGION = "us-east-1"
Provider = StorageIntegration.Provider
Credential = StorageIntegration.Credential


class IntegrationError(Exception):
    """The bucket of an integration cannot be used; the message says why in words for people."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@lru_cache(maxsize=4)
def _fernet(key_material: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal storage integration secrets v1").derive(
        key_material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(secret: str) -> str:
    return _fernet(settings.STORAGE_INTEGRATION_KEY).encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet(settings.STORAGE_INTEGRATION_KEY).decrypt(token.encode()).decode()
    except InvalidToken:
        raise IntegrationError(
            "The saved secret cannot be read with the portal's current key (STORAGE_INTEGRATION_KEY changed): "
            "enter the secret again."
        ) from None


def integration_create(*, organization, user, name: str, bucket: str, secret: str, provider: str = Provider.S3,
                       endpoint_url: str = "", region: str = "", prefix: str = "", access_key_id: str = "",
                       account: str = "", credential: str = "") -> StorageIntegration:
    """Saves an integration with its secret encrypted; Validate then tells whether the portal can list and read.

    S3: access key id and secret key. GCS: the service-account JSON key (its client_email is shown as who it is).
    Azure: the account, and a SAS token or the account key (`credential`).
    """
    if provider == Provider.GCS:
        credential, access_key_id = Credential.SERVICE_ACCOUNT, integrations_gcs.client_email(secret)
    elif provider == Provider.AZURE:
        credential, access_key_id = Credential(credential), ""
        secret = integrations_azure.clean_sas(secret) if credential == Credential.SAS_TOKEN else secret.strip()
    else:
        credential = Credential.ACCESS_KEY
    return StorageIntegration.objects.create(
        organization=organization,
        created_by=user,
        name=name.strip(),
        provider=provider,
        endpoint_url=endpoint_url.strip().rstrip("/"),
        region=region.strip() or DEFAULT_REGION,
        bucket=bucket.strip(),
        prefix=prefix.strip().lstrip("/"),
        account=account.strip().lower(),
        credential=credential,
        access_key_id=access_key_id.strip(),
        secret_encrypted=encrypt_secret(secret),
    )


def endpoint_problem(endpoint_url: str) -> str:
    """Why the portal will not talk to this endpoint (scheme, or an address it must not reach), or ""."""
    if not endpoint_url:
        return ""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "The endpoint must be an http or https URL."
    return fetching.check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def _check_endpoint(integration: StorageIntegration) -> None:
    # Checked before each use for a clear reason early: a name may have moved since the integration was saved.
    problem = endpoint_problem(integration.azure_account_url if integration.provider == Provider.AZURE else integration.endpoint_url)
    if problem:
        raise IntegrationError(problem)


def _client(integration: StorageIntegration):
    _check_endpoint(integration)
    client = boto3.client(
        "s3",
        endpoint_url=integration.endpoint_url or None,
        region_name=integration.region or DEFAULT_REGION,
        aws_access_key_id=integration.access_key_id,
        aws_secret_access_key=decrypt_secret(integration.secret_encrypted),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if integration.endpoint_url else "auto"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=settings.URL_IMPORT_CONNECT_TIMEOUT,
            read_timeout=settings.URL_IMPORT_READ_TIMEOUT,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )
    # botocore's documented hook for answering a signed request: the connection is the guarded session's.
    client.meta.events.register("before-send.s3", _PolicySender())
    return client


class _PolicySender:
    """Sends a request boto3 signed through fetching.guarded_session: the endpoint's name is resolved once, every
    answer checked, and the socket connected to a checked address (TLS and the Host header keep the name), so the
    check and the connection cannot see two different addresses. Errors come out as botocore's own, so its retries
    and `explain` work as before; a refused address is an IntegrationError."""

    def __init__(self):
        self.session = fetching.guarded_session()

    def __call__(self, request: AWSPreparedRequest, **kwargs) -> AWSResponse:
        prepared = requests.Request(request.method, request.url, headers=dict(request.headers.items()), data=request.body).prepare()
        timeout = (settings.URL_IMPORT_CONNECT_TIMEOUT, settings.URL_IMPORT_READ_TIMEOUT)
        try:
            answer = self.session.send(prepared, stream=True, allow_redirects=False, timeout=timeout)
        except SSRFGuardError as error:
            raise IntegrationError(fetching.refusal_reason(error)) from error
        except requests.exceptions.ConnectTimeout as error:
            raise ConnectTimeoutError(endpoint_url=request.url, error=error) from error
        except requests.exceptions.ReadTimeout as error:
            raise ReadTimeoutError(endpoint_url=request.url, error=error) from error
        except requests.exceptions.SSLError as error:
            raise SSLError(endpoint_url=request.url, error=error) from error
        except requests.ConnectionError as error:
            raise EndpointConnectionError(endpoint_url=request.url, error=error) from error
        except requests.RequestException as error:
            raise HTTPClientError(error=error) from error
        response = AWSResponse(request.url, answer.status_code, answer.raw.headers, answer.raw)
        if not request.stream_output:
            response.content  # read whole now, as botocore's own sender does
        return response


# What reading a bucket of any provider may raise; `explain` words each of them.
STORAGE_ERRORS = (
    IntegrationError, SSRFGuardError, BotoCoreError, ClientError, GoogleAPICallError, GoogleAuthError, AzureError,
    requests.RequestException, integrations_gcs.BucketNotFound,
)


def explain(error: Exception, integration: StorageIntegration) -> str:
    """A storage error of any provider in words for people."""
    if isinstance(error, IntegrationError):
        return error.message
    if isinstance(error, SSRFGuardError):
        return fetching.refusal_reason(error)
    if integration.provider == Provider.GCS:
        return _explain_gcs(error, integration)
    if integration.provider == Provider.AZURE:
        return _explain_azure(error, integration)
    if isinstance(error, EndpointConnectionError):
        return f"Could not reach the endpoint {integration.endpoint_url or integration.region}: check its address."
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "AuthorizationHeaderMalformed"}:
            return "The bucket refused the access key or secret: check both."
        if code in {"AccessDenied", "403", "AllAccessDisabled"}:
            return "The access key may not do this in the bucket: it needs to list and read objects."
        if code == "NoSuchBucket":
            return f"There is no bucket named “{integration.bucket}” at this endpoint."
        if code in {"NoSuchKey", "404", "NotFound"}:
            return "The object is not in the bucket."
        return f"The bucket answered {code or 'an error'}."
    if isinstance(error, BotoCoreError):
        return f"Could not talk to the bucket ({type(error).__name__})."
    return str(error)


def _explain_gcs(error: Exception, integration: StorageIntegration) -> str:
    endpoint = integration.endpoint_url or integrations_gcs.DEFAULT_ENDPOINT
    if isinstance(error, integrations_gcs.BucketNotFound):
        return f"There is no bucket named “{integration.bucket}” in Google Cloud Storage ({endpoint})."
    if isinstance(error, RefreshError | Unauthorized):
        return "Google refused the service-account key: check that the key and its service account still exist and are enabled."
    if isinstance(error, Forbidden):
        return "The service account may not do this in the bucket: give it the Storage Object Viewer role (list and read objects)."
    if isinstance(error, NotFound):
        return "The object is not in the bucket."
    if isinstance(error, GoogleAPICallError):
        return f"The bucket answered {error.code or 'an error'}: {error.message}"
    if isinstance(error, GoogleAuthError):
        return "Could not get a token for the service account from Google (its token_uri did not answer): try again later."
    if isinstance(error, requests.RequestException):
        return f"Could not reach the endpoint {endpoint}: check its address."
    return str(error)


def _explain_azure(error: Exception, integration: StorageIntegration) -> str:
    code = getattr(error, "error_code", None) or ""
    code = str(getattr(code, "value", code))  # the library's StorageErrorCode, or the service's own text
    uses_sas = integration.credential == Credential.SAS_TOKEN
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return f"Could not reach the storage account at {integration.azure_account_url}: check the account name or endpoint."
    if code == "ContainerNotFound":
        return f"There is no container named “{integration.bucket}” in the storage account “{integration.account}”."
    if code == "BlobNotFound":
        return "The object is not in the container."
    if code in {"AuthenticationFailed", "AuthorizationFailure", "InvalidAuthenticationInfo"}:
        what = "SAS token (it may have expired)" if uses_sas else "account key"
        return f"The storage account refused the {what}: check it."
    if code.startswith("Authorization"):
        return "The SAS token may not do this: it needs the read and list permissions on the container and its blobs."
    if code == "ResourceNotFound":
        return f"The storage account “{integration.account}” has no such resource: check the account and container."
    if isinstance(error, AzureError):
        return f"The container answered {code or type(error).__name__}."
    return str(error)


def is_transient(error: Exception) -> bool:
    """Whether another try may go better: the bucket could not be reached, or answered a server error."""
    if isinstance(error, ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    if isinstance(error, BotoCoreError | ServiceRequestError | ServiceResponseError | requests.RequestException):
        return True
    if isinstance(error, GoogleAPICallError):
        return (error.code or 0) >= 500
    status = getattr(error, "status_code", None)
    return isinstance(error, AzureError) and isinstance(status, int) and status >= 500


def _list_and_read(integration: StorageIntegration) -> None:
    """Lists the bucket under the prefix and reads one object there; raises what the provider's library raised."""
    if integration.provider == Provider.GCS:
        _check_endpoint(integration)
        integrations_gcs.list_and_read(
            key_text=decrypt_secret(integration.secret_encrypted), endpoint_url=integration.endpoint_url,
            bucket=integration.bucket, prefix=integration.prefix,
        )
    elif integration.provider == Provider.AZURE:
        integrations_azure.list_and_read(_container(integration), prefix=integration.prefix)
    else:
        client = _client(integration)
        listed = client.list_objects_v2(Bucket=integration.bucket, Prefix=integration.prefix, MaxKeys=1)
        first = next(iter(listed.get("Contents", [])), None)
        if first is not None:
            client.get_object(Bucket=integration.bucket, Key=first["Key"], Range="bytes=0-0")["Body"].close()


def integration_validate(*, integration: StorageIntegration) -> str:
    """Checks that the portal can list the bucket (under the prefix) and read an object there.

    Records the outcome on the integration; returns "" when it passed, otherwise the reason.
    """
    try:
        _list_and_read(integration)
    except STORAGE_ERRORS as error:
        problem = explain(error, integration)
    else:
        problem = ""
    StorageIntegration.objects.filter(pk=integration.pk).update(
        validated_at=None if problem else timezone.now(), validation_error=problem
    )
    integration.validated_at = None if problem else timezone.now()
    integration.validation_error = problem
    return problem


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    # Azure: the storage account the URL names ("" when the URL is under the integration's own endpoint).
    account: str = ""


def _after(url: str, base: str) -> tuple[str, str] | None:
    """bucket and key of `url` when it is under `base`/ (an endpoint of the integration), else None."""
    base = base.rstrip("/")
    if not base or not url.startswith(base + "/"):
        return None
    bucket, _, key = urlsplit(url[len(base) + 1 :]).path.partition("/")
    return bucket, unquote(key)


def _parse_s3(url: str, integration: StorageIntegration) -> tuple[str, str, str] | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.lstrip("/")
    if parts.scheme == "s3":
        return parts.netloc, unquote(path), ""
    if parts.scheme in {"http", "https"} and host.endswith(".amazonaws.com") and ".s3" in f".{host}":
        label = host.removesuffix(".amazonaws.com")
        if label.startswith("s3.") or label.startswith("s3-") or label == "s3":
            bucket, _, key = path.partition("/")
            return bucket, unquote(key), ""
        bucket, _, _ = label.partition(".s3")
        return bucket, unquote(path), ""
    found = _after(url, integration.endpoint_url)
    return (*found, "") if found else None


def _parse_gcs(url: str, integration: StorageIntegration) -> tuple[str, str, str] | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.lstrip("/")
    if parts.scheme == "gs":
        return parts.netloc, unquote(path), ""
    if parts.scheme == "https" and host in integrations_gcs.PATH_STYLE_HOSTS:
        bucket, _, key = path.partition("/")
        return bucket, unquote(key), ""
    if parts.scheme == "https" and host.endswith(".storage.googleapis.com"):
        return host.removesuffix(".storage.googleapis.com"), unquote(path), ""
    found = _after(url, integration.endpoint_url)
    return (*found, "") if found else None


def _parse_azure(url: str, integration: StorageIntegration) -> tuple[str, str, str] | None:
    found = _after(url, integration.azure_account_url)
    if found:
        return (*found, integration.account)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host.endswith(integrations_azure.ACCOUNT_HOST_SUFFIX):
        container, _, key = parts.path.lstrip("/").partition("/")
        return container, unquote(key), host.removesuffix(integrations_azure.ACCOUNT_HOST_SUFFIX)
    return None


def parse_object_url(url: str, integration: StorageIntegration) -> ObjectRef | None:
    """The bucket and key an object URL names, or None when it is not an object URL of the integration's provider.

    S3: s3://bucket/key, AWS URLs (https://bucket.s3.region.amazonaws.com/key, path-style
    https://s3.region.amazonaws.com/bucket/key) and, for other stores, <endpoint>/bucket/key.
    GCS: gs://bucket/key, https://storage.googleapis.com/bucket/key (or storage.cloud.google.com,
    bucket.storage.googleapis.com/key) and <endpoint>/bucket/key. Azure: https://<account>.blob.core.windows.net/
    <container>/key and <endpoint>/<container>/key. Keys are percent-decoded.
    """
    parser = {Provider.GCS: _parse_gcs, Provider.AZURE: _parse_azure}.get(integration.provider, _parse_s3)
    found = parser(url, integration)
    if found is None or not found[0] or not found[1]:
        return None
    bucket, key, account = found
    return ObjectRef(bucket=bucket, key=key, account=account)


_URL_FORMS = {
    Provider.S3: "s3://{bucket}/… or https://{bucket}.s3.<region>.amazonaws.com/…",
    Provider.GCS: "gs://{bucket}/… or https://storage.googleapis.com/{bucket}/…",
    Provider.AZURE: "{account_url}/{bucket}/…",
}


def object_problem(url: str, integration: StorageIntegration) -> tuple[ObjectRef | None, str]:
    """The object a row names in the integration's bucket (or container), or why it is not one."""
    ref = parse_object_url(url, integration)
    noun = integration.bucket_noun
    if ref is None:
        forms = _URL_FORMS[integration.provider].format(bucket=integration.bucket, account_url=integration.azure_account_url)
        return None, f"Not an object URL of the {noun} (use {forms})."
    if integration.provider == Provider.AZURE and ref.account != integration.account:
        return None, f"The object is in the storage account “{ref.account}”, not in “{integration.account}” of the integration {integration.name}."
    if ref.bucket != integration.bucket:
        return None, f"The object is in {noun} “{ref.bucket}”, not in “{integration.bucket}” of the integration {integration.name}."
    if integration.prefix and not ref.key.startswith(integration.prefix):
        return None, f"The object is outside the integration's prefix “{integration.prefix}”."
    return ref, ""


def _container(integration: StorageIntegration):
    _check_endpoint(integration)
    return integrations_azure.container(
        account_url=integration.azure_account_url, account=integration.account, container_name=integration.bucket,
        use_sas=integration.credential == Credential.SAS_TOKEN, secret=decrypt_secret(integration.secret_encrypted),
    )


def _gcs(integration: StorageIntegration, ref: ObjectRef) -> dict:
    _check_endpoint(integration)
    return {"key_text": decrypt_secret(integration.secret_encrypted), "endpoint_url": integration.endpoint_url,
            "bucket": ref.bucket, "key": ref.key}


def object_size(integration: StorageIntegration, ref: ObjectRef) -> int:
    if integration.provider == Provider.GCS:
        return integrations_gcs.object_size(**_gcs(integration, ref))
    if integration.provider == Provider.AZURE:
        return integrations_azure.object_size(_container(integration), ref.key)
    return _client(integration).head_object(Bucket=ref.bucket, Key=ref.key)["ContentLength"]


def open_object(integration: StorageIntegration, ref: ObjectRef):
    """The object's body as a stream (read(n)); close it when done."""
    if integration.provider == Provider.GCS:
        return integrations_gcs.open_object(**_gcs(integration, ref))
    if integration.provider == Provider.AZURE:
        return integrations_azure.open_object(_container(integration), ref.key)
    return _client(integration).get_object(Bucket=ref.bucket, Key=ref.key)["Body"]


def presigned_get(integration: StorageIntegration, ref: ObjectRef, *, filename: str | None, content_type: str, expires: int) -> str:
    """A signed, short-lived GET of a bucket object, served like the portal's own originals: the verified type (or
    neutral), as a download (docs/SECURITY.md). S3: a presigned GET; GCS: a V4 signed URL of the service account;
    Azure with the account key: a read-only SAS of the one blob. An Azure SAS token cannot sign a narrower one, and is
    never put in a page: those originals are served through the portal's own signed link (reference_link)."""
    served_type, disposition = storage.response_headers(content_type, filename or ref.key.rpartition("/")[2], inline=False)
    if integration.provider == Provider.GCS:
        return integrations_gcs.signed_get(**_gcs(integration, ref), content_type=served_type, disposition=disposition, expires=expires)
    if integration.provider == Provider.AZURE:
        if integration.credential == Credential.SAS_TOKEN:
            raise IntegrationError("A SAS token cannot sign a link of its own: the portal serves these originals itself.")
        _check_endpoint(integration)
        return integrations_azure.signed_get(
            account_url=integration.azure_account_url, account=integration.account, container_name=ref.bucket,
            key=ref.key, account_key=decrypt_secret(integration.secret_encrypted), content_type=served_type,
            disposition=disposition, expires=expires,
        )
    params = {"Bucket": ref.bucket, "Key": ref.key, "ResponseContentType": served_type, "ResponseContentDisposition": disposition}
    return _client(integration).generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


def reference_of(asset) -> tuple[StorageIntegration, ObjectRef]:
    """The integration and object an asset imported by reference is read from."""
    item = asset.import_item
    integration = item.url_import.integration
    if integration is None:
        raise IntegrationError("This asset names no storage integration.")
    ref, problem = object_problem(item.url, integration)
    if ref is None:
        raise IntegrationError(problem)
    return integration, ref


class BucketReferences:
    """The originals of assets imported by reference, read and signed in the bucket they stay in. Registered with
    assets.storage at start-up (uploads.apps), so the assets app reads them without knowing integrations."""

    def open(self, asset):
        """The bytes as a stream read through the asset's integration, closed when the `with` block ends."""
        integration, ref = reference_of(asset)
        return closing(open_object(integration, ref))

    def url(self, asset, *, filename: str | None, content_type: str, expires: int) -> str:
        """A short-lived signed GET of the object: the bucket's own, or the portal's link for an Azure SAS token."""
        integration, ref = reference_of(asset)
        if integration.provider == Provider.AZURE and integration.credential == Credential.SAS_TOKEN:
            return reference_link(asset, filename=filename, content_type=content_type, expires=expires)
        return presigned_get(integration, ref, filename=filename, content_type=content_type, expires=expires)


_LINK_SALT = "uploads.reference-original"


def reference_link(asset, *, filename: str | None, content_type: str, expires: int) -> str:
    """The portal's own signed link to an original it reads through the integration, valid for `expires` seconds:
    for containers reached with a SAS token, which must never appear in a page (docs/SECURITY.md)."""
    claim = {"asset": str(asset.pk), "name": filename, "type": content_type, "until": int(time.time()) + expires}
    return reverse("uploads:reference_original", args=[signing.dumps(claim, salt=_LINK_SALT, compress=True)])


def reference_link_claim(token: str) -> dict | None:
    """What a link of reference_link names ({"asset", "name", "type"}), or None when it is forged or expired."""
    try:
        claim = signing.loads(token, salt=_LINK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(claim, dict) or not isinstance(claim.get("until"), int) or claim["until"] < time.time():
        return None
    return claim
