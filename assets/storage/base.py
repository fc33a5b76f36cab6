"""What every storage backend offers: the operations the portal signs, and the interface `assets.storage` calls."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict

OPERATIONS = ("put", "create_multipart", "upload_part", "complete_multipart", "abort_multipart", "list_parts", "get")
HTTP_METHOD = {
    "put": "PUT",
    "create_multipart": "POST",
    "upload_part": "PUT",
    "complete_multipart": "POST",
    "abort_multipart": "DELETE",
    "list_parts": "GET",
    "get": "GET",
}


class Transfer(TypedDict, total=False):
    url: str
    method: str
    headers: dict[str, str]


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload in progress in the store."""

    key: str  # "" for an embedded upload folder whose key file is missing (it broke while starting)
    upload_id: str
    started: datetime


class Backend(Protocol):
    """One object store. Keys reach it already checked (`assets.storage.checked_key`)."""

    # Whether browsers reach stored files at the portal's own address (they then share its connections).
    shares_portal_address: bool

    def prepare(self) -> None: ...
    def browser_origin(self) -> str | None: ...

    def presign(self, operation: str, key: str, *, size: int | None, sha256: str | None, headers: dict[str, str],
                upload_id: str | None, part_number: int | None, served: tuple[str, str] | None, expires: int) -> str:
        """The signed URL of one request; `headers` are the ones the client sends, `served` the (Content-Type,
        Content-Disposition) a GET answers with."""

    def stored_size(self, key: str) -> int | None: ...
    def inspect(self, key: str, length: int) -> tuple[int, bytes] | None: ...
    def inspect_many(self, keys: list[str], length: int, *, return_exceptions: bool) -> dict: ...
    def open(self, key: str): ...
    def write(self, key: str, fileobj) -> None: ...
    def write_stream(self, key: str, stream) -> None: ...
    def delete(self, key: str) -> None: ...

    # Whether move() copies (the source stays until deleted) rather than renames.
    moves_by_copy: bool

    def move(self, key: str, to: str, *, size: int, keep_source: bool = False) -> bool:
        """Moves the object under `key` to `to`; False when nothing is stored under `key`. With `keep_source`, a store
        that moves by copying leaves `key` for the caller to delete with others (delete_many)."""

    def delete_many(self, keys: list[str]) -> None:
        """Deletes the objects under `keys` (missing ones are no error)."""

    def multipart_start(self, key: str) -> str: ...
    def multipart_part_numbers(self, key: str, upload_id: str) -> list[int] | None: ...
    def multipart_complete(self, key: str, upload_id: str) -> bool: ...
    def multipart_abort(self, key: str, upload_id: str) -> None: ...
    def multipart_abort_all(self, key: str) -> None: ...
    def open_uploads(self, prefix: str) -> Iterator[OpenUpload]: ...

    def stored_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, when last written) of every object whose key starts with `prefix`."""
    def last_activity(self, upload: OpenUpload) -> datetime: ...
    def forget_broken_upload(self, upload: OpenUpload) -> None: ...
