"""Cancelling transfers: files the person stopped leave the session as if never added, with whatever of their bytes
reached storage; files that arrived or failed stay; drops still being prepared give back the room they kept."""

import hashlib
import json
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from assets import storage
from assets.models import Asset
from uploads.models import UploadSession
from uploads.services import UploadRefused, upload_cancel, upload_session_register

S = Asset.Status


def _url(name: str, session) -> str:
    return reverse(f"uploads:{name}", args=[session.project_id, session.pk])


def _cancel(client, session, body):
    return client.post(_url("cancel", session), data=json.dumps(body), content_type="application/json")


def _files(*names: str, size: int = 1000) -> list[dict]:
    return [{"name": n, "size": size, "contentType": "image/jpeg", "sha256": hashlib.sha256(n.encode()).hexdigest()} for n in names]


def _register(session, *names: str, size: int = 1000, drop: dict | None = None) -> list[Asset]:
    results = upload_session_register(session=session, user=session.created_by, files=_files(*names, size=size), drop=drop)
    assert all(r.outcome == "upload" for r in results), [r.reason for r in results]
    return [r.asset for r in results]


def test_cancelled_files_leave_the_session_and_the_others_stay(member_client, upload_session, django_capture_on_commit_callbacks):
    stopped, also_stopped, sent, failed, bystander = _register(upload_session, "a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg")
    sent.move(S.UPLOADED)
    failed.mark_upload_error("The connection to storage failed several times.")

    with django_capture_on_commit_callbacks(execute=True):
        response = _cancel(member_client, upload_session, {"assetIds": [str(a.pk) for a in (stopped, also_stopped, sent, failed)]})

    assert response.status_code == 200
    assert response.json() == {"cancelled": 2}
    left = dict(Asset.objects.filter(upload_session=upload_session).values_list("name", "status"))
    assert left == {"c.jpg": S.UPLOADED, "d.jpg": S.UPLOAD_ERROR, "e.jpg": S.UPLOADING}


def test_a_cancelled_file_is_no_duplicate_of_itself_when_added_again(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")

    _cancel(member_client, upload_session, {"assetIds": [str(asset.pk)]})

    [again] = upload_session_register(session=upload_session, user=upload_session.created_by, files=_files("a.jpg"))
    assert again.outcome == "upload"
    assert again.asset.pk != asset.pk


def test_the_portal_signs_nothing_more_for_a_cancelled_file(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")

    _cancel(member_client, upload_session, {"assetIds": [str(asset.pk)]})

    response = member_client.post(
        _url("sign", upload_session), data=json.dumps({"method": "PUT", "key": asset.storage_key}), content_type="application/json"
    )
    assert response.status_code == 404


def test_what_arrived_of_a_cancelled_file_is_deleted(storage_backend, member_client, upload_session, eager_tasks,
                                                      django_capture_on_commit_callbacks, settings):
    settings.UPLOAD_MULTIPART_THRESHOLD = 5 * 1024**2
    small, large, kept = _register(upload_session, "small.jpg", "large.jpg", "kept.jpg")
    Asset.objects.filter(pk=large.pk).update(size=6 * 1024**2)
    default_storage.save(small.storage_key, ContentFile(b"the first bytes"))
    default_storage.save(kept.storage_key, ContentFile(b"kept bytes"))
    # The browser started the multipart upload itself: the portal never learnt its id.
    upload_id = storage.multipart_start(large.storage_key)

    with django_capture_on_commit_callbacks(execute=True):
        _cancel(member_client, upload_session, {"assetIds": [str(small.pk), str(large.pk)]})

    assert storage.stored_size(small.storage_key) is None
    assert storage.multipart_part_numbers(large.storage_key, upload_id) is None
    assert storage.stored_size(kept.storage_key) == len(b"kept bytes")


def test_a_finalized_session_refuses_and_nothing_changes(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")
    upload_session.mark_finalized()

    response = _cancel(member_client, upload_session, {"assetIds": [str(asset.pk)]})

    assert response.status_code == 409
    assert response.json() == {"error": "This session was finalized: its files can no longer be cancelled."}
    assert Asset.objects.get().status == S.UPLOADING


def test_files_of_another_session_are_not_touched(member_client, upload_session, project, member):
    other = UploadSession.objects.create(
        project=project, created_by=member, asset_type="image", view_name="Other", capture_date=upload_session.capture_date
    )
    [theirs] = _register(other, "theirs.jpg")

    response = _cancel(member_client, upload_session, {"assetIds": [str(theirs.pk)]})

    assert response.json() == {"cancelled": 0}
    assert Asset.objects.filter(pk=theirs.pk, status=S.UPLOADING).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"assetIds": ["not-an-id"]}, "Some asset ids are not valid ids."),
        ({"drops": [{"id": "d1"}]}, 'Send "drops" as [{"id": "...", "files": n}, ...], with n at least 1.'),
        ({"drops": [{"id": "d1", "files": True}]}, 'Send "drops" as [{"id": "...", "files": n}, ...], with n at least 1.'),
        ({"drops": {"d1": 3}}, 'Send "drops" as [{"id": "...", "files": n}, ...], with n at least 1.'),
        ([], 'Send {"assetIds": [...], "drops": [{"id", "files"}, ...]}.'),
    ],
)
def test_a_malformed_cancel_says_what_it_expects_and_changes_nothing(member_client, upload_session, body, message):
    [asset] = _register(upload_session, "a.jpg")

    response = _cancel(member_client, upload_session, body if not isinstance(body, dict) else {"assetIds": [str(asset.pk)], **body})

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert Asset.objects.get().status == S.UPLOADING


def test_a_drop_cancelled_while_being_prepared_gives_back_its_room(upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 10
    # The first 2 of a 6-file drop were registered; the 4 others are still being read when the person cancels them.
    _register(upload_session, "a.jpg", "b.jpg", drop={"id": "d1", "size": 6})
    with pytest.raises(UploadRefused):
        _register(upload_session, *[f"x{n}.jpg" for n in range(5)])

    assert upload_cancel(session=upload_session, asset_ids=[], drops=[{"id": "d1", "files": 3}]) == 0
    upload_session.refresh_from_db()
    assert [entry[0] for entry in upload_session.drop_reservations.values()] == [1]

    upload_cancel(session=upload_session, asset_ids=[], drops=[{"id": "d1", "files": 1}])
    upload_session.refresh_from_db()
    assert upload_session.drop_reservations == {}
    # 2 files held, nothing kept for others: 8 more fit.
    assert len(_register(upload_session, *[f"x{n}.jpg" for n in range(8)])) == 8


def test_a_cancel_naming_an_unknown_or_expired_drop_changes_nothing(upload_session):
    _register(upload_session, "a.jpg", drop={"id": "d1", "size": 3})
    upload_session.refresh_from_db()
    before = upload_session.drop_reservations

    upload_cancel(session=upload_session, asset_ids=[], drops=[{"id": "someone-else", "files": 2}])

    upload_session.refresh_from_db()
    assert upload_session.drop_reservations == before
    assert before["d1"][0] == 2 and before["d1"][1] > time.time()


def test_a_session_whose_other_files_arrive_completes_without_counting_the_cancelled_ones(
    member_client, upload_session, eager_tasks, django_capture_on_commit_callbacks, queued_processing
):
    from uploads.services import session_counts, upload_session_finalize

    kept, stopped = _register(upload_session, "kept.jpg", "stopped.jpg")
    _cancel(member_client, upload_session, {"assetIds": [str(stopped.pk)]})
    kept.move(S.UPLOADED)
    kept.move(S.READY)

    assert upload_session_finalize(session=upload_session)

    upload_session.refresh_from_db()
    assert upload_session.status == UploadSession.Status.COMPLETE
    counts = session_counts(upload_session)
    assert (counts["total"], counts["ready"], counts["upload_error"]) == (1, 1, 0)


def test_the_session_page_offers_remove_on_files_not_sent_yet_to_their_uploader_only(member_client, manager_client, upload_session):
    waiting, arrived = _register(upload_session, "waiting.jpg", "arrived.jpg")
    arrived.move(S.UPLOADED)

    page = member_client.get(_url("detail", upload_session)).content.decode()
    assert f'data-remove="{waiting.pk}" aria-label="Remove waiting.jpg"' in page
    assert f'data-remove="{arrived.pk}"' not in page
    assert "Not sent yet: if its tab was closed, add the file again." in page
    # The manager follows the uploader's transfers: the advice to add the file again is not theirs to follow.
    followed = manager_client.get(_url("detail", upload_session)).content.decode()
    assert "data-remove=" not in followed
    assert "Not sent yet" not in followed and "Not arrived yet from the uploader’s browser." in followed
    upload_session.mark_finalized()
    assert "data-remove=" not in member_client.get(_url("detail", upload_session)).content.decode()


def _poll(client, session, since):
    return client.get(_url("changes", session), {"since": since.isoformat()}, HTTP_HX_REQUEST="true").content.decode()


def test_other_pages_polling_the_session_are_told_which_rows_left(member_client, manager_client, upload_session):
    from django.utils import timezone

    stopped, kept = _register(upload_session, "stopped.jpg", "kept.jpg")
    before = timezone.now()

    _cancel(member_client, upload_session, {"assetIds": [str(stopped.pk)]})

    # The manager's page and the uploader's other tabs take the row away at their next poll; the file that stays
    # is not named, and a page that polled after the cancel is not told again.
    assert f'data-removed-rows="{stopped.pk}"' in _poll(manager_client, upload_session, before)
    assert f'data-removed-rows="{stopped.pk}"' in _poll(member_client, upload_session, before)
    assert "data-removed-rows" not in _poll(manager_client, upload_session, timezone.now() + timezone.timedelta(seconds=2))
    assert list(UploadSession.objects.get(pk=upload_session.pk).removed_files) == [str(stopped.pk)]


def test_a_cancel_that_took_nothing_out_names_no_row(member_client, upload_session):
    from django.utils import timezone

    [arrived] = _register(upload_session, "arrived.jpg")
    arrived.move(S.UPLOADED)
    before = timezone.now()

    _cancel(member_client, upload_session, {"assetIds": [str(arrived.pk)]})

    assert "data-removed-rows" not in _poll(member_client, upload_session, before)
    upload_session.refresh_from_db()
    assert upload_session.removed_files == {}


def test_removed_files_are_remembered_for_an_hour_and_at_most_a_session_s_worth(upload_session, settings, monkeypatch):
    settings.UPLOAD_SESSION_MAX_FILES = 3
    clock = [1_000_000.0]
    monkeypatch.setattr("uploads.models.time.time", lambda: clock[0])

    upload_session.record_removed(["old"])
    clock[0] += UploadSession.REMOVED_FILES_KEPT_SECONDS + 1
    upload_session.record_removed(["a", "b"])
    clock[0] += 1
    upload_session.record_removed(["c", "d"])

    upload_session.refresh_from_db()
    # "old" is past the hour; of the four recent ones the first removed gave way to the cap.
    assert sorted(upload_session.removed_files) == ["b", "c", "d"]


def test_what_a_transfer_leaves_after_its_file_was_removed_elsewhere_is_deleted(
    member_client, upload_session, project, eager_tasks, django_capture_on_commit_callbacks
):
    removed, sent = _register(upload_session, "removed.jpg", "sent.jpg")
    # Removed on another page while this one was still sending it: the PUT lands after the cancel's clean-up.
    _cancel(member_client, upload_session, {"assetIds": [str(removed.pk)]})
    default_storage.save(removed.storage_key, ContentFile(b"late bytes"))
    other_asset = Asset.objects.create(
        organization=project.organization, project=project, name="other.jpg", asset_type="image", status=S.READY,
        storage_key=storage.new_key(organization_id=project.organization_id, asset_id="0" * 32),
    )
    default_storage.save(other_asset.storage_key, ContentFile(b"other"))

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(_url("complete", upload_session), content_type="application/json", data=json.dumps({
            "assetIds": [str(removed.pk), str(sent.pk)],
            "keys": {str(removed.pk): removed.storage_key, str(sent.pk): sent.storage_key},
        }))

    assert response.json() == {"queued": 1}
    assert storage.stored_size(removed.storage_key) is None

    # A removed file's id never lets a completion delete anything outside that file's own keys.
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(_url("complete", upload_session), content_type="application/json", data=json.dumps({
            "assetIds": [str(removed.pk)], "keys": {str(removed.pk): other_asset.storage_key},
        }))
    assert storage.stored_size(other_asset.storage_key) == len(b"other")
