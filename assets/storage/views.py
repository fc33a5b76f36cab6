"""The embedded storage endpoint: the S3 request subset the browser and scripts use, spoken over HTTP.

Only used when no S3 bucket is configured; it speaks HTTP and leaves the files to `local.LocalBackend`. Every request
carries a signature from `assets.storage.presign` bound to one object key, one operation and an expiry; bodies are
streamed to disk in chunks, never held in memory, and a single PUT is refused unless its length and sha256 match
what was signed.

A signature alone does not let anyone write (docs/SECURITY.md, "Stored files"): a PUT, a multipart start, a part or a
completion is taken only for a file that is still Uploading under exactly this key, and a part or a completion only
for the multipart upload recorded on that file. Whatever is served goes out as the type verification established
(or application/octet-stream), as a download unless it is an image or video, with nosniff and a sandbox CSP.
"""

import base64
import hashlib
import shutil
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from assets import storage
from assets.models import Asset
from assets.storage.local import LocalBackend, SignatureError, verify_signature

_CHUNK = 1024 * 1024
_MAX_COMPLETE_BODY = 1024 * 1024
# Operations that write: taken only for a file still Uploading under exactly this key.
_WRITES = frozenset({"put", "create_multipart", "upload_part", "complete_multipart"})


def _error(status: int, code: str, message: str) -> HttpResponse:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>'
    response = HttpResponse(body, status=status, content_type="application/xml")
    response["x-amz-error-code"] = code
    return response


def _xml(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?>\n{body}', status=status, content_type="application/xml")


def _declared_length(request: HttpRequest) -> int | None:
    """The body's Content-Length, or None when it is missing or not a whole number."""
    value = request.META.get("CONTENT_LENGTH") or ""
    return int(value) if value.isdigit() else None


def _stream_to(request: HttpRequest, target: Path, *, limit: int) -> tuple[int, "hashlib._Hash", "hashlib._Hash"]:
    """Copies at most `limit` bytes of the request body to `target` in chunks; returns their length, md5 and sha256."""
    md5, sha256, length = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    with open(target, "wb") as out:
        while length < limit:
            chunk = request.read(min(_CHUNK, limit - length))
            if not chunk:
                break
            length += len(chunk)
            md5.update(chunk)
            sha256.update(chunk)
            out.write(chunk)
    return length, md5, sha256


@csrf_exempt
def storage_object(request: HttpRequest, key: str) -> HttpResponse:
    response = _answer(request, key)
    # Stored bytes are the uploaders': never let a browser sniff them into HTML or run them with the portal's origin.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def _answer(request: HttpRequest, key: str) -> HttpResponse:
    local = storage.backend()
    if not isinstance(local, LocalBackend):
        return _error(404, "NoSuchBucket", "The portal keeps no files itself: they are in its S3 bucket.")
    try:
        storage.checked_key(key)
    except storage.UnsafeKey as error:
        return _error(400, "InvalidObjectName", str(error))
    try:
        fields = verify_signature(key, request.GET.dict())
    except SignatureError as error:
        return _error(403, "AccessDenied", str(error))
    operation = fields["op"]
    if request.method == "PUT" and _declared_length(request) is None:
        return _error(411, "MissingContentLength", "Send the body with a Content-Length header.")
    if request.method != storage.HTTP_METHOD[operation]:
        return _error(405, "MethodNotAllowed", f"This URL was signed for {storage.HTTP_METHOD[operation]}, not {request.method}.")
    asset = None
    if operation in _WRITES:
        asset = Asset.objects.filter(storage_key=key, status=Asset.Status.UPLOADING).only("pk", "upload_id").first()
        if asset is None:
            return _error(
                403, "AccessDenied",
                "No file is uploading to this key any more (it arrived, failed, was retried or removed): "
                "ask the portal for a fresh URL.",
            )
    handler = {
        "put": _put_object,
        "create_multipart": _create_multipart,
        "upload_part": _upload_part,
        "complete_multipart": _complete_multipart,
        "abort_multipart": _abort_multipart,
        "list_parts": _list_parts,
        "get": _get_object,
    }[operation]
    return handler(request, local, key, fields, asset)


def _length_problem(declared: int, fields: dict) -> HttpResponse | None:
    """A body of the wrong length: other than the signed size, or over the largest file when no size was signed."""
    if "size" in fields and declared != int(fields["size"]):
        return _error(400, "BadRequest", f"The body is {declared} bytes but the URL was signed for {fields['size']} bytes.")
    if "size" not in fields and declared > settings.UPLOAD_MAX_FILE_SIZE:
        return _error(
            400, "EntityTooLarge",
            f"The body is {declared} bytes; the largest file the portal takes is {settings.UPLOAD_MAX_FILE_SIZE} bytes.",
        )
    return None


def _put_object(request: HttpRequest, local: LocalBackend, key: str, fields: dict, asset) -> HttpResponse:
    declared = _declared_length(request)
    if problem := _length_problem(declared, fields):
        return problem
    temporary = local.incoming()
    try:
        length, md5, sha256 = _stream_to(request, temporary, limit=declared)
        if length != declared:
            return _error(400, "IncompleteBody", f"The body ended after {length} of {declared} bytes.")
        if "sha256" in fields and sha256.hexdigest() != fields["sha256"]:
            return _error(400, "BadDigest", "The bytes received do not match the sha256 the upload was signed for.")
        expected_checksum = request.headers.get("x-amz-checksum-sha256")
        if expected_checksum and expected_checksum != base64.b64encode(sha256.digest()).decode():
            return _error(400, "BadDigest", "The bytes received do not match x-amz-checksum-sha256.")
        local.place(key, temporary)
    finally:
        temporary.unlink(missing_ok=True)
    response = HttpResponse(status=200)
    response["ETag"] = f'"{md5.hexdigest()}"'
    return response


def _already_started() -> HttpResponse:
    return _error(409, "OperationAborted", "A multipart upload was already started for this file: go on with that one.")


def _create_multipart(request: HttpRequest, local: LocalBackend, key: str, fields: dict, asset) -> HttpResponse:
    if asset.upload_id:
        return _already_started()
    upload_id = local.multipart_start(key)
    # Recorded on the file, once: parts and the completion are then taken for this upload only.
    if not asset.record_upload_id(upload_id):
        local.multipart_abort(key, upload_id)
        return _already_started()
    return _xml(
        "<InitiateMultipartUploadResult><Bucket>local</Bucket>"
        f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
    )


def _no_upload() -> HttpResponse:
    return _error(404, "NoSuchUpload", "There is no multipart upload with that id for this object; it may have been completed or aborted.")


def _recorded_upload(local: LocalBackend, key: str, fields: dict, asset) -> tuple[Path | None, HttpResponse | None]:
    """The folder of the request's upload when it is the one recorded on the file, else the answer that refuses it."""
    folder = local.upload_folder(key, fields.get("uploadId", ""))
    if folder is None:
        return None, _no_upload()
    if fields["uploadId"] != asset.upload_id:
        return None, _error(403, "AccessDenied", "This multipart upload is not the one the portal recorded for this file.")
    return folder, None


def _upload_part(request: HttpRequest, local: LocalBackend, key: str, fields: dict, asset) -> HttpResponse:
    folder, refused = _recorded_upload(local, key, fields, asset)
    if refused:
        return refused
    part_number = int(fields["partNumber"]) if fields.get("partNumber", "").isdigit() else 0
    if not 1 <= part_number <= 10000:
        return _error(400, "InvalidArgument", "Part numbers go from 1 to 10,000.")
    declared = _declared_length(request)
    if "size" not in fields and declared > settings.UPLOAD_PART_SIZE:
        return _error(400, "EntityTooLarge", f"A part is at most {settings.UPLOAD_PART_SIZE} bytes; this one is {declared}.")
    if problem := _length_problem(declared, fields):
        return problem
    temporary = folder / f"{part_number}.incoming"
    length, md5, _ = _stream_to(request, temporary, limit=declared)
    if length != declared:
        temporary.unlink(missing_ok=True)
        return _error(400, "IncompleteBody", f"The part ended after {length} of {declared} bytes.")
    local.keep_part(folder, part_number, temporary, md5.hexdigest())
    response = HttpResponse(status=200)
    response["ETag"] = f'"{md5.hexdigest()}"'
    return response


def _requested_parts(body: bytes) -> list[tuple[int, str]] | HttpResponse:
    """The (number, ETag) list of a CompleteMultipartUpload body, or the answer that refuses it."""
    try:
        document = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return _error(400, "MalformedXML", "The list of parts is not valid XML.")
    requested = []
    for element in document.iter():
        if element.tag.rsplit("}", 1)[-1] == "Part":
            values = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in element}
            number = values.get("PartNumber", "")
            if not number.isdigit():
                return _error(
                    400, "InvalidArgument",
                    f"PartNumber {number[:20]!r} is not a whole number: list each part as the store answered it.",
                )
            requested.append((int(number), values.get("ETag", "").strip('"')))
    return requested


def _complete_multipart(request: HttpRequest, local: LocalBackend, key: str, fields: dict, asset) -> HttpResponse:
    folder, refused = _recorded_upload(local, key, fields, asset)
    if refused:
        return refused
    if (_declared_length(request) or 0) > _MAX_COMPLETE_BODY:
        return _error(400, "MalformedXML", "The list of parts is too long.")
    requested = _requested_parts(request.body)
    if isinstance(requested, HttpResponse):
        return requested
    stored = {number: etag for number, etag, _ in local.parts(folder)}
    if not requested or [n for n, _ in requested] != sorted({n for n, _ in requested}):
        return _error(400, "InvalidPartOrder", "Parts must be listed once each, in ascending order.")
    for number, etag in requested:
        if stored.get(number) != etag:
            return _error(400, "InvalidPart", f"Part {number} was not uploaded or its ETag does not match.")
    etag = local.assemble(folder, key, requested)
    return _xml(
        f"<CompleteMultipartUploadResult><Location>{escape(request.build_absolute_uri(request.path))}</Location>"
        f"<Bucket>local</Bucket><Key>{escape(key)}</Key><ETag>\"{etag}\"</ETag></CompleteMultipartUploadResult>"
    )


def _abort_multipart(request: HttpRequest, local: LocalBackend, key: str, fields: dict, asset) -> HttpResponse:
    folder = local.upload_folder(key, fields.get("uploadId", ""))
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    return HttpResponse(status=204)


def _list_parts(request: HttpRequest, local: LocalBackend, key: str, fields: dict, asset) -> HttpResponse:
    folder = local.upload_folder(key, fields.get("uploadId", ""))
    if folder is None:
        return _no_upload()
    parts = "".join(
        f"<Part><PartNumber>{number}</PartNumber><ETag>\"{etag}\"</ETag><Size>{size}</Size></Part>"
        for number, etag, size in local.parts(folder)
    )
    return _xml(
        f"<ListPartsResult><Bucket>local</Bucket><Key>{escape(key)}</Key>"
        f"<UploadId>{fields['uploadId']}</UploadId>{parts}</ListPartsResult>"
    )


def _get_object(request: HttpRequest, local: LocalBackend, key: str, fields: dict, asset) -> HttpResponse:
    try:
        handle = local.open(key)
    except FileNotFoundError:
        return _error(404, "NoSuchKey", "Nothing is stored under this key.")
    # Never the type the file's name suggests: the one verification established and the portal signed, or neutral.
    response = FileResponse(handle, content_type=fields.get("type") or storage.NEUTRAL_TYPE)
    response["Content-Disposition"] = fields.get("disposition") or storage.response_headers(None, None, inline=False)[1]
    return response
