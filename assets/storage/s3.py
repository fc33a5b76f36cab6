"""The S3 backend (AWS or any S3-compatible store): boto3 presigns, the browser talks to the bucket directly."""

import functools
import hashlib
import hmac
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from boto3.s3.transfer import TransferConfig
from botocore.compat import get_current_datetime
from botocore.exceptions import BotoCoreError, NoCredentialsError
from django.conf import settings

from assets.storage.base import OpenUpload

# Objects the store is asked about, or copied, side by side (inspect_many, move_many): each request mostly waits on the
# store, and a batch then waits for its slowest instead of its sum.
INSPECT_CONCURRENCY = 8
# One CopyObject takes at most 5 GiB; above, boto3 copies in parts.
_SINGLE_COPY_LIMIT = 5 * 1024**3
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
# Keys one DeleteObjects request takes at most.
_DELETE_BATCH = 1000

logger = logging.getLogger(__name__)

_inspecting: ThreadPoolExecutor | None = None


def _forget_inspecting_threads() -> None:
    global _inspecting
    _inspecting = None  # a forked child (a Celery pool process) has none of its parent's threads


os.register_at_fork(after_in_child=_forget_inspecting_threads)


class _PutSigning(NamedTuple):
    origin: str  # scheme://host[:port] of the URLs, as boto3 writes them
    host: str  # as signed: lowercase, with the port unless it is the scheme's default
    path: str  # of the bucket's objects, ending in "/"
    region: str
    credentials: object  # botocore credentials (refreshed by botocore when they are temporary)


def _code(error) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _no_such_upload(error) -> bool:
    return _code(error) in {"NoSuchUpload", "404", "NotFound"}


@functools.lru_cache(maxsize=16)
def _signing_key(secret_key: str, day: str, region: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class S3Backend:
    """A bucket reached through django-storages' S3Storage (its client, credentials chain and settings)."""

    shares_portal_address = False
    moves_by_copy = True

    def __init__(self, s3_storage):
        self.s3_storage = s3_storage

    @functools.cached_property
    def client(self):
        # One per process, shared by its threads (boto3 clients are thread-safe): django-storages makes one per thread,
        # and a client costs ~100 ms of CPU to build, more than a thousand small requests.
        return self.s3_storage.connection.meta.client

    @property
    def bucket(self) -> str:
        return self.s3_storage.bucket_name

    def prepare(self) -> None:
        _ = self.client
        self.browser_origin()
        _ = self.put_signing

    @functools.cached_property
    def origin(self) -> str:
        # boto3's unsigned client resolves the same endpoint (rules, addressing style) and needs no credentials.
        client = self.s3_storage.unsigned_connection.meta.client
        probe = urlsplit(client.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": "_"}))
        return f"{probe.scheme}://{probe.netloc}"

    def browser_origin(self) -> str | None:
        return self.origin

    # --- signing ---------------------------------------------------------------------------------------

    def presign(self, operation, key, *, size, sha256, headers, upload_id, part_number, served, expires) -> str:
        if operation == "put":
            signed = ({"content-length": str(size)} if size is not None else {}) | headers
            return self._presign_fast("PUT", key, query={}, headers=signed, expires=expires)
        if operation == "get":
            # One URL per row of a page of thumbnails: the same signer as single PUTs.
            query = {"response-content-type": served[0], "response-content-disposition": served[1]}
            return self._presign_fast("GET", key, query=query, headers={}, expires=expires)
        params: dict = {"Bucket": self.bucket, "Key": key}
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
        return self.client.generate_presigned_url(client_method, Params=params, ExpiresIn=expires)

    @functools.cached_property
    def put_signing(self) -> _PutSigning:
        """Where the bucket's objects live as boto3 addresses them, the signing region, and the credentials: boto3
        builds the URL of a probe key (endpoint rules, addressing style), and the key is cut off."""
        client = self.client
        probe = urlsplit(client.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": "_"}))
        # django-storages' own session factory: the same keys, profile or role chain as its client.
        credentials = self.s3_storage._create_session().get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        host = probe.hostname
        if probe.port not in (None, {"http": 80, "https": 443}.get(probe.scheme)):
            host = f"{host}:{probe.port}"
        return _PutSigning(f"{probe.scheme}://{probe.netloc}", host, probe.path[:-1], client.meta.region_name, credentials)

    def _presign_fast(self, method: str, key: str, *, query: dict[str, str], headers: dict[str, str], expires: int) -> str:
        """A presigned single PUT or GET (AWS Signature Version 4, query parameters, unsigned payload), signing
        `headers` and carrying the request's own `query` parameters (a GET's response-content-type, ...).

        Byte for byte the URL boto3's generate_presigned_url("put_object" / "get_object") gives at the same second
        (tests/test_upload_complete.py and tests/test_storage_attacks.py compare them for path-style and
        virtual-hosted buckets, with and without temporary credentials), at a sixth to a tenth of its cost: boto3 runs
        its request pipeline (parameter validation, endpoint rules, event hooks) and derives the signing key again for
        every URL, and a drop signs one URL per file, a page of thumbnails one per row. The signing key is derived once
        per day and region.
        """
        target = self.put_signing
        credentials = target.credentials.get_frozen_credentials()
        amz_date = get_current_datetime().strftime("%Y%m%dT%H%M%SZ")
        scope = f"{amz_date[:8]}/{target.region}/s3/aws4_request"
        signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
        signed["host"] = target.host
        names = sorted(signed)
        # Query parameters, percent-encoded as SigV4 asks; the names, the algorithm, the date and the expiry are
        # letters, digits and dashes only, so just the other values go through quote() (one URL per file of a drop).
        encoded = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": quote(f"{credentials.access_key}/{scope}", safe="-_.~"),
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": quote(";".join(names), safe="-_.~"),
        }
        if credentials.token:
            encoded["X-Amz-Security-Token"] = quote(credentials.token, safe="-_.~")
        requested = {name: quote(value, safe="-_.~") for name, value in query.items()}
        every = requested | encoded
        path = target.path + quote(key, safe="/~")
        canonical_request = "\n".join([
            method,
            path,
            "&".join(f"{name}={every[name]}" for name in sorted(every)),
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
        parameters = "&".join(f"{name}={value}" for name, value in every.items())
        return f"{target.origin}{path}?{parameters}&X-Amz-Signature={signature}"

    # --- what arrived, and the stored bytes -------------------------------------------------------------

    def stored_size(self, key: str) -> int | None:
        client = self.client
        try:
            return client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except client.exceptions.ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise

    def inspect(self, key: str, length: int) -> tuple[int, bytes] | None:
        client = self.client
        try:
            response = client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")
        except client.exceptions.ClientError as error:
            if _code(error) in _MISSING:
                return None
            if _code(error) == "InvalidRange":  # an empty object has no byte 0
                return 0, b""
            raise
        prefix = response["Body"].read()
        total = response.get("ContentRange", "").rpartition("/")[2]
        return (int(total) if total.isdigit() else response["ContentLength"]), prefix

    def inspect_many(self, keys: list[str], length: int, *, return_exceptions: bool) -> dict:
        return _side_by_side(lambda key: self.inspect(key, length), keys, return_exceptions=return_exceptions)

    def move_many(self, moves: list[tuple[str, str, int]], *, keep_source: bool) -> dict:
        return _side_by_side(
            lambda move: self.move(move[0], move[1], size=move[2], keep_source=keep_source), moves, return_exceptions=True
        )

    def open(self, key: str):
        return self.s3_storage.open(key, "rb")

    def write(self, key: str, fileobj) -> None:
        self.client.upload_fileobj(fileobj, self.bucket, key)

    def write_stream(self, key: str, stream) -> None:
        # One PUT below UPLOAD_MULTIPART_THRESHOLD, parts of UPLOAD_PART_SIZE above it (an upload whose stream fails is aborted).
        config = TransferConfig(
            multipart_threshold=settings.UPLOAD_MULTIPART_THRESHOLD, multipart_chunksize=settings.UPLOAD_PART_SIZE,
            use_threads=False,
        )
        self.client.upload_fileobj(stream, self.bucket, key, Config=config)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: list[str]) -> None:
        client = self.client
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start:start + _DELETE_BATCH]]
            try:
                answer = client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except (BotoCoreError, client.exceptions.ClientError) as error:
                answer = {"Errors": batch, "Message": str(error)}
            if answer.get("Errors"):
                # Left for the clean-up beat: it deletes objects no asset refers to (storage_sweep_orphans).
                logger.warning("%d of %d objects were not deleted: %s", len(answer["Errors"]), len(batch), answer.get("Message", ""))

    def move(self, key: str, to: str, *, size: int, keep_source: bool = False) -> bool:
        client = self.client
        source = {"Bucket": self.bucket, "Key": key}
        try:
            if size < _SINGLE_COPY_LIMIT:
                client.copy_object(CopySource=source, Bucket=self.bucket, Key=to)
            else:
                client.copy(source, self.bucket, to)
        except client.exceptions.ClientError as error:
            if _code(error) in _MISSING:
                return False
            raise
        if not keep_source:
            client.delete_object(Bucket=self.bucket, Key=key)
        return True

    # --- multipart uploads ------------------------------------------------------------------------------

    def multipart_start(self, key: str) -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]

    def _parts(self, key: str, upload_id: str) -> list[dict] | None:
        client = self.client
        parts = []
        try:
            for page in client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                parts.extend(page.get("Parts", []))
        except client.exceptions.ClientError as error:
            if _no_such_upload(error):
                return None
            raise
        return sorted(parts, key=lambda part: part["PartNumber"])

    def multipart_part_numbers(self, key: str, upload_id: str) -> list[int] | None:
        parts = self._parts(key, upload_id)
        return None if parts is None else [part["PartNumber"] for part in parts]

    def multipart_complete(self, key: str, upload_id: str) -> bool:
        parts = self._parts(key, upload_id)
        if not parts:
            return False
        client = self.client
        try:
            client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
            )
        except client.exceptions.ClientError as error:
            if _no_such_upload(error) or _code(error) in {"InvalidPart", "EntityTooSmall"}:
                return False
            raise
        return True

    def multipart_abort(self, key: str, upload_id: str) -> None:
        client = self.client
        try:
            client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except client.exceptions.ClientError as error:
            if not _no_such_upload(error):
                raise

    def multipart_abort_all(self, key: str) -> None:
        for upload in self.open_uploads(key):
            if upload.key == key:
                self.multipart_abort(key, upload.upload_id)

    def stored_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for stored in page.get("Contents", []):
                yield stored["Key"], stored["LastModified"]

    def open_uploads(self, prefix: str) -> Iterator[OpenUpload]:
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                yield OpenUpload(upload["Key"], upload["UploadId"], upload["Initiated"])

    def last_activity(self, upload: OpenUpload) -> datetime:
        """When a part of the upload last arrived (ListParts), or when it started if none did."""
        parts = self._parts(upload.key, upload.upload_id) or []
        return max([upload.started, *(part["LastModified"] for part in parts)])

    def forget_broken_upload(self, upload: OpenUpload) -> None:
        """S3 lists no upload without a key."""


def _side_by_side(request, items: list, *, return_exceptions: bool) -> dict:
    """{item: request(item)} for requests that mostly wait on the store, INSPECT_CONCURRENCY at a time. With
    `return_exceptions`, an item whose request failed gets the exception as its answer and the others still get theirs."""
    global _inspecting

    def answer(item):
        try:
            return request(item)
        except Exception as error:
            if not return_exceptions:
                raise
            return error

    if len(items) < 2:
        return {item: answer(item) for item in items}
    if _inspecting is None:
        _inspecting = ThreadPoolExecutor(INSPECT_CONCURRENCY, thread_name_prefix="storage-inspect")
    return dict(zip(items, _inspecting.map(answer, items)))
