"""assets/library.py: moving, retrying and deleting selected assets; roles, organizations, the duplicate rule, all
or nothing, stored files deleted after the commit, and every action in the assets' history."""

import io

import pytest

from assets import storage
from assets.library import AssetsRefused, assets_delete, assets_move, assets_retry
from assets.models import Asset, AssetEvent
from projects.access import get_library_access
from projects.models import Batch, Membership, Project, Record
from tests.helpers import make_asset

S = Asset.Status


def library_asset(organization, **fields) -> Asset:
    name = fields.pop("name", "loose.jpg")
    fields.setdefault("asset_type", Asset.Type.IMAGE)
    return Asset.objects.create(organization=organization, project=None, name=name, original_filename=name, **fields)


@pytest.fixture
def harbour(organization, owner):
    return Project.objects.create(organization=organization, name="Harbour cameras", created_by=owner)


def _move(user, assets, project):
    return assets_move(access=get_library_access(user), user=user, assets=assets, project=project)


def test_library_assets_move_into_a_project_with_a_history_line(organization, member, harbour):
    assets = [library_asset(organization, name=f"l{n}.jpg", sha256=f"{n:064x}", status=S.READY) for n in range(3)]

    assert _move(member, assets, harbour) == 3

    assert set(Asset.objects.filter(project=harbour).values_list("name", flat=True)) == {"l0.jpg", "l1.jpg", "l2.jpg"}
    event = AssetEvent.objects.get(asset=assets[0], action=AssetEvent.Action.MOVED)
    assert (event.actor, event.reason) == (member, "Moved from the library to Harbour cameras")


def test_a_viewer_cannot_move_anything(organization, viewer, harbour):
    asset = library_asset(organization, status=S.READY)

    with pytest.raises(AssetsRefused) as refused:
        _move(viewer, [asset], harbour)

    assert refused.value.status == 403 and "viewers" in refused.value.message
    assert Asset.objects.get(pk=asset.pk).project_id is None


def test_a_duplicate_in_the_target_refuses_the_whole_move_and_names_where_the_copy_is(organization, member, project, harbour):
    make_asset(harbour, name="already.jpg", sha256="a" * 64, status=S.READY)
    fine = make_asset(project, name="fine.jpg", sha256="b" * 64, status=S.READY)
    clash = make_asset(project, name="clash.jpg", sha256="a" * 64, status=S.READY)

    with pytest.raises(AssetsRefused) as refused:
        _move(member, [fine, clash], harbour)

    assert "Nothing was moved to Harbour cameras" in refused.value.message
    assert "“clash.jpg”: the same file is already in the project Harbour cameras as “already.jpg”" in refused.value.message
    assert Asset.objects.get(pk=fine.pk).project == project  # nothing half-done


def test_two_selected_assets_with_the_same_content_cannot_both_move(organization, member, project, harbour):
    one = library_asset(organization, name="one.jpg", sha256="c" * 64, status=S.READY)
    two = make_asset(project, name="two.jpg", sha256="c" * 64, status=S.READY)

    with pytest.raises(AssetsRefused, match="the same file as “one.jpg”, also selected"):
        _move(member, [one, two], harbour)


def test_assets_of_another_organization_busy_ones_and_input_records_stay(organization, member, project, harbour, other_project):
    foreign = make_asset(other_project, name="foreign.jpg", status=S.READY)
    busy = make_asset(project, name="busy.jpg", status=S.PREPROCESSING)
    recorded = make_asset(project, name="recorded.jpg", status=S.READY)
    Record.objects.create(batch=Batch.objects.create(project=project, name="B1"), asset=recorded)

    for asset, why in [(foreign, "not of your organizations"), (busy, "still uploading or being processed"), (recorded, "input record")]:
        with pytest.raises(AssetsRefused, match=why):
            _move(member, [asset], harbour)


def test_an_asset_of_another_organization_of_the_person_does_not_move_into_this_one(
    organization, member, harbour, other_project
):
    Membership.objects.create(organization=other_project.organization, user=member, role=Membership.Role.UPLOADER)
    foreign = make_asset(other_project, name="foreign.jpg", status=S.READY)

    with pytest.raises(AssetsRefused, match="of another organization than Harbour cameras"):
        _move(member, [foreign], harbour)


def test_a_project_that_takes_no_videos_refuses_them(organization, member, harbour):
    harbour.allow_videos = False
    harbour.save()
    video = library_asset(organization, name="clip.mp4", asset_type=Asset.Type.VIDEO, status=S.READY)

    with pytest.raises(AssetsRefused, match="does not take this type"):
        _move(member, [video], harbour)


def test_deleting_removes_rows_records_and_after_the_commit_the_stored_files(
    organization, owner, project, django_capture_on_commit_callbacks
):
    asset = make_asset(project, name="gone.jpg", status=S.READY, storage_key=f"assets/{organization.pk}/x/original.jpg",
                       thumbnail_key=f"assets/{organization.pk}/x/thumb.jpg")
    for key in (asset.storage_key, asset.thumbnail_key):
        storage.write(key, io.BytesIO(b"bytes"))
    Record.objects.create(batch=Batch.objects.create(project=project, name="B1"), asset=asset)

    with django_capture_on_commit_callbacks() as callbacks:
        deleted = assets_delete(access=get_library_access(owner), user=owner, assets=[asset])
        assert storage.stored_size(asset.storage_key) == 5  # not before the commit
    for callback in callbacks:
        callback()

    assert deleted == 1 and not Asset.objects.filter(pk=asset.pk).exists() and not Record.objects.exists()
    assert storage.stored_size(asset.storage_key) is None and storage.stored_size(asset.thumbnail_key) is None
    event = AssetEvent.objects.get(asset_ref=asset.pk)
    assert (event.action, event.actor, event.asset_name) == (AssetEvent.Action.DELETED, owner, "gone.jpg")


def test_an_uploader_deletes_only_their_own_uploads(project, member, owner):
    own = make_asset(project, name="own.jpg", status=S.READY, uploaded_by=member)
    theirs = make_asset(project, name="theirs.jpg", status=S.READY, uploaded_by=owner)

    with pytest.raises(AssetsRefused, match="Uploaders delete only what they uploaded"):
        assets_delete(access=get_library_access(member), user=member, assets=[own, theirs])

    assert Asset.objects.count() == 2
    assert assets_delete(access=get_library_access(member), user=member, assets=[own]) == 1


def test_assets_still_processing_are_not_deleted(project, owner):
    busy = make_asset(project, status=S.UPLOADING)

    with pytest.raises(AssetsRefused, match="still uploading or being processed"):
        assets_delete(access=get_library_access(owner), user=owner, assets=[busy])


def test_more_than_the_limit_is_refused_whole(project, owner, settings):
    settings.ASSETS_BULK_MAX = 2
    assets = [make_asset(project, name=f"{n}.jpg", status=S.READY) for n in range(3)]

    with pytest.raises(AssetsRefused, match="one action takes at most 2"):
        assets_delete(access=get_library_access(owner), user=owner, assets=assets)


def test_retry_processes_a_failed_file_still_stored_and_skips_one_whose_file_is_gone(
    organization, project, member, django_capture_on_commit_callbacks, queued_verifications
):
    kept = make_asset(project, name="kept.jpg", status=S.UPLOAD_ERROR, error_reason="The portal gave up processing.",
                      storage_key=f"assets/{organization.pk}/k/original.jpg", size=5)
    storage.write(kept.storage_key, io.BytesIO(b"bytes"))
    gone = make_asset(project, name="gone.jpg", status=S.UPLOAD_ERROR, error_reason="Not an image",
                      storage_key=f"assets/{organization.pk}/g/original.jpg")
    ready = make_asset(project, name="ready.jpg", status=S.READY)

    with django_capture_on_commit_callbacks(execute=True):
        result = assets_retry(access=get_library_access(member), user=member, assets=[kept, gone, ready])

    assert [a.name for a in result.retried] == ["kept.jpg"]
    assert dict((a.name, why) for a, why in result.skipped) == {
        "gone.jpg": "its file is no longer stored: add it again with Add Assets", "ready.jpg": "it has not failed",
    }
    assert Asset.objects.get(pk=kept.pk).status == S.UPLOADING
    assert queued_verifications == [[str(kept.pk)]]
    assert AssetEvent.objects.filter(asset=kept, action=AssetEvent.Action.RETRIED, actor=member).exists()


def test_a_viewer_cannot_retry(project, viewer):
    failed = make_asset(project, status=S.UPLOAD_ERROR, error_reason="x")

    with pytest.raises(AssetsRefused) as refused:
        assets_retry(access=get_library_access(viewer), user=viewer, assets=[failed])

    assert refused.value.status == 403


@pytest.fixture
def queued_verifications(monkeypatch) -> list:
    queued: list = []
    monkeypatch.setattr("assets.services._queue", lambda task, *args: queued.append(args[0]) if task == "assets.tasks.verify_uploads" else None)
    return queued


def _event_inserts(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith('INSERT INTO "assets_assetevent"'))


def test_moving_many_assets_records_their_history_in_one_insert(organization, member, harbour):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assets = [library_asset(organization, name=f"m{n}.jpg", sha256=f"{n:064x}", status=S.READY) for n in range(12)]

    with CaptureQueriesContext(connection) as queries:
        assert _move(member, assets, harbour) == 12

    assert _event_inserts(queries) == 1
    assert AssetEvent.objects.filter(action=AssetEvent.Action.MOVED, actor=member).count() == 12


def test_retrying_many_assets_records_their_history_in_one_insert(organization, project, member, queued_verifications):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    failed = []
    for n in range(8):
        asset = make_asset(project, name=f"r{n}.jpg", status=S.UPLOAD_ERROR, error_reason="The portal gave up processing.",
                           storage_key=f"assets/{organization.pk}/r{n}/original.jpg", size=5)
        storage.write(asset.storage_key, io.BytesIO(b"bytes"))
        failed.append(asset)

    with CaptureQueriesContext(connection) as queries:
        result = assets_retry(access=get_library_access(member), user=member, assets=failed)

    assert len(result.retried) == 8
    assert _event_inserts(queries) == 1
    assert AssetEvent.objects.filter(action=AssetEvent.Action.RETRIED, actor=member).count() == 8
