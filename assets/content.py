"""What a stored file is, told by its first bytes (magic numbers), never by its name."""

from dataclasses import dataclass

import filetype

# MIME types by what the portal does with them; image names are Pillow's format names.
IMAGE_MIME_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    # An animated PNG is a PNG (Pillow's PNG plugin reads it); filetype tells it apart by its acTL chunk.
    "image/apng": "PNG",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
    "image/bmp": "BMP",
    "image/gif": "GIF",
}
VIDEO_MIMES = {
    "video/mp4",
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
    "video/x-msvideo",
    "video/mpeg",
    "video/mp2t",
    "video/x-m4v",
    "video/x-flv",
    "video/3gpp",
}
_TS_PACKET = 188


@dataclass(frozen=True)
class Identified:
    kind: str | None  # "image", "video" or None when the content is neither
    mime: str
    label: str  # what to call it in a sentence: "a PNG image", "text", "an MP4 video"
    image_format: str = ""  # Pillow's name of an image format the portal processes; empty for other images (HEIC...)


def identify(prefix: bytes) -> Identified:
    """Identifies content from its first few kilobytes."""
    if len(prefix) > 2 * _TS_PACKET and prefix[0] == prefix[_TS_PACKET] == prefix[2 * _TS_PACKET] == 0x47:
        return Identified("video", "video/mp2t", "an MPEG transport stream video")
    guess = filetype.guess(prefix)
    if guess is None:
        return Identified(None, "application/octet-stream", _describe_unknown(prefix))
    if guess.mime in IMAGE_MIME_FORMATS:
        image_format = IMAGE_MIME_FORMATS[guess.mime]
        name = "APNG" if guess.mime == "image/apng" else image_format
        return Identified("image", guess.mime, _a(f"{name} image"), image_format)
    if guess.mime.startswith("image/"):
        # An image all the same (HEIC, AVIF, PSD...), in a format the portal does not process.
        return Identified("image", guess.mime, _a(f"{guess.extension.upper()} image ({guess.mime})"))
    if guess.mime in VIDEO_MIMES or guess.mime.startswith("video/"):
        return Identified("video", guess.mime, _a(f"{guess.extension.upper()} video"))
    return Identified(None, guess.mime, _a(f"{guess.extension.upper()} file ({guess.mime})"))


def _a(noun: str) -> str:
    # Letters whose names start with a vowel sound take "an": an MP4, an SVG, a PNG.
    return f"{'an' if noun[:1].upper() in 'AEFHILMNORSX' else 'a'} {noun}"


def _describe_unknown(prefix: bytes) -> str:
    try:
        prefix[:2048].decode("utf-8")
    except UnicodeDecodeError:
        return "an unrecognised binary file"
    return "text"


def declared_kind(content_type: str) -> str | None:
    """The asset type a browser- or script-declared MIME type suggests (a hint only; content decides)."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type.startswith("image/"):
        return "image"
    if content_type.startswith("video/"):
        return "video"
    return None
