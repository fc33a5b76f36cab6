"""bench/load_helpers.py and bench/seed_assets.py: the load test's test files are distinct real JPEGs, its poller follows the page's next URL,
and its figures (busiest stretch of CPU, work per CPU-second) are computed as documented."""

import hashlib
import importlib.util
import io
from pathlib import Path

from PIL import Image

_SPEC = importlib.util.spec_from_file_location(
    "load_helpers", Path(__file__).resolve().parent.parent / "bench" / "load_helpers.py"
)
helpers = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(helpers)


def test_unique_copies_of_one_jpeg_decode_and_differ():
    base = helpers.base_jpeg()
    first, second = helpers.unique_jpeg(base, "session-1/d0-0"), helpers.unique_jpeg(base, "session-1/d0-1")

    assert hashlib.sha256(first).digest() != hashlib.sha256(second).digest()
    for data in (first, second):
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.format == "JPEG" and image.size == (48, 32)


def test_a_file_entry_is_what_the_page_registers():
    data = helpers.unique_jpeg(helpers.base_jpeg(), "x")

    entry = helpers.file_entry("d0-0", "frame.jpg", data)

    assert entry == {"clientId": "d0-0", "name": "frame.jpg", "size": len(data), "contentType": "image/jpeg",
                     "sha256": hashlib.sha256(data).hexdigest(), "resume": True}


def test_drops_hold_full_drops_then_the_rest():
    assert helpers.drops(1500, 100) == [100] * 15
    assert helpers.drops(250, 100) == [100, 100, 50]
    assert helpers.drops(0, 100) == []


def test_the_next_poll_is_read_from_the_poller_element():
    page = ('<div id="session-poller" hx-swap-oob="true" hx-get="/projects/p/uploads/s/changes/?since=2026-12-04T18%3A00%3A00.5%2B00%3A00'
            '&amp;seen=ab12.cd34" hx-trigger="every 2000ms" hx-swap="none"></div>')

    assert helpers.next_poll(page) == ("2026-12-04T18:00:00.5+00:00", "ab12.cd34")
    assert helpers.next_poll("<p>no poller</p>") is None


def test_the_busiest_stretch_of_cpu_is_found_in_cores():
    # 1 s samples: idle for 10 s, then one core busy for 6 s, then half a core.
    series, used = [], 0.0
    for second in range(20):
        used += 0.0 if second <= 10 else 1.0 if second <= 16 else 0.5
        series.append((float(second), used))

    assert helpers.busiest_cores(series, 5.0) == 1.0
    assert helpers.busiest_cores(series[:3], 5.0) is None


def test_work_per_cpu_second_and_its_ratio():
    one = helpers.work_per_cpu_second(sessions=20, requests=4000, cpu_seconds=400.0)
    two = helpers.work_per_cpu_second(sessions=20, requests=4000, cpu_seconds=440.0)

    assert one == {"sessions": 0.05, "requests": 10.0}
    assert helpers.ratio(two["requests"], one["requests"]) == 0.909
    assert helpers.work_per_cpu_second(sessions=1, requests=1, cpu_seconds=0) == {"sessions": None, "requests": None}


def test_medians_and_spread_of_repeated_runs():
    assert helpers.median([3.0, None, 1.0, 2.0]) == 2.0
    assert helpers.spread([10.0, 12.0, 11.0]) == {"median": 11.0, "min": 10.0, "max": 12.0, "spread": 0.182, "runs": 3}


_SEED_SPEC = importlib.util.spec_from_file_location(
    "seed_assets", Path(__file__).resolve().parent.parent / "bench" / "seed_assets.py"
)
seed_assets = importlib.util.module_from_spec(_SEED_SPEC)
_SEED_SPEC.loader.exec_module(seed_assets)


def test_seeded_assets_come_in_sessions_of_1500():
    assert seed_assets.sessions_for(100_000) == [1500] * 66 + [1000]
    assert sum(seed_assets.sessions_for(10_000_000)) == 10_000_000


def test_a_seeded_database_lives_on_the_configured_server():
    assert seed_assets.database_url("load_capacity", "postgres://postgres@db:5432/portal?sslmode=disable") == (
        "postgres://postgres@db:5432/load_capacity?sslmode=disable"
    )
