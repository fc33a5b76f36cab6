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
    mode: str = "RGB",
    progressive: bool = False,
) -> bytes:
    """A JPEG; with exif=True it carries camera Make/Model, DateTimeOriginal and the given orientation.

    mode "CMYK" writes an Adobe CMYK JPEG (as print workflows do), "L" a greyscale one.
    """
    out = io.BytesIO()
    extra = {"exif": camera_exif(orientation=orientation, gps=gps)} if exif else {}
    picture(width, height, detail=detail).convert(mode).save(
        out, "JPEG", quality=quality, progressive=progressive, **extra
    )
    return out.getvalue()


def make_png(width: int = 64, height: int = 48, *, mode: str = "RGB", interlace: bool = False) -> bytes:
    """A PNG of picture() in `mode` (RGB, RGBA fully transparent, LA, L, P, 1...)."""
    image = picture(width, height).convert(mode)
    if mode == "RGBA":
        image.putalpha(0)  # fully transparent: a thumbnail must come out white, not black
    out = io.BytesIO()
    image.save(out, "PNG", interlace=interlace)
    return out.getvalue()


def make_png_16bit(width: int = 64, height: int = 48, *, colour: bool = True) -> bytes:
    """A 16-bit-per-sample PNG (RGB or greyscale) using the full 0-65535 range, as scanners and HDR tools write it.

    Pillow cannot write 16-bit RGB PNGs, so the chunks are written here from picture()'s pixels (each 8-bit value v
    becomes v * 257).
    """
    image = picture(width, height).convert("RGB" if colour else "L")
    samples = image.tobytes()
    channels = 3 if colour else 1
    rows = b"".join(
        b"\0" + b"".join(struct.pack(">H", value * 257) for value in samples[y * width * channels : (y + 1) * width * channels])
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 16, 2 if colour else 0, 0, 0, 0)
    return _png(header, zlib.compress(rows))


def _png(header: bytes, data: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def make_gif(width: int = 64, height: int = 48) -> bytes:
    """A still GIF of picture() (256-colour palette)."""
    out = io.BytesIO()
    picture(width, height).save(out, "GIF")
    return out.getvalue()


def make_ico(size: int = 32) -> bytes:
    """A Windows icon: an image, in a format the portal does not process."""
    out = io.BytesIO()
    picture(size, size).save(out, "ICO", sizes=[(size, size)])
    return out.getvalue()


def make_webp(width: int = 64, height: int = 48, *, lossless: bool = False, alpha: bool = False) -> bytes:
    """A still WebP, lossy or lossless; with alpha=True its right half is half transparent."""
    image = picture(width, height)
    if alpha:
        mask = Image.new("L", (width, height), 255)
        ImageDraw.Draw(mask).rectangle((width // 2, 0, width, height), fill=128)
        image.putalpha(mask)
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=lossless, quality=90)
    return out.getvalue()


def make_tiff(
    width: int = 64, height: int = 48, *, pages: int = 1, compression: str | None = None, mode: str = "RGB"
) -> bytes:
    """A TIFF of picture() in `mode` ("RGB", "CMYK", "I;16", "F", "1"...); pages > 1 repeats it as further pages.

    compression is libtiff's name: "tiff_lzw", "jpeg", "group4" (1-bit only), "tiff_adobe_deflate".
    """
    first = picture(width, height)
    if mode == "I;16":
        first = first.convert("L").point(lambda value: value * 257, "I").convert("I;16")
    else:
        first = first.convert(mode)
    others = [first.copy() for _ in range(pages - 1)]
    out = io.BytesIO()
    extra = {"compression": compression} if compression else {}
    first.save(out, "TIFF", save_all=pages > 1, append_images=others, **extra)
    return out.getvalue()


# The BMP layouts the corpus covers (see make_bmp).
BMP_VARIANTS = ("1bit", "8bit", "24bit", "32bit", "rle8", "rgb565", "top_down")


def make_bmp(variant: str = "24bit", width: int = 64, height: int = 48) -> bytes:
    """A BMP in one of BMP_VARIANTS: 1/8/24/32-bit as Pillow writes them; and, written here because Pillow cannot,
    8-bit run-length encoded (RLE8), 16-bit RGB565 with BI_BITFIELDS masks, and 24-bit stored top-down."""
    image = picture(width, height)
    if variant in ("1bit", "8bit", "24bit", "32bit"):
        out = io.BytesIO()
        {"1bit": image.convert("1"), "8bit": image.convert("P"), "24bit": image, "32bit": image.convert("RGBA")}[
            variant
        ].save(out, "BMP")
        return out.getvalue()
    if variant == "rle8":
        paletted = image.quantize(16)
        palette = paletted.getpalette()[: 16 * 3]
        table = b"".join(bytes((palette[i + 2], palette[i + 1], palette[i], 0)) for i in range(0, len(palette), 3))
        pixels = paletted.tobytes()
        data = bytearray()
        for y in reversed(range(height)):  # bottom-up
            row = pixels[y * width : (y + 1) * width]
            x = 0
            while x < width:
                run = 1
                while x + run < width and run < 255 and row[x + run] == row[x]:
                    run += 1
                data += bytes((run, row[x]))
                x += run
            data += b"\0\0"  # end of line
        data += b"\0\1"  # end of bitmap
        return _bmp(width, height, 8, 1, bytes(data), extra=table, colours=16)
    if variant == "rgb565":
        stride = (width * 2 + 3) // 4 * 4
        rows = []
        for y in reversed(range(height)):
            row = b"".join(
                struct.pack("<H", (r >> 3) << 11 | (g >> 2) << 5 | b >> 3)
                for r, g, b in (image.getpixel((x, y)) for x in range(width))
            )
            rows.append(row.ljust(stride, b"\0"))
        masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
        return _bmp(width, height, 16, 3, b"".join(rows), extra=masks)
    if variant == "top_down":
        stride = (width * 3 + 3) // 4 * 4
        bgr = image.tobytes("raw", "BGR")
        rows = b"".join(bgr[y * width * 3 : (y + 1) * width * 3].ljust(stride, b"\0") for y in range(height))
        return _bmp(width, -height, 24, 0, rows)
    raise ValueError(f"unknown BMP variant {variant!r}")


def _bmp(width: int, height: int, bits: int, compression: int, pixels: bytes, *, extra: bytes = b"", colours: int = 0) -> bytes:
    """BITMAPFILEHEADER + BITMAPINFOHEADER + `extra` (palette or BI_BITFIELDS masks) + pixels."""
    offset = 14 + 40 + len(extra)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression, len(pixels), 2835, 2835, colours, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + extra + pixels


def make_animated(
    image_format: str = "GIF",
    *,
    size: tuple[int, int] = (32, 24),
    colours: tuple[str, ...] = ("red", "blue", "green"),
) -> bytes:
    """An animated GIF, WebP or PNG (APNG) with one solid colour per frame."""
    frames = [Image.new("RGB", size, colour) for colour in colours]
    out = io.BytesIO()
    frames[0].save(out, image_format, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def truncated_jpeg(width: int = 256, height: int = 192) -> bytes:
    """A camera JPEG cut off after 60 % of its bytes, as an interrupted upload leaves it."""
    return truncated(make_jpeg(width, height, detail=True))


def truncated(data: bytes, *, keep: float = 0.6) -> bytes:
    """The first `keep` of a file's bytes, as an interrupted transfer leaves it."""
    return data[: int(len(data) * keep)]


def damaged(data: bytes, *, at: float = 0.5, length: int = 40) -> bytes:
    """The same number of bytes with `length` of them scrambled from `at` of the way in, as bad storage leaves them."""
    scrambled = bytearray(data)
    start = int(len(data) * at)
    for index in range(start, min(start + length, len(data))):
        scrambled[index] ^= 0x5A
    return bytes(scrambled)


def decompression_bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid-looking ~100-byte PNG declaring width × height pixels (IHDR written by hand)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return _png(header, zlib.compress(b"\0" * 64))


def decompression_bomb_gif(width: int = 20000, height: int = 20000) -> bytes:
    """A few dozen bytes of GIF whose one frame declares width × height pixels."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(6)  # 2-colour global palette
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + frame + b";"


def decompression_bomb_bmp(width: int = 20000, height: int = 20000) -> bytes:
    """A 24-bit BMP header declaring width × height pixels, followed by one row of them."""
    return _bmp(width, height, 24, 0, bytes((width * 3 + 3) // 4 * 4))


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
