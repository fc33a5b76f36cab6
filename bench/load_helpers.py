"""The pure parts of bench/load.py (no locust, no gevent): test files, the poller's next URL, and the figures.

Kept apart so tests can import them without locust's monkey-patching (tests/test_bench_load_helpers.py).
"""

from __future__ import annotations

import bisect
import hashlib
import html
import io
import re
import statistics
from urllib.parse import parse_qs, urlsplit

# The session page's poller element (templates/uploads/_poller.html): its hx-get is the next poll's URL.
_POLLER = re.compile(r'id="session-poller"[^>]*\bhx-get="([^"]+)"')


def base_jpeg(width: int = 48, height: int = 32) -> bytes:
    """A small real JPEG (a gradient) that Pillow decodes; unique_jpeg makes distinct copies of it."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    image.putdata([(x * 255 // width, y * 255 // height, 128) for y in range(height) for x in range(width)])
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def unique_jpeg(base: bytes, tag: str) -> bytes:
    """`base` with a JPEG comment segment holding `tag` right after the start-of-image marker: the same picture,
    distinct bytes (and so a distinct sha256, not a duplicate) for every tag."""
    if base[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    payload = tag.encode()
    if len(payload) > 65533:
        raise ValueError("tag too long for one comment segment")
    return base[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + base[2:]


def file_entry(client_id: str, name: str, data: bytes) -> dict:
    """One file of a register request, as static/js/upload/drops.js sends it."""
    return {"clientId": client_id, "name": name, "size": len(data), "contentType": "image/jpeg",
            "sha256": hashlib.sha256(data).hexdigest(), "resume": True}


def drops(files: int, per_drop: int) -> list[int]:
    """How many files each drop of a session holds: full drops, then what is left."""
    if files < 0 or per_drop < 1:
        raise ValueError("files must be >= 0 and per_drop >= 1")
    full, rest = divmod(files, per_drop)
    return [per_drop] * full + ([rest] if rest else [])


def next_poll(page: str) -> tuple[str, str] | None:
    """(since, seen) of the next poll, read from the poller element of a session page or poll answer, or None."""
    found = _POLLER.search(page)
    if not found:
        return None
    query = parse_qs(urlsplit(html.unescape(found.group(1))).query)
    return query.get("since", [""])[0], query.get("seen", [""])[0]


def median(values: list[float]) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def spread(values: list[float]) -> dict | None:
    """Median, min, max and the relative spread ((max - min) / median) of repeated measurements."""
    values = [value for value in values if value is not None]
    if not values:
        return None
    middle = statistics.median(values)
    return {"median": round(middle, 4), "min": round(min(values), 4), "max": round(max(values), 4),
            "spread": round((max(values) - min(values)) / middle, 3) if middle else None, "runs": len(values)}


def work_per_cpu_second(*, sessions: int, requests: int, cpu_seconds: float) -> dict:
    """The scaling figure of issue 19: sessions and requests served per CPU-second of the portal's processes."""
    if cpu_seconds <= 0:
        return {"sessions": None, "requests": None}
    return {"sessions": round(sessions / cpu_seconds, 5), "requests": round(requests / cpu_seconds, 3)}


def ratio(new: float | None, old: float | None) -> float | None:
    return round(new / old, 3) if new and old else None


def busiest_cores(series: list[tuple[float, float]], window: float) -> float | None:
    """The most CPU used over any `window` seconds, in cores, from samples of (time, cumulative CPU seconds)."""
    times = [moment for moment, _ in series]
    best = None
    for end in range(len(series)):
        start = bisect.bisect_right(times, times[end] - window) - 1
        if start < 0:
            continue
        rate = (series[end][1] - series[start][1]) / (times[end] - times[start])
        best = rate if best is None else max(best, rate)
    return round(best, 2) if best is not None else None
