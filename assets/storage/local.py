"""The embedded backend: objects as files under MEDIA_ROOT, transfers signed to the portal's own endpoint (`views`).

Signatures are Django's signer over the operation, the key and the signed fields. A multipart upload is a folder
`.multipart/<upload id>/` holding a `key` file (written when the upload starts), `<n>.part` and `<n>.etag` per part;
completing it joins the parts into the object.
"""

import hashlib
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from django.core import signing
from django.urls import reverse

from assets.storage.base import OPERATIONS, OpenUpload

_SIGNER_SALT = "portal.storage.v1"
_CHUNK = 1024 * 1024
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class SignatureError(Exception):
    """The request does not carry a valid, unexpired signature for this object."""


def _canonical(operation: str, key: str, fields: dict[str, str]) -> str:
    return "\n".join([operation, key, *(f"{name}={fields[name]}" for name in sorted(fields))])


def signed_url(operation: str, key: str, fields: dict[str, str], *, expires: int) -> str:
    """A URL of the embedded endpoint for one operation on one key, binding `fields` and an expiry."""
    fields = {"op": operation, "expires": str(int(time.time()) + expires), **fields}
    signature = signing.Signer(salt=_SIGNER_SALT).signature(_canonical(operation, key, fields))
    # Relative: the browser stays on the origin it is on; the API makes it absolute for scripts.
    return f"{reverse('storage:object', kwargs={'key': key})}?{urlencode({**fields, 'signature': signature})}"


def verify_signature(key: str, query: dict[str, str]) -> dict[str, str]:
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


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class LocalBackend:
    """Files under the location of a FileSystemStorage."""

    shares_portal_address = True
    moves_by_copy = False

    def __init__(self, file_storage):
        self.file_storage = file_storage

    @property
    def root(self) -> Path:
        return Path(self.file_storage.location)

    def prepare(self) -> None:
        """Nothing to build: signatures need only the secret key."""

    def browser_origin(self) -> str | None:
        return None

    def path(self, key: str) -> Path:
        # FileSystemStorage refuses a path outside its location (SuspiciousFileOperation).
        return Path(self.file_storage.path(key))

    # --- signing ---------------------------------------------------------------------------------------

    def presign(self, operation, key, *, size, sha256, headers, upload_id, part_number, served, expires) -> str:
        fields: dict[str, str] = {}
        if size is not None and operation in {"put", "upload_part"}:
            fields["size"] = str(size)
        if sha256 and operation == "put":
            fields["sha256"] = sha256
        if upload_id:
            fields["uploadId"] = upload_id
        if part_number is not None:
            fields["partNumber"] = str(part_number)
        if served is not None:
            fields["type"], fields["disposition"] = served
        return signed_url(operation, key, fields, expires=expires)

    # --- what arrived, and the stored bytes -------------------------------------------------------------

    def stored_size(self, key: str) -> int | None:
        try:
            return self.file_storage.size(key)
        except FileNotFoundError:
            return None

    def inspect(self, key: str, length: int) -> tuple[int, bytes] | None:
        try:
            with self.file_storage.open(key, "rb") as stored:
                return self.file_storage.size(key), stored.read(length)
        except FileNotFoundError:
            return None

    def inspect_many(self, keys: list[str], length: int, *, return_exceptions: bool) -> dict:
        answers = {}
        for key in keys:
            try:
                answers[key] = self.inspect(key, length)
            except Exception as error:
                if not return_exceptions:
                    raise
                answers[key] = error
        return answers

    def open(self, key: str):
        return self.file_storage.open(key, "rb")

    def place(self, key: str, file: Path) -> None:
        """Puts a complete file (written beside the storage, e.g. by the endpoint) under `key`, atomically."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(file, target)

    def incoming(self) -> Path:
        """A new empty temporary file inside the storage location, where a body is streamed before `place`."""
        folder = self.root / ".incoming"
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder)
        os.close(handle)
        return Path(temporary)

    def write(self, key: str, fileobj) -> None:
        self.write_stream(key, fileobj)

    def write_stream(self, key: str, stream) -> None:
        temporary = self.incoming()
        try:
            with open(temporary, "wb") as out:
                shutil.copyfileobj(stream, out, _CHUNK)
            self.place(key, temporary)
        finally:
            temporary.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.file_storage.delete(key)

    def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self.delete(key)

    def move_many(self, moves: list[tuple[str, str, int]], *, keep_source: bool) -> dict:
        answers = {}
        for move in moves:
            try:
                answers[move] = self.move(move[0], move[1], size=move[2], keep_source=keep_source)
            except OSError as error:
                answers[move] = error
        return answers

    def move(self, key: str, to: str, *, size: int, keep_source: bool = False) -> bool:
        try:
            os.replace(self.path(key), self.path(to))
        except FileNotFoundError:
            return False
        return True

    # --- multipart uploads: a folder per upload -----------------------------------------------------------

    def _folders(self) -> Path:
        return self.root / ".multipart"

    def upload_folder(self, key: str, upload_id: str) -> Path | None:
        """The folder of the multipart upload `upload_id` of `key`, or None when there is no such upload for `key`."""
        folder = self._folders() / upload_id
        key_file = folder / "key"
        if not _UPLOAD_ID.match(upload_id or "") or not key_file.exists() or key_file.read_text() != key:
            return None
        return folder

    @staticmethod
    def parts(folder: Path) -> list[tuple[int, str, int]]:
        """(number, etag, size) of the parts in an upload folder, in order."""
        found = []
        for part in folder.glob("*.part"):
            number = int(part.stem)
            found.append((number, (folder / f"{number}.etag").read_text(), part.stat().st_size))
        return sorted(found)

    @staticmethod
    def keep_part(folder: Path, number: int, file: Path, etag: str) -> None:
        """Keeps a received part (replacing an earlier one with the same number)."""
        os.replace(file, folder / f"{number}.part")
        (folder / f"{number}.etag").write_text(etag)

    def assemble(self, folder: Path, key: str, parts: list[tuple[int, str]]) -> str:
        """Joins the listed parts into the object under `key` and ends the upload; returns the S3-style ETag."""
        combined = folder / "combined"
        digests = hashlib.md5(usedforsecurity=False)
        with open(combined, "wb") as out:
            for number, etag in parts:
                digests.update(bytes.fromhex(etag))
                with open(folder / f"{number}.part", "rb") as part:
                    shutil.copyfileobj(part, out, _CHUNK)
        self.place(key, combined)
        shutil.rmtree(folder, ignore_errors=True)
        return f"{digests.hexdigest()}-{len(parts)}"

    def multipart_start(self, key: str) -> str:
        upload_id = secrets.token_hex(16)
        folder = self._folders() / upload_id
        folder.mkdir(parents=True)
        (folder / "key").write_text(key)
        return upload_id

    def multipart_part_numbers(self, key: str, upload_id: str) -> list[int] | None:
        folder = self.upload_folder(key, upload_id)
        return None if folder is None else [number for number, _, _ in self.parts(folder)]

    def multipart_complete(self, key: str, upload_id: str) -> bool:
        folder = self.upload_folder(key, upload_id)
        if folder is None or not (parts := self.parts(folder)):
            return False
        self.assemble(folder, key, [(number, etag) for number, etag, _ in parts])
        return True

    def multipart_abort(self, key: str, upload_id: str) -> None:
        folder = self.upload_folder(key, upload_id)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def multipart_abort_all(self, key: str) -> None:
        folders = self._folders()
        if folders.is_dir():
            for folder in folders.iterdir():
                self.multipart_abort(key, folder.name)

    def stored_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        folder = self.root / prefix
        if not folder.is_dir():
            return
        for path in folder.rglob("*"):
            try:
                if path.is_file():
                    yield path.relative_to(self.root).as_posix(), _modified(path)
            except FileNotFoundError:
                pass  # deleted meanwhile

    def open_uploads(self, prefix: str) -> Iterator[OpenUpload]:
        folders = self._folders()
        if not folders.is_dir():
            return
        for folder in folders.iterdir():
            if not (_UPLOAD_ID.match(folder.name) and folder.is_dir()):
                continue
            key_file = folder / "key"
            try:
                key = key_file.read_text()
                if key.startswith(prefix):
                    yield OpenUpload(key, folder.name, _modified(key_file))
            except FileNotFoundError:
                if folder.exists():
                    yield OpenUpload("", folder.name, _modified(folder))

    def last_activity(self, upload: OpenUpload) -> datetime:
        """When a part of the upload last arrived, or when it started if none did."""
        latest = upload.started
        folder = self._folders() / upload.upload_id
        for entry in (folder, *folder.glob("*")):
            try:
                latest = max(latest, _modified(entry))
            except FileNotFoundError:
                pass  # completed or aborted meanwhile
        return latest

    def forget_broken_upload(self, upload: OpenUpload) -> None:
        """Removes an upload folder whose key file is missing (it broke while starting)."""
        if _UPLOAD_ID.match(upload.upload_id):
            shutil.rmtree(self._folders() / upload.upload_id, ignore_errors=True)
