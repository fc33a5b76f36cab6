"""How much media one worker process gets through: prints JSON figures.

    .venv/bin/python bench/processing.py [--images 6] [--runs 5] [--video-seconds 10]

Images: inspect_image + make_thumbnail on generated 12 MP (4000 × 3000) camera JPEGs with EXIF,
read from disk, one process; the median of several runs. Videos: a generated 1080p H.264 MP4 at
a constant 30 fps (probe + poster) and a 1080p VFR H.264 MKV (probe + rendition + poster), each
--video-seconds long, with the seconds scaled to one minute of footage. Runs in a minute or two
on 2 cores with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import PIL

from assets import media
from tests import media_factory as factory

FULL_HD = (1920, 1080)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def median_of(runs: int, work: Callable[[], object]) -> float:
    return statistics.median(timed(work) for _ in range(runs))


def bench_images(folder: Path, count: int, runs: int) -> dict:
    paths = []
    for index in range(count):
        path = folder / f"photo-{index}.jpg"
        path.write_bytes(
            factory.make_jpeg(4000, 3000, detail=True, orientation=(1, 6)[index % 2], gps=True)
        )
        paths.append(path)

    def process_all() -> None:
        for path in paths:
            with open(path, "rb") as upload:
                media.inspect_image(upload, require_camera_metadata=True)
                media.make_thumbnail(upload)

    process_all()  # warm-up: imports, plugin registration, page cache
    per_run = [count / timed(process_all) for _ in range(runs)]
    return {
        "images_per_second": round(statistics.median(per_run), 2),
        "runs_images_per_second": [round(rate, 2) for rate in per_run],
        "image": "4000x3000 JPEG (12 MP) with camera EXIF",
        "mean_file_mb": round(sum(path.stat().st_size for path in paths) / count / 1e6, 2),
        "images_per_run": count,
        "work_per_image": "inspect_image (identify, full decode, EXIF) + make_thumbnail (320 px JPEG)",
    }


def bench_constant_rate_mp4(folder: Path, seconds: int, runs: int) -> dict:
    clip = factory.make_video(
        folder / "cfr-1080p.mp4", frames=seconds * 30, fps=30, size=FULL_HD, textured=True
    )
    probe = median_of(runs, lambda: media.probe_video(clip))
    poster = median_of(runs, lambda: media.make_poster(clip))
    return {
        "clip": f"{seconds} s 1920x1080 H.264 MP4, 30 fps constant",
        "clip_mb": round(clip.stat().st_size / 1e6, 1),
        "probe_seconds": round(probe, 4),
        "poster_seconds": round(poster, 4),
        "probe_plus_poster_seconds_per_minute": round((probe + poster) * 60 / seconds, 3),
        "note": "measured on the clip and scaled linearly to 60 s; the MP4 probe reads only the sample "
        "index and the poster decodes from one keyframe, so real cost grows less than linearly",
    }


def bench_vfr_rendition(folder: Path, seconds: int) -> dict:
    frames = round(seconds * 1000 / (sum(factory.VFR_GAPS_MS) / len(factory.VFR_GAPS_MS)))
    clip = factory.make_video(
        folder / "vfr-1080p.mkv",
        container="mkv",
        frames=frames,
        vfr=True,
        size=FULL_HD,
        textured=True,
    )
    source = {}
    probe = timed(lambda: source.update(media.probe_video(clip)))
    result = {}
    rendition = timed(lambda: result.update(media.make_rendition(clip, folder / "rendition.mp4")))
    poster = timed(lambda: media.make_poster(folder / "rendition.mp4"))
    total = probe + rendition + poster
    return {
        "clip": f"{source['duration_seconds']} s 1920x1080 H.264 MKV, {frames} frames at irregular gaps",
        "clip_mb": round(clip.stat().st_size / 1e6, 1),
        "needs_rendition": media.needs_rendition(source),
        "probe_seconds": round(probe, 3),
        "rendition_seconds": round(rendition, 3),
        "poster_seconds": round(poster, 3),
        "rendition": f"{result['video_codec']} {result['width']}x{result['height']} "
        f"{result['avg_frame_rate_fraction']} fps CFR, {result['frame_count']} frames, "
        f"{round((folder / 'rendition.mp4').stat().st_size / 1e6, 1)} MB",
        "seconds_per_minute": round(total * 60 / source["duration_seconds"], 2),
        "realtime_factor": round(source["duration_seconds"] / total, 2),
        "note": f"measured on a {seconds} s clip and scaled linearly to 60 s (transcoding cost is proportional to length)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=6, help="distinct 12 MP JPEGs per run (default 6)"
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="runs whose median is reported (default 5)"
    )
    parser.add_argument(
        "--video-seconds", type=int, default=10, help="length of each 1080p clip (default 10)"
    )
    options = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-media-") as workdir:
        folder = Path(workdir)
        figures = {
            "images": bench_images(folder, options.images, options.runs),
            "video_probe_and_poster": bench_constant_rate_mp4(
                folder, options.video_seconds, options.runs
            ),
            "video_vfr_rendition": bench_vfr_rendition(folder, options.video_seconds),
        }
    figures["environment"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "pyav": av.__version__,
        "one_process": True,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_seconds_including_generation": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
