"""What an uploaded image or video really is, and the small files the portal shows for it.

Pure functions over files and file objects: no models, no Celery. The task layer calls them and turns a MediaError
into an Upload Error whose reason people read as it is (docs/ARCHITECTURE.md, "Status machine"). Media is identified
by content, never by name, and Pillow's decompression-bomb guard stays on (docs/SECURITY.md).
"""

from __future__ import annotations

import contextlib
import heapq
import io
import math
import os
import re
import struct
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import IO, Any

import av
import av.error
import av.filter
import av.stream
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

DEFAULT_IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF")
# The formats whose frames play as an animation (APNG is Pillow's PNG); a TIFF's pages are not one.
ANIMATED_FORMATS = ("PNG", "GIF", "WEBP")
# Pillow's own default; the portal keeps a limit even if something switched Pillow's off.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
THUMBNAIL_QUALITY = 82
THUMBNAIL_SIZE = (320, 320)
POSTER_QUALITY = 85
# Where the poster frame sits, as a share of the duration.
POSTER_POSITION = 0.10
# Decoding from the keyframe before the poster position stops after this many frames.
POSTER_MAX_DECODED_FRAMES = 300
RENDITION_CRF = 23
# x264's fastest preset: about twice as fast per core as veryfast at 1080p, frame-by-frame SSIM 0.998 against the
# source, at about 1.7x veryfast's size (bench/processing.py measures the table of presets; docs/ARCHITECTURE.md).
RENDITION_PRESET = "ultrafast"
RENDITION_MAX_FPS = 120
# Rates a measured average snaps to when within 1.5 %, so 29.97 stays 30000/1001 and 24.9 becomes 25.
STANDARD_FRAME_RATES = tuple(
    Fraction(rate)
    for rate in (
        "24000/1001",
        "24",
        "25",
        "30000/1001",
        "30",
        "48",
        "50",
        "60000/1001",
        "60",
        "100",
        "120",
    )
)
# Packets scanned for the variable-frame-rate decision when the caller does not want exact counts.
SAMPLE_PACKETS = 600
# A rendition may run this much past the longest video allowed (timestamps rounded, the last frame's length).
RENDITION_DURATION_SLACK_SECONDS = 1

_EXIF_MAKE, _EXIF_MODEL, _EXIF_ORIENTATION = (
    ExifTags.Base.Make,
    ExifTags.Base.Model,
    ExifTags.Base.Orientation,
)
_GPS_LATITUDE, _GPS_LONGITUDE = 2, 4
_EXIF_TEXT_MAX = 128


# What Pillow's parsers and decoders raise on bytes that are not what their header promised.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError, KeyError)
# How far from its end a file's end marker (PNG's IEND, JPEG's EOI, GIF's trailer) is looked for.
_TAIL_BYTES = 64 * 1024
_TIFF_MAX_PAGES = 10_000


class MediaError(Exception):
    """The file is not media the portal can take; str(error) is a reason shown to people as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VideoLimits:
    """The most one video may ask of a worker (docs/SECURITY.md): pixels a frame, frames, seconds."""

    max_pixels: int
    max_frames: int
    max_duration_seconds: float


def check_video_limits(info: dict[str, Any], limits: VideoLimits) -> None:
    """Raises MediaError, naming the limit and the video's value, for a probed video larger than `limits`.

    Called right after probing, before a frame is decoded: what a video declares is what decoding it costs.
    """
    width, height = info.get("width") or 0, info.get("height") or 0
    if width * height > limits.max_pixels:
        raise MediaError(
            f"The video is {width:,} × {height:,} pixels ({width * height:,} a frame); the portal processes videos of"
            f" at most {limits.max_pixels:,} pixels a frame. Scale it down and upload it again."
        )
    frames = info.get("frame_count") or 0
    if frames > limits.max_frames:
        raise MediaError(
            f"The video has {frames:,} frames; the portal processes videos of at most {limits.max_frames:,} frames."
            " Split it into shorter clips and upload those."
        )
    duration = info.get("duration_seconds") or 0
    if duration > limits.max_duration_seconds:
        raise MediaError(_too_long(duration, limits))


def _too_long(duration: float | None, limits: VideoLimits) -> str:
    """Why a video is too long; without a `duration`, its timestamps ran past the limit while it was copied."""
    lasts = f"lasts {_clock(duration)}" if duration is not None else "runs longer than that by its timestamps"
    return (
        f"The portal processes videos of at most {_clock(limits.max_duration_seconds)}; this one {lasts}."
        " Split it into shorter clips and upload those."
    )


def _clock(seconds: float) -> str:
    """1 h 05 min 03 s, 4 min 10 s, 12.5 s: a duration as people read it."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes or secs:
        parts.append(f"{minutes:02d} min" if hours else f"{minutes} min")
    if secs:
        parts.append(f"{secs:02d} s")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Images


@dataclass(frozen=True)
class ReadImage:
    """What one read of an image gives: JSON-ready metadata and, when one was asked for, a JPEG thumbnail."""

    metadata: dict[str, Any]
    thumbnail: bytes | None


def read_image(
    fileobj: IO[bytes],
    *,
    allowed_formats: tuple[str, ...] = DEFAULT_IMAGE_FORMATS,
    require_camera_metadata: bool = False,
    allow_animation: bool = True,
    thumbnail_size: tuple[int, int] | None = THUMBNAIL_SIZE,
) -> ReadImage:
    """Identifies the image by content, validates it and makes its thumbnail, decoding it once.

    What is validated, and how: the header by the format's parser (restricted to `allowed_formats`, the pixel limit
    checked before any decoding), then every byte of the first frame's compressed data by its decoder. A JPEG is
    decoded with libjpeg's reduce-on-load (Pillow's draft mode) at the smallest 1/2, 1/4 or 1/8 scale still at least
    the thumbnail's size: libjpeg still entropy-decodes every block's coefficients, which is where a truncated or
    broken scan fails, and skips only the full-size inverse DCT and colour conversion, which cannot fail. Other
    formats have no reduced decoding in Pillow and are decoded at full size (PNG's zlib stream and chunk CRCs catch
    scrambled bytes). Neither catches scrambled bytes that still decode (JPEG scan data, BMP or TIFF pixels carry
    no checksum): those show as a scrambled patch, as in a browser. Frames after an animation's first are counted,
    not decoded.

    Raises MediaError when the bytes are not an image, are a format the project does not accept, end early, are
    damaged, declare more pixels than the portal decodes, lack camera EXIF when required, or are an animation (APNG,
    animated GIF or WebP) when `allow_animation` is off; an animation whose file ends before its format's end
    marker is refused as truncated. The thumbnail (None when `thumbnail_size` is None) is the first frame, upright,
    within thumbnail_size, never upscaled. The caller's file object stays open; Pillow reads it from the start.
    """
    formats = _normalise_formats(allowed_formats)
    with _open_image(fileobj, formats) as image:
        image_format = _format_name(image)
        (raw_width, raw_height), mode = image.size, image.mode
        try:
            # Counting frames walks an animation's frame headers to the end (APNG: its acTL chunk says).
            frames = int(getattr(image, "n_frames", 1)) if image_format != "JPEG" else 1
            if image_format == "JPEG":
                # Reduce on load: the smallest scale whose picture still covers the thumbnail.
                image.draft("RGB", _draft_size(image, thumbnail_size))
            image.load()
            # Before the thumbnail: turning the picture upright takes the orientation out of its EXIF.
            exif = _exif_summary(image)
            picture = _thumbnail(image, thumbnail_size) if thumbnail_size else None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb_error((raw_width, raw_height)) from None
        except _DECODE_ERRORS as error:
            raise _decode_error(fileobj, image_format, error) from error

    # TIFF pages are frames too, but only these formats play their frames as an animation.
    animated = frames > 1 and image_format in ANIMATED_FORMATS
    if animated and _cut_short(fileobj, image_format):
        raise _truncated_error(image_format)
    if animated and not allow_animation:
        raise MediaError(
            f"The image is animated ({frames} frames); this project takes only still images."
            " Upload a still image (one frame) instead."
        )
    turned = exif["orientation"] in (5, 6, 7, 8)
    if require_camera_metadata and not (exif["make"] or exif["model"]):
        raise MediaError("The image has no camera metadata (EXIF), which this project requires.")
    metadata = {
        "kind": "image",
        "format": image_format,
        "mime": "image/apng"
        if animated and image_format == "PNG"
        else Image.MIME.get(image_format, "application/octet-stream"),
        "width": raw_height if turned else raw_width,
        "height": raw_width if turned else raw_height,
        "raw_width": raw_width,
        "raw_height": raw_height,
        "mode": mode,
        "frames": frames,
        "animated": animated,
        "exif": exif,
    }
    if picture is None:
        return ReadImage(metadata, None)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return ReadImage(metadata, out.getvalue())


def inspect_image(
    fileobj: IO[bytes],
    *,
    allowed_formats: tuple[str, ...] = DEFAULT_IMAGE_FORMATS,
    require_camera_metadata: bool = False,
    allow_animation: bool = True,
) -> dict[str, Any]:
    """read_image's metadata, without making a thumbnail (the same validation)."""
    return read_image(
        fileobj,
        allowed_formats=allowed_formats,
        require_camera_metadata=require_camera_metadata,
        allow_animation=allow_animation,
        thumbnail_size=None,
    ).metadata


def make_thumbnail(fileobj: IO[bytes], *, max_size: tuple[int, int] = THUMBNAIL_SIZE) -> bytes:
    """read_image's thumbnail: a JPEG of the image (first frame of an animation) upright, within max_size."""
    thumbnail = read_image(fileobj, thumbnail_size=max_size).thumbnail
    assert thumbnail is not None  # asked for with a size
    return thumbnail


def _draft_size(image: Image.Image, box: tuple[int, int] | None) -> tuple[int, int]:
    """The size the thumbnail will have in the stored (not yet turned) picture; (1, 1) when none is made."""
    if box is None:
        return (1, 1)
    orientation = None
    with contextlib.suppress(Exception):  # damaged metadata is _exif_summary's to report, not a reason to refuse
        orientation = image.getexif().get(_EXIF_ORIENTATION)
    if orientation in (5, 6, 7, 8):
        box = (box[1], box[0])
    scale = min(box[0] / image.width, box[1] / image.height, 1)
    return max(1, math.ceil(image.width * scale)), max(1, math.ceil(image.height * scale))


def _thumbnail(image: Image.Image, max_size: tuple[int, int]) -> Image.Image:
    """The loaded image turned upright by its EXIF orientation, flattened to RGB and shrunk into max_size (in place:
    the caller has read what it needs from the image)."""
    ImageOps.exif_transpose(image, in_place=True)
    picture = _flatten(image)
    picture.thumbnail(max_size, Image.Resampling.LANCZOS)
    return picture


def _normalise_formats(formats: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    normalised = tuple(dict.fromkeys(name.upper() for name in formats))
    if not normalised:
        raise ValueError("allowed_formats must name at least one Pillow format.")
    return normalised


def _pixel_limit() -> int:
    return Image.MAX_IMAGE_PIXELS or DEFAULT_MAX_IMAGE_PIXELS


def _format_name(image: Image.Image) -> str:
    # Pillow calls a JPEG with extra pictures (phones' depth maps, stereo pairs) MPO; it is a JPEG.
    return "JPEG" if image.format == "MPO" else (image.format or "UNKNOWN")


def _format_list(formats: tuple[str, ...]) -> str:
    return formats[0] if len(formats) == 1 else f"{', '.join(formats[:-1])} or {formats[-1]}"


def _open_image(fileobj: IO[bytes], formats: tuple[str, ...]) -> Image.Image:
    """Image.open restricted to `formats`, with the pixel limit enforced whatever the warning filters say."""
    try:
        image = Image.open(fileobj, formats=list(formats))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb_error(_declared_size(fileobj, formats)) from None
    except UnidentifiedImageError:
        raise _unidentified_error(fileobj, formats) from None
    except _DECODE_ERRORS as error:
        # Some parsers decode at open (WebP): what broke may be past the header.
        claimed = _magic_format(fileobj, formats)
        if claimed is None:
            raise MediaError("The file is not a readable image: its header is damaged.") from error
        raise _decode_error(fileobj, claimed, error) from error
    # Pillow only warns between 1x and 2x its limit; a warning filter may hide that, this check cannot be hidden.
    if image.width * image.height > _pixel_limit():
        with image:
            raise _bomb_error(image.size)
    return image


def _declared_size(fileobj: IO[bytes], formats: tuple[str, ...]) -> tuple[int, int] | None:
    header = _read_header(fileobj, formats)
    return header[1] if header else None


def _read_header(
    fileobj: IO[bytes], formats: tuple[str, ...] | list[str]
) -> tuple[str, tuple[int, int]] | None:
    """(format, declared size) read by the format's own parser, without Pillow's guard and without decoding."""
    try:
        fileobj.seek(0)
        prefix = fileobj.read(16)
    except (OSError, ValueError, AttributeError):
        return None
    for name in formats:
        factory, accept = Image.OPEN.get(name, (None, None))
        if factory is None or (accept and not accept(prefix)):
            continue
        # A header this parser rejects: try the next one.
        with contextlib.suppress(Exception):
            fileobj.seek(0)
            with factory(fileobj, "") as header:
                return _format_name(header), header.size
    return None


def _bomb_error(size: tuple[int, int] | None) -> MediaError:
    millions = _pixel_limit() // 1_000_000
    if size is None:
        return MediaError(
            f"The image declares more pixels than the {millions} million the portal decodes."
        )
    width, height = size
    return MediaError(
        f"The image declares {width} × {height} pixels, more than the {millions} million the portal decodes."
    )


def _unidentified_error(fileobj: IO[bytes], formats: tuple[str, ...]) -> MediaError:
    detected = None
    # Any format Pillow knows, header only, to name what the file is instead; nothing if not an image.
    with contextlib.suppress(Exception):
        try:
            with Image.open(fileobj) as other:
                detected = _format_name(other)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            header = _read_header(fileobj, Image.ID)
            detected = header[0] if header else None
    if detected and detected not in formats:
        return MediaError(
            f"The file is an image in {detected} format, which this project does not accept"
            f" (it accepts {_format_list(formats)})."
        )
    claimed = _magic_format(fileobj, formats)
    if claimed is not None:
        # It starts like an image the project takes, but its parser gave up on the header.
        if _cut_short(fileobj, claimed):
            return _truncated_error(claimed)
        return MediaError(f"The file is not a readable image: its {_format_label(claimed)} header is damaged.")
    return MediaError(
        f"The file is not a readable image (the portal accepts {_format_list(formats)})."
    )


def _decode_error(fileobj: IO[bytes], image_format: str, error: BaseException) -> MediaError:
    """Truncated when the file ends before its format's end marker, damaged when the marker is there; when the
    format has no such marker, Pillow's error tells."""
    cut_short = _cut_short(fileobj, image_format)
    if cut_short is None:
        text = str(error).lower()
        cut_short = isinstance(error, EOFError) or "truncated" in text or "end of file" in text
    if cut_short:
        return _truncated_error(image_format)
    return MediaError(f"The file is not a readable image: its {_format_label(image_format)} data is damaged.")


def _truncated_error(image_format: str) -> MediaError:
    return MediaError(f"The file is not a readable image: it ends early (truncated {_format_label(image_format)}).")


def _format_label(image_format: str) -> str:
    return "WebP" if image_format == "WEBP" else image_format


def _magic_format(fileobj: IO[bytes], formats: tuple[str, ...]) -> str | None:
    """The format among `formats` whose magic bytes the file starts with, without parsing further."""
    try:
        fileobj.seek(0)
        prefix = fileobj.read(16)
    except (OSError, ValueError, AttributeError):
        return None
    for name in formats:
        accept = Image.OPEN.get(name, (None, None))[1]
        if accept is not None and accept(prefix):
            return name
    return None


def _cut_short(fileobj: IO[bytes], image_format: str) -> bool | None:
    """Whether the file ends before its format's own structure says it does; None when the format does not tell."""
    try:
        size = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(0)
        head = fileobj.read(16)
        fileobj.seek(max(0, size - _TAIL_BYTES))
        tail = fileobj.read()
    except (OSError, ValueError, AttributeError):
        return None
    if image_format == "PNG":
        return b"IEND" not in tail
    if image_format == "JPEG":
        return b"\xff\xd9" not in tail
    if image_format == "GIF":
        return not tail.rstrip(b"\0").endswith(b";")
    if image_format == "WEBP" and len(head) >= 8:
        return int.from_bytes(head[4:8], "little") + 8 > size
    if image_format == "BMP" and len(head) >= 6:
        declared = int.from_bytes(head[2:6], "little")
        return declared > size if declared else None
    if image_format == "TIFF":
        return _tiff_pages_cut_short(fileobj, head, size)
    return None


def _tiff_pages_cut_short(fileobj: IO[bytes], head: bytes, size: int) -> bool | None:
    """Whether a TIFF's chain of page directories (IFDs) runs past the end of the file."""
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 8 or struct.unpack(f"{order}H", head[2:4])[0] != 42:
        return None  # BigTIFF or not a TIFF: the pixels' decoder says
    offset, seen = struct.unpack(f"{order}I", head[4:8])[0], set()
    while offset and offset not in seen and len(seen) < _TIFF_MAX_PAGES:
        seen.add(offset)
        if offset + 2 > size:
            return True
        fileobj.seek(offset)
        (entries,) = struct.unpack(f"{order}H", fileobj.read(2))
        if offset + 2 + 12 * entries + 4 > size:
            return True
        fileobj.seek(offset + 2 + 12 * entries)
        (offset,) = struct.unpack(f"{order}I", fileobj.read(4))
    return None


def _exif_summary(image: Image.Image) -> dict[str, Any]:
    try:
        exif = image.getexif()
        camera = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # noqa: BLE001 - damaged metadata must not fail a picture that decodes
        exif, camera, gps = Image.Exif(), {}, {}
    orientation = exif.get(_EXIF_ORIENTATION)
    return {
        "make": _exif_text(exif.get(_EXIF_MAKE)),
        "model": _exif_text(exif.get(_EXIF_MODEL)),
        "datetime_original": _exif_datetime(
            camera.get(ExifTags.Base.DateTimeOriginal), camera.get(ExifTags.Base.OffsetTimeOriginal)
        ),
        "orientation": orientation
        if isinstance(orientation, int) and 1 <= orientation <= 8
        else None,
        "has_gps": _GPS_LATITUDE in gps and _GPS_LONGITUDE in gps,
    }


def _exif_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    # Uploaded metadata ends up in JSON and on pages: printable characters only, bounded.
    text = "".join(char for char in value if char.isprintable()).strip()
    return text[:_EXIF_TEXT_MAX] or None


def _exif_datetime(value: object, offset: object) -> str | None:
    """EXIF "2024:05:01 10:20:30" (+ OffsetTimeOriginal) as ISO 8601, or None when absent or invalid."""
    text = _exif_text(value)
    match = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})", text or "")
    if not match:
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None
    zone = _exif_text(offset)
    return moment.isoformat() + (zone if zone and re.fullmatch(r"[+-]\d{2}:\d{2}", zone) else "")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent pixels become white rather than JPEG's default black."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I;16"):
        # 16-bit samples scaled to 8 bits; converted as they are, they would clip to white.
        return image.convert("F").point(lambda value: value / 257).convert("RGB")
    if image.mode in ("I", "F"):
        # 32-bit integer or float samples (depth maps, scientific images) have no fixed range: their own is stretched.
        low, high = image.getextrema()
        scale = 255 / (high - low) if high > low else 0
        offset = -low * scale
        return image.convert("F").point(lambda value: value * scale + offset).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


# ---------------------------------------------------------------------------------------------
# Videos

_NOT_A_VIDEO = "The file is not a video this portal can read."
_NO_FRAMES = "The video has no frames."
# FFmpeg opens still and animated images too; for the portal they are not videos.
_IMAGE_DEMUXERS = frozenset({"image2", "gif", "apng", "ico", "svg"})
# Demuxers FFmpeg picks from a file's extension alone (text art); files are never named here, but be sure.
_TEXT_DEMUXERS = frozenset({"tty", "bin", "idf", "adf", "xbin", "txt"})
_SIMPLE_CONTAINERS = {
    "mpegts": ("ts", "video/mp2t"),
    "avi": ("avi", "video/x-msvideo"),
    "flv": ("flv", "video/x-flv"),
    "mpeg": ("mpeg", "video/mpeg"),
    "asf": ("asf", "video/x-ms-asf"),
    "ogg": ("ogg", "video/ogg"),
    "mxf": ("mxf", "application/mxf"),
    "h264": ("h264", "video/h264"),
    "hevc": ("hevc", "video/h265"),
}


def probe_video(path: str | os.PathLike[str], *, count_frames: bool = True) -> dict[str, Any]:
    """Container, codecs, geometry, timing and an exact frame count, without decoding a frame.

    MP4/MOV: the frame count and frame timing come from the container's sample index (no media
    bytes read). Other containers (MKV, WebM, TS...) carry no trustworthy count, so the video
    packets are demuxed and counted; with count_frames=False only the first packets are looked
    at and frame_count is an estimate (frame_count_source says which). variable_frame_rate comes
    from the gaps between presentation timestamps, because headers keep claiming the nominal
    rate. rotation is in degrees clockwise, like the legacy 'rotate' tag (a phone held upright
    usually records 90). Raises MediaError for anything that is not a video with at least one frame.
    """
    with _open_video(path) as (container, stream):
        container_name, mime = _container_kind(container, path)
        codec = stream.codec_context
        audio = _audio_stream(container)
        rotation = _rotation(stream)
        duration = _duration_seconds(container, stream)
        average, real = _positive(stream.average_rate), _positive(stream.base_rate)
        frame_count, source, timing = _frame_count_and_timing(
            container, stream, container_name, duration, average, count_frames=count_frames
        )
        if duration is None and timing is not None:
            duration = timing.span_seconds
        if timing is not None and timing.variable is not None:
            variable = timing.variable
        else:
            # Without timestamps only the header's two rates are left to compare.
            variable = bool(average and real and abs(float(average) / float(real) - 1) > 0.005)
        width, height = codec.width, codec.height
        info = {
            "kind": "video",
            "container": container_name,
            "format_name": container.format.name,
            "mime": mime,
            "video_codec": codec.name,
            "pix_fmt": codec.format.name if codec.format else None,
            "audio_codec": audio.codec_context.name if audio is not None else None,
            "width": width,
            "height": height,
            "rotation": rotation,
            "display_width": height if rotation in (90, 270) else width,
            "display_height": width if rotation in (90, 270) else height,
            "duration_seconds": round(duration, 3) if duration is not None else None,
            **_rate_fields("avg_frame_rate", average),
            **_rate_fields("r_frame_rate", real),
            "variable_frame_rate": variable,
            "frame_count": frame_count,
            "frame_count_source": source,
            "bit_rate": container.bit_rate or None,
        }
    if frame_count <= 0:
        raise MediaError(_NO_FRAMES)
    return info


def video_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Frame size, duration and frame count as the container's header declares them, without demuxing a packet.

    What the limits are checked against when a video's frame rate and count were given at registration instead
    of probed: cheap, and the file's own word rather than its uploader's.
    """
    with _open_video(path) as (container, stream):
        duration = _duration_seconds(container, stream)
        average = _positive(stream.average_rate)
        frames = stream.frames or (round(duration * float(average)) if duration and average else 0)
        return {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "duration_seconds": duration,
            "frame_count": frames,
        }


def make_poster(path: str | os.PathLike[str], *, max_size: tuple[int, int] = (640, 640)) -> bytes:
    """A JPEG of the frame about 10 % in (or the first decodable one), upright, within max_size."""
    with _open_video(path) as (container, stream):
        stream.thread_type = "AUTO"
        rotation = _rotation(stream)
        duration = _duration_seconds(container, stream) or 0.0
        frame = _frame_near(container, stream, duration * POSTER_POSITION)
        if frame is None:
            raise MediaError(_NO_FRAMES)
        # Scale once in swscale, to square pixels and the box turned the way the frame will be.
        sar = float(stream.sample_aspect_ratio or 1) or 1.0
        display_width = frame.width * sar
        box_width, box_height = max_size if rotation in (0, 180) else (max_size[1], max_size[0])
        scale = min(box_width / display_width, box_height / frame.height, 1.0)
        picture = frame.to_image(
            width=max(1, round(display_width * scale)),
            height=max(1, round(frame.height * scale)),
            interpolation="AREA",
        )
    picture = _turn(picture, rotation)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=POSTER_QUALITY)
    return out.getvalue()


def needs_rendition(info: dict[str, Any]) -> bool:
    """Whether a video needs a browser-friendly H.264 MP4 copy (docs/ARCHITECTURE.md, "One file, from the drop to the email").

    Playable as is: H.264 in MP4/MOV, audio absent or AAC, constant frame rate, and 8-bit 4:2:0
    pixels (High 10 or 4:4:4 H.264 does not play in browsers).
    """
    return not (
        info.get("container") in ("mp4", "mov")
        and info.get("video_codec") == "h264"
        and info.get("audio_codec") in (None, "aac")
        and not info.get("variable_frame_rate")
        and info.get("pix_fmt") in (None, "yuv420p", "yuvj420p")
    )


def make_rendition(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    *,
    fps: Fraction | float | None = None,
    limits: VideoLimits | None = None,
    preset: str = RENDITION_PRESET,
) -> dict[str, Any]:
    """Writes an H.264 (libx264, yuv420p, CRF RENDITION_CRF, x264's `preset`) MP4 at a constant frame rate and probes it.

    Frames are streamed through decoder, filter graph and encoder, so memory stays constant. The
    picture is turned upright (rotation applied, so the copy carries none), pixels made square and
    the size even. The first audio track is re-encoded to AAC, resampled so it stays in sync from
    the first video frame; other audio tracks, subtitles and data streams are dropped. The moov
    atom is written first (faststart) so browsers can play while downloading. The file appears at
    dst_path only when complete. With `limits`, a copy larger than them (square pixels widen a frame,
    timestamp gaps are filled with copies of frames) stops with a MediaError.
    """
    source = probe_video(src_path, count_frames=False)
    rate = Fraction(fps).limit_denominator(1001) if fps else _sensible_rate(source)
    partial = f"{os.fspath(dst_path)}.part"
    try:
        with (
            _open_video(src_path) as (container, stream),
            av.open(partial, "w", format="mp4", options={"movflags": "+faststart"}) as output,
        ):
            _transcode(
                container, stream, output, rate=rate, rotation=source["rotation"], limits=limits, preset=preset
            )
        os.replace(partial, dst_path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return probe_video(dst_path)


class _ContentOnlyReader:
    """A file reader without a name, so FFmpeg identifies the container by content alone."""

    # With a name, FFmpeg lets the extension vote: random bytes in "x.bin" or text in "x.txt" open as "video".
    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


@contextmanager
def _open_video(
    path: str | os.PathLike[str],
) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    with open(path, "rb") as raw:
        try:
            container = av.open(_ContentOnlyReader(raw), mode="r")
        except MemoryError:
            raise  # av.error.MemoryError too: the worker's memory limit was reached, the file may be fine
        except av.error.EOFError as error:
            # The container's header was understood, then the file ended before a single packet.
            raise MediaError(_NO_FRAMES) from error
        except av.error.FFmpegError as error:
            raise MediaError(_NOT_A_VIDEO) from error
        try:
            name = container.format.name
            if name in _IMAGE_DEMUXERS or name.endswith("_pipe"):
                raise MediaError("The file is an image, not a video.")
            if name in _TEXT_DEMUXERS:
                raise MediaError(_NOT_A_VIDEO)
            yield container, _video_stream(container)
        except MemoryError:
            raise
        except av.error.FFmpegError as error:
            raise MediaError("The video is damaged and cannot be read.") from error
        finally:
            container.close()


def _video_stream(container: av.container.InputContainer) -> av.VideoStream:
    for stream in container.streams.video:
        # Cover art in an audio file is a one-picture "video" stream; it is not a video.
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        if (
            stream.codec_context is None
        ):  # PyAV leaves it out when FFmpeg has no decoder for the codec
            raise MediaError(
                "The file is not a video this portal can read: its video codec is not supported."
            )
        return stream
    raise MediaError("The file is not a video this portal can read: it has no video track.")


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream | None:
    """The first audio track the portal can decode."""
    return next(
        (stream for stream in container.streams.audio if stream.codec_context is not None), None
    )


def _container_kind(
    container: av.container.InputContainer, path: str | os.PathLike[str]
) -> tuple[str, str]:
    """A short container name and its MIME type; FFmpeg names MP4 and MOV alike, MKV and WebM alike."""
    name = container.format.name
    if name.startswith("mov,"):
        brand = container.metadata.get("major_brand", "").strip().lower()
        if brand == "qt":
            return "mov", "video/quicktime"
        if brand.startswith("3g"):
            return "3gp", "video/3gpp"
        return "mp4", "video/mp4"
    if name.startswith("matroska"):
        return (
            ("webm", "video/webm") if _ebml_doctype(path) == "webm" else ("mkv", "video/x-matroska")
        )
    return _SIMPLE_CONTAINERS.get(name, (name, "application/octet-stream"))


def _ebml_doctype(path: str | os.PathLike[str]) -> str | None:
    """The DocType of a Matroska file's EBML header ("webm" or "matroska"), read from its first bytes."""
    with open(path, "rb") as raw:
        head = raw.read(4096)
    at = head.find(b"\x42\x82")
    if at < 0 or at + 3 > len(head) or head[at + 2] == 0:
        return None
    first = head[at + 2]
    width = 9 - first.bit_length()
    size = first & ((1 << (8 - width)) - 1)
    for byte in head[at + 3 : at + 2 + width]:
        size = (size << 8) | byte
    start = at + 2 + width
    return head[start : start + size].decode("ascii", "replace")


def _rotation(stream: av.VideoStream) -> int:
    """Degrees (0, 90, 180, 270) the stored picture turns clockwise for display, like the old 'rotate' tag."""
    matrix = stream.codec_context.coded_side_data.get("display_matrix")
    if matrix and len(matrix) >= 36:
        a, b, _, c, d, *_ = struct.unpack("=9i", matrix[:36])
        scale_x, scale_y = math.hypot(a, c), math.hypot(b, d)
        if scale_x and scale_y:
            # av_display_rotation_get(): counter-clockwise degrees; clockwise is its negation.
            counter_clockwise = -math.degrees(math.atan2(b / scale_y, a / scale_x))
            return round(-counter_clockwise / 90) % 4 * 90
    tag = stream.metadata.get("rotate")
    try:
        return round(float(tag) / 90) % 4 * 90 if tag else 0
    except ValueError:
        return 0


def _turn(picture: Image.Image, rotation: int) -> Image.Image:
    turns = {
        90: Image.Transpose.ROTATE_270,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }
    return picture.transpose(turns[rotation]) if rotation in turns else picture


def _duration_seconds(
    container: av.container.InputContainer, stream: av.VideoStream
) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _start_seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.start_time is not None and stream.time_base:
        return float(stream.start_time * stream.time_base)
    return container.start_time / av.time_base if container.start_time else 0.0


def _positive(rate: Fraction | None) -> Fraction | None:
    return rate if rate and rate > 0 else None


def _rate_fields(key: str, rate: Fraction | None) -> dict[str, Any]:
    return {
        key: round(float(rate), 6) if rate else None,
        f"{key}_fraction": f"{rate.numerator}/{rate.denominator}" if rate else None,
    }


class _FrameClock:
    """Presentation times put back in order (B-frames arrive out of order) and the gaps between them."""

    # Deeper than any decoder's reordering, so a small heap is enough: memory does not grow with length.
    REORDER_WINDOW = 32
    MAX_DISTINCT_GAPS = 4096

    def __init__(self) -> None:
        self.packets = 0
        self._pending: list[int] = []
        self._first: int | None = None
        self._last: int | None = None
        self._gaps: Counter[int] = Counter()
        self._too_many_gaps = False

    def add(self, timestamp: int | None) -> None:
        self.packets += 1
        if timestamp is None:
            return
        heapq.heappush(self._pending, timestamp)
        if len(self._pending) > self.REORDER_WINDOW:
            self._emit(heapq.heappop(self._pending))

    def finish(self, *, complete: bool) -> None:
        """At the end of the stream the held-back times are in order; after a partial scan they may miss B-frames."""
        while complete and self._pending:
            self._emit(heapq.heappop(self._pending))
        self._pending.clear()

    def _emit(self, timestamp: int) -> None:
        if self._last is not None:
            gap = timestamp - self._last
            if gap in self._gaps or len(self._gaps) < self.MAX_DISTINCT_GAPS:
                self._gaps[gap] += 1
            else:
                self._too_many_gaps = True
        else:
            self._first = timestamp
        self._last = timestamp

    @property
    def variable(self) -> bool | None:
        if not self._gaps:
            return None
        typical = self._gaps.most_common(1)[0][0]
        # CFR timestamps rounded to the time base differ by a tick (33/34 ms for 29.97 fps in MKV).
        tolerance = max(1, typical // 200)
        return self._too_many_gaps or any(abs(gap - typical) > tolerance for gap in self._gaps)

    def span(self) -> int | None:
        if self._first is None or self._last is None or not self._gaps:
            return None
        return self._last - self._first + self._gaps.most_common(1)[0][0]


@dataclass(frozen=True)
class _Timing:
    frames: int
    variable: bool | None
    span_seconds: float | None


def _frame_count_and_timing(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    container_name: str,
    duration: float | None,
    average: Fraction | None,
    *,
    count_frames: bool,
) -> tuple[int, str, _Timing | None]:
    """(frame_count, where it came from, frame timing) — see probe_video."""
    declared = stream.frames
    if (
        container_name in ("mp4", "mov", "3gp")
        and declared > 0
        and _consistent(declared, duration, average)
    ):
        timing = _timing_from_index(stream)
        if timing is not None:
            return declared, "container", timing
    timing = _timing_from_packets(container, stream, limit=None if count_frames else SAMPLE_PACKETS)
    if count_frames or timing.frames < SAMPLE_PACKETS:
        return timing.frames, "packets", timing
    estimate = round(duration * float(average)) if duration and average else timing.frames
    return estimate, "estimate", timing


def _consistent(frames: int, duration: float | None, average: Fraction | None) -> bool:
    if not duration or not average:
        return True
    return abs(frames - duration * float(average)) <= max(2.0, frames * 0.02)


def _timing_from_index(stream: av.VideoStream) -> _Timing | None:
    """Frame timing from the MP4/MOV sample index FFmpeg built from the moov atom: no media bytes read."""
    clock = _FrameClock()
    for entry in stream.index_entries:
        if not entry.is_discard:
            clock.add(entry.timestamp)
    if clock.packets == 0:
        return None  # fragmented MP4: samples live in fragments the index has not seen yet
    clock.finish(complete=True)
    return _Timing(clock.packets, clock.variable, _seconds(clock.span(), stream))


def _timing_from_packets(
    container: av.container.InputContainer, stream: av.VideoStream, *, limit: int | None
) -> _Timing:
    """Counts the video stream's packets (demuxing only, nothing decoded) and watches their timestamps."""
    clock = _FrameClock()
    for other in container.streams:
        if other.index != stream.index:
            other.discard = (
                av.stream.Discard.all
            )  # let the demuxer skip them rather than hand them to Python
    complete = True
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the empty packet demux() yields at the end
        clock.add(packet.pts if packet.pts is not None else packet.dts)
        if limit is not None and clock.packets >= limit:
            complete = False
            break
    clock.finish(complete=complete)
    return _Timing(
        clock.packets, clock.variable, _seconds(clock.span(), stream) if complete else None
    )


def _seconds(ticks: int | None, stream: av.VideoStream) -> float | None:
    return float(ticks * stream.time_base) if ticks is not None and stream.time_base else None


def _frame_near(
    container: av.container.InputContainer, stream: av.VideoStream, seconds: float
) -> av.VideoFrame | None:
    """The first frame at or after `seconds` from the start, decoding from the keyframe before it."""
    start = _start_seconds(container, stream)
    target = start + seconds
    frame = None
    if seconds > 0 and stream.time_base:
        try:
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
            frame = _decode_until(container, stream, target)
        except MemoryError:
            raise
        except av.error.FFmpegError:
            frame = None  # an unseekable or damaged stretch: fall back to the first frame
        if frame is None:
            container.seek(0)
    return frame if frame is not None else _decode_until(container, stream, start)


def _decode_until(
    container: av.container.InputContainer, stream: av.VideoStream, target: float
) -> av.VideoFrame | None:
    frame = None
    try:
        for index, decoded in enumerate(container.decode(stream)):
            frame = decoded
            if (
                decoded.time is None
                or decoded.time >= target - 1e-6
                or index >= POSTER_MAX_DECODED_FRAMES
            ):
                break
    except av.error.FFmpegError:
        if frame is None:
            raise
    return frame


def _sensible_rate(info: dict[str, Any]) -> Fraction:
    """The source's average rate snapped to a standard rate, else to a whole number of frames per second."""
    fraction = info.get("avg_frame_rate_fraction") or info.get("r_frame_rate_fraction") or "30/1"
    average = Fraction(fraction)
    nearest = min(STANDARD_FRAME_RATES, key=lambda standard: abs(average / standard - 1))
    if abs(average / nearest - 1) <= Fraction(15, 1000):
        return nearest
    return Fraction(min(max(1, round(average)), RENDITION_MAX_FPS))


def _transcode(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    output: av.container.OutputContainer,
    *,
    rate: Fraction,
    rotation: int,
    limits: VideoLimits | None = None,
    preset: str = RENDITION_PRESET,
) -> None:
    """Decode -> filter (CFR, upright, square pixels, even size, yuv420p) -> libx264, audio -> AAC."""
    stream.thread_type = "AUTO"
    codec = stream.codec_context
    sar = float(stream.sample_aspect_ratio or 1) or 1.0
    width, height = round(codec.width * sar), codec.height
    if rotation in (90, 270):
        width, height = height, width
    width, height = max(2, width - width % 2), max(2, height - height % 2)
    most = None
    if limits is not None:
        if width * height > limits.max_pixels:
            # A sample aspect ratio can widen a small coded frame into a huge square-pixel one.
            raise MediaError(
                f"The video is shown at {width:,} × {height:,} pixels ({width * height:,} a frame); the portal processes"
                f" videos of at most {limits.max_pixels:,} pixels a frame. Scale it down and upload it again."
            )
        # Gaps between timestamps become copies of frames: the copy's length, not the header's, is what costs.
        most = math.ceil((limits.max_duration_seconds + RENDITION_DURATION_SLACK_SECONDS) * rate)

    video_out = output.add_stream(
        "libx264", rate=rate, options={"preset": preset, "crf": str(RENDITION_CRF)}
    )
    video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
    video_out.codec_context.time_base = 1 / rate

    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=stream)]
    nodes.append(graph.add("fps", fps=f"{rate.numerator}/{rate.denominator}"))
    nodes += [graph.add(name, args or None) for name, args in _rotation_filters(rotation)]
    nodes.append(graph.add("scale", f"{width}:{height}"))
    nodes.append(graph.add("setsar", "1"))
    nodes.append(graph.add("format", "yuv420p"))
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()

    audio = _audio_stream(container)
    audio_out = audio_graph = None
    if audio is not None and audio.codec_context.sample_rate:
        audio_out, audio_graph = _audio_pipeline(audio, output)
    for other in container.streams:
        if other not in (stream, audio):
            other.discard = av.stream.Discard.all

    # Both tracks start where the video starts (TS files often start at 1.4 s, say).
    origin = _start_seconds(container, stream)
    written = 0
    demuxed = (stream, audio) if audio_out is not None else (stream,)
    for packet in container.demux(*demuxed):
        if packet.stream is stream:
            for frame in _decode(stream, packet):
                graph.vpush(frame)
            written = _drain_video(graph, video_out, output, rate, written, most=most, limits=limits)
        elif audio_graph is not None:
            for frame in _decode(audio, packet):
                _push_audio(audio_graph, frame, origin)
            _drain_audio(audio_graph, audio_out, output)
    graph.vpush(None)
    written = _drain_video(graph, video_out, output, rate, written, most=most, limits=limits)
    if written == 0:
        raise MediaError(_NO_FRAMES)
    output.mux(video_out.encode(None))
    if audio_graph is not None:
        audio_graph.push(None)
        _drain_audio(audio_graph, audio_out, output)
        output.mux(audio_out.encode(None))


def _rotation_filters(rotation: int) -> list[tuple[str, str]]:
    return {
        90: [("transpose", "clock")],
        180: [("hflip", ""), ("vflip", "")],
        270: [("transpose", "cclock")],
    }.get(rotation, [])


def _decode(stream: av.stream.Stream, packet: av.Packet) -> list[Any]:
    try:
        return stream.decode(packet)
    except av.error.InvalidDataError:
        return []  # one damaged packet: the filter repeats the previous frame, as a player would


def _drain_video(
    graph: av.filter.Graph,
    video_out: av.VideoStream,
    output: av.container.OutputContainer,
    rate: Fraction,
    written: int,
    *,
    most: int | None = None,
    limits: VideoLimits | None = None,
) -> int:
    while True:
        try:
            frame = graph.vpull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return written
        if most is not None and limits is not None and written >= most:
            raise MediaError(_too_long(None, limits))
        # Renumber from zero: exactly one tick of 1/rate per frame is what makes the copy CFR.
        frame.pts, frame.time_base = written, 1 / rate
        output.mux(video_out.encode(frame))
        written += 1


def _audio_pipeline(
    audio: av.AudioStream, output: av.container.OutputContainer
) -> tuple[av.AudioStream, av.filter.Graph]:
    source = audio.codec_context
    layout = "mono" if source.channels == 1 else "stereo"
    audio_out = output.add_stream("aac", rate=source.sample_rate, layout=layout)
    graph = av.filter.Graph()
    # aresample async fills gaps and trims overlaps, so the AAC track stays continuous and in sync.
    graph.link_nodes(
        graph.add_abuffer(template=audio),
        graph.add("aresample", f"{source.sample_rate}:async=1:first_pts=0"),
        graph.add(
            "aformat",
            f"sample_fmts=fltp:channel_layouts={layout}:sample_rates={source.sample_rate}",
        ),
        graph.add("abuffersink"),
    ).configure()
    graph.set_audio_frame_size(audio_out.codec_context.frame_size or 1024)
    return audio_out, graph


def _push_audio(graph: av.filter.Graph, frame: av.AudioFrame, origin: float) -> None:
    if frame.pts is None or frame.time_base is None:
        return
    frame.pts -= round(origin / frame.time_base)
    graph.push(frame)


def _drain_audio(
    graph: av.filter.Graph, audio_out: av.AudioStream, output: av.container.OutputContainer
) -> None:
    while True:
        try:
            frame = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        output.mux(audio_out.encode(frame))
