"""Access to the object store that holds asset bytes: signing transfers, checking what arrived, reading it back.

Two targets speak one protocol. With S3 (or any S3-compatible store) boto3 presigns the requests and the
browser talks to the store directly. With the embedded default, the portal signs URLs to its own endpoint
(`assets.storage_views`), which accepts the same single PUT and multipart requests and streams them to disk.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, TypedDict
from urllib.parse import quote, urlencode, urlsplit

from botocore.compat import get_current_datetime
from botocore.exceptions import NoCredentialsError
from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage, storages
from django.urls import reverse
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from assets import content

OPERATIONS = ("put", "create_multipart", "upload_part", "complete_multipart", "abort_multipart", "list_parts", "get")
_HTTP_METHOD = {
    "put": "PUT",
    "create_multipart": "POST",
    "upload_part": "PUT",
    "complete_multipart": "POST",
    "abort_multipart": "DELETE",
    "list_parts": "GET",
    "get": "GET",
}
_SIGNER_SALT = "portal.storage.v1"


class Transfer(TypedDict, total=False):
    url: str
    method: str
    headers: dict[str, str]


def is_s3() -> bool:
    return isinstance(default_storage, S3Storage)


def _s3():
    """The boto3 client and bucket of the configured S3 storage."""
    return default_storage.connection.meta.client, default_storage.bucket_name


def prepare() -> None:
    """Builds what signing needs (on S3: boto3's client, the PUT signing set-up and the origin pages allow) now, not in
    a first request."""
    if is_s3():
        browser_origin()
        _put_signing()


# Per S3 storage object (a settings change makes a new one): see browser_origin.
_ORIGINS: "weakref.WeakKeyDictionary[S3Storage, str]" = weakref.WeakKeyDictionary()


def browser_origin() -> str | None:
    """scheme://host[:port] at which browsers reach stored files (the URLs presign hands out), or None when that is the
    portal's own address (embedded storage). Worked out once per storage object (prepare does it at start-up), with
    boto3's unsigned client: the same endpoint rules and addressing style, and no credentials needed."""
    if not is_s3():
        return None
    s3_storage = storages["default"]
    if s3_storage not in _ORIGINS:
        client = s3_storage.unsigned_connection.meta.client
        probe = urlsplit(client.generate_presigned_url("put_object", Params={"Bucket": s3_storage.bucket_name, "Key": "_"}))
        _ORIGINS[s3_storage] = f"{probe.scheme}://{probe.netloc}"
    return _ORIGINS[s3_storage]


def sha256_hex_to_base64(sha256_hex: str) -> str:
    """S3's x-amz-checksum-sha256 is the base64 of the digest; the portal keeps the hex form."""
    return base64.b64encode(binascii.unhexlify(sha256_hex)).decode()


class UnsafeKey(ValueError):
    """A key the portal would never issue: it climbs (`..`), is absolute, or holds a backslash, NUL or control character."""


def checked_key(key: str) -> str:
    """`key` when it is a plain relative object key, else UnsafeKey. Every storage operation checks its key with this,
    whoever asks, so a key from a browser or a script can never reach outside the object it names (docs/SECURITY.md)."""
    if (
        not isinstance(key, str)
        or not key
        or len(key) > 1024
        or key.startswith("/")
        or any(character in key for character in "\\\x00")
        or any(ord(character) < 32 or ord(character) == 127 for character in key)
        or any(segment in {"", ".", ".."} for segment in key.split("/"))
    ):
        raise UnsafeKey(f"The object key {key[:80]!r} is not one the portal issues." if isinstance(key, str) else "Not an object key.")
    return key


def key_prefix(*, organization_id, asset_id) -> str:
    """Where every object key of one asset starts."""
    return f"assets/{organization_id}/{asset_id}/"


def key_belongs_to(key, *, organization_id, asset_id) -> bool:
    """Whether `key` is a safe key under the asset's own prefix (after the checks of checked_key, no `..` can climb out)."""
    try:
        checked_key(key)
    except UnsafeKey:
        return False
    return key.startswith(key_prefix(organization_id=organization_id, asset_id=asset_id))


def new_key(*, organization_id, asset_id, extension: str = "") -> str:
    """A fresh object key for one transfer attempt: a retry never reuses a key (docs/ARCHITECTURE.md)."""
    return f"{key_prefix(organization_id=organization_id, asset_id=asset_id)}{secrets.token_hex(8)}{extension}"


def sibling_key(key: str) -> str:
    """A fresh key beside `key`, with the same extension: where a verified file is sealed (see seal)."""
    folder, _, name = checked_key(key).rpartition("/")
    extension = name[name.index("."):] if "." in name else ""
    return f"{folder}/{secrets.token_hex(8)}{extension}"


# Content types a stored file may be shown as, inline, in a browser: verified images and videos (never SVG or HTML,
# which run script). Anything else is served as application/octet-stream, as a download (docs/SECURITY.md).
INLINE_TYPES = frozenset(content.IMAGE_MIME_FORMATS) | frozenset(content.VIDEO_MIMES)
NEUTRAL_TYPE = "application/octet-stream"


def served_type(content_type: str | None) -> str:
    """The Content-Type a stored file is served or stored with: an image or video type the portal knows, else neutral."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    return content_type if content_type in INLINE_TYPES else NEUTRAL_TYPE


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
    expires = expires or settings.UPLOAD_URL_EXPIRY_SECONDS
    headers: dict[str, str] = {}
    if operation == "put" and not plain:
        headers["Content-Type"] = served_type(content_type)
        if sha256:
            headers["x-amz-checksum-sha256"] = sha256_hex_to_base64(sha256)
    if is_s3():
        url = _s3_presign(operation, key, size=size, headers=headers, upload_id=upload_id, part_number=part_number,
                          filename=filename, content_type=content_type, inline=inline, expires=expires)
    else:
        url = _local_presign(operation, key, size=size, sha256=sha256, upload_id=upload_id, part_number=part_number,
                             filename=filename, content_type=content_type, inline=inline, expires=expires)
    return {"url": url, "method": _HTTP_METHOD[operation], "headers": headers}


def response_headers(content_type: str | None, filename: str | None, *, inline: bool) -> tuple[str, str]:
    """The Content-Type and Content-Disposition a stored file is served with: inline only when asked for an image or
    video type, as a download otherwise."""
    served = served_type(content_type)
    return served, content_disposition_header(not (inline and served in INLINE_TYPES), filename or "file")


def _s3_presign(operation, key, *, size, headers, upload_id, part_number, filename, content_type, inline, expires) -> str:
    if operation == "put":
        return _s3_presign_put(key, size=size, headers=headers, expires=expires)
    client, bucket = _s3()
    params: dict = {"Bucket": bucket, "Key": key}
    if operation == "create_multipart":
        client_method = "create_multipart_upload"
    elif operation == "upload_part":
        client_method = "upload_part"
        params |= {"UploadId": upload_id, "PartNumber": part_number}
        if size is not None:
            params["ContentLength"] = size  # signed: the store refuses a part of another length
    elif operation == "complete_multipart":
        client_method = "complete_multipart_upload"
        params["UploadId"] = upload_id
    elif operation == "abort_multipart":
        client_method = "abort_multipart_upload"
        params["UploadId"] = upload_id
    elif operation == "list_parts":
        client_method = "list_parts"
        params["UploadId"] = upload_id
    else:
        client_method = "get_object"
        params["ResponseContentType"], params["ResponseContentDisposition"] = response_headers(
            content_type, filename or key.rpartition("/")[2], inline=inline
        )
    return client.generate_presigned_url(client_method, Params=params, ExpiresIn=expires)


# Per S3 storage object (a settings change makes a new one): see _put_signing.
_PUT_SIGNING: "weakref.WeakKeyDictionary[S3Storage, _PutSigning]" = weakref.WeakKeyDictionary()


class _PutSigning(NamedTuple):
    origin: str  # scheme://host[:port] of the URLs, as boto3 writes them
    host: str  # as signed: lowercase, with the port unless it is the scheme's default
    path: str  # of the bucket's objects, ending in "/"
    region: str
    credentials: object  # botocore credentials (refreshed by botocore when they are temporary)


def _put_signing() -> _PutSigning:
    """Where the bucket's objects live as boto3 addresses them, the signing region, and the credentials.

    Worked out once per storage object: boto3 builds the URL of a probe key (endpoint rules, addressing
    style), and the key is cut off to leave the bucket's URL prefix.
    """
    s3_storage = storages["default"]
    known = _PUT_SIGNING.get(s3_storage)
    if known is None:
        client = s3_storage.connection.meta.client
        params = {"Bucket": s3_storage.bucket_name, "Key": "_"}
        probe = urlsplit(client.generate_presigned_url("put_object", Params=params))
        # django-storages' own session factory: the same keys, profile or role chain as its client.
        credentials = s3_storage._create_session().get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        host = probe.hostname
        if probe.port not in (None, {"http": 80, "https": 443}.get(probe.scheme)):
            host = f"{host}:{probe.port}"
        known = _PUT_SIGNING[s3_storage] = _PutSigning(
            f"{probe.scheme}://{probe.netloc}", host, probe.path[:-1], client.meta.region_name, credentials
        )
    return known


@functools.lru_cache(maxsize=16)
def _signing_key(secret_key: str, day: str, region: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _s3_presign_put(key: str, *, size, headers, expires) -> str:
    """A presigned single PUT (AWS Signature Version 4, query parameters, unsigned payload).

    Byte for byte the URL boto3's generate_presigned_url("put_object") gives at the same second
    (tests/test_upload_complete.py compares them for path-style and virtual-hosted buckets, with and without
    temporary credentials), at a sixth to a tenth of its cost: boto3 runs its request pipeline (parameter validation,
    endpoint rules, event hooks) and derives the signing key again for every URL, and a drop signs one URL
    per file. The signing key is derived once per day and region.
    """
    target = _put_signing()
    credentials = target.credentials.get_frozen_credentials()
    amz_date = get_current_datetime().strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{target.region}/s3/aws4_request"
    signed = {"content-length": str(size)} if size is not None else {}
    signed |= {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    signed["host"] = target.host
    names = sorted(signed)
    # Query parameters, percent-encoded as SigV4 asks; the names, the algorithm, the date and the expiry are
    # letters, digits and dashes only, so just the other values go through quote() (a drop signs one URL per file).
    encoded = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": quote(f"{credentials.access_key}/{scope}", safe="-_.~"),
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": quote(";".join(names), safe="-_.~"),
    }
    if credentials.token:
        encoded["X-Amz-Security-Token"] = quote(credentials.token, safe="-_.~")
    path = target.path + quote(key, safe="/~")
    canonical_request = "\n".join([
        "PUT",
        path,
        "&".join(f"{name}={encoded[name]}" for name in sorted(encoded)),
        *(f"{name}:{signed[name]}" for name in names),
        "",
        ";".join(names),
        "UNSIGNED-PAYLOAD",
    ])
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    signature = hmac.new(
        _signing_key(credentials.secret_key, amz_date[:8], target.region), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    parameters = "&".join(f"{name}={value}" for name, value in encoded.items())
    return f"{target.origin}{path}?{parameters}&X-Amz-Signature={signature}"


# --- the embedded endpoint's signatures -------------------------------------------------------

def _canonical(operation: str, key: str, fields: dict[str, str]) -> str:
    return "\n".join([operation, key, *(f"{name}={fields[name]}" for name in sorted(fields))])


def _local_presign(operation, key, *, size, sha256, upload_id, part_number, filename, content_type, inline, expires) -> str:
    fields = {"op": operation, "expires": str(int(time.time()) + expires)}
    if size is not None and operation in {"put", "upload_part"}:
        fields["size"] = str(size)
    if sha256 and operation == "put":
        fields["sha256"] = sha256
    if upload_id:
        fields["uploadId"] = upload_id
    if part_number is not None:
        fields["partNumber"] = str(part_number)
    if filename and operation == "get":
        fields["filename"] = filename
    if operation == "get":
        fields["type"] = served_type(content_type)
        if inline:
            fields["inline"] = "1"
    signature = signing.Signer(salt=_SIGNER_SALT).signature(_canonical(operation, key, fields))
    # Relative: the browser stays on the origin it is on; the API makes it absolute for scripts.
    return f"{reverse('storage:object', kwargs={'key': key})}?{urlencode({**fields, 'signature': signature})}"


class SignatureError(Exception):
    """The request does not carry a valid, unexpired signature for this object."""


def verify_local_signature(key: str, query: dict[str, str]) -> dict[str, str]:
    """Checks a request to the embedded endpoint; returns its signed fields or raises SignatureError."""
    fields = {name: value for name, value in query.items() if name != "signature"}
    operation = fields.get("op", "")
    if operation not in OPERATIONS:
        raise SignatureError("The URL names no storage operation.")
    expected = signing.Signer(salt=_SIGNER_SALT).signature(_canonical(operation, key, fields))
    if not secrets.compare_digest(expected, query.get("signature", "")):
        raise SignatureError("The signature does not match this URL: it was changed or signed for another object.")
    try:
        expires = int(fields.get("expires", "0"))
    except ValueError:
        raise SignatureError("The expiry of this URL is not a number.") from None
    if expires < time.time():
        raise SignatureError("This upload URL has expired: ask the portal for a fresh one (Retry does).")
    return fields


# --- what arrived -----------------------------------------------------------------------------

def stored_size(key: str) -> int | None:
    """The size of the stored object, or None when nothing is stored under `key`."""
    checked_key(key)
    if is_s3():
        client, bucket = _s3()
        try:
            return client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
    try:
        return default_storage.size(key)
    except FileNotFoundError:
        return None


# Objects an S3 store is asked about side by side (inspect_many): each request mostly waits on the store.
INSPECT_CONCURRENCY = 8
_inspecting: ThreadPoolExecutor | None = None


def _forget_inspecting_threads() -> None:
    global _inspecting
    _inspecting = None  # a forked child (a Celery pool process) has none of its parent's threads


os.register_at_fork(after_in_child=_forget_inspecting_threads)


def inspect_many(keys: list[str], length: int = 8192, *, return_exceptions: bool = False) -> dict:
    """inspect() of several objects; with S3 the requests go side by side (a batch waits for its slowest, not its sum).

    With `return_exceptions`, an object whose request failed gets the exception as its answer, and the others
    still get theirs (one object the store will not show does not hold up its neighbours).
    """
    global _inspecting
    for key in keys:
        checked_key(key)
    if is_s3():
        client, bucket = _s3()  # boto3 clients are thread-safe; django-storages keeps one per thread

        def one(key: str):
            return _s3_inspect(client, bucket, key, length)
    else:

        def one(key: str):
            return inspect(key, length)

    def answer(key: str):
        try:
            return one(key)
        except Exception as error:
            if not return_exceptions:
                raise
            return error

    if not is_s3() or len(keys) < 2:
        return {key: answer(key) for key in keys}
    if _inspecting is None:
        _inspecting = ThreadPoolExecutor(INSPECT_CONCURRENCY, thread_name_prefix="storage-inspect")
    return dict(zip(keys, _inspecting.map(answer, keys)))


def inspect(key: str, length: int = 8192) -> tuple[int, bytes] | None:
    """The size and first bytes of a stored object in one request, or None when nothing is stored under `key`."""
    checked_key(key)
    if is_s3():
        return _s3_inspect(*_s3(), key, length)
    try:
        with default_storage.open(key, "rb") as stored:
            return default_storage.size(key), stored.read(length)
    except FileNotFoundError:
        return None


def _s3_inspect(client, bucket: str, key: str, length: int) -> tuple[int, bytes] | None:
    try:
        response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}")
    except client.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in {"404", "NoSuchKey", "NotFound"}:
            return None
        if code == "InvalidRange":  # an empty object has no byte 0
            return 0, b""
        raise
    prefix = response["Body"].read()
    total = response.get("ContentRange", "").rpartition("/")[2]
    return (int(total) if total.isdigit() else response["ContentLength"]), prefix


def write(key: str, fileobj) -> str:
    """Stores `fileobj` under exactly `key`, replacing what was there (derived files have fixed keys)."""
    checked_key(key)
    if is_s3():
        client, bucket = _s3()
        client.upload_fileobj(fileobj, bucket, key)
        return key
    target = Path(default_storage.path(key))
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".writing-")
    with os.fdopen(handle, "wb") as out:
        shutil.copyfileobj(fileobj, out, 1024 * 1024)
    os.replace(temporary, target)
    return key


def write_stream(key: str, stream) -> None:
    """Stores a stream of unknown length under `key`, holding at most one part in memory.

    S3: one PUT below UPLOAD_MULTIPART_THRESHOLD, multipart in UPLOAD_PART_SIZE parts above it (an
    upload whose stream fails is aborted). Embedded: a temporary file renamed into place. Either way
    nothing is left under `key` when reading the stream fails.
    """
    checked_key(key)
    if is_s3():
        from boto3.s3.transfer import TransferConfig

        client, bucket = _s3()
        config = TransferConfig(
            multipart_threshold=settings.UPLOAD_MULTIPART_THRESHOLD,
            multipart_chunksize=settings.UPLOAD_PART_SIZE,
            use_threads=False,
        )
        client.upload_fileobj(stream, bucket, key, Config=config)
        return
    target = Path(default_storage.path(key))
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".writing-")
    try:
        with os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def delete(key: str) -> None:
    """Deletes the object under `key` (nothing happens when there is none)."""
    if key:
        default_storage.delete(checked_key(key))


def seal(key: str, *, size: int) -> str | None:
    """Moves a verified file from the key its transfer was signed for to a fresh key beside it, that no URL was ever
    signed for, and returns that key (None when nothing is stored under `key` any more: another run sealed it).

    A signed PUT stays valid until it expires; after this, sending it again only writes to a key no asset has, which
    changes nothing the portal shows or processes (docs/SECURITY.md). S3: a server-side copy, then a delete.
    """
    sealed = sibling_key(key)
    if is_s3():
        client, bucket = _s3()
        source = {"Bucket": bucket, "Key": key}
        try:
            if size < 5 * 1024**3:  # one CopyObject takes at most 5 GiB; above, boto3 copies in parts
                client.copy_object(CopySource=source, Bucket=bucket, Key=sealed)
            else:
                client.copy(source, bucket, sealed)
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        client.delete_object(Bucket=bucket, Key=key)
        return sealed
    try:
        os.replace(default_storage.path(key), default_storage.path(sealed))
    except FileNotFoundError:
        return None
    return sealed


def discard(key: str, *, in_parts: bool = False) -> None:
    """Deletes what an abandoned transfer left under `key`: the object, and with `in_parts` the multipart uploads
    still open for it (a browser starts its own, so the portal does not know their ids)."""
    checked_key(key)
    delete(key)
    if in_parts:
        multipart_abort_all(key)


def local_path(key: str):
    """The file of an object in the embedded storage (never used with S3)."""
    return default_storage.path(checked_key(key))


# --- multipart uploads driven by the portal (the public API: the client only PUTs the parts) ---------

def _no_such_upload(error) -> bool:
    return error.response.get("Error", {}).get("Code") in {"NoSuchUpload", "404", "NotFound"}


def multipart_start(key: str) -> str:
    """Starts a multipart upload of `key`; returns its upload id (parts are then signed with presign)."""
    checked_key(key)
    if is_s3():
        client, bucket = _s3()
        return client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    from assets import storage_views

    return storage_views.local_multipart_start(key)


def _s3_parts(key: str, upload_id: str) -> list[dict] | None:
    client, bucket = _s3()
    parts = []
    try:
        for page in client.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
            parts.extend(page.get("Parts", []))
    except client.exceptions.ClientError as error:
        if _no_such_upload(error):
            return None
        raise
    return sorted(parts, key=lambda part: part["PartNumber"])


def multipart_part_numbers(key: str, upload_id: str) -> list[int] | None:
    """The numbers of the parts that arrived, or None when the upload is unknown (completed or aborted)."""
    checked_key(key)
    if is_s3():
        parts = _s3_parts(key, upload_id)
        return None if parts is None else [part["PartNumber"] for part in parts]
    from assets import storage_views

    parts = storage_views.local_multipart_parts(key, upload_id)
    return None if parts is None else [number for number, _, _ in parts]


def multipart_complete(key: str, upload_id: str) -> bool:
    """Joins every part that arrived, in order, into the object; False when the upload is unknown or empty."""
    checked_key(key)
    if not is_s3():
        from assets import storage_views

        return storage_views.local_multipart_complete(key, upload_id)
    parts = _s3_parts(key, upload_id)
    if not parts:
        return False
    client, bucket = _s3()
    try:
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
        )
    except client.exceptions.ClientError as error:
        if _no_such_upload(error) or error.response.get("Error", {}).get("Code") in {"InvalidPart", "EntityTooSmall"}:
            return False
        raise
    return True


def multipart_abort_all(key: str) -> None:
    """Drops every multipart upload in progress for `key`, whoever started it."""
    checked_key(key)
    if not is_s3():
        from assets import storage_views

        storage_views.local_multipart_abort_all(key)
        return
    client, bucket = _s3()
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key):
        for upload in page.get("Uploads", []):
            if upload["Key"] == key:
                multipart_abort(key, upload["UploadId"])


def multipart_abort(key: str, upload_id: str) -> None:
    """Drops a multipart upload and the parts it holds (nothing happens when it is already gone)."""
    if not upload_id:
        return
    checked_key(key)
    if not is_s3():
        from assets import storage_views

        storage_views.local_multipart_abort(key, upload_id)
        return
    client, bucket = _s3()
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except client.exceptions.ClientError as error:
        if not _no_such_upload(error):
            raise
