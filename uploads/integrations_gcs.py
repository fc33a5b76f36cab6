"""Google Cloud Storage buckets of storage integrations (uploads.integrations holds the lifecycle they share).

The client is built from the service-account JSON key with a read-only scope. Its requests, the OAuth token's
included, go through the address policy (fetching.guard): the endpoint and the key's token_uri are reached only
at checked addresses (docs/SECURITY.md). Signed URLs are V4, signed locally with the key's private key.
"""

import json
from datetime import timedelta

from django.conf import settings
from google.api_core.exceptions import NotFound
from google.auth.transport.requests import AuthorizedSession, Request
from google.cloud import storage as gcs
from google.oauth2 import service_account

from uploads import fetching

READ_ONLY = "https://www.googleapis.com/auth/devstorage.read_only"
DEFAULT_ENDPOINT = "https://storage.googleapis.com"
# Hosts whose https URLs name bucket/key in their path.
PATH_STYLE_HOSTS = {"storage.googleapis.com", "storage.cloud.google.com"}
_REQUIRED = ("type", "client_email", "private_key", "token_uri")


class BucketNotFound(Exception):
    """Listing the bucket answered 404: there is no such bucket (an object's 404 is the library's NotFound)."""


def key_problem(text: str) -> str:
    """Why `text` is not a service-account JSON key the portal can sign with, or ""."""
    try:
        info = json.loads(text)
    except ValueError:
        return "The service-account key is not JSON: paste the whole key file Google Cloud gave you."
    if not isinstance(info, dict) or info.get("type") != "service_account":
        return "This JSON is not a service-account key (its type must be “service_account”): create a key for a service account."
    missing = [name for name in _REQUIRED if not info.get(name)]
    if missing:
        return f"The service-account key lacks {', '.join(missing)}: paste the whole key file."
    problem = fetching.refusal(info["token_uri"])
    if problem:
        return f"The key's token_uri is refused: {problem}"
    try:
        service_account.Credentials.from_service_account_info(info)
    except ValueError:
        return "The private key in the service-account key cannot be read: paste the key file again, unchanged."
    return ""


def client_email(text: str) -> str:
    return json.loads(text)["client_email"]


def credentials(key_text: str) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_info(json.loads(key_text), scopes=[READ_ONLY])


def client(*, key_text: str, endpoint_url: str) -> gcs.Client:
    """A client whose storage and token requests all go through the address policy."""
    signer = credentials(key_text)
    token_session = fetching.guarded_session()
    session = fetching.guard(AuthorizedSession(signer, auth_request=Request(token_session)))
    return gcs.Client(
        project=signer.project_id or None,
        credentials=signer,
        _http=session,
        client_options={"api_endpoint": endpoint_url} if endpoint_url else None,
    )


def timeout() -> tuple[float, float]:
    return (settings.URL_IMPORT_CONNECT_TIMEOUT, settings.URL_IMPORT_READ_TIMEOUT)


def list_and_read(*, key_text: str, endpoint_url: str, bucket: str, prefix: str) -> None:
    """Lists one object under the prefix and reads its first byte; raises the library's errors."""
    storage_client = client(key_text=key_text, endpoint_url=endpoint_url)
    listed = storage_client.list_blobs(bucket, prefix=prefix or None, max_results=1, timeout=timeout(), retry=None)
    try:
        first = next(iter(listed), None)
    except NotFound as error:
        raise BucketNotFound(bucket) from error
    if first is not None:
        first.download_as_bytes(start=0, end=0, timeout=timeout(), retry=None)


def object_size(*, key_text: str, endpoint_url: str, bucket: str, key: str) -> int:
    blob = client(key_text=key_text, endpoint_url=endpoint_url).bucket(bucket).blob(key)
    blob.reload(timeout=timeout(), retry=None)
    return blob.size or 0


def open_object(*, key_text: str, endpoint_url: str, bucket: str, key: str):
    """The object's bytes as a stream read in parts of 1 MiB (read(n), close())."""
    blob = client(key_text=key_text, endpoint_url=endpoint_url).bucket(bucket).blob(key)
    return blob.open("rb", chunk_size=1024 * 1024, retry=None, timeout=timeout())


def signed_get(*, key_text: str, endpoint_url: str, bucket: str, key: str, content_type: str, disposition: str, expires: int) -> str:
    """A V4 signed GET of the object, signed with the service account's private key (no request is made)."""
    blob = client(key_text=key_text, endpoint_url=endpoint_url).bucket(bucket).blob(key)
    return blob.generate_signed_url(
        version="v4",
        method="GET",
        expiration=timedelta(seconds=expires),
        credentials=credentials(key_text),
        api_access_endpoint=endpoint_url or DEFAULT_ENDPOINT,
        response_type=content_type,
        response_disposition=disposition,
    )
