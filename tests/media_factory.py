"""Tiny media files made on the spot for tests (and the benchmark): images with Pillow, videos with PyAV.

Nothing here is a fixture; every helper returns bytes or writes the path it is given, so any test
module can import what it needs.
"""

from __future__ import annotations

import io
import math
import random
import struct
import zlib
from array import array
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageChops, ImageDraw

CAMERA_MAKE = "Canon"
CAMERA_MODEL = "EOS R5"
TAKEN_AT = "2024:05:01 10:20:30"
# Gaps between frames, in milliseconds, that a variable-frame-rate clip cycles through (mean 45.75 ms).
VFR_GAPS_MS = (20, 50, 33, 80)


def picture(width: int, height: int, *, detail: bool = False, seed: int = 0) -> Image.Image:
    """An RGB picture whose top-left quadrant is red, so orientation changes are visible in tests.

    With detail=True the rest is noisy texture, so JPEG sizes and decode times resemble photographs.
    """
    if detail:
        # Noise drawn small and enlarged: blotchy detail that compresses like a photo, not like static.
        small = (max(1, width // 4), max(1, height // 4))
        channels = [
            Image.effect_noise(small, 48 + 8 * band).resize(
                (width, height), Image.Resampling.BICUBIC
            )
            for band in range(3)
        ]
        image = Image.blend(
            Image.merge("RGB", channels),
            Image.linear_gradient("L").resize((width, height)).convert("RGB"),
            0.4,
        )
    else:
        image = Image.new("RGB", (width, height), (40, 90 + seed % 100, 200))
    ImageDraw.Draw(image).rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=(220, 20, 20))
    return image


def camera_exif(*, orientation: int | None = None, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0110] = CAMERA_MODEL
    if orientation is not None:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = TAKEN_AT
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)})
    return exif


def make_jpeg(
    width: int = 64,
    height: int = 48,
    *,
    exif: bool = True,
    orientation: int | None = None,
    gps: bool = False,
    detail: bool = False,
    quality: int = 90,
) -> bytes:
    """A JPEG; with exif=True it carries camera Make/Model, DateTimeOriginal and the given orientation."""
    out = io.BytesIO()
    extra = {"exif": camera_exif(orientation=orientation, gps=gps)} if exif else {}
    picture(width, height, detail=detail).save(out, "JPEG", quality=quality, **extra)
    return out.getvalue()


def make_png(width: int = 64, height: int = 48, *, mode: str = "RGB") -> bytes:
    image = picture(width, height).convert(mode)
    if mode == "RGBA":
        image.putalpha(0)  # fully transparent: a thumbnail must come out white, not black
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def make_animated(
    image_format: str = "GIF",
    *,
    size: tuple[int, int] = (32, 24),
    colours: tuple[str, ...] = ("red", "blue", "green"),
) -> bytes:
    """An animated GIF or WebP with one solid colour per frame."""
    frames = [Image.new("RGB", size, colour) for colour in colours]
    out = io.BytesIO()
    frames[0].save(out, image_format, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def truncated_jpeg(width: int = 256, height: int = 192) -> bytes:
    """A camera JPEG cut off after 60 % of its bytes, as an interrupted upload leaves it."""
    data = make_jpeg(width, height, detail=True)
    return data[: len(data) * 6 // 10]


def decompression_bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid-looking ~100-byte PNG declaring width × height pixels (IHDR written by hand)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def random_bytes_file(path: Path, size: int = 64 * 1024, *, seed: int = 7) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def text_file(path: Path) -> Path:
    path.write_text("name,url\nfront door,https://example.com/a.jpg\n" * 40)
    return path


def make_video(
    path: Path,
    *,
    container: str = "mp4",
    codec: str = "h264",
    frames: int = 30,
    fps: int | Fraction | str = 30,
    vfr: bool = False,
    size: tuple[int, int] = (64, 48),
    rotation: int = 0,
    audio: str | None = None,
    textured: bool = False,
) -> Path:
    """Encodes `frames` frames whose colour steps with the frame index (frame i: red = 8*i % 256),
    each with a white top-left quadrant.

    vfr=True stamps frames with the irregular gaps of VFR_GAPS_MS on a 1 ms clock (the header
    still declares `fps`, as phones' files do). rotation (clockwise, 90/180/270) is written as the
    container's display matrix. audio names an encoder ("aac", "pcm_s16le", "libopus") for a
    440 Hz mono tone as long as the video. textured=True draws a moving, detailed picture so
    1080p clips cost what real footage costs to encode and decode.
    """
    rate = Fraction(fps)
    muxer = {"mkv": "matroska", "webm": "webm", "mp4": "mp4", "mov": "mov", "ts": "mpegts"}[
        container
    ]
    with av.open(str(path), "w", format=muxer) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if codec in ("h264", "libx264"):
            stream.options = {"preset": "ultrafast"}
        clock = Fraction(1, 1000) if vfr else 1 / rate
        stream.codec_context.time_base = clock
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV counts counter-clockwise
        audio_stream = _add_tone_stream(output, audio) if audio else None
        pts = 0
        for index, image in enumerate(_frames(size, frames, textured)):
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = pts, clock
            pts += VFR_GAPS_MS[index % len(VFR_GAPS_MS)] if vfr else 1
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        if audio_stream is not None:
            seconds = float(pts * clock)
            _write_tone(output, audio_stream, seconds)
    return path


def _frames(size: tuple[int, int], count: int, textured: bool) -> Iterator[Image.Image]:
    width, height = size
    texture = picture(width, height, detail=True) if textured else None
    for index in range(count):
        if texture is not None:
            image = ImageChops.offset(texture, index * 7, index * 3)
            ImageDraw.Draw(image).ellipse(
                (index * 11 % width, height // 3, index * 11 % width + height // 4, height // 2),
                fill="yellow",
            )
            yield image
        else:
            image = Image.new("RGB", size, (index * 8 % 256, 100, 50))
            # A white top-left quadrant shows which way a poster or rendition was turned.
            ImageDraw.Draw(image).rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill="white")
            yield image


def _add_tone_stream(output: av.container.OutputContainer, encoder: str) -> av.AudioStream:
    return output.add_stream(encoder, rate=48000, layout="mono")


def _write_tone(
    output: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    sample_rate = stream.codec_context.sample_rate
    total = int(seconds * sample_rate)
    chunk = 960
    for start in range(0, total, chunk):
        count = min(chunk, total - start)
        samples = array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * 440 * (start + i) / sample_rate))
                for i in range(count)
            ),
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))


def make_audio(path: Path, *, encoder: str = "aac", seconds: float = 1.0) -> Path:
    """An MP4 holding only a 440 Hz tone: media, but no video track."""
    with av.open(str(path), "w", format="mp4") as output:
        _write_tone(output, _add_tone_stream(output, encoder), seconds)
    return path


def zero_frame_video(path: Path) -> Path:
    """A Matroska file with one declared VP8 video track and not a single frame.

    PyAV writes the header when the first packet is muxed, so output.start_encoding() forces it.
    FFmpeg then fails to open the file with "End of file" (header understood, no packet), which
    probe_video reports as "no frames". An MP4 cannot be made this way: FFmpeg's MP4 muxer leaves
    a track without samples out of the moov entirely, so that file reads as having no video track.
    """
    with av.open(str(path), "w", format="matroska") as output:
        stream = output.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        output.start_encoding()
    return path
