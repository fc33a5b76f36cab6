"""Access to the object store that holds asset bytes: the one interface the rest of the portal uses.

Two backends speak one protocol (docs/ARCHITECTURE.md, "Storage"). With S3 (or any S3-compatible store)
`s3.S3Backend` presigns the requests and the browser talks to the store directly. With the embedded default,
`local.LocalBackend` signs URLs to the portal's own endpoint (`views`), which accepts the same single PUT and multipart
requests and streams them to disk. The backend is chosen once per configured storage (at start-up, by `prepare`);
every function here checks its key first (docs/SECURITY.md, "Stored files") and hands the work to it.

Files imported by reference stay in a customer's bucket: the app that knows those buckets registers a reader
(`register_reference_reader`), and `open_original` / the asset's URLs go through it.
"""

import base64
import binascii
import logging
import weakref
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from assets import content
from assets.storage.base import HTTP_METHOD, OPERATIONS, Backend, OpenUpload, Transfer
from assets.storage import keys
from assets.storage.keys import UnsafeKey, checked_key, key_belongs_to, key_for, key_prefix, new_key, sibling_key
from assets.storage.local import LocalBackend, SignatureError
from assets.storage.s3 import S3Backend

__all__ = [
    "HTTP_METHOD", "INLINE_TYPES", "NEUTRAL_TYPE", "OPERATIONS", "OpenUpload", "SignatureError", "Transfer", "UnsafeKey",
    "abort_open_upload", "backend", "page_origins", "show_in_page", "last_activity", "stored_objects", "browser_origin", "checked_key", "delete", "delete_many", "discard", "inspect", "inspect_many", "key_belongs_to",
    "key_for", "key_prefix", "multipart_abort", "multipart_abort_all", "multipart_complete", "multipart_part_numbers",
    "multipart_start", "new_key", "open", "open_original", "open_uploads", "original_url", "prepare", "presign", "register_reference_reader",
    "response_headers", "seal", "seal_many", "served_type", "sha256_hex_to_base64", "shares_portal_address", "sibling_key",
    "stored_size", "write", "write_stream",
]

logger = logging.getLogger(__name__)

# Content types a stored file may be shown as, inline, in a browser: verified images and videos (never SVG or HTML,
# which run script). Anything else is served as application/octet-stream, as a download (docs/SECURITY.md).
INLINE_TYPES = frozenset(content.IMAGE_MIME_FORMATS) | frozenset(content.VIDEO_MIMES)
NEUTRAL_TYPE = "application/octet-stream"

# One backend per configured storage object: Django makes a new one when the STORAGES setting changes.
_BACKENDS: "weakref.WeakKeyDictionary[Storage, Backend]" = weakref.WeakKeyDictionary()


def backend() -> Backend:
    """The backend of the configured default storage, chosen when it is first asked for."""
    configured = storages["default"]
    chosen = _BACKENDS.get(configured)
    if chosen is None:
        chosen = _BACKENDS[configured] = S3Backend(configured) if isinstance(configured, S3Storage) else LocalBackend(configured)
    return chosen


def prepare() -> None:
    """Chooses the backend and builds what signing needs (on S3: boto3's client, the PUT signing set-up and the origin
    pages allow) now, not in a first request."""
    backend().prepare()


def shares_portal_address() -> bool:
    """Whether browsers reach stored files at the portal's own address (the embedded endpoint)."""
    return backend().shares_portal_address


def browser_origin() -> str | None:
    """scheme://host[:port] at which browsers reach stored files, or None when that is the portal's own address."""
    return backend().browser_origin()


def sha256_hex_to_base64(sha256_hex: str) -> str:
    """S3's x-amz-checksum-sha256 is the base64 of the digest; the portal keeps the hex form."""
    return base64.b64encode(binascii.unhexlify(sha256_hex)).decode()


def served_type(content_type: str | None) -> str:
    """The Content-Type a stored file is served or stored with: an image or video type the portal knows, else neutral."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    return content_type if content_type in INLINE_TYPES else NEUTRAL_TYPE


def response_headers(content_type: str | None, filename: str | None, *, inline: bool) -> tuple[str, str]:
    """The Content-Type and Content-Disposition a stored file is served with: inline only when asked for an image or
    video type, as a download otherwise."""
    served = served_type(content_type)
    return served, content_disposition_header(not (inline and served in INLINE_TYPES), filename or "file")


def presign(
    operation: str,
    key: str,
    *,
    size: int | None = None,
    sha256: str | None = None,
    content_type: str | None = None,
    upload_id: str | None = None,
    part_number: int | None = None,
    filename: str | None = None,
    expires: int | None = None,
    plain: bool = False,
    inline: bool = False,
) -> Transfer:
    """Signs one request on one object key; the URL expires after `expires` seconds.

    For a single PUT, `size` (Content-Length), `sha256` (x-amz-checksum-sha256) and a Content-Type the portal
    allows (served_type) are part of the signature, so the store refuses other bytes; an `upload_part` binds its
    `size` the same way. A `plain` PUT needs no header from the client (`curl --upload-file`): it binds the length,
    and the sha256 only where the store checks it without a header (the embedded endpoint). For a `get`,
    `content_type` is what verification established: the response carries it (or application/octet-stream), as a
    download unless `inline` is asked for an image or video type. The returned headers are the ones the client sends.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"Unknown storage operation {operation!r}")
    checked_key(key)
    headers: dict[str, str] = {}
    if operation == "put" and not plain:
        headers["Content-Type"] = served_type(content_type)
        if sha256:
            headers["x-amz-checksum-sha256"] = sha256_hex_to_base64(sha256)
    served = response_headers(content_type, filename or key.rpartition("/")[2], inline=inline) if operation == "get" else None
    url = backend().presign(
        operation, key, size=size, sha256=sha256, headers=headers, upload_id=upload_id, part_number=part_number,
        served=served, expires=expires or settings.UPLOAD_URL_EXPIRY_SECONDS,
    )
    return {"url": url, "method": HTTP_METHOD[operation], "headers": headers}


# --- what arrived, and the stored bytes ---------------------------------------------------------------


def stored_size(key: str) -> int | None:
    """The size of the stored object, or None when nothing is stored under `key`."""
    return backend().stored_size(checked_key(key))


def inspect(key: str, length: int = 8192) -> tuple[int, bytes] | None:
    """The size and first bytes of a stored object in one request, or None when nothing is stored under `key`."""
    return backend().inspect(checked_key(key), length)


def inspect_many(keys: list[str], length: int = 8192, *, return_exceptions: bool = False) -> dict:
    """inspect() of several objects (on S3 side by side: a batch waits for its slowest, not its sum).

    With `return_exceptions`, an object whose request failed gets the exception as its answer, and the others
    still get theirs (one object the store will not show does not hold up its neighbours).
    """
    for key in keys:
        checked_key(key)
    return backend().inspect_many(keys, length, return_exceptions=return_exceptions)


def open(key: str):  # noqa: A001 (the storage's own verb, like default_storage.open)
    """The stored object's bytes as a file opened for reading."""
    return backend().open(checked_key(key))


def write(key: str, fileobj) -> str:
    """Stores `fileobj` under exactly `key`, replacing what was there (derived files have fixed keys)."""
    backend().write(checked_key(key), fileobj)
    return key


def write_stream(key: str, stream) -> None:
    """Stores a stream of unknown length under `key`, holding at most one part in memory; nothing is left under `key`
    when reading the stream fails."""
    backend().write_stream(checked_key(key), stream)


def delete(key: str) -> None:
    """Deletes the object under `key` (nothing happens when there is none)."""
    if key:
        backend().delete(checked_key(key))


def delete_many(keys: list[str]) -> None:
    """Deletes the objects under `keys` (on S3 in one request per 1,000 keys); one that could not be deleted is left
    for the clean-up beat, which deletes objects no asset refers to."""
    keys = [checked_key(key) for key in keys if key]
    if keys:
        backend().delete_many(keys)


def seal(key: str, *, size: int, sources_left: list[str] | None = None) -> str | None:
    """Moves a verified file from the key its transfer was signed for to a fresh key beside it, that no URL was ever
    signed for, and returns that key (None when nothing is stored under `key` any more: another run sealed it).

    A signed PUT stays valid until it expires; after this, sending it again only writes to a key no asset has, which
    changes nothing the portal shows or processes (docs/SECURITY.md). With `sources_left`, a store that seals by
    copying (S3) leaves `key` in place and appends it there: the caller deletes a batch of them at once (delete_many).
    """
    sealed = seal_many([(key, size)], sources_left=sources_left)[key]
    if isinstance(sealed, Exception):
        raise sealed
    return sealed


def seal_many(files: list[tuple[str, int]], *, sources_left: list[str] | None = None) -> dict:
    """seal() of several verified files ((key, size) each), side by side on S3: {key: the sealed key, None when nothing
    is stored under it any more, or the exception its copy raised}."""
    keep_source = sources_left is not None and backend().moves_by_copy
    moves = [(checked_key(key), sibling_key(key), size) for key, size in files]
    moved = backend().move_many(moves, keep_source=keep_source)
    sealed: dict = {}
    for key, to, size in moves:
        outcome = moved[(key, to, size)]
        if isinstance(outcome, Exception) or not outcome:
            sealed[key] = outcome if isinstance(outcome, Exception) else None
            continue
        if keep_source:
            sources_left.append(key)
        sealed[key] = to
    return sealed


def discard(key: str, *, in_parts: bool = False) -> None:
    """Deletes what an abandoned transfer left under `key`: the object, and with `in_parts` the multipart uploads
    still open for it (a browser starts its own, so the portal does not know their ids)."""
    delete(key)
    if in_parts:
        multipart_abort_all(key)


# --- multipart uploads driven by the portal (the public API: the client only PUTs the parts) ------------


def multipart_start(key: str) -> str:
    """Starts a multipart upload of `key`; returns its upload id (parts are then signed with presign)."""
    return backend().multipart_start(checked_key(key))


def multipart_part_numbers(key: str, upload_id: str) -> list[int] | None:
    """The numbers of the parts that arrived, or None when the upload is unknown (completed or aborted)."""
    return backend().multipart_part_numbers(checked_key(key), upload_id)


def multipart_complete(key: str, upload_id: str) -> bool:
    """Joins every part that arrived, in order, into the object; False when the upload is unknown or empty."""
    return backend().multipart_complete(checked_key(key), upload_id)


def multipart_abort(key: str, upload_id: str) -> None:
    """Drops a multipart upload and the parts it holds (nothing happens when it is already gone)."""
    if upload_id:
        backend().multipart_abort(checked_key(key), upload_id)


def multipart_abort_all(key: str) -> None:
    """Drops every multipart upload in progress for `key`, whoever started it."""
    backend().multipart_abort_all(checked_key(key))


def open_uploads() -> Iterator[OpenUpload]:
    """Every multipart upload in progress under the keys the portal issues (for the clean-up of abandoned ones)."""
    return backend().open_uploads(keys.ROOT)


def stored_objects() -> Iterator[tuple[str, datetime]]:
    """(key, when last written) of every object under the keys the portal issues (for the sweep of orphans)."""
    return backend().stored_objects(keys.ROOT)


def last_activity(upload: OpenUpload) -> datetime:
    """When a part of an open upload last arrived, or when it started if none did."""
    return backend().last_activity(upload)


def abort_open_upload(upload: OpenUpload) -> bool:
    """Drops an open multipart upload and its parts; False when its key is not one the portal would issue (left to
    the store's lifecycle rule, README.md)."""
    if not upload.key:
        backend().forget_broken_upload(upload)
        return True
    try:
        multipart_abort(upload.key, upload.upload_id)
    except UnsafeKey:
        logger.warning("Left the multipart upload %s of %r alone: not a key the portal issues.", upload.upload_id, upload.key)
        return False
    return True


# --- files imported by reference, read where they are ---------------------------------------------------


class ReferenceReader(Protocol):
    """Reads the originals of assets imported by reference from the bucket they stay in."""

    def open(self, asset): ...

    def url(self, asset, *, filename: str | None, content_type: str, expires: int) -> str: ...


_reference_reader: ReferenceReader | None = None


def register_reference_reader(reader: ReferenceReader) -> None:
    """Called once at start-up by the app that knows customers' buckets (uploads.apps)."""
    global _reference_reader
    _reference_reader = reader


def _references() -> ReferenceReader:
    if _reference_reader is None:
        raise LookupError("No reader of bucket references is registered (uploads.apps registers it at start-up).")
    return _reference_reader


def open_original(asset):
    """The asset's original bytes as a stream: from the portal's storage, or through the customer's bucket when it was
    imported by reference (those bytes are never copied)."""
    if asset.is_reference:
        return _references().open(asset)
    return open(asset.storage_key)


def show_in_page(request, url: str) -> None:
    """Lets the page answering `request` show a file from `url`'s origin (an original signed by a customer's bucket):
    portal/csp.py adds that origin to this one response's img-src and media-src."""
    parts = urlsplit(url)
    if parts.scheme in {"http", "https"} and parts.netloc:
        request.storage_origins = {*page_origins(request), f"{parts.scheme}://{parts.netloc}"}


def page_origins(request) -> set[str]:
    """The origins show_in_page allowed for this request."""
    return set(getattr(request, "storage_origins", ()))


def original_url(asset, *, filename: str | None, content_type: str, expires: int) -> str:
    """A short-lived URL of the original of an asset imported by reference, signed by its bucket."""
    return _references().url(asset, filename=filename, content_type=content_type, expires=expires)
