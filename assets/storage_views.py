"""The embedded storage endpoint: the S3 request subset the browser and scripts use, served to and from `var/media/`.

Only used when no S3 bucket is configured. Every request carries a signature from `assets.storage.presign`
bound to one object key, one operation and an expiry; bodies are streamed to disk in chunks, never held
in memory, and a single PUT is refused unless its length and sha256 match what was signed.

A signature alone does not let anyone write (docs/SECURITY.md): a PUT, a multipart start, a part or a completion
is taken only for a file that is still Uploading under exactly this key, and a part or a completion only for the
multipart upload recorded on that file. Whatever is served goes out as the type verification established (or
application/octet-stream), as a download unless it is an image or video, with nosniff and a sandbox CSP.
"""

import base64
import hashlib
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from assets import storage
from assets.models import Asset

_CHUNK = 1024 * 1024
_MAX_COMPLETE_BODY = 1024 * 1024
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def _error(status: int, code: str, message: str) -> HttpResponse:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>'
    response = HttpResponse(body, status=status, content_type="application/xml")
    response["x-amz-error-code"] = code
    return response


def _xml(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?>\n{body}', status=status, content_type="application/xml")


def _root() -> Path:
    return Path(default_storage.location)


def _multipart_dir(upload_id: str) -> Path:
    return _root() / ".multipart" / upload_id


def _declared_length(request: HttpRequest) -> int | None:
    """The body's Content-Length, or None when it is missing or not a whole number."""
    value = request.META.get("CONTENT_LENGTH") or ""
    return int(value) if value.isdigit() else None


def _stream_to(request: HttpRequest, target: Path, *, limit: int | None) -> tuple[int, "hashlib._Hash", "hashlib._Hash"]:
    """Copies the request body to `target` in chunks; returns its length, md5 and sha256."""
    md5, sha256, length = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    declared = _declared_length(request) or 0
    with open(target, "wb") as out:
        while length < declared:
            chunk = request.read(min(_CHUNK, declared - length))
            if not chunk:
                break
            length += len(chunk)
            if limit is not None and length > limit:
                break
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
    try:
        storage.checked_key(key)
    except storage.UnsafeKey as error:
        return _error(400, "InvalidObjectName", str(error))
    try:
        fields = storage.verify_local_signature(key, request.GET.dict())
    except storage.SignatureError as error:
        return _error(403, "AccessDenied", str(error))
    operation = fields["op"]
    if request.method == "PUT" and _declared_length(request) is None:
        return _error(411, "MissingContentLength", "Send the body with a Content-Length header.")
    if request.method != storage._HTTP_METHOD[operation]:
        return _error(405, "MethodNotAllowed", f"This URL was signed for {storage._HTTP_METHOD[operation]}, not {request.method}.")
    if operation in _WRITES:
        asset = Asset.objects.filter(storage_key=key, status=Asset.Status.UPLOADING).only("pk", "upload_id").first()
        if asset is None:
            return _error(
                403, "AccessDenied",
                "No file is uploading to this key any more (it arrived, failed, was retried or removed): "
                "ask the portal for a fresh URL.",
            )
        fields = {**fields, "asset": asset}
    handler = {
        "put": _put_object,
        "create_multipart": _create_multipart,
        "upload_part": _upload_part,
        "complete_multipart": _complete_multipart,
        "abort_multipart": _abort_multipart,
        "list_parts": _list_parts,
        "get": _get_object,
    }[operation]
    return handler(request, key, fields)


# Operations that write: taken only for a file still Uploading under exactly this key.
_WRITES = frozenset({"put", "create_multipart", "upload_part", "complete_multipart"})


def _length_problem(declared: int, fields: dict) -> HttpResponse | None:
    """A body of the wrong length: other than the signed size, or over the largest file when no size was signed."""
    if "size" in fields and declared != int(fields["size"]):
        return _error(400, "BadRequest", f"The body is {declared} bytes but the URL was signed for {fields['size']} bytes.")
    if "size" not in fields and declared > settings.UPLOAD_MAX_FILE_SIZE:
        return _error(400, "EntityTooLarge", f"The body is {declared} bytes; the largest file the portal takes is {settings.UPLOAD_MAX_FILE_SIZE} bytes.")
    return None


def _put_object(request: HttpRequest, key: str, fields: dict[str, str]) -> HttpResponse:
    declared = _declared_length(request)
    if problem := _length_problem(declared, fields):
        return problem
    target = Path(default_storage.path(key))
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = _root() / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=incoming)
    os.close(handle)
    temporary = Path(temporary)
    try:
        length, md5, sha256 = _stream_to(request, temporary, limit=declared)
        if length != declared:
            return _error(400, "IncompleteBody", f"The body ended after {length} of {declared} bytes.")
        if "sha256" in fields and sha256.hexdigest() != fields["sha256"]:
            return _error(400, "BadDigest", "The bytes received do not match the sha256 the upload was signed for.")
        expected_checksum = request.headers.get("x-amz-checksum-sha256")
        if expected_checksum and expected_checksum != base64.b64encode(sha256.digest()).decode():
            return _error(400, "BadDigest", "The bytes received do not match x-amz-checksum-sha256.")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    response = HttpResponse(status=200)
    response["ETag"] = f'"{md5.hexdigest()}"'
    return response


def _create_multipart(request: HttpRequest, key: str, fields: dict) -> HttpResponse:
    asset = fields["asset"]
    if asset.upload_id:
        return _error(409, "OperationAborted", "A multipart upload was already started for this file: go on with that one.")
    upload_id = local_multipart_start(key)
    # Recorded on the file, once: parts and the completion are then taken for this upload only.
    if not Asset.objects.filter(pk=asset.pk, status=Asset.Status.UPLOADING, storage_key=key, upload_id="").update(upload_id=upload_id):
        local_multipart_abort(key, upload_id)
        return _error(409, "OperationAborted", "A multipart upload was already started for this file: go on with that one.")
    return _xml(
        "<InitiateMultipartUploadResult><Bucket>local</Bucket>"
        f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
    )


def _open_upload(key: str, fields: dict[str, str]) -> Path | None:
    upload_id = fields.get("uploadId", "")
    folder = _multipart_dir(upload_id)
    if not _UPLOAD_ID.match(upload_id) or not (folder / "key").exists() or (folder / "key").read_text() != key:
        return None
    return folder


def _no_upload() -> HttpResponse:
    return _error(404, "NoSuchUpload", "There is no multipart upload with that id for this object; it may have been completed or aborted.")


def _not_recorded(fields: dict) -> HttpResponse | None:
    """Parts and completions are taken only for the multipart upload the portal recorded on the file."""
    if fields["uploadId"] != fields["asset"].upload_id:
        return _error(403, "AccessDenied", "This multipart upload is not the one the portal recorded for this file.")
    return None


def _upload_part(request: HttpRequest, key: str, fields: dict[str, str]) -> HttpResponse:
    folder = _open_upload(key, fields)
    if folder is None:
        return _no_upload()
    if refused := _not_recorded(fields):
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
    os.replace(temporary, folder / f"{part_number}.part")
    (folder / f"{part_number}.etag").write_text(md5.hexdigest())
    response = HttpResponse(status=200)
    response["ETag"] = f'"{md5.hexdigest()}"'
    return response


def _parts(folder: Path) -> list[tuple[int, str, int]]:
    found = []
    for part in folder.glob("*.part"):
        number = int(part.stem)
        found.append((number, (folder / f"{number}.etag").read_text(), part.stat().st_size))
    return sorted(found)


def _complete_multipart(request: HttpRequest, key: str, fields: dict[str, str]) -> HttpResponse:
    folder = _open_upload(key, fields)
    if folder is None:
        return _no_upload()
    if refused := _not_recorded(fields):
        return refused
    if (_declared_length(request) or 0) > _MAX_COMPLETE_BODY:
        return _error(400, "MalformedXML", "The list of parts is too long.")
    try:
        document = ElementTree.fromstring(request.body)
    except ElementTree.ParseError:
        return _error(400, "MalformedXML", "The list of parts is not valid XML.")
    requested = []
    for element in document.iter():
        if element.tag.rsplit("}", 1)[-1] == "Part":
            values = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in element}
            number = values.get("PartNumber", "")
            if not number.isdigit():
                return _error(400, "InvalidArgument", f"PartNumber {number[:20]!r} is not a whole number: list each part as the store answered it.")
            requested.append((int(number), values.get("ETag", "").strip('"')))
    stored = {number: etag for number, etag, _ in _parts(folder)}
    if not requested or [n for n, _ in requested] != sorted({n for n, _ in requested}):
        return _error(400, "InvalidPartOrder", "Parts must be listed once each, in ascending order.")
    for number, etag in requested:
        if stored.get(number) != etag:
            return _error(400, "InvalidPart", f"Part {number} was not uploaded or its ETag does not match.")
    etag = _assemble(folder, key, requested)
    return _xml(
        f"<CompleteMultipartUploadResult><Location>{escape(request.build_absolute_uri(request.path))}</Location>"
        f"<Bucket>local</Bucket><Key>{escape(key)}</Key><ETag>\"{etag}\"</ETag></CompleteMultipartUploadResult>"
    )


def _assemble(folder: Path, key: str, parts: list[tuple[int, str]]) -> str:
    """Joins the listed parts into the object under `key` and ends the upload; returns the S3-style ETag."""
    target = Path(default_storage.path(key))
    target.parent.mkdir(parents=True, exist_ok=True)
    combined = folder / "combined"
    digests = hashlib.md5(usedforsecurity=False)
    with open(combined, "wb") as out:
        for number, etag in parts:
            digests.update(bytes.fromhex(etag))
            with open(folder / f"{number}.part", "rb") as part:
                shutil.copyfileobj(part, out, _CHUNK)
    os.replace(combined, target)
    shutil.rmtree(folder, ignore_errors=True)
    return f"{digests.hexdigest()}-{len(parts)}"


# --- the same multipart steps, taken by the portal itself (the public API completes uploads server-side) ---

def local_multipart_start(key: str) -> str:
    """Starts a multipart upload of `key`; returns its upload id."""
    upload_id = secrets.token_hex(16)
    folder = _multipart_dir(upload_id)
    folder.mkdir(parents=True)
    (folder / "key").write_text(key)
    return upload_id


def local_multipart_parts(key: str, upload_id: str) -> list[tuple[int, str, int]] | None:
    """(number, etag, size) of the parts that arrived, or None when there is no such upload for `key`."""
    folder = _open_upload(key, {"uploadId": upload_id})
    return None if folder is None else _parts(folder)


def local_multipart_complete(key: str, upload_id: str) -> bool:
    """Joins every part that arrived, in order; False when there is no such upload or no part."""
    folder = _open_upload(key, {"uploadId": upload_id})
    if folder is None or not (parts := _parts(folder)):
        return False
    _assemble(folder, key, [(number, etag) for number, etag, _ in parts])
    return True


def local_multipart_abort(key: str, upload_id: str) -> None:
    folder = _open_upload(key, {"uploadId": upload_id})
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def local_multipart_abort_all(key: str) -> None:
    folders = _root() / ".multipart"
    if folders.is_dir():
        for folder in folders.iterdir():
            if _open_upload(key, {"uploadId": folder.name}) is not None:
                shutil.rmtree(folder, ignore_errors=True)


def _abort_multipart(request: HttpRequest, key: str, fields: dict[str, str]) -> HttpResponse:
    folder = _open_upload(key, fields)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    return HttpResponse(status=204)


def _list_parts(request: HttpRequest, key: str, fields: dict[str, str]) -> HttpResponse:
    folder = _open_upload(key, fields)
    if folder is None:
        return _no_upload()
    parts = "".join(
        f"<Part><PartNumber>{number}</PartNumber><ETag>\"{etag}\"</ETag><Size>{size}</Size></Part>"
        for number, etag, size in _parts(folder)
    )
    return _xml(
        f"<ListPartsResult><Bucket>local</Bucket><Key>{escape(key)}</Key>"
        f"<UploadId>{fields['uploadId']}</UploadId>{parts}</ListPartsResult>"
    )


def _get_object(request: HttpRequest, key: str, fields: dict[str, str]) -> HttpResponse:
    try:
        handle = default_storage.open(key, "rb")
    except FileNotFoundError:
        return _error(404, "NoSuchKey", "Nothing is stored under this key.")
    # Never the type the file's name suggests: the one verification established and the portal signed, or neutral.
    content_type, disposition = storage.response_headers(
        fields.get("type"), fields.get("filename") or Path(key).name, inline=fields.get("inline") == "1"
    )
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = disposition
    return response
