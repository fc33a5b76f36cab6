"""An asset's history (docs/ARCHITECTURE.md, "Asset history"): every status move records who, when, from what to
what and why; a guarded move that did not happen records nothing; other actions record through asset_events_record;
many events are saved in one INSERT; the history outlives the asset."""

import hashlib
import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.batches import batch_add_assets, batch_create
from assets.models import Asset, AssetEvent
from assets.services import asset_events_record, asset_fail
from assets.tasks import verify_uploads
from tests.helpers import make_asset
from uploads.services import upload_cancel, upload_session_register
from uploads.single import asset_register

S = Asset.Status
A = AssetEvent.Action


def _inserts(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith('INSERT INTO "assets_assetevent"'))


def test_a_move_records_who_moved_the_file_from_what_to_what_and_why(project, member):
    asset = make_asset(project, status=S.UPLOADING)

    assert asset.move(S.UPLOAD_ERROR, reason="The transfer failed.", actor_id=member.pk)

    event = AssetEvent.objects.get(asset=asset)
    assert (event.action, event.from_status, event.to_status, event.reason) == (A.STATUS, S.UPLOADING, S.UPLOAD_ERROR, "The transfer failed.")
    assert event.actor == member
    assert (event.asset_ref, event.asset_name, event.organization_id) == (asset.pk, asset.name, project.organization_id)
    assert event.at == Asset.objects.get(pk=asset.pk).status_changed_at


def test_a_workers_move_has_no_actor(project):
    asset = make_asset(project, status=S.UPLOADED)

    assert asset.mark_ready()

    assert list(AssetEvent.objects.values_list("actor", "to_status")) == [(None, S.READY)]


def test_a_guarded_move_that_did_not_happen_records_nothing(project, member):
    ready = make_asset(project, status=S.READY)
    assert not ready.move(S.UPLOADED, actor_id=member.pk)  # Ready moves nowhere
    stale = make_asset(project, status=S.UPLOADING)
    Asset.objects.filter(pk=stale.pk).update(status=S.UPLOADED)  # another worker got there first
    assert not stale.mark_uploaded()
    claimed = make_asset(project, status=S.PREPROCESSING, processing_token="theirs")
    assert not claimed.finish_preprocessing("mine")

    assert not AssetEvent.objects.exists()


def test_a_retry_is_recorded_as_a_retry_by_the_person(project, member):
    asset = make_asset(project, status=S.UPLOAD_ERROR, error_reason="Earlier failure")

    assert asset.restart_upload(storage_key=f"{asset.storage_key}.2", actor_id=member.pk)

    event = AssetEvent.objects.get()
    assert (event.action, event.from_status, event.to_status, event.actor_id) == (A.RETRIED, S.UPLOAD_ERROR, S.UPLOADING, member.pk)


def test_asset_events_record_saves_an_event_per_asset_in_one_insert(project, owner):
    assets = [make_asset(project, name=f"cam-{n}.jpg", status=S.READY) for n in range(30)]

    with CaptureQueriesContext(connection) as queries:
        asset_events_record(assets=assets, action=A.MOVED, actor=owner, reason="Moved to Harbour cameras")

    assert len(queries) == 1 and _inserts(queries) == 1
    events = AssetEvent.objects.filter(action=A.MOVED)
    assert sorted(e.asset_name for e in events) == sorted(a.name for a in assets)
    assert {(e.actor_id, e.from_status, e.to_status, e.reason) for e in events} == {(owner.pk, S.READY, "", "Moved to Harbour cameras")}


def test_moves_inside_collecting_are_saved_together_at_the_end(project):
    assets = [make_asset(project, status=S.UPLOADING) for _ in range(12)]

    with CaptureQueriesContext(connection) as queries:
        with AssetEvent.collecting():
            for asset in assets:
                assert asset.mark_uploaded()
            assert not AssetEvent.objects.exists()

    assert _inserts(queries) == 1
    assert AssetEvent.objects.filter(to_status=S.UPLOADED).count() == 12


def test_events_collected_in_a_transaction_that_rolls_back_are_not_saved(project):
    asset = make_asset(project, status=S.UPLOADING)

    with pytest.raises(RuntimeError), transaction.atomic():
        with AssetEvent.collecting():
            asset.mark_uploaded()
            raise RuntimeError("the request failed after the move")

    assert Asset.objects.get(pk=asset.pk).status == S.UPLOADING
    assert not AssetEvent.objects.exists()


def test_moves_that_committed_before_an_error_keep_their_events(project):
    first, second = make_asset(project, status=S.UPLOADING), make_asset(project, status=S.UPLOADING)

    with pytest.raises(RuntimeError), AssetEvent.collecting():
        first.mark_uploaded()
        raise RuntimeError("the storage went away before the second file")

    assert list(AssetEvent.objects.values_list("asset", flat=True)) == [first.pk]
    assert second.pk  # untouched


def test_the_history_of_a_deleted_asset_keeps_its_id_and_name(project, owner):
    asset = make_asset(project, name="gate-1.jpg", status=S.READY)
    asset_id = asset.pk
    asset_events_record(assets=[asset], action=A.DELETED, actor=owner)

    Asset.objects.filter(pk=asset_id).delete()

    event = AssetEvent.objects.get()
    assert (event.asset_id, event.asset_ref, event.asset_name, event.action) == (None, asset_id, "gate-1.jpg", A.DELETED)


def test_a_failure_through_the_service_is_recorded_once(project):
    asset = make_asset(project, status=S.UPLOADED)

    assert asset_fail(asset=asset, reason="The image is truncated.")
    assert not asset_fail(asset=asset, reason="The image is truncated.")

    assert list(AssetEvent.objects.values_list("to_status", "reason")) == [(S.UPLOAD_ERROR, "The image is truncated.")]


# --- recorded where people and workers act, in one INSERT per request or task ---------------------------------------

def _files(*names: str) -> list[dict]:
    return [{"name": n, "size": 1000, "contentType": "image/jpeg", "sha256": hashlib.sha256(n.encode()).hexdigest()} for n in names]


def _post_drop(client, session, names) -> list[dict]:
    url = reverse("uploads:register", args=[session.project_id, session.pk])
    response = client.post(url, data=json.dumps({"files": _files(*names)}), content_type="application/json")
    assert response.status_code == 200
    return response.json()["files"]


def test_a_drop_records_who_added_each_file_and_who_retried_a_failed_one(upload_session, member):
    failed = upload_session_register(session=upload_session, user=member, files=_files("old.jpg"))[0].asset
    failed.mark_upload_error("The transfer failed.")
    AssetEvent.objects.all().delete()

    with CaptureQueriesContext(connection) as queries:
        upload_session_register(session=upload_session, user=member, files=_files("a.jpg", "b.jpg", "old.jpg"))

    assert _inserts(queries) == 1
    trail = sorted(AssetEvent.objects.values_list("asset_name", "action", "actor", "to_status"))
    assert trail == [("a.jpg", A.ADDED, member.pk, S.UPLOADING), ("b.jpg", A.ADDED, member.pk, S.UPLOADING),
                     ("old.jpg", A.RETRIED, member.pk, S.UPLOADING)]


def test_a_drops_queries_do_not_grow_with_its_files(member_client, upload_session):
    _post_drop(member_client, upload_session, ["warm-up.jpg"])
    with CaptureQueriesContext(connection) as few:
        _post_drop(member_client, upload_session, [f"few-{n}.jpg" for n in range(3)])
    with CaptureQueriesContext(connection) as many:
        _post_drop(member_client, upload_session, [f"many-{n}.jpg" for n in range(60)])

    assert len(many) == len(few)
    assert AssetEvent.objects.filter(action=A.ADDED).count() == 64


def test_retrying_every_failed_file_records_them_in_one_insert(member_client, upload_session, member):
    assets = [r.asset for r in upload_session_register(session=upload_session, user=member, files=_files(*[f"{n}.jpg" for n in range(8)]))]
    for asset in assets:
        asset.mark_upload_error("The transfer failed.")

    url = reverse("uploads:retry", args=[upload_session.project_id, upload_session.pk])
    with CaptureQueriesContext(connection) as queries:
        response = member_client.post(url, data=json.dumps({"assetIds": [str(a.pk) for a in assets]}), content_type="application/json")

    assert response.status_code == 200 and len(response.json()["files"]) == 8
    assert _inserts(queries) == 1
    assert AssetEvent.objects.filter(action=A.RETRIED, actor=member).count() == 8


def test_a_transfer_the_browser_reports_failed_is_recorded_with_its_reason_and_sender(member_client, upload_session, member):
    asset = upload_session_register(session=upload_session, user=member, files=_files("a.jpg"))[0].asset

    url = reverse("uploads:fail", args=[upload_session.project_id, upload_session.pk])
    body = {"failures": [{"assetId": str(asset.pk), "reason": "The network dropped."}]}
    assert member_client.post(url, data=json.dumps(body), content_type="application/json").status_code == 200
    assert member_client.post(url, data=json.dumps(body), content_type="application/json").json()["failed"] == 0

    event = AssetEvent.objects.get(action=A.STATUS)
    assert (event.actor_id, event.to_status, event.reason) == (member.pk, S.UPLOAD_ERROR, "The network dropped. Retry to upload it again.")


def test_a_cancelled_file_leaves_its_trail_with_its_id_and_name(upload_session, member):
    asset = upload_session_register(session=upload_session, user=member, files=_files("stopped.jpg"))[0].asset

    assert upload_cancel(session=upload_session, asset_ids=[str(asset.pk)]) == 1

    assert not Asset.objects.filter(pk=asset.pk).exists()
    trail = list(AssetEvent.objects.filter(asset_ref=asset.pk).values_list("asset", "asset_name", "action", "actor"))
    assert trail == [(None, "stopped.jpg", A.ADDED, member.pk), (None, "stopped.jpg", A.CANCELLED, member.pk)]


def test_a_verification_batch_records_its_moves_in_one_insert(upload_session, member):
    assets = [r.asset for r in upload_session_register(session=upload_session, user=member, files=_files(*[f"{n}.jpg" for n in range(6)]))]

    with CaptureQueriesContext(connection) as queries:
        verify_uploads([str(a.pk) for a in assets])  # nothing was sent: every file fails

    assert _inserts(queries) == 1
    events = AssetEvent.objects.filter(action=A.STATUS)
    assert events.count() == 6 and {e.actor_id for e in events} == {None}
    assert {e.reason for e in events} == {"The file never arrived in storage. Retry to upload it again."}


def test_an_asset_added_to_a_batch_records_the_batch_and_who_added_it(project, owner):
    asset = make_asset(project, status=S.READY)
    batch = batch_create(project=project, user=owner, name="Week 48")

    added = batch_add_assets(batch=batch, asset_ids=[str(asset.pk)], actor=owner)

    assert len(added.created) == 1
    event = AssetEvent.objects.get()
    assert (event.action, event.actor, event.reason) == (A.ADDED_TO_BATCH, owner, f"Added to the batch “Week 48” of {project.name}.")


def test_an_asset_registered_through_the_api_records_its_script_user(organization, member):
    asset = asset_register(organization=organization, project=None, user=member, name="lib.jpg", file_name="lib.jpg",
                           asset_type="image", size=10, sha256=hashlib.sha256(b"lib").hexdigest())

    assert list(AssetEvent.objects.values_list("asset", "action", "actor")) == [(asset.pk, A.ADDED, member.pk)]


def test_the_admin_finds_a_deleted_assets_history_by_its_id_and_cannot_change_it(project, owner, client, django_user_model):
    asset = make_asset(project, name="gone.jpg", status=S.READY)
    asset_id = asset.pk
    asset_events_record(assets=[asset], action=A.DELETED, actor=owner)
    Asset.objects.filter(pk=asset_id).delete()
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "x"))

    found = client.get(reverse("admin:assets_assetevent_changelist"), {"q": str(asset_id)})

    assert found.status_code == 200 and "gone.jpg" in found.content.decode()
    assert client.get(reverse("admin:assets_assetevent_add")).status_code == 403
