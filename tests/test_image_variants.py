"""Images as people really have them, taken from the upload's completion through verification and the worker's
processing (assets.tasks.verify_uploads, then assets.tasks.process_image): every variant of every format a project
can take reaches Ready with a thumbnail, or Upload Error with a reason that names its real problem."""

import hashlib
import io

import pytest
from PIL import Image

from assets import storage
from assets.models import Asset
from tests import media_factory as factory
from uploads.services import upload_complete, upload_session_register

S = Asset.Status
TRUNCATED = "The file is not a readable image: it ends early (truncated {})."
DAMAGED = "The file is not a readable image: its {} data is damaged."
OVERSIZED = "The image declares 20000 × 20000 pixels, more than the 89 million the portal decodes."
ANIMATED = (
    "The image is animated (3 frames); this project takes only still images. Upload a still image (one frame) instead."
)
animation = factory.make_animated  # red, blue and green frames

# name: (bytes, frames counted, what the thumbnail's top-left corner shows: red, grey, white or None to skip)
READY = {
    "baseline JPEG": (factory.make_jpeg(), 1, "red"),
    "progressive JPEG": (factory.make_jpeg(progressive=True), 1, "red"),
    "CMYK JPEG": (factory.make_jpeg(mode="CMYK", exif=False), 1, "red"),
    "greyscale JPEG": (factory.make_jpeg(mode="L"), 1, "grey"),
    "RGB PNG": (factory.make_png(), 1, "red"),
    "interlaced PNG": (factory.make_png(interlace=True), 1, "red"),
    "transparent PNG": (factory.make_png(mode="RGBA"), 1, "white"),
    "greyscale PNG with alpha": (factory.make_png(mode="LA"), 1, "grey"),
    "palette PNG": (factory.make_png(mode="P"), 1, "red"),
    "1-bit PNG": (factory.make_png(mode="1"), 1, None),
    "16-bit RGB PNG": (factory.make_png_16bit(), 1, "red"),
    "16-bit greyscale PNG": (factory.make_png_16bit(colour=False), 1, "grey"),
    "APNG": (animation("PNG"), 3, "red"),
    "still GIF": (factory.make_gif(), 1, "red"),
    "animated GIF": (animation("GIF"), 3, "red"),
    "lossy WebP": (factory.make_webp(), 1, "red"),
    "lossless WebP": (factory.make_webp(lossless=True), 1, "red"),
    "WebP with alpha": (factory.make_webp(alpha=True), 1, "red"),
    "animated WebP": (animation("WEBP"), 3, "red"),
    "multi-page TIFF": (factory.make_tiff(pages=3), 3, "red"),
    "LZW TIFF": (factory.make_tiff(compression="tiff_lzw"), 1, "red"),
    "JPEG-compressed TIFF": (factory.make_tiff(compression="jpeg"), 1, "red"),
    "CCITT group 4 TIFF": (factory.make_tiff(mode="1", compression="group4"), 1, None),
    "CMYK TIFF": (factory.make_tiff(mode="CMYK"), 1, "red"),
    "16-bit TIFF": (factory.make_tiff(mode="I;16"), 1, "grey"),
    "float TIFF": (factory.make_tiff(mode="F"), 1, "black"),  # stretched to its own range: red's grey is the darkest
    **{f"{variant} BMP": (factory.make_bmp(variant), 1, None if variant == "1bit" else "red") for variant in factory.BMP_VARIANTS},
    # JPEG scan data and BMP pixels carry no checksum: scrambled bytes decode to a scrambled patch, as in a browser.
    "JPEG with scrambled scan data": (factory.damaged(factory.make_jpeg(detail=True)), 1, None),
    "BMP with scrambled pixels": (factory.damaged(factory.make_bmp("24bit")), 1, None),
}

REFUSED = {
    "truncated JPEG": (factory.truncated_jpeg(), TRUNCATED.format("JPEG")),
    "truncated progressive JPEG": (factory.truncated(factory.make_jpeg(detail=True, progressive=True)), TRUNCATED.format("JPEG")),
    "truncated PNG": (factory.truncated(factory.make_png(300, 200)), TRUNCATED.format("PNG")),
    "truncated 16-bit PNG": (factory.truncated(factory.make_png_16bit()), TRUNCATED.format("PNG")),
    "truncated APNG": (factory.truncated(animation("PNG")), TRUNCATED.format("PNG")),
    "truncated animated GIF": (factory.truncated(animation("GIF")), TRUNCATED.format("GIF")),
    "truncated WebP": (factory.truncated(factory.make_webp()), TRUNCATED.format("WebP")),
    "truncated animated WebP": (factory.truncated(animation("WEBP")), TRUNCATED.format("WebP")),
    "truncated multi-page TIFF": (factory.truncated(factory.make_tiff(pages=3)), TRUNCATED.format("TIFF")),
    "truncated LZW TIFF": (factory.truncated(factory.make_tiff(compression="tiff_lzw")), TRUNCATED.format("TIFF")),
    "truncated BMP": (factory.truncated(factory.make_bmp("24bit")), TRUNCATED.format("BMP")),
    "damaged PNG": (factory.damaged(factory.make_png(300, 200)), DAMAGED.format("PNG")),
    "damaged GIF": (factory.damaged(factory.make_gif(300, 200)), DAMAGED.format("GIF")),
    "damaged animated WebP": (factory.damaged(animation("WEBP")), DAMAGED.format("WebP")),
    "damaged LZW TIFF": (factory.damaged(factory.make_tiff(300, 200, compression="tiff_lzw")), DAMAGED.format("TIFF")),
    "oversized PNG": (factory.decompression_bomb_png(), OVERSIZED),
    "oversized GIF": (factory.decompression_bomb_gif(), OVERSIZED),
    "oversized BMP": (factory.decompression_bomb_bmp(), OVERSIZED),
    "icon": (
        factory.make_ico(),
        "The file is an ICO image (image/x-icon), a format the portal does not process;"
        " save it as JPEG, PNG, WebP, TIFF, BMP or GIF and upload it again.",
    ),
}


@pytest.fixture
def process(storage_backend, upload_session, eager_tasks, django_capture_on_commit_callbacks):
    """Sends one file the way the browser does and lets the verification and processing tasks run."""

    def send(name: str, data: bytes) -> Asset:
        [result] = upload_session_register(
            session=upload_session,
            user=upload_session.created_by,
            files=[{"name": name, "size": len(data), "contentType": "image/png", "sha256": hashlib.sha256(data).hexdigest()}],
        )
        storage.write(result.asset.storage_key, io.BytesIO(data))
        with django_capture_on_commit_callbacks(execute=True):
            upload_complete(session=upload_session, asset_ids=[str(result.asset.pk)])
        result.asset.refresh_from_db()
        return result.asset

    return send


def _corner(thumbnail: Image.Image) -> str:
    red, green, blue = thumbnail.convert("RGB").getpixel((2, 2))
    if min(red, green, blue) > 240:
        return "white"
    if max(red, green, blue) < 15:
        return "black"
    if red > 170 and green < 90 and blue < 90:
        return "red"
    if max(red, green, blue) - min(red, green, blue) < 12:
        return "grey"
    return f"{(red, green, blue)}"


@pytest.mark.parametrize("storage_backend", ["embedded"], indirect=True)
@pytest.mark.parametrize("name", READY)
def test_every_variant_of_the_formats_a_project_takes_reaches_ready_with_a_thumbnail(process, name):
    data, frames, corner = READY[name]

    asset = process(name, data)

    assert (asset.status, asset.error_reason) == (S.READY, "")
    assert asset.media_metadata["frames"] == frames
    assert asset.media_metadata["animated"] is (frames > 1 and "TIFF" not in name)
    with storage.open(asset.thumbnail_key) as stored:
        thumbnail = Image.open(io.BytesIO(stored.read()))
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (asset.media_metadata["width"], asset.media_metadata["height"])  # small: never upscaled
    if corner is not None:
        assert _corner(thumbnail) == corner


@pytest.mark.parametrize("storage_backend", ["embedded"], indirect=True)
@pytest.mark.parametrize("name", REFUSED)
def test_a_broken_or_foreign_image_is_refused_with_its_real_problem(process, name):
    data, reason = REFUSED[name]

    asset = process(name, data)

    assert (asset.status, asset.error_reason) == (S.UPLOAD_ERROR, reason)
    assert asset.thumbnail_key == ""


@pytest.mark.parametrize("storage_backend", ["embedded"], indirect=True)
@pytest.mark.parametrize("image_format", ["PNG", "GIF", "WEBP"])
def test_a_project_that_refuses_animations_says_animation_is_the_reason(process, upload_session, image_format):
    project = upload_session.project
    project.allow_animated_images = False
    project.save()

    refused = process("moving.png", animation(image_format))
    still = process("still.png", factory.make_png())

    assert (refused.status, refused.error_reason) == (S.UPLOAD_ERROR, ANIMATED)
    assert still.status == S.READY


@pytest.mark.parametrize("storage_backend", ["embedded"], indirect=True)
def test_an_apng_is_an_image_from_verification_on(process):
    asset = process("moving.png", animation("PNG"))

    assert asset.status == S.READY
    assert asset.content_type == "image/apng"
    assert asset.media_metadata["mime"] == "image/apng"
