"""The Add Assets flow in real Chromium against the running portal, on the embedded storage and on an
S3-compatible endpoint: drops, duplicates, a forced transfer failure and its retry, finalize, multipart."""

import base64
import hashlib
import io
import os
import random

import pytest
from django.urls import reverse
from PIL import Image

from assets.models import Asset
from tests import s3
from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401
from uploads.models import UploadSession

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("served_static"),
    skip_without_chromium,
]


def _jpeg(path, seed: int, size=(64, 48)) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image.putpixel((rng.randrange(size[0]), rng.randrange(size[1])), (rng.randrange(256), 0, 0))
    image.save(path, "JPEG", quality=90)
    return path.read_bytes()


def _small_jpegs(folder, prefix: str, count: int, *, first_seed: int) -> list:
    """`count` distinct tiny JPEGs named <prefix>_000.jpg, <prefix>_001.jpg, ..."""
    paths = [folder / f"{prefix}_{i:03}.jpg" for i in range(count)]
    for i, path in enumerate(paths):
        _jpeg(path, seed=first_seed + i, size=(16, 12))
    return paths


def _sha_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture(params=["embedded", "s3"])
def storage_mode(request, settings):
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint_for_browser")
        settings.STORAGES = {**settings.STORAGES, "default": s3.storage_settings(endpoint, s3.create_bucket(endpoint))}
    return request.param


@pytest.fixture(scope="session")
def s3_endpoint_for_browser():
    with s3.moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def eager_celery():
    from portal.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def _open_session(page, live_server, project):
    page.goto(live_server.url + reverse("assets:list", args=[project.pk]))
    page.locator(".page-header").get_by_role("link", name="Add Assets").click()
    page.wait_for_selector("#drawer-root .panel-body")
    continue_button = page.locator("[data-continue]")
    page.locator("label.choice", has_text="Image").click()
    page.fill("#id_view_name", "North gate, camera 2")
    assert continue_button.is_disabled(), "Continue must wait for the capture date"
    page.fill("#id_capture_date", "2026-11-20")
    assert continue_button.is_enabled()
    continue_button.click()
    page.wait_for_selector("[data-dropzone]")


# The ORM is only used outside the `with chromium_page()` blocks: a connection opened while Playwright's
# loop runs lives in another context and would never be closed (PostgreSQL then cannot drop the test database).


def _drop(page, paths):
    """A real drop event on the drop zone, carrying the files of a throwaway input."""
    page.evaluate("() => { const i = document.createElement('input'); i.type = 'file'; i.multiple = true; i.id = 'e2e-drop'; i.hidden = true; document.body.append(i); }")
    page.set_input_files("#e2e-drop", [str(p) for p in paths])
    page.evaluate(
        """() => {
          const input = document.getElementById('e2e-drop');
          const transfer = new DataTransfer();
          for (const file of input.files) transfer.items.add(file);
          input.remove();
          document.querySelector('[data-dropzone]').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }"""
    )


def _close_duplicates_dialog(page, expected: int):
    dialog = page.locator("[data-duplicates-dialog]")
    dialog.wait_for(state="visible")
    assert f"{expected} duplicate files were skipped" in dialog.inner_text()
    assert "The other files are uploading." in dialog.inner_text()
    dialog.get_by_role("button", name="OK").click()


def test_it_uploads_two_drops_with_duplicates_a_failure_and_a_retry(
    live_server, storage_mode, eager_celery, member, project, tmp_path
):
    files = [tmp_path / f"frame_{i:03}.jpg" for i in range(115)]
    contents = [_jpeg(path, seed=i) for i, path in enumerate(files)]
    # Three files are already in the project (an earlier upload) and come again in the second drop.
    for i in (100, 101, 102):
        Asset.objects.create(
            organization=project.organization, project=project, name=f"earlier_{i}.jpg", original_filename=f"earlier_{i}.jpg",
            asset_type="image", sha256=hashlib.sha256(contents[i]).hexdigest(), size=len(contents[i]), status=Asset.Status.READY,
        )
    repeats = []
    for i in (3, 7):  # the same bytes twice within the first drop, under other names
        copy = tmp_path / f"copy_of_{i}.jpg"
        copy.write_bytes(contents[i])
        repeats.append(copy)
    first_drop = files[:58] + repeats  # 60 files, 2 repeated within the drop
    second_drop = files[58:]  # 57 files, 3 of them already in the project...
    second_drop += [tmp_path / f"extra_{i}.jpg" for i in range(3)]  # ...plus 3 more: 60 in all
    for i, path in enumerate(second_drop[-3:]):
        contents.append(_jpeg(path, seed=1000 + i))
    failing = _sha_b64(contents[10])

    with chromium_page() as page:
        state = {"fail": True}

        def refuse_one_file(route, request):
            if request.method == "PUT" and state["fail"] and request.headers.get("x-amz-checksum-sha256") == failing:
                route.fulfill(
                    status=403,
                    headers={"Access-Control-Allow-Origin": "*", "Content-Type": "application/xml", "x-amz-error-code": "AccessDenied"},
                    body="<Error><Code>AccessDenied</Code><Message>Forced by the test</Message></Error>",
                )
            else:
                route.continue_()

        page.route("**/*", refuse_one_file)
        log_in(page, live_server, member)
        _open_session(page, live_server, project)

        _drop(page, first_drop)
        _close_duplicates_dialog(page, 2)
        page.set_input_files("[data-file-input]", [str(p) for p in second_drop])
        _close_duplicates_dialog(page, 3)

        failed_row = page.locator('#file-rows tr[data-status="upload_error"]')
        failed_row.wait_for(timeout=60_000)
        assert "Storage refused the upload" in failed_row.inner_text()
        assert failed_row.count() == 1

        page.wait_for_function(
            """() => [...document.querySelectorAll('#file-rows tr[data-asset-id]')]
                 .filter(row => row.dataset.status !== 'upload_error')
                 .every(row => ['uploaded', 'ready'].includes(row.dataset.status))
               && document.querySelectorAll('#file-rows tr[data-asset-id]').length === 115""",
            timeout=120_000,
        )
        assert page.locator("#file-rows tr.is-skipped").count() == 5

        state["fail"] = False
        failed_row.get_by_role("button", name="Retry").click()
        page.wait_for_function(
            "() => !document.querySelector('#file-rows tr[data-status=\"upload_error\"], #file-rows tr[data-status=\"uploading\"]')",
            timeout=60_000,
        )
        page.wait_for_function(
            "() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 115", timeout=120_000
        )
        finalize = page.get_by_role("button", name="Finalize")
        finalize.click()
        page.wait_for_selector('#session-summary [data-session-status="complete"], #session-summary .badge-complete', timeout=30_000)
        page.screenshot(path=_shot(f"session-complete-{storage_mode}.png"), full_page=False)

        page.get_by_role("link", name="Uploads").first.click()
        row = page.locator("tr", has_text="North gate, camera 2")
        assert "Complete" in row.inner_text()

    session = UploadSession.objects.get(view_name="North gate, camera 2")
    assert session.status == UploadSession.Status.COMPLETE
    assert session.duplicate_count == 5
    assets = Asset.objects.filter(upload_session=session)
    assert assets.count() == 115
    assert set(assets.values_list("status", flat=True)) == {Asset.Status.READY}


def test_it_uploads_a_file_larger_than_the_multipart_threshold(
    live_server, storage_mode, eager_celery, settings, member, project, tmp_path
):
    settings.UPLOAD_MULTIPART_THRESHOLD = 5 * 1024 * 1024
    settings.UPLOAD_PART_SIZE = 5 * 1024 * 1024
    path = tmp_path / "large_frame.jpg"
    noise = Image.frombytes("RGB", (3400, 2800), os.urandom(3400 * 2800 * 3))
    noise.save(path, "JPEG", quality=97)
    data = path.read_bytes()
    assert len(data) > 2 * settings.UPLOAD_PART_SIZE

    with chromium_page() as page:
        requests_seen = []
        page.on("request", lambda request: requests_seen.append((request.method, request.url)))
        log_in(page, live_server, member)
        _open_session(page, live_server, project)
        page.set_input_files("[data-file-input]", [str(path)])
        page.wait_for_function(
            "() => ['uploaded', 'ready'].includes(document.querySelector('#file-rows tr[data-asset-id]')?.dataset.status)",
            timeout=120_000,
        )
    asset = Asset.objects.get(upload_session__view_name="North gate, camera 2")
    assert asset.size == len(data)
    assert any("partNumber" in url for method, url in requests_seen if method == "PUT"), "the bytes went in parts"
    from assets import storage

    assert storage.stored_size(asset.storage_key) == len(data)
    assert asset.sha256 == hashlib.sha256(data).hexdigest()


def _shot(name: str) -> str:
    folder = os.path.join("test-results", "screens")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, name)


def test_a_drop_of_101_files_is_refused_whole(live_server, member, project, tmp_path):
    paths = _small_jpegs(tmp_path, "tiny", 101, first_seed=5000)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project)
        page.set_input_files("[data-file-input]", [str(p) for p in paths])
        alert = page.locator("[data-upload-alert]")
        alert.wait_for(state="visible")
        assert "add at most 100 at a time" in alert.inner_text()
        assert "Nothing from this drop was added" in alert.inner_text()
        assert page.locator("#file-rows tr").count() == 0
    assert not Asset.objects.filter(upload_session__view_name="North gate, camera 2").exists()


def test_a_drop_goes_in_parts_and_one_past_the_session_cap_is_refused_whole(
    live_server, member, project, tmp_path, settings, eager_celery
):
    settings.UPLOAD_SESSION_MAX_FILES = 80
    paths = _small_jpegs(tmp_path, "dock", 95, first_seed=7000)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project)
        parts = []
        page.on("request", lambda request: parts.append(request.post_data_json)
                if request.url.endswith("/files/") and request.method == "POST" else None)

        # 60 files: the first ones are registered (and start moving) as soon as their checksums are done, the
        # rest in as few parts as keep the transfers fed; all parts name the same drop.
        page.set_input_files("[data-file-input]", [str(p) for p in paths[:60]])
        page.wait_for_function(
            "() => document.querySelectorAll('#file-rows tr[data-status=\"uploaded\"], #file-rows tr[data-status=\"ready\"]').length === 60",
            timeout=60_000,
        )
        assert len(parts) >= 2 and len(parts[0]["files"]) < 60, [len(part["files"]) for part in parts]
        assert {part["drop"]["id"] for part in parts} == {parts[0]["drop"]["id"]}
        assert {part["drop"]["size"] for part in parts} == {60}
        assert sum(len(part["files"]) for part in parts) == 60

        # 35 more would make 95 of at most 80: the first part is refused, so the whole drop is, rows and all.
        page.set_input_files("[data-file-input]", [str(p) for p in paths[60:]])
        alert = page.locator("[data-upload-alert]")
        alert.wait_for(state="visible")
        assert "A session holds at most 80 files. This one has 60, so 20 more fit and this drop adds 35." in alert.inner_text()
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr').length === 60")
        page.wait_for_timeout(500)  # checksums still finishing after the refusal add nothing
        assert page.locator("#file-rows tr").count() == 60
    assert Asset.objects.filter(upload_session__view_name="North gate, camera 2").count() == 60


def test_finalizing_with_a_failed_file_offers_to_retry_it_first(live_server, eager_celery, member, project, tmp_path):
    paths = _small_jpegs(tmp_path, "gate", 3, first_seed=9000)
    failing = _sha_b64(paths[1].read_bytes())
    with chromium_page() as page:
        state = {"fail": True}

        def refuse_one_file(route, request):
            if request.method == "PUT" and state["fail"] and request.headers.get("x-amz-checksum-sha256") == failing:
                route.fulfill(status=403, headers={"Access-Control-Allow-Origin": "*"}, body="")
            else:
                route.continue_()

        page.route("**/*", refuse_one_file)
        log_in(page, live_server, member)
        _open_session(page, live_server, project)
        page.set_input_files("[data-file-input]", [str(p) for p in paths])
        page.locator('#file-rows tr[data-status="upload_error"]').wait_for(timeout=60_000)
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 2", timeout=60_000)

        state["fail"] = False
        page.get_by_role("button", name="Finalize").click()
        dialog = page.locator("[data-finalize-dialog]")
        dialog.wait_for(state="visible")
        assert "1 failed file will not be processed" in dialog.inner_text()
        dialog.get_by_role("button", name="Retry them").click()

        # The failed file goes again and the session stays open; Finalize then goes through without asking.
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 3", timeout=60_000)
        assert dialog.is_hidden()
        page.get_by_role("button", name="Finalize").click()
        page.wait_for_selector("#session-summary .badge-complete", timeout=30_000)
        assert dialog.is_hidden()
    session = UploadSession.objects.get(view_name="North gate, camera 2")
    assert session.status == UploadSession.Status.COMPLETE
    assert set(Asset.objects.filter(upload_session=session).values_list("status", flat=True)) == {Asset.Status.READY}


def test_a_drop_of_nothing_but_duplicates_says_nothing_else_is_uploading(live_server, eager_celery, member, project, tmp_path):
    paths = _small_jpegs(tmp_path, "again", 2, first_seed=9500)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project)
        page.set_input_files("[data-file-input]", [str(p) for p in paths])
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 2", timeout=60_000)
        assert page.locator("[data-transfer]").inner_text().split()[:3] == ["Sent", "2", "files"]

        page.set_input_files("[data-file-input]", [str(p) for p in paths])

        dialog = page.locator("[data-duplicates-dialog]")
        dialog.wait_for(state="visible")
        assert "2 duplicate files were skipped" in dialog.inner_text()
        assert "Nothing else was in this drop." in dialog.inner_text()
        assert "The other files are uploading." not in dialog.inner_text()
        dialog.get_by_role("button", name="OK").click()
        # Nothing of the second drop moves: the line above the table has nothing to count (once it is next repainted:
        # it said "Preparing 2 files" while their checksums were computed).
        page.locator("[data-transfer]").wait_for(state="hidden", timeout=5_000)


def _drop_paths(page, paths) -> None:
    """Drops files and folders of this machine on the drop zone, as the desktop's file manager does."""
    box = page.locator("[data-dropzone]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    data = {"items": [], "files": [str(path) for path in paths], "dragOperationsMask": 1}
    cdp = page.context.new_cdp_session(page)
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})


def test_a_dropped_folder_brings_the_files_of_its_subfolders(live_server, eager_celery, member, project, tmp_path):
    folder = tmp_path / "north gate"
    (folder / "night").mkdir(parents=True)
    (folder / "empty").mkdir()
    _small_jpegs(folder, "day", 2, first_seed=9700)
    _small_jpegs(folder / "night", "night", 2, first_seed=9710)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    loose = _small_jpegs(tmp_path, "loose", 1, first_seed=9720)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project)
        _drop_paths(page, [folder, *loose])
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 5", timeout=60_000)
        names = sorted(page.locator("#file-rows .name-cell").all_inner_texts())
        assert names == ["day_000.jpg", "day_001.jpg", "loose_000.jpg", "night_000.jpg", "night_001.jpg"]

        _drop_paths(page, [folder / "empty"])
        alert = page.locator("[data-upload-alert]")
        alert.wait_for()
        assert alert.inner_text() == "Nothing to upload: the folders dropped hold no files."
        assert page.locator("#file-rows tr").count() == 5
    assert sorted(Asset.objects.values_list("name", flat=True)) == names


def test_a_chosen_folder_brings_its_files_too(live_server, eager_celery, member, project, tmp_path):
    folder = tmp_path / "south gate"
    (folder / ".thumbnails").mkdir(parents=True)
    _small_jpegs(folder, "south", 2, first_seed=9730)
    _small_jpegs(folder / ".thumbnails", "thumb", 1, first_seed=9740)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project)
        assert page.locator("[data-pick-folder]").inner_text() == "a folder"
        page.set_input_files("[data-folder-input]", folder)
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 2", timeout=60_000)
        assert sorted(page.locator("#file-rows .name-cell").all_inner_texts()) == ["south_000.jpg", "south_001.jpg"]
