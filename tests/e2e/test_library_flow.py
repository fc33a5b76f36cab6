"""In real Chromium, the top-level Assets page: 20 files uploaded to the library and 5 of them moved into a project,
a batch from picks on two pages, a deletion that removes the stored
files, and a viewer who sees no action. Screenshots land in test-results/screens/ (library-*.png)."""

import io

import pytest
from django.urls import reverse

from assets import storage
from assets.models import Asset
from projects.models import Batch
from tests.e2e.browser import chromium_page, log_in, served_static, skip_without_chromium  # noqa: F401
from tests.e2e.test_upload_flow import _small_jpegs, eager_celery  # noqa: F401
from tests.helpers import bulk_assets, make_asset
from uploads.models import UploadSession

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("served_static"),
    skip_without_chromium,
]

# The ORM is only used outside the `with chromium_page()` blocks (see tests/e2e/test_upload_flow.py).


def test_a_batch_is_made_from_assets_picked_on_two_pages(live_server, member, project, settings, screens_dir):
    bulk_assets(project, settings.ASSETS_PAGE_SIZE + 10, status=Asset.Status.READY, uploaded_by=member)
    # Newest first: page 1 ends with asset-000011.jpg, page 2 starts with asset-000010.jpg.
    with chromium_page() as page:
        log_in(page, live_server, member)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Assets").click()
        page.wait_for_url("**/assets/")
        page.get_by_label("Select asset-000060.jpg").check()
        page.get_by_label("Select asset-000059.jpg").check()
        page.locator("#selection-bar", has_text="2 selected").wait_for()
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next").click()
        page.wait_for_url("**/assets/?page=2")
        page.get_by_label("Select asset-000003.jpg").check()
        page.locator("#selection-bar", has_text="3 selected").wait_for()
        page.get_by_label("Batch to add them to").select_option(label="A new batch of Street scenes…")
        page.get_by_label("New batch name").fill("Two pages")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=screens_dir / "library-selection.png", full_page=True)
        page.get_by_role("button", name="Add to batch").click()
        page.get_by_text("3 assets added to “Two pages” as input records.").wait_for()
        page.screenshot(path=screens_dir / "library-batch-added.png", full_page=True)

    batch = Batch.objects.get(project=project, name="Two pages")
    assert sorted(batch.records.values_list("asset__name", flat=True)) == ["asset-000003.jpg", "asset-000059.jpg", "asset-000060.jpg"]


def test_deleting_selected_assets_removes_their_stored_files(live_server, owner, project, organization, screens_dir):
    keys = []
    for n in range(2):
        asset = make_asset(project, name=f"old-{n}.jpg", status=Asset.Status.READY, uploaded_by=owner,
                           storage_key=f"assets/{organization.pk}/old{n}/original.jpg",
                           thumbnail_key=f"assets/{organization.pk}/old{n}/thumbnail.jpg")
        for key in (asset.storage_key, asset.thumbnail_key):
            storage.write(key, io.BytesIO(b"stored bytes"))
            keys.append(key)
    make_asset(project, name="keep.jpg", status=Asset.Status.READY)

    with chromium_page() as page:
        log_in(page, live_server, owner)
        page.goto(live_server.url + reverse("assets:library"))
        page.get_by_label("Search by name").fill("old-")
        page.locator("#asset-results", has_text="2 assets match").wait_for()
        page.get_by_role("button", name="Select this page").click()
        page.locator("#selection-bar", has_text="2 selected").wait_for()
        page.get_by_role("link", name="Delete…").click()
        page.get_by_role("heading", name="Delete 2 assets?").wait_for()
        page.screenshot(path=screens_dir / "library-delete-confirm.png", full_page=True)
        page.get_by_role("button", name="Delete 2 assets").click()
        page.get_by_text("2 assets deleted, with their stored files.").wait_for()

    assert list(Asset.objects.values_list("name", flat=True)) == ["keep.jpg"]
    assert [storage.stored_size(key) for key in keys] == [None] * 4


def test_a_viewer_sees_the_assets_but_no_bulk_action(live_server, viewer, project, screens_dir):
    for n in range(3):
        make_asset(project, name=f"seen-{n}.jpg", status=Asset.Status.READY)

    with chromium_page() as page:
        log_in(page, live_server, viewer)
        page.goto(live_server.url + reverse("assets:library"))
        page.get_by_role("cell", name="seen-0.jpg").wait_for()
        assert page.get_by_role("checkbox").count() == 0
        for action in ("Select this page", "Move", "Add to batch", "Retry failed", "Delete…"):
            assert page.get_by_role("button", name=action).count() == 0 and page.get_by_role("link", name=action).count() == 0
        page.screenshot(path=screens_dir / "library-viewer.png", full_page=True)


def test_twenty_files_go_to_the_library_and_five_of_them_move_into_a_project(
    live_server, eager_celery, member, organization, project, tmp_path, screens_dir
):
    paths = _small_jpegs(tmp_path, "pier", 20, first_seed=7100)
    with chromium_page() as page:
        log_in(page, live_server, member)
        page.goto(live_server.url + reverse("assets:library"))
        page.locator(".page-header").get_by_role("link", name="Add Assets").click()
        page.wait_for_selector("#drawer-root .panel-body")
        assert page.get_by_label("Add to").input_value() == f"library:{organization.pk}"  # no project unless chosen
        page.locator("label.choice", has_text="Image").click()
        page.fill("#id_view_name", "Pier, camera 1")
        page.fill("#id_capture_date", "2026-11-20")
        page.screenshot(path=screens_dir / "library-add-assets.png", full_page=True)
        page.locator("[data-continue]").click()
        page.wait_for_selector("[data-dropzone]")
        page.set_input_files("[data-file-input]", [str(p) for p in paths])
        page.wait_for_function("() => document.querySelectorAll('#file-rows tr[data-status=\"ready\"]').length === 20", timeout=90_000)
        page.screenshot(path=screens_dir / "library-session.png", full_page=True)

        page.goto(live_server.url + reverse("assets:library") + "?project=library&sort=name")
        page.locator("#asset-results", has_text="20 assets match").wait_for()
        for n in range(5):
            page.get_by_label(f"Select pier_{n:03}.jpg").check()
            page.locator("#selection-bar", has_text=f"{n + 1} selected").wait_for()
        page.get_by_label("Project to move them to").select_option(label="Street scenes")
        page.get_by_role("button", name="Move", exact=True).click()
        page.get_by_text("5 assets moved to Street scenes.").wait_for()
        page.locator("#asset-results", has_text="15 assets match").wait_for()
        page.screenshot(path=screens_dir / "library-moved.png", full_page=True)

    session = UploadSession.objects.get()
    assert session.project is None and session.organization == organization
    assert Asset.objects.filter(upload_session=session, status=Asset.Status.READY).count() == 20
    assert sorted(Asset.objects.filter(project=project).values_list("name", flat=True)) == [f"pier_{n:03}.jpg" for n in range(5)]
    assert Asset.objects.filter(project__isnull=True).count() == 15
