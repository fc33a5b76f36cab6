"""Object keys: the one rule for the key of a transfer attempt, and the check every storage operation makes."""

import secrets
from pathlib import PurePosixPath

# Where every key the portal issues starts.
ROOT = "assets/"
# File name extensions kept on object keys so stored objects are recognisable; never used as paths.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/tiff": ".tif",
    "image/bmp": ".bmp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "video/webm": ".webm",
}
# Extensions a file name may lend its key when no content type was declared.
_NAME_EXTENSIONS = frozenset(EXTENSIONS.values()) | {".jpeg", ".tiff", ".m4v", ".avi", ".ts"}


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
        or "\\" in key
        or any(ord(character) < 32 or ord(character) == 127 for character in key)
        or any(segment in {"", ".", ".."} for segment in key.split("/"))
    ):
        raise UnsafeKey(f"The object key {key[:80]!r} is not one the portal issues." if isinstance(key, str) else "Not an object key.")
    return key


def key_prefix(*, organization_id, asset_id) -> str:
    """Where every object key of one asset starts."""
    return f"{ROOT}{organization_id}/{asset_id}/"


def key_belongs_to(key, *, organization_id, asset_id) -> bool:
    """Whether `key` is a safe key under the asset's own prefix (after the checks of checked_key, no `..` can climb out)."""
    try:
        checked_key(key)
    except UnsafeKey:
        return False
    return key.startswith(key_prefix(organization_id=organization_id, asset_id=asset_id))


def new_key(*, organization_id, asset_id, extension: str = "") -> str:
    """A fresh object key for one transfer attempt: a retry never reuses a key (docs/ARCHITECTURE.md, "Storage")."""
    return f"{key_prefix(organization_id=organization_id, asset_id=asset_id)}{secrets.token_hex(8)}{extension}"


def key_for(asset) -> str:
    """The key of a new transfer attempt of `asset`, through every door (browser, API, imports): fresh each time, with
    the extension of its declared content type, else of its file name when that is a media extension, else none."""
    declared = (asset.content_type or "").split(";")[0].strip().lower()
    extension = EXTENSIONS.get(declared) or PurePosixPath(asset.original_filename or "").suffix.lower()
    return new_key(
        organization_id=asset.organization_id,
        asset_id=asset.pk,
        extension=extension if extension in _NAME_EXTENSIONS else "",
    )


def sibling_key(key: str) -> str:
    """A fresh key beside `key`, with the same extension: where a verified file is sealed (storage.seal)."""
    folder, _, name = checked_key(key).rpartition("/")
    extension = name[name.index("."):] if "." in name else ""
    return f"{folder}/{secrets.token_hex(8)}{extension}"
