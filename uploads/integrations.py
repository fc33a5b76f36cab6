"""Storage integrations: an organization's own S3-compatible bucket, read by reference (seed 002).

The portal never copies such files: it reads them through the integration to process them and shows
them through short-lived presigned GETs. The secret is encrypted at rest with a key derived from
STORAGE_INTEGRATION_KEY and never shown again. boto3 never opens a connection of its own to the endpoint:
each signed request goes through the address policy of URL imports (fetching.guarded_session), which
resolves the name once and connects to the address it checked, so a name that answers one address to a
check and another to the connection (DNS rebinding) cannot lead to an internal address (docs/SECURITY.md).
"""

import base64
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import boto3
import requests
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
from django.utils import timezone
from ssrfguard import SSRFGuardError

from assets import storage
from uploads import fetching
from uploads.models import StorageIntegration

DEFAULT_REGION = "us-east-1"


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


def integration_create(*, organization, user, name: str, endpoint_url: str, region: str, bucket: str, prefix: str,
                       access_key_id: str, secret_access_key: str) -> StorageIntegration:
    """Saves an integration with its secret encrypted; Validate then tells whether the portal can list and read."""
    return StorageIntegration.objects.create(
        organization=organization,
        created_by=user,
        name=name.strip(),
        endpoint_url=endpoint_url.strip().rstrip("/"),
        region=region.strip() or DEFAULT_REGION,
        bucket=bucket.strip(),
        prefix=prefix.strip().lstrip("/"),
        access_key_id=access_key_id.strip(),
        secret_encrypted=encrypt_secret(secret_access_key),
    )


def endpoint_problem(endpoint_url: str) -> str:
    """Why the portal will not talk to this endpoint (scheme, or an address it must not reach), or ""."""
    if not endpoint_url:
        return ""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "The endpoint must be an http or https URL."
    return fetching.check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def _client(integration: StorageIntegration):
    # Checked before each use for a clear reason early: a name may have moved since the integration was saved.
    problem = endpoint_problem(integration.endpoint_url)
    if problem:
        raise IntegrationError(problem)
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


def explain(error: Exception, integration: StorageIntegration) -> str:
    """A storage error in words for people."""
    if isinstance(error, IntegrationError):
        return error.message
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


def integration_validate(*, integration: StorageIntegration) -> str:
    """Checks that the portal can list the bucket (under the prefix) and read an object there.

    Records the outcome on the integration; returns "" when it passed, otherwise the reason.
    """
    try:
        client = _client(integration)
        listed = client.list_objects_v2(Bucket=integration.bucket, Prefix=integration.prefix, MaxKeys=1)
        first = next(iter(listed.get("Contents", [])), None)
        if first is not None:
            client.get_object(Bucket=integration.bucket, Key=first["Key"], Range="bytes=0-0")["Body"].close()
    except (IntegrationError, BotoCoreError, ClientError) as error:
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


def parse_object_url(url: str, integration: StorageIntegration) -> ObjectRef | None:
    """The bucket and key an object URL names, or None when it is not an object URL.

    Takes s3://bucket/key, AWS URLs (https://bucket.s3.region.amazonaws.com/key, path-style
    https://s3.region.amazonaws.com/bucket/key) and, for other stores, <endpoint>/bucket/key.
    Keys are percent-decoded.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.lstrip("/")
    if parts.scheme == "s3":
        bucket, key = parts.netloc, unquote(path)
    elif parts.scheme in {"http", "https"} and host.endswith(".amazonaws.com") and ".s3" in f".{host}":
        label = host.removesuffix(".amazonaws.com")
        if label.startswith("s3.") or label.startswith("s3-") or label == "s3":
            bucket, _, key = path.partition("/")
            key = unquote(key)
        else:
            bucket, _, _ = label.partition(".s3")
            key = unquote(path)
    elif integration.endpoint_url and url.startswith(integration.endpoint_url.rstrip("/") + "/"):
        rest = url[len(integration.endpoint_url.rstrip("/")) + 1 :]
        bucket, _, key = urlsplit(rest).path.partition("/")
        key = unquote(key)
    else:
        return None
    if not bucket or not key:
        return None
    return ObjectRef(bucket=bucket, key=key)


def object_problem(url: str, integration: StorageIntegration) -> tuple[ObjectRef | None, str]:
    """The object a row names in the integration's bucket, or why it is not one."""
    ref = parse_object_url(url, integration)
    if ref is None:
        return None, f"Not an object URL of the bucket (use s3://{integration.bucket}/… or https://{integration.bucket}.s3.<region>.amazonaws.com/…)."
    if ref.bucket != integration.bucket:
        return None, f"The object is in bucket “{ref.bucket}”, not in “{integration.bucket}” of the integration {integration.name}."
    if integration.prefix and not ref.key.startswith(integration.prefix):
        return None, f"The object is outside the integration's prefix “{integration.prefix}”."
    return ref, ""


def object_size(integration: StorageIntegration, ref: ObjectRef) -> int:
    return _client(integration).head_object(Bucket=ref.bucket, Key=ref.key)["ContentLength"]


def open_object(integration: StorageIntegration, ref: ObjectRef):
    """The object's body as a stream (read(n)); close it when done."""
    return _client(integration).get_object(Bucket=ref.bucket, Key=ref.key)["Body"]


def presigned_get(integration: StorageIntegration, ref: ObjectRef, *, filename: str | None, content_type: str, expires: int) -> str:
    """A presigned GET of a bucket object, served like the portal's own originals: the verified type (or neutral), as a
    download (docs/SECURITY.md)."""
    params = {"Bucket": ref.bucket, "Key": ref.key}
    params["ResponseContentType"], params["ResponseContentDisposition"] = storage.response_headers(
        content_type, filename or ref.key.rpartition("/")[2], inline=False
    )
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
        """A short-lived presigned GET of the object."""
        integration, ref = reference_of(asset)
        return presigned_get(integration, ref, filename=filename, content_type=content_type, expires=expires)
