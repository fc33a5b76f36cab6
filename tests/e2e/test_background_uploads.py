"""Uploads keep going while people browse the portal (seed 003): the header counts them everywhere, and
closing the tab while bytes move asks first."""

import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from PIL import Image

from assets.models import Asset
from uploads.models import UploadSession
from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("served_static", "eager_tasks"),
    skip_without_chromium,
]


def _photos(folder, count: int):
    paths = []
    for i in range(count):
        rng = random.Random(i)
        image = Image.effect_noise((400, 300), 80).convert("RGB")
        image.putpixel((rng.randrange(400), rng.randrange(300)), (255, i % 256, 0))
        path = folder / f"shot_{i:02}.jpg"
        image.save(path, "JPEG", quality=95)
        paths.append(str(path))
    return paths


def _slow_network(page, *, upload: int = 300_000, latency: int = 40) -> None:
    """About 300 KB/s up by default: long enough to browse while the files are still on their way."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency, "downloadThroughput": 4_000_000, "uploadThroughput": upload},
    )


def _open_session(page, live_server, project, view_name: str) -> None:
    """The Add Assets panel on its own page: Image, a view name and a capture date, Continue."""
    page.goto(live_server.url + reverse("uploads:new", args=[project.pk]))
    page.locator("label.choice", has_text="Image").click()
    page.fill("#id_view_name", view_name)
    page.fill("#id_capture_date", "2026-11-19")
    page.locator("[data-continue]").click()
    page.wait_for_selector("[data-dropzone]")


def _start_slow_upload(page, live_server, user, project, view_name: str, files, *, upload: int = 300_000) -> None:
    """Logs in, opens a session, slows the network down (`upload` bytes per second) and drops `files`."""
    log_in(page, live_server, user)
    _open_session(page, live_server, project, view_name)
    _slow_network(page, upload=upload)
    page.set_input_files("[data-file-input]", files)


def test_uploads_go_on_while_browsing_and_the_header_counts_them(live_server, member, project, tmp_path):
    files = _photos(tmp_path, 24)
    with chromium_page() as page:
        log_in(page, live_server, member)
        page.goto(live_server.url + reverse("assets:list", args=[project.pk]))
        page.locator(".page-header").get_by_role("link", name="Add Assets").click()
        page.locator("label.choice", has_text="Image").click()
        page.fill("#id_view_name", "Roof camera")
        page.fill("#id_capture_date", "2026-11-19")
        page.locator("[data-continue]").click()
        page.wait_for_selector("[data-dropzone]")
        _slow_network(page)
        page.set_input_files("[data-file-input]", files)
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr').length === 24")

        # Boosted navigation: another page of the portal, same tab, same transfers.
        page.locator("nav.tabs a", has_text="Assets").click()
        page.wait_for_url("**/assets/")
        badge = page.locator("#upload-badge")
        badge.wait_for(state="visible")
        assert int(badge.locator("[data-upload-count]").inner_text()) > 0
        page.locator("a.brand").click()
        page.wait_for_url("**/projects/")
        page.locator("h1", has_text="Projects").wait_for()
        # The count follows people around the portal.
        page.locator("#upload-badge").wait_for(state="visible", timeout=5_000)
        # The header's Uploads menu lists the session (once its files are registered) and takes people back to it.
        page.wait_for_function(
            "() => [...window.portalUploads.records.values()].every((r) => !['hashing', 'registering'].includes(r.state))"
        )
        page.locator("#uploads-menu summary").click()
        entry = page.locator("#uploads-menu a.menu-item", has_text="Roof camera")
        assert "24 files" in entry.inner_text()
        entry.click()
        page.wait_for_url(f"**/uploads/{Asset.objects.values_list('upload_session_id', flat=True).first()}/")
        page.locator("h2", has_text="Roof camera").wait_for()
        assert page.locator("#uploads-menu").evaluate("(menu) => !menu.open")
        # The page that arrives shows the count at once (files are still on their way at 300 KB/s).
        assert page.locator("#upload-badge").is_visible()

        page.locator("#upload-badge").wait_for(state="hidden", timeout=120_000)
        page.goto(page.url)  # a fresh page: what the server says now
        page.locator("#upload-badge").wait_for(state="hidden")
    assert Asset.objects.filter(upload_session__view_name="Roof camera", status=Asset.Status.READY).count() == 24


def test_closing_the_tab_while_bytes_move_asks_first(live_server, member, project, tmp_path):
    files = _photos(tmp_path, 12)
    with chromium_page() as page:
        _start_slow_upload(page, live_server, member, project, "Leaving early", files)
        page.locator("#upload-badge").wait_for(state="visible")
        asked = []
        page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
        page.close(run_before_unload=True)
        page.wait_for_timeout(500)
        assert asked == ["beforeunload"]
        assert not page.is_closed(), "dismissing the prompt keeps the tab and its uploads"


def test_each_file_shows_its_own_progress_while_it_moves(live_server, member, project, tmp_path, screens_dir):
    files = _photos(tmp_path, 24)
    with chromium_page() as page:
        polls = []
        page.on("request", lambda request: polls.append(request.url) if "/changes/" in request.url else None)
        _start_slow_upload(page, live_server, member, project, "Loading dock", files)

        # A row part-way: its bar neither empty nor full, its reason says how much of the file went.
        seen = page.wait_for_function(
            """() => {
              for (const row of document.querySelectorAll('#file-rows tr')) {
                const percent = Number(row.querySelector('.progress')?.getAttribute('aria-valuenow'));
                if (percent > 0 && percent < 100) {
                  return { badge: row.querySelector('.badge').textContent, reason: row.cells[4].textContent, percent };
                }
              }
              return null;
            }""",
            timeout=30_000,
        ).json_value()
        assert seen["badge"] == "Uploading"
        # The bar grows from empty (it never starts full and shrinks back) and follows the reported bytes.
        scales = page.evaluate(
            """() => [...document.querySelectorAll('#file-rows tr .progress > span')]
                 .map((fill) => new DOMMatrixReadOnly(getComputedStyle(fill).transform).a)"""
        )
        values = page.evaluate(
            "() => [...document.querySelectorAll('#file-rows tr .progress')].map((bar) => Number(bar.getAttribute('aria-valuenow')) / 100)"
        )
        assert all(scale <= value + 0.01 for scale, value in zip(scales, values)), list(zip(scales, values))
        assert re.fullmatch(r"[\d.]+ (bytes|KB) of [\d.]+ KB", seen["reason"]), seen
        # The other files wait their turn, and say so: at most UPLOAD_BROWSER_CONCURRENCY (6) move at once. (Waited
        # for: right after the first bytes, the next files may still be on their way to the engine.)
        moving_while_others_wait = page.wait_for_function(
            """() => {
              const cells = [...document.querySelectorAll('#file-rows tr .reason-cell')];
              if (!cells.some((cell) => cell.textContent === 'Waiting for a free connection')) return null;
              return [...window.portalUploads.records.values()].filter((record) => record.state === 'uploading').length;
            }""",
            timeout=30_000,
        ).json_value()
        assert moving_while_others_wait <= 6
        # The line above the table adds them up: files and bytes sent so far, the rate and the time left.
        overall = page.wait_for_function(
            """() => {
              const strip = document.querySelector('[data-transfer]');
              const text = strip && !strip.hidden ? strip.querySelector('.transfer-text').innerText : '';
              return text.includes(' left') ? text : null;
            }""",
            timeout=30_000,
        ).json_value()
        assert re.fullmatch(
            r"Sent \d+ of 24 files\s+[\d.]+ (bytes|KB|MB) of [\d.]+ MB · [\d.]+ KB/s · about \d+ (s|min \d+ s) left", overall.strip()
        ), overall
        page.screenshot(path=screens_dir / "session-uploading.png")

        page.locator("#upload-badge").wait_for(state="hidden", timeout=120_000)
        assert re.fullmatch(r"Sent 24 files\s+[\d.]+ MB in \d+ s", page.locator("[data-transfer]").inner_text().strip())
        # While it sent files the page's polls said so (its own new rows are not sent back); once idle, they do not.
        assert any("sending=1" in url for url in polls)
        with page.expect_request(re.compile(r"/changes/\?"), timeout=10_000) as idle_poll:
            pass
        assert "sending=" not in idle_poll.value.url
    assert Asset.objects.filter(upload_session__view_name="Loading dock", status=Asset.Status.READY).count() == 24


def test_the_last_files_of_a_run_are_reported_without_waiting_for_a_batch(live_server, member, project, tmp_path):
    """Completions wait a moment so they go to the server in batches, except those of the last files of a run:
    nothing else would join them. The page's clock stands still here, so only that rule can send them."""
    files = _photos(tmp_path, 3)
    with chromium_page() as page:
        page.clock.install()
        log_in(page, live_server, member)
        _open_session(page, live_server, project, "Last ones")
        page.clock.pause_at(datetime.now() + timedelta(minutes=1))
        with page.expect_response(re.compile(r"/complete/$"), timeout=30_000) as completion:
            page.set_input_files("[data-file-input]", files)
        reported = set(completion.value.request.post_data_json["assetIds"])
        # No poll ran (the clock stands still): the summary's file count comes from the registration itself.
        assert page.locator("#session-summary [data-summary-files]").inner_text() == "3"
        assert page.locator("#session-summary [data-summary-uploading]").inner_text() == "3"
    session_files = Asset.objects.filter(upload_session__view_name="Last ones")
    assert reported == {str(pk) for pk in session_files.values_list("pk", flat=True)} and len(reported) == 3
    assert all(status in {Asset.Status.UPLOADED, Asset.Status.READY} for status in session_files.values_list("status", flat=True))


def test_cancelled_files_leave_the_session_and_the_others_go_through(live_server, member, project, tmp_path, screens_dir):
    files = _photos(tmp_path, 16)
    with chromium_page() as page:
        _start_slow_upload(page, live_server, member, project, "Wrong folder", files)
        # One file waiting for a connection: its own Cancel takes its row away at once.
        waiting = page.locator("#file-rows tr", has_text="Waiting for a free connection").last
        waiting.wait_for(timeout=30_000)
        name = waiting.locator(".name-cell").inner_text()
        with page.expect_response(re.compile(r"/cancel/$")) as one:
            waiting.get_by_role("button", name=f"Cancel {name}").click()
        assert one.value.json() == {"cancelled": 1}
        page.locator("#file-rows tr", has_text=name).wait_for(state="detached")

        # The rest: Cancel uploads asks first, and Keep uploading changes nothing.
        cancel_all = page.locator("[data-cancel-all]")
        cancel_all.click()
        dialog = page.locator("[data-cancel-dialog]")
        assert re.fullmatch(r"\d+ files have not been sent yet\.", dialog.locator("[data-cancel-count]").inner_text())
        page.screenshot(path=screens_dir / "session-cancel-dialog.png")
        dialog.get_by_role("button", name="Keep uploading").click()
        assert page.evaluate("() => window.portalUploads.active()") > 0
        # Once some files have been sent, the rest are cancelled.
        page.wait_for_function(
            "() => [...window.portalUploads.records.values()].some((r) => r.state === 'verifying' || r.state === 'settled')",
            timeout=60_000,
        )
        cancel_all.click()
        with page.expect_response(re.compile(r"/cancel/$")) as rest:
            dialog.get_by_role("button", name="Cancel them").click()
        cancelled = 1 + rest.value.json()["cancelled"]
        cancelled_ids = one.value.request.post_data_json["assetIds"] + rest.value.request.post_data_json["assetIds"]

        page.locator("#upload-badge").wait_for(state="hidden", timeout=30_000)
        assert cancel_all.is_hidden()
        line = page.locator("[data-transfer]").inner_text()
        assert re.search(rf"· {cancelled} cancelled$", line.strip()), line
        shown = page.locator("#file-rows tr").count()
        page.screenshot(path=screens_dir / "session-after-cancel.png")

    session_files = Asset.objects.filter(upload_session__view_name="Wrong folder")
    # What was sent before the cancel stays and goes on; nothing is left Uploading, and nothing cancelled is stored.
    assert session_files.count() == 16 - cancelled == shown
    assert not session_files.filter(status=Asset.Status.UPLOADING).exists()
    assert cancelled >= 2
    stored = {path.parent.name for path in (Path(settings.MEDIA_ROOT) / "assets").rglob("*") if path.is_file()}
    assert stored and not stored & set(cancelled_ids), "what arrived of a cancelled file is deleted"


def test_cancelling_a_drop_as_it_starts_leaves_nothing_behind(live_server, member, project, tmp_path):
    """Cancelled while its files are still being read or registered: those the portal registered meanwhile are
    cancelled when its answer comes, and the page says what happened instead of leaving an empty table."""
    files = _photos(tmp_path, 6)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project, "Changed my mind")
        # Every request takes most of a second: the files are cancelled while their registrations are on their way.
        _slow_network(page, latency=800)
        cancels = []
        page.on("response", lambda response: cancels.append(response) if response.url.endswith("/cancel/") else None)
        page.set_input_files("[data-file-input]", files)
        page.locator("[data-cancel-all]").click()
        page.locator("[data-cancel-dialog]").get_by_role("button", name="Cancel them").click()
        line = page.locator("[data-transfer] .transfer-text")
        line.filter(has_text="Cancelled 6 files").wait_for()
        assert line.inner_text().split("\n") == ["Cancelled 6 files", "Nothing of them stays in this session."]
        page.locator("[data-files-empty]").wait_for()
        assert page.locator("#upload-badge").is_hidden()
        session_files = Asset.objects.filter(upload_session__view_name="Changed my mind")
        page.wait_for_function("() => !document.querySelector('[data-upload-alert]:not([hidden])')")
        for _ in range(100):  # each registration's answer is followed by the cancel of the files it registered
            if cancels and not session_files.exists():
                break
            page.wait_for_timeout(100)
        assert cancels, "the files registered meanwhile were cancelled on the server"
        assert not session_files.exists()


def test_files_cancelled_before_their_drop_was_first_answered_give_their_room_back(live_server, member, project, tmp_path):
    """A drop's first part keeps room in the session for the whole drop. Files cancelled while that part is on its
    way give their room back once the portal has kept it: told earlier, the portal would have nothing to give back,
    and the room would stay kept for a quarter of an hour."""
    files = _photos(tmp_path, 6)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project, "Held back")
        held = []
        page.route(re.compile(r"/files/$"), lambda route: held.append(route))  # the drop's first part waits here
        page.set_input_files("[data-file-input]", files)
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(100)
        assert held, "the drop's first part was sent"
        page.locator("[data-cancel-all]").click()
        page.locator("[data-cancel-dialog]").get_by_role("button", name="Cancel them").click()
        with page.expect_response(re.compile(r"/cancel/$")) as cancelled:
            held[0].continue_()
        assert cancelled.value.ok
        page.locator("[data-transfer] .transfer-text").filter(has_text="Cancelled 6 files").wait_for()
    session = UploadSession.objects.get(view_name="Held back")
    assert not session.assets.exists()
    assert session.drop_reservations == {}


def test_files_cut_off_by_a_reload_are_resumed_by_adding_them_again(live_server, member, project, tmp_path):
    files = _photos(tmp_path, 8)
    with chromium_page() as page:
        _start_slow_upload(page, live_server, member, project, "Reloaded", files)
        page.wait_for_function("() => [...window.portalUploads.records.values()].some((r) => r.state === 'uploading' && r.progress > 0)")
        page.on("dialog", lambda dialog: dialog.accept())  # leave the page although bytes are moving
        page.reload()
        stuck = page.locator("#file-rows tr[data-status='uploading']")
        stuck.first.wait_for()
        cut_off = stuck.count()
        assert cut_off > 0
        assert stuck.first.locator(".reason-cell").inner_text() == "Not sent yet: if its tab was closed, add the file again."
        # One of them is not wanted any more: Remove takes it out of the session.
        unwanted = stuck.first
        name = unwanted.locator(".name-cell").inner_text()
        with page.expect_response(re.compile(r"/cancel/$")) as removed:
            unwanted.get_by_role("button", name=f"Remove {name}").click()
        assert removed.value.json() == {"cancelled": 1}
        page.locator("#file-rows tr", has_text=name).wait_for(state="detached")
        assert not Asset.objects.filter(upload_session__view_name="Reloaded", name=name).exists()

        # Added again, the others resume (and the removed one comes back as a new file).
        page.set_input_files("[data-file-input]", files)
        page.wait_for_function(
            "() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 8", timeout=120_000
        )
        assert page.locator("#file-rows tr").count() == 8
        # Those that had arrived before the reload are the only duplicates.
        if cut_off < 8:
            dialog = page.locator("[data-duplicates-dialog]")
            dialog.wait_for()
            assert f"{8 - cut_off} duplicate file" in dialog.inner_text()
    session_files = Asset.objects.filter(upload_session__view_name="Reloaded")
    assert session_files.count() == 8
    assert set(session_files.values_list("status", flat=True)) == {Asset.Status.READY}


def test_the_same_file_added_twice_in_one_tab_is_sent_once(live_server, member, project, tmp_path):
    files = _photos(tmp_path, 3)
    with chromium_page() as page:
        _start_slow_upload(page, live_server, member, project, "Twice", files)
        page.wait_for_function("() => [...window.portalUploads.records.values()].some((r) => r.state === 'uploading')")
        page.set_input_files("[data-file-input]", files[:1])
        dialog = page.locator("[data-duplicates-dialog]")
        dialog.wait_for()
        assert "The same file is already in this session as “shot_00.jpg”." in dialog.inner_text()
        dialog.get_by_role("button", name="OK").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 3", timeout=60_000
        )
    assert Asset.objects.filter(upload_session__view_name="Twice", status=Asset.Status.READY).count() == 3


def test_rows_cancelled_on_one_page_leave_the_others_showing_the_session(live_server, member, manager, project, tmp_path):
    files = _photos(tmp_path, 20)
    with chromium_page() as page:
        # Slower than the others: files must still be waiting after two more browsers logged in, on a busy machine too.
        _start_slow_upload(page, live_server, member, project, "Watched", files, upload=100_000)
        page.wait_for_function("() => [...window.portalUploads.records.values()].filter((r) => r.assetId).length === 20")
        session_url = page.url
        errors = []
        # The project manager follows the session from their own browser.
        watcher = page.context.browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
        watcher.on("pageerror", lambda error: errors.append(str(error)))
        log_in(watcher, live_server, manager)
        watcher.goto(session_url)
        waiting = page.locator("#file-rows tr", has_text="Waiting for a free connection")
        name = waiting.last.locator(".name-cell").inner_text()
        watcher.locator("#file-rows tr", has_text=name).wait_for()

        waiting.last.get_by_role("button", name=f"Cancel {name}").click()

        watcher.locator("#file-rows tr", has_text=name).wait_for(state="detached", timeout=10_000)
        assert watcher.locator("#file-rows tr").count() == 19

        # The uploader's other browser (another computer, say), which is not sending the files, offers Remove on
        # them: removing one there stops the first browser's transfer of it too.
        second = page.context.browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
        second.on("pageerror", lambda error: errors.append(str(error)))
        log_in(second, live_server, member)
        second.goto(session_url)
        other = waiting.last.locator(".name-cell").inner_text()
        with second.expect_response(re.compile(r"/cancel/$")) as removed:
            second.locator("#file-rows tr", has_text=other).get_by_role("button", name=f"Remove {other}").click()
        assert removed.value.json() == {"cancelled": 1}
        page.locator("#file-rows tr", has_text=other).wait_for(state="detached", timeout=10_000)
        page.wait_for_function(
            "() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 18", timeout=120_000
        )
        page.locator("#upload-badge").wait_for(state="hidden")
        assert page.locator("#file-rows tr").count() == 18
        assert page.locator("[data-transfer]").inner_text().strip().endswith("· 2 cancelled")
        watcher.wait_for_function("() => document.querySelectorAll('#file-rows tr').length === 18")
        assert not errors, errors
    session_files = Asset.objects.filter(upload_session__view_name="Watched")
    assert session_files.count() == 18
    assert set(session_files.values_list("status", flat=True)) == {Asset.Status.READY}
    assert not session_files.filter(name__in=[name, other]).exists()


def test_a_second_tab_shows_the_files_the_first_is_sending_and_counts_them(live_server, member, project, tmp_path):
    files = _photos(tmp_path, 10)
    with chromium_page() as page:
        _start_slow_upload(page, live_server, member, project, "Two tabs", files)
        page.wait_for_function("() => [...window.portalUploads.records.values()].filter((r) => r.assetId).length === 10")
        errors = []
        second = page.context.new_page()
        second.on("pageerror", lambda error: errors.append(str(error)))
        second.goto(page.url)

        # Its rows are not offered for removal or to be added again: they are moving, or waiting their turn, in the
        # other tab.
        second.locator("#file-rows tr", has_text="Being sent from another tab").first.wait_for()
        second.locator("#file-rows tr", has_text="Waiting for a free connection in another tab").first.wait_for()
        second.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-other-tab]').length === "
                                 "document.querySelectorAll('#file-rows tr[data-status=\"uploading\"]').length")
        assert second.locator("#file-rows [data-remove]:visible").count() == 0
        assert "Not sent yet" not in second.locator("#file-rows").inner_text()
        # The header counts the files moving in any tab of the portal.
        badge = second.locator("#upload-badge")
        assert badge.is_visible() and int(badge.locator("[data-upload-count]").inner_text()) > 0
        second.wait_for_function(
            "() => [...document.querySelectorAll('#file-rows tr[data-other-tab] .progress')].some((bar) => +bar.getAttribute('aria-valuenow') > 0)"
        )
        # Added again here, the files are duplicates of those the first tab is sending, not sent a second time.
        keys = dict(Asset.objects.filter(upload_session__view_name="Two tabs").values_list("pk", "storage_key"))
        second.set_input_files("[data-file-input]", files)
        dialog = second.locator("[data-duplicates-dialog]")
        dialog.wait_for()
        assert "10 duplicate files were skipped" in dialog.inner_text()
        dialog.get_by_role("button", name="OK").click()
        assert dict(Asset.objects.filter(upload_session__view_name="Two tabs").values_list("pk", "storage_key")) == keys

        # The first tab is closed mid-way: what it was sending is not moving any more, and the rows say so again.
        page.close()
        second.locator("#file-rows tr", has_text="Not sent yet: if its tab was closed, add the file again.").first.wait_for(timeout=10_000)
        assert second.locator("#file-rows tr[data-other-tab]").count() == 0
        assert second.locator("#file-rows [data-remove]:visible").count() == second.locator("#file-rows tr[data-status='uploading']").count()
        badge.wait_for(state="hidden")
        assert not errors, errors


def test_portal_pages_still_load_while_files_go_slowly_to_the_embedded_storage(live_server, member, project, tmp_path):
    """The embedded storage endpoint is on the portal's own address, and a browser opens at most 6 connections to one
    address for all its tabs: if transfers took all 6, no page of the portal would load until a file finished."""
    files = _photos(tmp_path, 10)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project, "Slow line")
        _slow_network(page, upload=40_000)
        page.set_input_files("[data-file-input]", files)
        page.wait_for_function(
            "() => [...window.portalUploads.records.values()].filter((r) => r.state === 'uploading').length >= 4"
        )
        other = page.context.new_page()
        other.goto(live_server.url + reverse("projects:list"), timeout=10_000)
        assert other.locator("h1").inner_text() == "Projects"
        moving = page.evaluate("() => [...window.portalUploads.records.values()].filter((r) => r.state === 'uploading').length")
        assert moving == 4


def test_files_sent_while_the_portal_cannot_be_reached_are_reported_once_it_is_back(live_server, member, project, tmp_path):
    """A completion that gets no answer (the connection dropped, the portal restarting) is sent again, so the files
    it reports do not stay "checking" for good."""
    files = _photos(tmp_path, 6)
    with chromium_page() as page:
        log_in(page, live_server, member)
        _open_session(page, live_server, project, "Line dropped")
        lost = []

        def drop_the_first_two(route):
            if len(lost) < 2:
                lost.append(route.request.post_data_json)
                route.abort("internetdisconnected")
            else:
                route.continue_()

        page.route(re.compile(r"/complete/$"), drop_the_first_two)
        page.set_input_files("[data-file-input]", files)
        alert = page.locator("[data-upload-alert]")
        alert.filter(has_text="The connection to the portal was lost").wait_for()
        assert page.locator("#upload-badge").is_visible()
        page.wait_for_function(
            "() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 6", timeout=60_000
        )
        page.locator("#upload-badge").wait_for(state="hidden")
        assert alert.is_hidden()
        assert len(lost) == 2
    assert Asset.objects.filter(upload_session__view_name="Line dropped", status=Asset.Status.READY).count() == 6


def test_the_transfer_line_says_when_the_connection_is_lost_and_the_files_go_on_when_it_is_back(
    live_server, member, project, tmp_path
):
    files = _photos(tmp_path, 12)
    with chromium_page() as page:
        _start_slow_upload(page, live_server, member, project, "Offline a while", files)
        page.wait_for_function("() => [...window.portalUploads.records.values()].some((r) => r.state === 'uploading' && r.progress > 0)")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        line = page.locator("[data-transfer-detail]")
        line.filter(has_text="no connection: the files go on when it is back").wait_for(timeout=10_000)
        assert " left" not in line.inner_text()
        page.wait_for_timeout(3000)
        assert page.locator("#file-rows tr[data-status='upload_error']").count() == 0
        _slow_network(page)
        page.wait_for_function(
            "() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 12", timeout=120_000
        )
        assert "no connection" not in page.locator("[data-transfer]").inner_text()
    assert Asset.objects.filter(upload_session__view_name="Offline a while", status=Asset.Status.READY).count() == 12
