"""portal-upload, the command-line uploader, run as a separate process against a running portal."""

import hashlib
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from accounts import services
from assets.models import Asset
from assets.storage import views as storage_views
from tests.conftest import PASSWORD
from tests.media_factory import make_png

COMMAND = Path(sys.executable).parent / "portal-upload"
LINE_WAIT = 60  # seconds to wait for the next line of output before giving up
RUN_WAIT = 300  # seconds a whole run may take before the test gives up


def _png(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (n % 256, n // 256, 77)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def folder(tmp_path) -> Path:
    """Where the files to upload are (tmp_path itself holds the embedded storage's objects)."""
    path = tmp_path / "to-upload"
    path.mkdir()
    return path


@pytest.fixture
def stored_puts(monkeypatch) -> Counter:
    """Successful single PUTs to the embedded storage, counted per asset: proof that nothing went twice."""
    counted: Counter = Counter()
    original = storage_views._put_object

    def counting(request, local, key, fields, asset):
        response = original(request, local, key, fields, asset)
        if response.status_code == 200:
            counted[key.split("/")[2]] += 1
        return response

    monkeypatch.setattr(storage_views, "_put_object", counting)
    return counted


@pytest.fixture
def cli(live_server, owner, project, queued_processing):
    """Runs portal-upload against the live portal as `owner`, into `project`."""
    _, secret = services.api_key_create(user=owner, name="portal-upload")
    env = {**os.environ, "PORTAL_USERNAME": owner.username, "PORTAL_PASSWORD": PASSWORD}

    def command(*paths, extra=()) -> list[str]:
        return [str(COMMAND), "--url", live_server.url, "--api-key", secret, "--project", str(project.pk), *extra, *map(str, paths)]

    def run(*paths, extra=()) -> subprocess.CompletedProcess:
        return subprocess.run(command(*paths, extra=extra), env=env, capture_output=True, text=True, timeout=RUN_WAIT)

    run.command, run.env = command, env
    return run


def test_the_command_is_installed():
    assert COMMAND.exists(), "pip install -e . installs the portal-upload console script"


def test_it_uploads_a_folder_and_says_what_it_did(cli, project, folder):
    for n in range(5):
        (folder / f"img-{n}.png").write_bytes(_png(n))
    (folder / "sub").mkdir()
    (folder / "sub" / "copy.png").write_bytes(_png(0))  # same content as img-0.png
    (folder / "notes.txt").write_text("not media")
    (folder / ".hidden.png").write_bytes(_png(99))

    result = cli(folder)

    assert result.returncode == 0, result.stderr
    assert "7 files: 5 uploaded, 0 already in the project, 1 duplicates skipped, 1 not images or videos, 0 failed" in result.stdout
    assets = Asset.objects.filter(project=project)
    assert assets.count() == 5
    assert set(assets.values_list("status", flat=True)) == {Asset.Status.UPLOADED}
    assert set(assets.values_list("sha256", flat=True)) == {hashlib.sha256(_png(n)).hexdigest() for n in range(5)}
    assert "img-3.png" in set(assets.values_list("external_id", flat=True))
    assert "] 7/7 files" in result.stderr  # the progress line


def test_files_already_in_the_project_are_skipped(cli, project, folder):
    (folder / "a.png").write_bytes(_png(1))
    assert cli(folder).returncode == 0

    again = cli(folder)

    assert again.returncode == 0
    assert "1 files: 0 uploaded, 1 already in the project" in again.stdout
    assert Asset.objects.filter(project=project).count() == 1


def test_large_files_go_in_parts(cli, project, folder, settings, storage_backend):
    settings.UPLOAD_PART_SIZE = 5 * 1024**2
    data = make_png(32, 32) + os.urandom(11 * 1024**2)
    (folder / "big.png").write_bytes(data)
    (folder / "small.png").write_bytes(_png(3))

    result = cli(folder, extra=["--multipart-threshold", "6MiB"])

    assert result.returncode == 0, result.stdout + result.stderr
    big = Asset.objects.get(project=project, original_filename="big.png")
    assert (big.status, big.size, big.upload_id) == (Asset.Status.UPLOADED, len(data), "")
    assert Asset.objects.filter(project=project, status=Asset.Status.UPLOADED).count() == 2


def test_a_file_that_fails_makes_the_exit_status_non_zero(cli, project, folder):
    (folder / "fake.png").write_bytes(b"%PDF-1.7 this is a document, not a picture" * 10)
    (folder / "real.png").write_bytes(_png(5))

    result = cli(folder)

    assert result.returncode == 1
    assert "failed    " in result.stdout and "fake.png" in result.stdout
    assert "1 uploaded" in result.stdout and "1 failed" in result.stdout


def test_a_wrong_password_stops_before_uploading(cli, project, folder):
    (folder / "a.png").write_bytes(_png(1))

    result = subprocess.run(cli.command(folder), env={**cli.env, "PORTAL_PASSWORD": "wrong"}, capture_output=True, text=True, timeout=RUN_WAIT)

    assert result.returncode == 2
    assert "refused the username or password" in result.stderr
    assert not Asset.objects.exists()


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def test_killed_halfway_then_run_again_it_finishes_without_sending_anything_twice(cli, project, folder, stored_puts):
    for n in range(200):
        (folder / f"shot-{n:03d}.png").write_bytes(_png(n))

    # First run: killed (SIGKILL, no chance to clean up) once 60 files are in.
    first = subprocess.Popen(cli.command(folder, extra=["--jobs", "4"]), env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(first.stdout, lines), daemon=True).start()
    uploaded_before_kill = 0
    try:
        while uploaded_before_kill < 60:
            line = lines.get(timeout=LINE_WAIT)
            assert line is not None, "the first run ended before it could be interrupted"
            uploaded_before_kill += line.startswith("uploaded")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=LINE_WAIT)
    time.sleep(0.5)  # let the portal finish the requests the killed process left in flight
    arrived = Asset.objects.filter(project=project, status=Asset.Status.UPLOADED).count()
    assert 60 <= arrived < 200

    second = cli(folder, extra=["--jobs", "4"])

    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    summary = second.stdout.strip().splitlines()[-1]
    uploaded, present = (int(n) for n in (summary.split(" uploaded")[0].split()[-1], summary.split(" already")[0].split()[-1]))
    assert uploaded + present == 200, summary
    assert present >= 60
    assert "0 failed" in summary
    assets = Asset.objects.filter(project=project)
    assert assets.count() == 200
    assert assets.filter(status=Asset.Status.UPLOADED).count() == 200
    assert len(set(assets.values_list("sha256", flat=True))) == 200
    # Every file's bytes were stored exactly once across both runs.
    assert set(stored_puts) == {str(pk) for pk in assets.values_list("pk", flat=True)}
    assert set(stored_puts.values()) == {1}, {k: v for k, v in stored_puts.items() if v != 1}
