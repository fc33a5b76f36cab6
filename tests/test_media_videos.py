"""assets.media for videos: probing (counts, rates, VFR, rotation), posters, renditions, bad inputs."""

import io
import os
import struct
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image

from assets import media
from assets.media import MediaError, make_poster, make_rendition, needs_rendition, probe_video
from tests import media_factory as factory


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Tiny clips made once for the module; tests that write files use their own tmp_path."""
    folder = tmp_path_factory.mktemp("clips")
    return {
        "mp4": factory.make_video(folder / "cfr.mp4", frames=45, fps=30, size=(160, 120)),
        "mp4_aac": factory.make_video(folder / "speech.mp4", frames=30, audio="aac"),
        "vfr_mkv": factory.make_video(folder / "phone.mkv", container="mkv", frames=30, vfr=True),
        "vfr_mkv_pcm": factory.make_video(
            folder / "sound.mkv", container="mkv", frames=30, vfr=True, audio="pcm_s16le"
        ),
        "vfr_mp4": factory.make_video(folder / "phone.mp4", frames=40, vfr=True),
        "ntsc_mkv": factory.make_video(
            folder / "ntsc.mkv", container="mkv", frames=60, fps="30000/1001"
        ),
        "vp8": factory.make_video(
            folder / "vp8.webm", container="webm", codec="libvpx", frames=25, fps=25
        ),
        "vp9": factory.make_video(
            folder / "vp9.webm",
            container="webm",
            codec="libvpx-vp9",
            frames=24,
            fps=24,
            size=(161, 121),
            audio="libopus",
        ),
        "ts": factory.make_video(folder / "broadcast.ts", container="ts", frames=30),
        "rotated": factory.make_video(folder / "portrait.mp4", rotation=90, size=(64, 48)),
    }


def top_level_boxes(path: Path) -> list[str]:
    """The MP4 box types at the top of the file, in order, read from their 8-byte headers."""
    boxes = []
    with open(path, "rb") as mp4:
        while header := mp4.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", mp4.read(8))[0] - 8
            elif size == 0:
                boxes.append(kind.decode())
                break
            boxes.append(kind.decode())
            mp4.seek(size - 8, os.SEEK_CUR)
    return boxes


def jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def is_white(pixel) -> bool:
    return min(pixel) > 200


def test_it_probes_an_h264_mp4_at_a_constant_rate(clips):
    info = probe_video(clips["mp4"])

    assert info["container"] == "mp4"
    assert info["mime"] == "video/mp4"
    assert info["video_codec"] == "h264"
    assert info["audio_codec"] is None
    assert (info["width"], info["height"], info["rotation"]) == (160, 120, 0)
    assert info["duration_seconds"] == 1.5
    assert info["avg_frame_rate"] == 30.0 and info["avg_frame_rate_fraction"] == "30/1"
    assert info["r_frame_rate"] == 30.0 and info["r_frame_rate_fraction"] == "30/1"
    assert info["variable_frame_rate"] is False
    assert info["frame_count"] == 45
    assert info["frame_count_source"] == "container"


def test_it_counts_a_vfr_mkv_by_demuxing_and_sees_through_its_header(clips):
    info = probe_video(clips["vfr_mkv"])

    assert info["container"] == "mkv" and info["mime"] == "video/x-matroska"
    assert (info["width"], info["height"]) == (64, 48)
    assert info["frame_count"] == 30
    assert info["frame_count_source"] == "packets"
    # The header claims a steady 30 fps either way: only the packet timestamps tell the truth.
    assert info["avg_frame_rate"] == info["r_frame_rate"] == 30.0
    assert info["variable_frame_rate"] is True


def test_it_flags_a_vfr_mp4_from_its_sample_index(clips):
    info = probe_video(clips["vfr_mp4"])

    assert info["frame_count"] == 40
    assert info["frame_count_source"] == "container"
    assert info["variable_frame_rate"] is True


def test_it_does_not_mistake_ntsc_timestamp_rounding_for_vfr(clips):
    # 30000/1001 on Matroska's 1 ms clock gives gaps of 33 and 34 ms.
    info = probe_video(clips["ntsc_mkv"])

    assert info["avg_frame_rate_fraction"] == "30000/1001"
    assert info["variable_frame_rate"] is False
    assert info["frame_count"] == 60


@pytest.mark.parametrize(
    ("clip", "codec", "frames", "fps", "size", "audio"),
    [("vp8", "vp8", 25, 25.0, (64, 48), None), ("vp9", "vp9", 24, 24.0, (161, 121), "opus")],
)
def test_it_probes_webm(clips, clip, codec, frames, fps, size, audio):
    info = probe_video(clips[clip])

    assert info["container"] == "webm" and info["mime"] == "video/webm"
    assert info["video_codec"] == codec
    assert info["audio_codec"] == audio
    assert (info["width"], info["height"]) == size
    assert info["avg_frame_rate"] == fps
    assert info["frame_count"] == frames
    assert info["frame_count_source"] == "packets"
    assert info["variable_frame_rate"] is False


def test_it_counts_an_mpeg_ts_clip(clips):
    info = probe_video(clips["ts"])

    assert info["container"] == "ts"
    assert info["frame_count"] == 30
    assert info["frame_count_source"] == "packets"


def test_it_reads_the_audio_codec(clips):
    assert probe_video(clips["mp4_aac"])["audio_codec"] == "aac"


def track_matrix(path: Path) -> tuple[int, ...]:
    """a, b, c, d of the first track header's display matrix, in 16.16 fixed point."""
    data = path.read_bytes()
    version_at = data.index(b"tkhd") + 4
    matrix_at = version_at + (52 if data[version_at] == 1 else 40)
    a, b, _, c, d, *_ = struct.unpack(">9i", data[matrix_at : matrix_at + 36])
    return a, b, c, d


def test_it_reads_the_rotation_from_the_display_matrix(clips):
    # The matrix a phone held upright writes: turn the stored landscape picture 90° clockwise.
    assert track_matrix(clips["rotated"]) == (0, 0x10000, -0x10000, 0)

    info = probe_video(clips["rotated"])

    assert info["rotation"] == 90
    assert (info["width"], info["height"]) == (64, 48)
    assert (info["display_width"], info["display_height"]) == (48, 64)


@pytest.mark.parametrize("rotation", [180, 270])
def test_it_reads_other_rotations(tmp_path, rotation):
    clip = factory.make_video(tmp_path / "turned.mp4", frames=2, rotation=rotation)

    assert probe_video(clip)["rotation"] == rotation


def test_without_counting_it_estimates_the_frames_of_long_mkv_files(tmp_path, monkeypatch):
    clip = factory.make_video(tmp_path / "long.mkv", container="mkv", frames=90, vfr=True)
    exact = probe_video(clip)
    monkeypatch.setattr(media, "SAMPLE_PACKETS", 50)

    info = probe_video(clip, count_frames=False)

    assert exact["frame_count"] == 90
    assert info["frame_count_source"] == "estimate"
    # The header's 30 fps times the duration: not the 90 frames the file holds.
    assert info["frame_count"] == round(exact["duration_seconds"] * 30) != 90
    assert info["variable_frame_rate"] is True  # the first 50 packets already show it


def test_without_counting_mp4_still_has_an_exact_count(clips):
    info = probe_video(clips["mp4"], count_frames=False)

    assert (info["frame_count"], info["frame_count_source"]) == (45, "container")


def test_it_rejects_random_bytes_even_with_a_video_name(tmp_path):
    with pytest.raises(MediaError) as error:
        probe_video(factory.random_bytes_file(tmp_path / "clip.mp4"))

    assert str(error.value) == "The file is not a video this portal can read."


@pytest.mark.parametrize("name", ["upload.bin", "clip.mjpeg", "clip.vc1", "clip.vvc"])
def test_it_goes_by_content_not_by_extension(tmp_path, name):
    # Given these names, FFmpeg opens random bytes as "bintext", MJPEG, VC-1 or VVC video.
    with pytest.raises(MediaError, match="not a video this portal can read"):
        probe_video(factory.random_bytes_file(tmp_path / name))


def test_it_rejects_a_text_file_named_txt(tmp_path):
    # By name FFmpeg would open this as "tty" (ANSI art) video.
    with pytest.raises(MediaError, match="not a video this portal can read"):
        probe_video(factory.text_file(tmp_path / "list.txt"))


def test_it_rejects_an_empty_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")

    with pytest.raises(MediaError, match="not a video"):
        probe_video(empty)


def test_it_rejects_an_image(tmp_path):
    still = tmp_path / "still.mp4"
    still.write_bytes(factory.make_png())

    with pytest.raises(MediaError, match="image, not a video"):
        probe_video(still)


def test_it_rejects_audio_without_video(tmp_path):
    with pytest.raises(MediaError, match="no video track"):
        probe_video(factory.make_audio(tmp_path / "tone.mp4"))


def test_it_rejects_a_video_without_frames(tmp_path):
    with pytest.raises(MediaError) as error:
        probe_video(factory.zero_frame_video(tmp_path / "empty.mkv"))

    assert str(error.value) == "The video has no frames."


def test_poster_is_a_jpeg_of_the_frame_about_ten_percent_in(clips):
    image = jpeg(make_poster(clips["mp4"]))

    assert image.size == (160, 120)  # within 640 × 640 and never upscaled
    # Frame i is red = 8 * i; 10 % of 1.5 s lands on frame 5 (the first at or after 0.15 s).
    assert abs(image.getpixel((120, 90))[0] - 40) <= 5


def test_poster_of_a_vfr_clip_uses_timestamps_not_frame_numbers(clips):
    # 10 % of 1.334 s is 0.133 s: frames sit at 0, 20, 70, 103, 183 ms, so frame 4 (red 32).
    image = jpeg(make_poster(clips["vfr_mkv"]))

    assert abs(image.getpixel((48, 36))[0] - 32) <= 5


def test_poster_fits_a_custom_box(clips):
    assert jpeg(make_poster(clips["mp4"], max_size=(80, 80))).size == (80, 60)


def test_poster_is_turned_upright(clips):
    image = jpeg(make_poster(clips["rotated"]))

    # Stored landscape with a white top-left; turned 90° clockwise it is portrait, white top-right.
    assert image.size == (48, 64)
    assert is_white(image.getpixel((40, 8)))
    assert not is_white(image.getpixel((8, 8)))


def test_poster_of_webm(clips):
    assert jpeg(make_poster(clips["vp9"])).size == (161, 121)


def test_poster_rejects_a_non_video(tmp_path):
    with pytest.raises(MediaError, match="not a video"):
        make_poster(factory.random_bytes_file(tmp_path / "noise.mov"))


PLAYABLE = {
    "container": "mp4",
    "video_codec": "h264",
    "audio_codec": None,
    "variable_frame_rate": False,
    "pix_fmt": "yuv420p",
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, False),
        ({"audio_codec": "aac"}, False),
        ({"container": "mov"}, False),
        ({"container": "mkv"}, True),
        ({"container": "webm", "video_codec": "vp9"}, True),
        ({"video_codec": "hevc"}, True),
        ({"audio_codec": "opus"}, True),
        ({"audio_codec": "pcm_s16le"}, True),
        ({"variable_frame_rate": True}, True),
        ({"audio_codec": "aac", "variable_frame_rate": True}, True),
        ({"pix_fmt": "yuv420p10le"}, True),
    ],
)
def test_needs_rendition(changes, expected):
    assert needs_rendition({**PLAYABLE, **changes}) is expected


def test_needs_rendition_agrees_with_probes(clips):
    assert needs_rendition(probe_video(clips["mp4"])) is False
    assert needs_rendition(probe_video(clips["mp4_aac"])) is False
    assert needs_rendition(probe_video(clips["vfr_mp4"])) is True
    assert needs_rendition(probe_video(clips["vfr_mkv"])) is True
    assert needs_rendition(probe_video(clips["vp8"])) is True


def test_rendition_of_a_vfr_mkv_is_a_constant_rate_h264_mp4_with_moov_first(clips, tmp_path):
    source = probe_video(clips["vfr_mkv"])
    target = tmp_path / "rendition.mp4"

    info = make_rendition(clips["vfr_mkv"], target)

    assert info["container"] == "mp4"
    assert info["video_codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert info["variable_frame_rate"] is False
    assert info["avg_frame_rate_fraction"] == "30/1"
    assert abs(info["frame_count"] - source["duration_seconds"] * 30) <= 1
    assert abs(info["frame_count"] - info["duration_seconds"] * 30) <= 1
    assert needs_rendition(info) is False
    boxes = top_level_boxes(target)
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")
    assert sorted(os.listdir(tmp_path)) == ["rendition.mp4"]  # no partial file left behind


def test_rendition_returns_what_a_fresh_probe_reports(clips, tmp_path):
    info = make_rendition(clips["vfr_mkv"], tmp_path / "copy.mp4")

    assert info == probe_video(tmp_path / "copy.mp4")


def test_rendition_turns_audio_into_aac(clips, tmp_path):
    info = make_rendition(clips["vfr_mkv_pcm"], tmp_path / "with-sound.mp4")

    assert info["audio_codec"] == "aac"
    assert needs_rendition(info) is False


def test_rendition_has_an_even_size(clips, tmp_path):
    info = make_rendition(clips["vp9"], tmp_path / "even.mp4")

    assert (info["width"], info["height"]) == (160, 120)
    assert info["avg_frame_rate_fraction"] == "24/1"
    assert info["frame_count"] == 24


def test_rendition_keeps_an_ntsc_rate(clips, tmp_path):
    info = make_rendition(clips["ntsc_mkv"], tmp_path / "ntsc.mp4")

    assert info["avg_frame_rate_fraction"] == "30000/1001"
    assert info["frame_count"] == 60


def test_rendition_takes_an_explicit_rate(clips, tmp_path):
    info = make_rendition(clips["mp4"], tmp_path / "pal.mp4", fps=Fraction(25))

    assert info["avg_frame_rate_fraction"] == "25/1"
    assert abs(info["frame_count"] - 1.5 * 25) <= 1


def test_rendition_is_upright(clips, tmp_path):
    target = tmp_path / "upright.mp4"

    info = make_rendition(clips["rotated"], target)

    assert info["rotation"] == 0
    assert (info["width"], info["height"]) == (48, 64)
    poster = jpeg(make_poster(target))
    assert is_white(poster.getpixel((40, 8)))
    assert not is_white(poster.getpixel((8, 8)))


def test_rendition_of_a_non_video_raises_and_writes_nothing(tmp_path):
    with pytest.raises(MediaError, match="not a video"):
        make_rendition(factory.text_file(tmp_path / "notes.txt"), tmp_path / "out.mp4")

    assert not (tmp_path / "out.mp4").exists()
    assert not (tmp_path / "out.mp4.part").exists()
