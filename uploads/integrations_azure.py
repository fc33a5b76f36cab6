"""Azure Blob Storage containers of storage integrations (uploads.integrations holds the lifecycle they share).

The account is reached with a SAS token or the account key. Every request goes through the address policy's
session (azure-core's RequestsTransport over fetching.guarded_session), so the account URL is reached only at a
checked address (docs/SECURITY.md). With the account key, pages get a SAS of their own per object (read only,
expiring in minutes); a SAS token the customer gave is never put in a page.
"""

import base64
import binascii
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote

from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobSasPermissions, ContainerClient, generate_blob_sas
from django.conf import settings

from uploads import fetching

ACCOUNT_HOST_SUFFIX = ".blob.core.windows.net"


def sas_problem(token: str) -> str:
    """Why `token` is not a SAS token, or ""."""
    fields = parse_qs(clean_sas(token))
    if "sig" not in fields or "sv" not in fields:
        return "This is not a SAS token: it is the query string Azure gives (sv=…&sig=…), with or without the leading “?”."
    return ""


def clean_sas(token: str) -> str:
    return token.strip().lstrip("?")


def account_key_problem(key: str) -> str:
    try:
        base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "An account key is base64 text (88 characters, ending in “==”): copy key1 or key2 of the account again."
    return ""


def container(*, account_url: str, account: str, container_name: str, use_sas: bool, secret: str) -> ContainerClient:
    """A container client whose requests go through the address policy; one try each (the fetch task retries)."""
    credential = clean_sas(secret) if use_sas else {"account_name": account, "account_key": secret.strip()}
    transport = RequestsTransport(
        session=fetching.guarded_session(), session_owner=False,
        connection_timeout=settings.URL_IMPORT_CONNECT_TIMEOUT, read_timeout=settings.URL_IMPORT_READ_TIMEOUT,
    )
    return ContainerClient(
        account_url, container_name, credential=credential, transport=transport, retry_total=0,
        # Downloads come in parts of 4 MiB, never a whole large blob in memory.
        max_single_get_size=4 * 1024 * 1024, max_chunk_get_size=4 * 1024 * 1024,
    )


def list_and_read(client: ContainerClient, *, prefix: str) -> None:
    """Lists one blob under the prefix and reads its first byte; raises the library's errors."""
    first = next(iter(client.list_blobs(name_starts_with=prefix or None, results_per_page=1).by_page()), None)
    blob = next(iter(first), None) if first is not None else None
    if blob is not None:
        client.download_blob(blob.name, offset=0, length=1).readall()


def object_size(client: ContainerClient, key: str) -> int:
    return client.get_blob_client(key).get_blob_properties().size


class _Chunks:
    """read(n) over the downloader's chunks, as the import's metered reader wants."""

    def __init__(self, downloader):
        self._chunks = downloader.chunks()
        self._left = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._left) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._left += chunk
        data, self._left = (self._left, b"") if size < 0 else (self._left[:size], self._left[size:])
        return data

    def close(self) -> None:
        self._chunks = iter(())


def open_object(client: ContainerClient, key: str) -> _Chunks:
    return _Chunks(client.download_blob(key, max_concurrency=1))


def signed_get(*, account_url: str, account: str, container_name: str, key: str, account_key: str, content_type: str,
               disposition: str, expires: int) -> str:
    """A read-only SAS URL of one blob, expiring after `expires` seconds, naming the type and disposition to serve."""
    sas = generate_blob_sas(
        account_name=account, container_name=container_name, blob_name=key, account_key=account_key.strip(),
        permission=BlobSasPermissions(read=True), expiry=datetime.now(UTC) + timedelta(seconds=expires),
        content_type=content_type, content_disposition=disposition,
    )
    return f"{account_url.rstrip('/')}/{quote(container_name)}/{quote(key)}?{sas}"
