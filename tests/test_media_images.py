"""assets.media for images: identification by content, full decoding, the pixel guard, EXIF, thumbnails."""

import io
import json

import pytest
from PIL import Image, JpegImagePlugin, PngImagePlugin

from assets.media import MediaError, inspect_image, make_thumbnail, read_image
from tests import media_factory as factory


def inspect(data: bytes, **options):
    return inspect_image(io.BytesIO(data), **options)


def thumbnail(data: bytes, **options) -> Image.Image:
    jpeg = make_thumbnail(io.BytesIO(data), **options)
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image


def is_red(pixel) -> bool:
    red, green, blue = pixel[:3]
    return red > 180 and green < 80 and blue < 80


def test_it_reads_a_camera_jpeg():
    info = inspect(factory.make_jpeg(64, 48, gps=True))

    assert info["format"] == "JPEG"
    assert info["mime"] == "image/jpeg"
    assert (info["width"], info["height"], info["raw_width"], info["raw_height"]) == (
        64,
        48,
        64,
        48,
    )
    assert info["mode"] == "RGB"
    assert info["frames"] == 1 and info["animated"] is False
    assert info["exif"] == {
        "make": factory.CAMERA_MAKE,
        "model": factory.CAMERA_MODEL,
        "datetime_original": "2024-05-01T10:20:30",
        "orientation": None,
        "has_gps": True,
    }


def test_its_metadata_is_json_serialisable():
    info = inspect(factory.make_jpeg(orientation=6, gps=True))

    assert json.loads(json.dumps(info)) == info


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_it_swaps_width_and_height_for_turned_exif_orientations(orientation):
    info = inspect(factory.make_jpeg(64, 48, orientation=orientation))

    assert (info["width"], info["height"]) == (48, 64)
    assert (info["raw_width"], info["raw_height"]) == (64, 48)
    assert info["exif"]["orientation"] == orientation


def test_it_keeps_width_and_height_for_upright_orientations():
    info = inspect(factory.make_jpeg(64, 48, orientation=3))

    assert (info["width"], info["height"]) == (64, 48)


def test_it_reports_missing_exif_fields_as_none():
    info = inspect(factory.make_png(40, 30))

    assert info["format"] == "PNG" and info["mime"] == "image/png"
    assert (info["width"], info["height"]) == (40, 30)
    assert info["exif"] == {
        "make": None,
        "model": None,
        "datetime_original": None,
        "orientation": None,
        "has_gps": False,
    }


@pytest.mark.parametrize("image_format", ["GIF", "WEBP"])
def test_it_counts_the_frames_of_an_animation(image_format):
    info = inspect(factory.make_animated(image_format, colours=("red", "blue", "green", "white")))

    assert info["format"] == image_format
    assert info["frames"] == 4
    assert info["animated"] is True


def test_it_identifies_by_content_not_by_the_name_a_file_claims():
    upload = io.BytesIO(factory.make_png())
    upload.name = "holiday.jpg"

    assert inspect_image(upload)["format"] == "PNG"


def test_it_leaves_the_callers_file_open():
    upload = io.BytesIO(factory.make_jpeg())

    inspect_image(upload)

    assert not upload.closed
    make_thumbnail(upload)
    assert not upload.closed


@pytest.mark.parametrize(
    "data", [b"name,url\nfront door,https://example.com/a.jpg\n" * 20, bytes(range(256)) * 40]
)
def test_it_rejects_bytes_that_are_not_an_image(data):
    with pytest.raises(
        MediaError, match=r"not a readable image.*accepts JPEG, PNG, WEBP, TIFF, BMP or GIF"
    ):
        inspect(data)


def test_it_rejects_a_format_the_project_does_not_accept_and_names_it():
    with pytest.raises(MediaError) as error:
        inspect(factory.make_png(), allowed_formats=("JPEG", "WEBP"))

    assert "PNG" in str(error.value)
    assert "does not accept" in str(error.value)
    assert "JPEG or WEBP" in str(error.value)


def test_allowed_formats_are_not_case_sensitive():
    assert inspect(factory.make_png(), allowed_formats=("png",))["format"] == "PNG"


def test_it_rejects_a_truncated_jpeg():
    with pytest.raises(MediaError, match=r"ends early \(truncated JPEG\)"):
        inspect(factory.truncated_jpeg())


def test_it_rejects_a_truncated_png():
    png = factory.make_png(300, 200)

    with pytest.raises(MediaError, match=r"ends early \(truncated PNG\)"):
        inspect(png[: len(png) // 2])


def test_the_bomb_png_is_tiny_and_declares_20000_by_20000():
    bomb = factory.decompression_bomb_png()

    assert len(bomb) < 150
    assert PngImagePlugin.PngImageFile(io.BytesIO(bomb)).size == (20000, 20000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb))


def test_it_rejects_a_decompression_bomb():
    with pytest.raises(MediaError) as error:
        inspect(factory.decompression_bomb_png(20000, 20000))

    assert (
        str(error.value)
        == "The image declares 20000 × 20000 pixels, more than the 89 million the portal decodes."
    )


def test_it_treats_pillows_bomb_warning_as_an_error():
    # 100 M pixels: above Pillow's limit, below the 2x at which Pillow itself raises.
    with (
        pytest.warns(Image.DecompressionBombWarning),
        pytest.raises(MediaError, match="10000 × 10000 pixels"),
    ):
        inspect(factory.decompression_bomb_png(10000, 10000))


def test_it_keeps_a_pixel_limit_when_pillows_guard_is_switched_off(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    with pytest.raises(MediaError, match="89 million"):
        inspect(factory.decompression_bomb_png(10000, 10000))


def test_it_names_a_bomb_in_a_format_the_project_does_not_accept():
    with pytest.raises(MediaError, match="PNG format, which this project does not accept"):
        inspect(factory.decompression_bomb_png(), allowed_formats=("JPEG",))


def test_it_requires_camera_metadata_when_the_project_asks():
    with pytest.raises(MediaError) as error:
        inspect(factory.make_jpeg(exif=False), require_camera_metadata=True)

    assert (
        str(error.value) == "The image has no camera metadata (EXIF), which this project requires."
    )


def test_it_accepts_camera_metadata_when_the_project_asks():
    info = inspect(factory.make_jpeg(exif=True), require_camera_metadata=True)

    assert info["exif"]["make"] == factory.CAMERA_MAKE


def test_it_does_not_require_camera_metadata_by_default():
    assert inspect(factory.make_jpeg(exif=False))["exif"]["make"] is None


def test_thumbnail_is_a_jpeg_within_the_box():
    image = thumbnail(factory.make_jpeg(800, 400))

    assert image.size == (320, 160)
    assert image.mode == "RGB"


def test_thumbnail_honours_a_custom_box():
    assert thumbnail(factory.make_jpeg(800, 400), max_size=(100, 100)).size == (100, 50)


def test_thumbnail_is_never_upscaled():
    assert thumbnail(factory.make_png(20, 10)).size == (20, 10)


def test_thumbnail_applies_exif_orientation():
    # Orientation 6: the stored picture is turned 90° clockwise for display; its red top-left goes top-right.
    image = thumbnail(factory.make_jpeg(400, 200, orientation=6))

    assert image.size == (160, 320)
    assert is_red(image.getpixel((image.width - 5, 5)))
    assert not is_red(image.getpixel((5, 5)))


def test_thumbnail_uses_the_first_frame_of_an_animation():
    image = thumbnail(factory.make_animated("GIF", colours=("red", "blue")))

    assert is_red(image.getpixel((5, 5)))


def test_thumbnail_turns_transparency_white():
    image = thumbnail(factory.make_png(mode="RGBA"))

    assert image.getpixel((5, 5)) == (255, 255, 255)


def test_thumbnail_refuses_a_decompression_bomb():
    with pytest.raises(MediaError, match="20000 × 20000"):
        make_thumbnail(io.BytesIO(factory.decompression_bomb_png()))


def test_thumbnail_refuses_bytes_that_are_not_an_image():
    with pytest.raises(MediaError, match="not a readable image"):
        make_thumbnail(io.BytesIO(b"%PDF-1.7\n" + bytes(500)))


def test_one_read_gives_the_metadata_and_the_thumbnail():
    result = read_image(io.BytesIO(factory.make_jpeg(800, 400, orientation=6)), require_camera_metadata=True)

    assert result.metadata == inspect(factory.make_jpeg(800, 400, orientation=6))
    assert (result.metadata["width"], result.metadata["height"]) == (400, 800)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (160, 320)


def test_a_jpeg_is_decoded_at_the_smallest_scale_the_thumbnail_allows(monkeypatch):
    decoded_sizes = []
    load = JpegImagePlugin.JpegImageFile.load

    def spy(image):
        decoded_sizes.append(image.size)
        return load(image)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)

    result = read_image(io.BytesIO(factory.make_jpeg(2600, 1950)))

    # 1/8 scale: 325 × 244 still covers the 320 px box; the metadata keeps the stored size.
    assert decoded_sizes[0] == (325, 244)
    assert (result.metadata["width"], result.metadata["height"]) == (2600, 1950)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (320, 240)


def _full_decode_refuses(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        return True
    return False


def test_the_reduced_decoding_of_a_jpeg_refuses_what_a_full_decode_refuses():
    # Reduce-on-load still entropy-decodes every block: cuts and scrambles anywhere give the full decode's verdict.
    for progressive in (False, True):
        original = factory.make_jpeg(640, 480, detail=True, progressive=progressive)
        variants = [factory.truncated(original, keep=keep / 20) for keep in range(2, 20)]
        variants += [factory.damaged(original, at=at / 20, length=length) for at in range(1, 20) for length in (4, 400)]
        refused_in_full = [_full_decode_refuses(data) for data in variants]
        refused_reduced = []
        for data in variants:
            try:
                read_image(io.BytesIO(data), thumbnail_size=(40, 40))  # 1/8 scale, as a 12 MP photo for 320 px
                refused_reduced.append(False)
            except MediaError:
                refused_reduced.append(True)

        assert refused_reduced == refused_in_full
        assert sum(refused_in_full[:18]) == 18  # every cut is refused
