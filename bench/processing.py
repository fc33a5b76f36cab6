"""How much media one worker process gets through, against issue 21's worker targets: prints JSON figures.

    .venv/bin/python bench/processing.py [--images 8] [--runs 3] [--cache var/bench-media]

Images: generated 12 MP (4000 × 3000) camera JPEGs with EXIF, each read the way the worker reads a stored object
(processing.copy_hashing: chunks copied into memory with the sha256 computed as they pass) and given to
media.read_image (validation + EXIF + 320 px thumbnail in one reduced decode). Side by side in every run, on the same
files, the path before this change (a full-size decode to validate, then a second, reduced decode for the
thumbnail), so the speed-up is measured under the same load.

Videos, generated once and kept in --cache: a 10 s 1920 × 1080 H.264 MP4 at 30 fps (a moving test pattern with
sensor-like noise; x264 veryfast, CRF 20, High profile, a keyframe every 2 s, ~12 Mbit/s: what a phone records),
and six copies of it one after the other (packets copied, no re-encoding) as the minute for probe + poster. The
rendition is made from the 10 s clip (the worker makes one for an MKV, a VFR file...: the work is the same); its
quality is SSIM against the source, frame by frame (FFmpeg's ssim filter), and the preset is chosen from a table of
x264 presets measured on the same clip.

Every figure is the median of --runs runs. The machine is shared, so CPU seconds of this process (user + system,
all its threads) are reported beside wall seconds: "per core" and "per worker process" targets are judged on CPU
time, and the load average before and after says how busy the machine was.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="bench-processing-"))

import av  # noqa: E402
import av.filter  # noqa: E402
import django  # noqa: E402
import PIL  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

django.setup()

from assets import media, processing  # noqa: E402
from tests import media_factory as factory  # noqa: E402

TARGETS = {
    "images_per_second_per_process": 40.0,
    "probe_and_poster_seconds_per_minute_1080p": 1.0,
    "rendition_realtime_per_core": 2.0,
}
FULL_HD = (1920, 1080)
FPS = 30
PRESETS = ("ultrafast", "superfast", "veryfast", "faster")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    work()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def median(values: list[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


# --- images -------------------------------------------------------------------------------------------------------


def camera_jpegs(cache: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = cache / f"photo-{index}.jpg"
        if not path.exists():
            data = factory.make_jpeg(4000, 3000, detail=True, orientation=(1, 6)[index % 2], gps=True)
            path.write_bytes(data)
        paths.append(path)
    return paths


def worker_read(path: Path) -> media.ReadImage:
    """What assets.processing.asset_process_image does with one stored image, short of writing the thumbnail."""
    with open(path, "rb") as stored, tempfile.SpooledTemporaryFile(max_size=processing.IMAGE_IN_MEMORY_BYTES) as local:
        processing.copy_hashing(stored, local)
        return media.read_image(local, require_camera_metadata=True)


def before_read(path: Path) -> bytes:
    """The path before this change: a full-size decode to validate and read EXIF, then a reduced one to thumbnail."""
    with open(path, "rb") as stored, tempfile.SpooledTemporaryFile(max_size=processing.IMAGE_IN_MEMORY_BYTES) as local:
        processing.copy_hashing(stored, local)
        with Image.open(local) as image:
            image.load()
            image.getexif()
        local.seek(0)
        with Image.open(local) as image:
            image.draft("RGB", (320, 320))
            ImageOps.exif_transpose(image, in_place=True)
            picture = image.convert("RGB")
            picture.thumbnail((320, 320), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=media.THUMBNAIL_QUALITY)
        return out.getvalue()


def bench_images(cache: Path, count: int, runs: int) -> dict:
    paths = camera_jpegs(cache, count)
    for path in paths:  # warm-up: imports, plugin registration, page cache
        worker_read(path)
        before_read(path)
    now, before, hashing = [], [], []
    for _ in range(runs):
        now.append(measured(lambda: [worker_read(path) for path in paths]))
        before.append(measured(lambda: [before_read(path) for path in paths]))
        hashing.append(measured(lambda: [_copy_only(path) for path in paths]))
    now_cpu = median([count / cpu for _, cpu in now], 1)
    now_wall = median([count / wall for wall, _ in now], 1)
    before_cpu = median([count / cpu for _, cpu in before], 1)
    target = TARGETS["images_per_second_per_process"]
    return {
        "image": "4000x3000 (12 MP) camera JPEG, quality 90, EXIF with GPS, half of them turned (orientation 6)",
        "mean_file_mb": round(sum(path.stat().st_size for path in paths) / count / 1e6, 2),
        "images_per_run": count,
        "work_per_image": "copy_hashing (read + sha256) + read_image (header, EXIF, 1/8-scale decode of every block, "
        "upright 320 px JPEG thumbnail)",
        "images_per_cpu_second": now_cpu,
        "images_per_wall_second": now_wall,
        "runs_images_per_cpu_second": [round(count / cpu, 1) for _, cpu in now],
        "runs_images_per_wall_second": [round(count / wall, 1) for wall, _ in now],
        "target_images_per_second": target,
        "ratio_to_target_cpu": round(now_cpu / target, 2),
        "ratio_to_target_wall": round(now_wall / target, 2),
        "before_full_decode_then_thumbnail_images_per_cpu_second": before_cpu,
        "speedup_vs_before_side_by_side": round(now_cpu / before_cpu, 2),
        "read_and_sha256_ms_per_image_cpu": round(statistics.median(cpu for _, cpu in hashing) / count * 1000, 2),
        "profile_top_functions": profile_images(paths),
        "validation": validation_agreement(paths[0]),
    }


def _copy_only(path: Path) -> None:
    with open(path, "rb") as stored, tempfile.SpooledTemporaryFile(max_size=processing.IMAGE_IN_MEMORY_BYTES) as local:
        processing.copy_hashing(stored, local)


def profile_images(paths: list[Path]) -> list[dict]:
    """cProfile of one pass: the functions holding the most time, and their share."""
    profiler = cProfile.Profile(cpu_seconds)
    profiler.enable()
    for path in paths:
        worker_read(path)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt or 1
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:5]
    return [
        {
            "function": f"{Path(file).name}:{line}({name})" if file != "~" else name,
            "cpu_ms_per_image": round(tottime / len(paths) * 1000, 2),
            "share": round(tottime / total, 3),
        }
        for (file, line, name), (_, _, tottime, _, _) in rows
    ]


def validation_agreement(path: Path) -> dict:
    """Cut and scrambled copies of one 12 MP JPEG: the reduced decode refuses exactly what a full decode refuses?"""
    original = path.read_bytes()
    variants = [factory.truncated(original, keep=keep / 10) for keep in range(1, 10)]
    variants += [factory.damaged(original, at=at / 10, length=length) for at in range(1, 10) for length in (4, 400)]
    same = refused = 0
    for data in variants:
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
            full = False
        except (OSError, SyntaxError, ValueError, EOFError):
            full = True
        try:
            media.read_image(io.BytesIO(data))
            reduced = False
        except media.MediaError:
            reduced = True
        same += full == reduced
        refused += reduced
    return {
        "variants": len(variants),
        "cuts": 9,
        "scrambles": len(variants) - 9,
        "same_verdict_as_full_size_decode": same,
        "refused": refused,
    }


# --- videos -------------------------------------------------------------------------------------------------------


def picture_segment(cache: Path, seconds: int = 10) -> Path:
    """A 1080p H.264 stretch like a phone's: a moving test pattern with sensor-like noise, x264 veryfast CRF 20,
    High profile (CABAC), a keyframe every 2 s."""
    path = cache / f"segment-{seconds}s.mp4"
    if path.exists():
        return path
    graph = av.filter.Graph()
    nodes = [
        graph.add("testsrc2", f"size={FULL_HD[0]}x{FULL_HD[1]}:rate={FPS}:duration={seconds}"),
        graph.add("noise", "alls=2:allf=t"),
        graph.add("format", "yuv420p"),
        graph.add("buffersink"),
    ]
    graph.link_nodes(*nodes).configure()
    partial = path.with_suffix(".part")
    with av.open(str(partial), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "20", "g": str(2 * FPS)})
        stream.width, stream.height, stream.pix_fmt = *FULL_HD, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        index = 0
        while True:
            try:
                frame = nodes[-1].pull()
            except (av.error.EOFError, av.error.BlockingIOError):
                break
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            index += 1
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    partial.rename(path)
    return path


def looped(segment: Path, target: Path, times: int, container: str) -> Path:
    """`times` copies of the segment one after the other, packets copied (each starts on a keyframe): no re-encoding."""
    if target.exists():
        return target
    partial = target.with_suffix(".part")
    with av.open(str(segment)) as source, av.open(str(partial), "w", format=container) as output:
        stream = source.streams.video[0]
        out = output.add_stream_from_template(stream)
        length = round(Fraction(media.probe_video(segment)["duration_seconds"]).limit_denominator(1000) / stream.time_base)
        for loop in range(times):
            source.seek(0)
            for packet in source.demux(stream):
                if packet.size == 0:
                    continue  # the empty packet demux() ends with
                packet.pts += loop * length
                if packet.dts is not None:
                    packet.dts += loop * length
                packet.time_base = stream.time_base
                packet.stream = out
                output.mux(packet)
    partial.rename(target)
    return target


def bench_probe_and_poster(clip: Path, runs: int) -> dict:
    media.probe_video(clip)  # warm-up
    probes = [measured(lambda: media.probe_video(clip)) for _ in range(runs)]
    posters = [measured(lambda: media.make_poster(clip)) for _ in range(runs)]
    info = media.probe_video(clip)
    minutes = info["duration_seconds"] / 60
    cpu = [(p[1] + q[1]) / minutes for p, q in zip(probes, posters)]
    wall = [(p[0] + q[0]) / minutes for p, q in zip(probes, posters)]
    target = TARGETS["probe_and_poster_seconds_per_minute_1080p"]
    return {
        "clip": f"{info['duration_seconds']} s {info['width']}x{info['height']} {info['video_codec']} "
        f"{info['container']}, {info['avg_frame_rate']} fps, keyframe every 2 s, {info['frame_count']} frames",
        "clip_mbit_per_second": round(clip.stat().st_size * 8 / info["duration_seconds"] / 1e6, 1),
        "probe_cpu_seconds": median([cpu for _, cpu in probes], 4),
        "poster_cpu_seconds": median([cpu for _, cpu in posters], 4),
        "cpu_seconds_per_minute": median(cpu),
        "wall_seconds_per_minute": median(wall),
        "runs_cpu_seconds_per_minute": [round(value, 3) for value in cpu],
        "target_seconds_per_minute": target,
        "ratio_to_target_cpu": round(median(cpu) / target, 2),
        "ratio_to_target_wall": round(median(wall) / target, 2),
    }


def ssim(reference: Path, copy: Path) -> dict:
    """Mean and worst per-frame SSIM (all planes) of `copy` against `reference`, frame by frame (FFmpeg's ssim)."""
    with av.open(str(reference)) as ref, av.open(str(copy)) as out:
        ref_stream, out_stream = ref.streams.video[0], out.streams.video[0]
        ref_stream.thread_type = out_stream.thread_type = "AUTO"
        graph = av.filter.Graph()
        ref_in, out_in = graph.add_buffer(template=ref_stream), graph.add_buffer(template=out_stream)
        compare, sink = graph.add("ssim"), graph.add("buffersink")
        out_in.link_to(compare, 0, 0)
        ref_in.link_to(compare, 0, 1)
        compare.link_to(sink)
        graph.configure()
        scores: list[float] = []
        clock = Fraction(1, FPS)
        for index, (ref_frame, out_frame) in enumerate(zip(ref.decode(ref_stream), out.decode(out_stream))):
            # Paired by position (both are CFR from their first frame), whatever each container's start time.
            for frame, node in ((ref_frame, ref_in), (out_frame, out_in)):
                frame.pts, frame.time_base = index, clock
                node.push(frame)
            scores += _drain(sink)
        ref_in.push(None)
        out_in.push(None)
        scores += _drain(sink)
    return {"ssim_mean": round(statistics.fmean(scores), 5), "ssim_worst_frame": round(min(scores), 5), "frames": len(scores)}


def _drain(sink) -> list[float]:
    """The SSIM the filter attached to each frame it has ready."""
    scores = []
    while True:
        try:
            scores.append(float(sink.pull().metadata["lavfi.ssim.All"]))
        except (av.error.BlockingIOError, av.error.EOFError):
            return scores


def rendition_once(source: Path, target: Path, preset: str) -> tuple[float, float]:
    return measured(lambda: media.make_rendition(source, target, preset=preset))


def decode_only(source: Path) -> float:
    """CPU seconds to decode the source alone, threaded as the rendition decodes it."""

    def work() -> None:
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                pass

    return measured(work)[1]


def bench_presets(segment: Path, folder: Path) -> list[dict]:
    seconds = media.probe_video(segment)["duration_seconds"]
    table = []
    for preset in PRESETS:
        target = folder / f"preset-{preset}.mp4"
        wall, cpu = rendition_once(segment, target, preset)
        table.append(
            {
                "preset": preset,
                "crf": media.RENDITION_CRF,
                "cpu_seconds": round(cpu, 2),
                "realtime_per_core": round(seconds / cpu, 2),
                "wall_seconds": round(wall, 2),
                "mbit_per_second": round(target.stat().st_size * 8 / seconds / 1e6, 1),
                **ssim(segment, target),
            }
        )
        target.unlink()
    return table


def bench_rendition(clip: Path, folder: Path, runs: int) -> dict:
    info = media.probe_video(clip)
    seconds = info["duration_seconds"]
    target = folder / "rendition.mp4"
    times = [rendition_once(clip, target, media.RENDITION_PRESET) for _ in range(runs)]
    quality = ssim(clip, target)
    decoding = decode_only(clip)
    cpu = median([cpu for _, cpu in times], 2)
    per_core = [seconds / cpu for _, cpu in times]
    goal = TARGETS["rendition_realtime_per_core"]
    return {
        "clip": f"{seconds} s {info['width']}x{info['height']} {info['video_codec']} {info['container']} at 30 fps",
        "preset": media.RENDITION_PRESET,
        "crf": media.RENDITION_CRF,
        "cpu_seconds": cpu,
        "wall_seconds": median([wall for wall, _ in times], 2),
        "realtime_per_core": median(per_core, 2),
        "realtime_wall": median([seconds / wall for wall, _ in times], 2),
        "runs_realtime_per_core": [round(value, 2) for value in per_core],
        "target_realtime_per_core": goal,
        "ratio_to_target": round(median(per_core, 2) / goal, 2),
        "mbit_per_second": round(target.stat().st_size * 8 / seconds / 1e6, 1),
        "quality_against_source": quality,
        "where_the_cpu_goes": {
            "decode_source_cpu_seconds": round(decoding, 2),
            "filter_encode_mux_cpu_seconds": round(cpu - decoding, 2),
            "decode_share": round(decoding / cpu, 2),
        },
    }


# --- the run ------------------------------------------------------------------------------------------------------


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="distinct 12 MP JPEGs per run (default 8)")
    parser.add_argument("--runs", type=int, default=3, help="runs whose median is reported (default 3)")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench-media", help="where generated media is kept")
    parser.add_argument("--skip-presets", action="store_true", help="leave out the table of x264 presets")
    options = parser.parse_args()

    options.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_before = [round(value, 2) for value in os.getloadavg()]
    segment = picture_segment(options.cache)
    minute = looped(segment, options.cache / "minute-1080p.mp4", 6, "mp4")
    with tempfile.TemporaryDirectory(prefix="bench-media-") as workdir:
        folder = Path(workdir)
        figures = {
            "commit": commit(),
            "load_average_before": load_before,
            "images": bench_images(options.cache, options.images, options.runs),
            "video_probe_and_poster": bench_probe_and_poster(minute, options.runs),
            "rendition": bench_rendition(segment, folder, options.runs),
        }
        if not options.skip_presets:
            figures["rendition_presets_on_10_s"] = bench_presets(segment, folder)
    figures["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    figures["sha256"] = (
        "computed by processing.copy_hashing on each chunk as the stored object is copied into the buffer Pillow "
        "decodes from: one read of the object, no separate pass"
    )
    figures["environment"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "pyav": av.__version__,
        "ffmpeg_libavcodec": av.library_versions.get("libavcodec"),
        "one_process": True,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
