"""Accessibility in real Chromium: axe-core finds no serious or critical violation on any page people use, and the
upload page works by keyboard alone (Tab, Enter and Space) from choosing files to finalizing.

Screenshots: test-results/screens/upload-keyboard-focus.png (the upload page with the keyboard's focus on "select
files") and upload-keyboard-duplicates.png (the duplicates dialog, its OK button focused).
"""

import base64
import datetime
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assets.batches import batch_add_assets, batch_create
from assets.models import Asset
from tests.e2e.axe import blocking_violations
from tests.conftest import PASSWORD
from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401
from tests.helpers import make_asset
from tests.media_factory import make_jpeg
from uploads.imports import url_import_preview
from uploads.models import UploadSession
from uploads.services import upload_session_open

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("served_static"),
    skip_without_chromium,
]


def _session(project, user, *, source=UploadSession.Source.DIRECT, view_name="North gate, camera 2") -> UploadSession:
    return upload_session_open(
        project=project, user=user, asset_type="image", source=source, view_name=view_name, capture_date=datetime.date(2026, 11, 20)
    )


def _files(folder, count: int, *, first_seed: int) -> list:
    paths = []
    for n in range(count):
        path = folder / f"gate-{first_seed + n:03}.jpg"
        path.write_bytes(make_jpeg(40 + first_seed + n, 30))
        paths.append(path)
    return paths


def test_no_page_has_a_serious_or_critical_accessibility_violation(live_server, organization, project, owner, tmp_path):
    # What the pages show: assets in every status, a batch, an earlier session, a CSV list waiting in its preview.
    session = _session(project, owner, view_name="Earlier drop")
    statuses = [Asset.Status.READY, Asset.Status.UPLOADED, Asset.Status.PREPROCESSING, Asset.Status.UPLOAD_ERROR]
    assets = [
        make_asset(project, name=f"crossing-{n}.jpg", status=status, uploaded_by=owner, upload_session=session, size=2048,
                   error_reason="The file's content is not an image." if status == Asset.Status.UPLOAD_ERROR else "")
        for n, status in enumerate(statuses)
    ]
    batch = batch_create(project=project, user=owner, name="Morning shift")
    batch_add_assets(batch=batch, asset_ids=[assets[0].pk])
    csv_session = _session(project, owner, source=UploadSession.Source.CSV, view_name="Bucket list")
    listed = "url,name\nhttps://images.example.com/1.jpg,One\nftp://files.example.com/2.jpg,Two\n"
    url_import = url_import_preview(session=csv_session, user=owner, uploaded=SimpleUploadedFile("list.csv", listed.encode()))
    upload_to = _session(project, owner)
    files = _files(tmp_path, 3, first_seed=0)

    found: dict[str, list[str]] = {}
    with chromium_page() as page:

        def check(name: str, context: str | dict | None = None) -> None:
            page.wait_for_load_state()
            found[name] = blocking_violations(page, context)

        def visit(name: str, url: str, context: dict | None = None) -> None:
            page.goto(live_server.url + url)
            check(name, context)

        visit("login", reverse("login"))
        log_in(page, live_server, owner)
        check("projects")
        for name, url in [
            ("assets tab", reverse("assets:list", args=[project.pk])),
            ("uploads tab", reverse("uploads:list", args=[project.pk])),
            ("batches tab", reverse("assets:batches", args=[project.pk])),
            ("batch", reverse("assets:batch_detail", args=[project.pk, batch.pk])),
            ("settings tab", reverse("projects:settings", args=[project.pk])),
            ("asset page", reverse("assets:detail", args=[project.pk, assets[3].pk])),
            ("import preview", reverse("uploads:import_detail", args=[project.pk, csv_session.pk, url_import.pk])),
            ("members", reverse("projects:members", args=[organization.pk])),
            ("storage integrations", reverse("uploads:integrations", args=[organization.pk])),
            ("profile", reverse("profile")),
            ("asset library", reverse("assets:library")),
        ]:
            visit(name, url)
        # The API reference repeats one card per operation and per shape (about 3,000 elements, 20 s of axe on a busy
        # machine): its header, the getting-started card and the first two cards of each kind stand for the rest.
        visit("API docs", reverse("api_docs"), {"exclude": [".api-operation ~ .api-operation ~ .api-operation", "[id^=schema-] ~ [id^=schema-] ~ [id^=schema-]"]})

        for name, url in [("Add Assets panel", reverse("assets:list", args=[project.pk])), ("library's Add Assets panel", reverse("assets:library"))]:
            page.goto(live_server.url + url)
            page.locator(".page-header").get_by_role("link", name="Add Assets").click()
            page.wait_for_selector("#drawer-root .panel-body")
            # Checked once it has slid in: colours measured mid-fade are not the ones people read.
            page.wait_for_function("() => document.getElementById('drawer-root').getAnimations({ subtree: true }).every((a) => a.playState === 'finished')")
            check(name)

        # A session page while its files are moving: their transfers are held until the page is checked.
        held = []
        page.route("**/*", lambda route, request: held.append(route) if request.method == "PUT" else route.continue_())
        page.goto(live_server.url + reverse("uploads:detail", args=[project.pk, upload_to.pk]))
        page.set_input_files("[data-file-input]", [str(path) for path in files + files[:1]])
        dialog = page.locator("[data-duplicates-dialog]")
        dialog.wait_for(state="visible")
        check("duplicates dialog", "[data-duplicates-dialog]")
        dialog.get_by_role("button", name="OK").click()
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"uploading\"]').length === 3")
        page.locator("[data-transfer]").wait_for(state="visible")
        check("session page mid-upload")

    assert len(found) == 18
    failing = {page: violations for page, violations in found.items() if violations}
    assert not failing, "axe-core's serious and critical violations:\n" + "\n".join(
        f"{page}: {violation}" for page, violations in failing.items() for violation in violations
    )


# The focused element's accessible name, near enough for these pages: its aria-label, its <label>, or its text.
_FOCUSED_NAME = """() => {
  const el = document.activeElement;
  return (el.getAttribute('aria-label') || (el.labels && el.labels.length ? el.labels[0].textContent : el.textContent) || '').trim();
}"""


def _tab_to(page, name: str, *, backwards: bool = False) -> None:
    """Presses Tab (Shift+Tab) until the element named `name` has the focus; fails if it is not reachable so."""
    for _ in range(60):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(_FOCUSED_NAME) == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def _focus_stays_in(page, selector: str, presses: int = 4) -> None:
    """Tab never reaches the page behind `selector`; past its last control it goes to the browser's own bar (the
    document itself holds the focus then) and comes back to its first."""
    inside = "(selector) => document.querySelector(selector).contains(document.activeElement)"
    for _ in range(presses):
        page.keyboard.press("Tab")
        where = page.evaluate(inside + " ? 'inside' : document.activeElement === document.body ? 'browser' : 'page'", selector)
        assert where != "page", f"Tab left {selector} for {page.evaluate(_FOCUSED_NAME)[:80]!r}"


def test_a_keyboard_alone_adds_files_sees_the_duplicates_and_finalizes(
    live_server, project, member, eager_tasks, tmp_path, screens_dir
):
    files = _files(tmp_path, 3, first_seed=20)
    again = tmp_path / "gate-again.jpg"
    again.write_bytes(files[0].read_bytes())
    with chromium_page() as page:
        failing = base64.b64encode(hashlib.sha256(files[1].read_bytes()).digest()).decode()

        def refuse_one_file(route, request):
            # One file's transfer fails, so Finalize asks first (its dialog is the second one checked).
            if request.method == "PUT" and request.headers.get("x-amz-checksum-sha256") == failing:
                route.fulfill(status=403, headers={"Access-Control-Allow-Origin": "*"}, body="")
            else:
                route.continue_()

        page.route("**/*", refuse_one_file)
        # Playwright subscribes to file choosers without waiting: a listener from the start makes sure the one that
        # Enter opens is already intercepted (else, on a busy machine, a real chooser opened and the test timed out).
        page.on("filechooser", lambda chooser: None)
        page.goto(live_server.url + reverse("login"))
        _tab_to(page, "Username")
        page.keyboard.type(member.username)
        _tab_to(page, "Password")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/projects/")

        page.goto(live_server.url + reverse("assets:list", args=[project.pk]))
        _tab_to(page, "Add Assets")
        page.keyboard.press("Enter")
        page.wait_for_selector("#drawer-root [role=dialog]")
        # Escape closes the panel and gives the focus back to Add Assets, which opens it again.
        page.keyboard.press("Escape")
        page.wait_for_selector("#drawer-root [role=dialog]", state="detached")
        assert page.evaluate(_FOCUSED_NAME) == "Add Assets"
        page.keyboard.press("Enter")
        page.wait_for_selector("#drawer-root [role=dialog]")
        # The panel takes the focus: its first choice, the asset type.
        assert page.evaluate("document.getElementById('drawer-root').contains(document.activeElement)")
        page.keyboard.press("Space")
        _tab_to(page, "View name")  # past the source, already "Direct file upload"
        page.keyboard.type("North gate, camera 2")
        _tab_to(page, "Capture date")
        page.keyboard.type("11202026")
        _focus_stays_in(page, "#drawer-root", presses=6)
        _tab_to(page, "Continue")
        page.keyboard.press("Enter")

        page.wait_for_selector("[data-upload-session][data-mounted]")
        _tab_to(page, "select files")
        page.screenshot(path=screens_dir / "upload-keyboard-focus.png")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files([str(path) for path in files + [again]])

        dialog = page.locator("[data-duplicates-dialog]")
        dialog.wait_for(state="visible")
        assert "1 duplicate file was skipped" in dialog.inner_text()
        assert page.evaluate(_FOCUSED_NAME) == "OK"
        page.screenshot(path=screens_dir / "upload-keyboard-duplicates.png")
        _focus_stays_in(page, "[data-duplicates-dialog]")
        _tab_to(page, "OK")
        page.keyboard.press("Enter")
        dialog.wait_for(state="hidden")
        assert page.evaluate(_FOCUSED_NAME) == "select files", "closing the dialog gives the focus back"

        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 2", timeout=60_000)
        failed = page.locator('#file-rows tr[data-status="upload_error"]')
        failed.wait_for(timeout=60_000)
        assert "Upload Error" in failed.locator(".badge").inner_text(), "a failure is said in words, not only in red"
        # The counts reach screen readers through the polite live region, a few seconds apart at most.
        page.wait_for_function(
            "() => /2 ready\\. 1 upload error\\. 1 duplicate skipped\\./.test(document.querySelector('[data-upload-announcer]').textContent)",
            timeout=15_000,
        )

        _tab_to(page, "Finalize", backwards=True)
        page.keyboard.press("Enter")
        confirm = page.locator("[data-finalize-dialog]")
        confirm.wait_for(state="visible")
        assert page.evaluate(_FOCUSED_NAME) == "Go back"
        _focus_stays_in(page, "[data-finalize-dialog]")
        page.keyboard.press("Escape")
        confirm.wait_for(state="hidden")
        assert page.evaluate(_FOCUSED_NAME) == "Finalize", "closing the dialog gives the focus back"

        page.keyboard.press("Enter")
        confirm.wait_for(state="visible")
        _tab_to(page, "Finalize anyway")
        page.keyboard.press("Enter")
        page.wait_for_selector("#session-summary .badge-complete", timeout=60_000)
    session = UploadSession.objects.get(view_name="North gate, camera 2")
    assert session.status == UploadSession.Status.COMPLETE
    assert session.duplicate_count == 1
    assert sorted(Asset.objects.filter(upload_session=session).values_list("status", flat=True)) == ["ready", "ready", "upload_error"]
