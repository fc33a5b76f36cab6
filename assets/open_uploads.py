"""The multipart uploads open in the object store, for the clean-up of abandoned ones (uploads/cleanup.py).

Reads what assets/storage.py and assets/storage_views.py leave and aborts through storage.multipart_abort. On S3,
ListMultipartUploads under assets/ and ListParts for when a part last arrived; on the embedded storage, the folders
under MEDIA_ROOT/.multipart/, each named by its upload id and holding a `key` file (written when the upload
started) beside its parts.
"""

import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.core.files.storage import default_storage

from assets import storage

logger = logging.getLogger(__name__)

# Every object key the portal issues starts here (storage.key_prefix).
KEY_PREFIX = "assets/"
_LOCAL_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class OpenUpload:
    key: str  # "" for an embedded upload folder whose key file is missing (it broke while starting)
    upload_id: str
    started: datetime


def open_uploads() -> Iterator[OpenUpload]:
    """Every multipart upload in progress for an object key the portal issues."""
    if storage.is_s3():
        client, bucket = storage._s3()
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=KEY_PREFIX):
            for upload in page.get("Uploads", []):
                yield OpenUpload(upload["Key"], upload["UploadId"], upload["Initiated"])
        return
    folders = _local_root()
    if not folders.is_dir():
        return
    for folder in folders.iterdir():
        if not (_LOCAL_UPLOAD_ID.match(folder.name) and folder.is_dir()):
            continue
        key_file = folder / "key"
        try:
            yield OpenUpload(key_file.read_text(), folder.name, _modified(key_file))
        except FileNotFoundError:
            if folder.exists():
                yield OpenUpload("", folder.name, _modified(folder))


def last_activity(upload: OpenUpload) -> datetime:
    """When a part of the upload last arrived, or when it started if none did."""
    latest = upload.started
    if storage.is_s3():
        client, bucket = storage._s3()
        try:
            for page in client.get_paginator("list_parts").paginate(Bucket=bucket, Key=upload.key, UploadId=upload.upload_id):
                for part in page.get("Parts", []):
                    latest = max(latest, part["LastModified"])
        except client.exceptions.ClientError as error:
            if not storage._no_such_upload(error):
                raise
        return latest
    folder = _local_root() / upload.upload_id
    for entry in (folder, *folder.glob("*")):
        try:
            latest = max(latest, _modified(entry))
        except FileNotFoundError:
            pass  # completed or aborted meanwhile
    return latest


def abort(upload: OpenUpload) -> bool:
    """Drops the upload and its parts; False when its key is not one the portal would issue (left to the lifecycle
    rule on S3, see README.md)."""
    if not upload.key:
        shutil.rmtree(_local_root() / upload.upload_id, ignore_errors=True)
        return True
    try:
        storage.multipart_abort(upload.key, upload.upload_id)
    except storage.UnsafeKey:
        logger.warning("Left the multipart upload %s of %r alone: not a key the portal issues.", upload.upload_id, upload.key)
        return False
    return True


def _local_root() -> Path:
    return Path(default_storage.location) / ".multipart"


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
