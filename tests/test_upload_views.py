"""The upload session's pages and JSON endpoints: Add Assets panel, session page, register, sign, complete, fail,
retry, finalize and the polling endpoint — who may use them and what they answer."""

import hashlib
import json
import re
import uuid
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets import storage
from assets.storage import local
from assets.models import Asset
from assets.services import asset_settled
from projects.models import Membership
from tests.helpers import asset_for, text_of
from uploads.models import UploadSession
from uploads.tasks import send_session_email
from uploads.services import upload_session_finalize, upload_session_register

S = Asset.Status
SESSION_URLS = ["detail", "changes", "register", "sign", "complete", "fail", "retry", "cancel", "finalize"]
GET_URLS = {"detail", "changes"}


def _url(name: str, session) -> str:
    return reverse(f"uploads:{name}", args=[session.project_id, session.pk])


def _post_json(client, url: str, body, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def _request(client, name: str, url: str):
    return client.get(url) if name in GET_URLS else _post_json(client, url, {})


def _register(session, *names: str) -> list[Asset]:
    files = [{"name": n, "size": 1000 + i, "contentType": "image/jpeg", "sha256": hashlib.sha256(n.encode()).hexdigest()}
             for i, n in enumerate(names)]
    results = upload_session_register(session=session, user=session.created_by, files=files)
    assert all(r.outcome == "upload" for r in results), [r.reason for r in results]
    return [r.asset for r in results]


@pytest.fixture
def other_uploader(organization):
    user = get_user_model().objects.create_user("carl", email="carl@example.com", first_name="Carl")
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.UPLOADER)
    return user


@pytest.fixture
def other_uploader_client(other_uploader):
    client = Client()
    client.force_login(other_uploader)
    return client


@pytest.fixture
def new_url(project):
    return reverse("uploads:new", args=[project.pk])


# --- the Add Assets panel ------------------------------------------------------------------------


def test_the_add_assets_panel_is_a_full_page(member_client, new_url):
    response = member_client.get(new_url)

    assert response.status_code == 200
    assert b"<html" in response.content
    assert b'id="add-assets-panel"' in response.content
    assert "HX-Request" in response["Vary"]
    assert list(response.context["form"].fields["asset_type"].choices) == [("image", "Image"), ("video", "Video")]


def test_the_add_assets_panel_for_htmx_is_the_panel_alone(member_client, new_url):
    response = member_client.get(new_url, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="add-assets-panel"' in response.content
    assert response.content.count(b"<form") == 1
    assert "HX-Request" in response["Vary"]


def _details(**changes) -> dict:
    return {"asset_type": "image", "source": "direct", "view_name": "North gate, camera 2", "capture_date": "2026-11-20", **changes}


def test_continue_opens_a_session_and_goes_to_its_page(member_client, member, project, new_url):
    response = member_client.post(new_url, _details())

    session = UploadSession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == session.get_absolute_url()
    assert (session.project, session.created_by, session.asset_type, session.source) == (project, member, "image", "direct")
    assert (session.view_name, session.capture_date, session.status) == ("North gate, camera 2", date(2026, 11, 20), "open")
    assert member_client.get(response["Location"]).status_code == 200


def test_continue_from_htmx_navigates_with_hx_location(member_client, new_url):
    response = member_client.post(new_url, _details(), HTTP_HX_REQUEST="true")

    session = UploadSession.objects.get()
    assert response.status_code == 200
    assert json.loads(response["HX-Location"]) == {"path": session.get_absolute_url(), "target": "body"}


@pytest.mark.parametrize("missing", ["view_name", "capture_date"])
def test_view_name_and_capture_date_are_required(member_client, new_url, missing):
    response = member_client.post(new_url, _details(**{missing: ""}), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "HX-Location" not in response
    assert response.context["form"].errors == {missing: ["This field is required."]}
    assert b"This field is required." in response.content
    assert not UploadSession.objects.exists()


def test_a_blank_view_name_is_refused(member_client, new_url):
    response = member_client.post(new_url, _details(view_name="   "))

    assert response.status_code == 200
    assert "view_name" in response.context["form"].errors
    assert not UploadSession.objects.exists()


def test_a_project_that_takes_only_videos_offers_only_video(member_client, project, new_url):
    project.allow_images = False
    project.save()

    response = member_client.get(new_url)

    assert list(response.context["form"].fields["asset_type"].choices) == [("video", "Video")]
    assert b'value="video"' in response.content
    assert b'value="image"' not in response.content
    refused = member_client.post(new_url, _details(asset_type="image"))
    assert "asset_type" in refused.context["form"].errors
    assert not UploadSession.objects.exists()


def test_a_viewer_may_not_open_a_session(viewer_client, new_url):
    assert viewer_client.get(new_url).status_code == 403
    assert viewer_client.post(new_url, _details()).status_code == 403
    assert not UploadSession.objects.exists()


def test_a_viewer_may_not_add_files_even_to_a_session_they_opened(viewer_client, viewer, project):
    # Opened while they were an uploader; the role changed since.
    session = UploadSession.objects.create(project=project, created_by=viewer, asset_type="image", view_name="Old", capture_date=date(2026, 1, 1))
    files = [{"name": "a.jpg", "size": 10, "contentType": "image/jpeg", "sha256": "a" * 64}]

    response = _post_json(viewer_client, _url("register", session), {"files": files})

    assert response.status_code == 403
    assert not Asset.objects.exists()


# --- who reaches a session -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SESSION_URLS)
def test_an_outsider_gets_404_for_every_session_url(outsider_client, upload_session, name):
    url = _url(name, upload_session)

    assert _request(outsider_client, name, url).status_code == 404


@pytest.mark.parametrize("name", SESSION_URLS)
def test_a_session_id_under_another_project_is_404(outsider_client, other_project, upload_session, name):
    # The outsider's own project with our session's id: sessions are looked up inside the project only.
    url = reverse(f"uploads:{name}", args=[other_project.pk, upload_session.pk])

    assert _request(outsider_client, name, url).status_code == 404


@pytest.mark.parametrize("name", SESSION_URLS)
@pytest.mark.parametrize("which", ["session", "project", "unknown"])
def test_malformed_or_unknown_ids_are_404(member_client, upload_session, name, which):
    url = _url(name, upload_session)
    if which == "session":
        url = url.replace(str(upload_session.pk), "not-a-session")
    elif which == "project":
        url = url.replace(str(upload_session.project_id), "12345")
    else:
        url = url.replace(str(upload_session.pk), str(uuid.uuid4()))

    assert _request(member_client, name, url).status_code == 404


def test_nothing_changes_when_an_outsider_posts_to_a_session(outsider_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")

    _post_json(outsider_client, _url("fail", upload_session), {"failures": [{"assetId": str(asset.pk), "reason": "x"}]})
    outsider_client.post(_url("finalize", upload_session))

    asset.refresh_from_db()
    upload_session.refresh_from_db()
    assert (asset.status, upload_session.status) == (S.UPLOADING, "open")


@pytest.mark.parametrize("name", SESSION_URLS)
def test_signed_out_people_are_sent_to_log_in(client, upload_session, name):
    response = _request(client, name, _url(name, upload_session))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", SESSION_URLS)
def test_an_uploader_gets_404_for_another_uploaders_session(other_uploader_client, upload_session, name):
    assert _request(other_uploader_client, name, _url(name, upload_session)).status_code == 404


def test_a_manager_sees_an_uploaders_session_without_the_drop_zone(manager_client, upload_session):
    response = manager_client.get(_url("detail", upload_session))

    assert response.status_code == 200
    assert response.context["can_add"] is False
    assert response.context["can_finalize"] is True
    assert b"data-dropzone" not in response.content
    assert "Bob Uploader is adding files to this session" in text_of(response.content)
    assert manager_client.get(_url("changes", upload_session)).status_code == 200


@pytest.mark.parametrize("name", ["register", "sign", "complete", "fail", "retry", "cancel"])
def test_a_manager_may_not_transfer_files_into_an_uploaders_session(manager_client, upload_session, name):
    [asset] = _register(upload_session, "a.jpg")

    response = _post_json(manager_client, _url(name, upload_session), {"assetIds": [str(asset.pk)], "files": []})

    assert response.status_code == 403
    assert Asset.objects.get().status == S.UPLOADING


def test_the_owner_sees_the_drop_zone_while_the_session_is_open(member_client, upload_session):
    response = member_client.get(_url("detail", upload_session))

    assert response.status_code == 200
    assert b"data-dropzone" in response.content
    assert b"data-finalize" in response.content
    upload_session.mark_finalized()
    assert b"data-dropzone" not in member_client.get(_url("detail", upload_session)).content


@pytest.mark.parametrize("name", ["register", "sign", "complete", "fail", "retry", "cancel", "finalize"])
def test_protocol_endpoints_take_only_post(member_client, upload_session, name):
    assert member_client.get(_url(name, upload_session)).status_code == 405


# --- the JSON endpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["register", "sign", "complete", "fail", "retry", "cancel"])
def test_a_body_that_is_not_json_is_refused_clearly(member_client, upload_session, name):
    response = member_client.post(_url(name, upload_session), data=b"{files: [", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "The request body is not valid JSON."}


def test_register_explains_the_shape_it_expects(member_client, upload_session):
    response = _post_json(member_client, _url("register", upload_session), [{"name": "a.jpg"}])

    assert response.status_code == 400
    assert response.json()["error"] == 'Send {"files": [{"name", "size", "contentType", "sha256"}, ...]}.'


def test_sign_signs_a_put_for_the_files_current_key(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")

    response = _post_json(member_client, _url("sign", upload_session), {"method": "PUT", "key": asset.storage_key})

    assert response.status_code == 200
    transfer = response.json()
    assert transfer["method"] == "PUT"
    assert transfer["headers"]["Content-Type"] == "image/jpeg"
    assert transfer["headers"]["x-amz-checksum-sha256"] == storage.sha256_hex_to_base64(asset.sha256)
    path, query = transfer["url"].split("?", 1)
    assert path == reverse("storage:object", kwargs={"key": asset.storage_key})
    fields = local.verify_signature(asset.storage_key, QueryDict(query).dict())
    assert (fields["op"], fields["size"], fields["sha256"]) == ("put", str(asset.size), asset.sha256)


def test_sign_signs_the_multipart_steps_on_demand(member_client, upload_session, settings):
    settings.UPLOAD_PART_SIZE = 300  # the 1,000-byte file goes in 4 parts
    [asset] = _register(upload_session, "a.jpg")
    url = _url("sign", upload_session)

    create = _post_json(member_client, url, {"method": "POST", "key": asset.storage_key}).json()
    part = _post_json(member_client, url, {"method": "PUT", "key": asset.storage_key, "uploadId": "f" * 32, "partNumber": 3}).json()
    bad_part = _post_json(member_client, url, {"method": "PUT", "key": asset.storage_key, "uploadId": "f" * 32, "partNumber": 0})

    assert (create["method"], "op=create_multipart" in create["url"]) == ("POST", True)
    assert (part["method"], "op=upload_part" in part["url"], "partNumber=3" in part["url"]) == ("PUT", True, True)
    assert (bad_part.status_code, bad_part.json()["error"]) == (400, "Part numbers go from 1 to 10,000.")


@pytest.mark.parametrize("key", ["assets/someone/else/file.jpg", "old-key"])
def test_sign_refuses_a_key_no_file_of_the_session_is_uploading_to(member_client, upload_session, key):
    [asset] = _register(upload_session, "a.jpg")
    if key == "old-key":
        key = asset.storage_key
        asset.mark_upload_error("The transfer failed.")

    response = _post_json(member_client, _url("sign", upload_session), {"method": "PUT", "key": key})

    assert response.status_code == 404
    assert response.json()["error"] == "No file of this session is uploading to that key; it may have been retried or finished."


def test_sign_refuses_a_delete_without_an_upload_id(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")

    response = _post_json(member_client, _url("sign", upload_session), {"method": "DELETE", "key": asset.storage_key})

    assert response.status_code == 403
    assert response.json()["error"] == "The portal does not sign that storage request."


def test_complete_answers_how_many_files_were_queued(member_client, upload_session, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("assets.tasks.verify_uploads.delay", queued.append)
    first, second = _register(upload_session, "a.jpg", "b.jpg")

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_json(member_client, _url("complete", upload_session), {"assetIds": [str(first.pk), str(second.pk)]})

    assert (response.status_code, response.json()) == (200, {"queued": 2})
    [ids] = queued
    assert sorted(ids) == sorted([str(first.pk), str(second.pk)])


def test_fail_marks_the_file_as_upload_error_with_the_reason_and_retry(member_client, upload_session):
    first, second = _register(upload_session, "a.jpg", "b.jpg")

    response = _post_json(member_client, _url("fail", upload_session),
                          {"failures": [{"assetId": str(first.pk), "reason": "The network connection was lost."}]})

    assert (response.status_code, response.json()) == (200, {"failed": 1})
    first.refresh_from_db()
    assert first.status == S.UPLOAD_ERROR
    assert first.error_reason == "The network connection was lost. Retry to upload it again."
    assert Asset.objects.get(pk=second.pk).status == S.UPLOADING
    page = member_client.get(_url("detail", upload_session)).content.decode()
    row = page[page.index(f'id="asset-{first.pk}"'):]
    row = row[: row.index("</tr>")]
    assert "Upload Error" in row
    assert "The network connection was lost. Retry to upload it again." in row
    assert f'data-retry="{first.pk}"' in row


def test_fail_without_a_reason_says_the_transfer_failed(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")

    _post_json(member_client, _url("fail", upload_session), {"failures": [{"assetId": str(asset.pk)}]})

    asset.refresh_from_db()
    assert asset.error_reason == "The transfer failed. Retry to upload it again."


@pytest.mark.parametrize("status", [S.UPLOADED, S.PREPROCESSING, S.READY])
def test_a_late_failure_report_does_not_touch_a_file_that_already_arrived(member_client, upload_session, status):
    [asset] = _register(upload_session, "a.jpg")
    default_storage.save(asset.storage_key, ContentFile(b"x" * asset.size))
    Asset.objects.filter(pk=asset.pk).update(status=status)

    response = _post_json(member_client, _url("fail", upload_session), {"failures": [{"assetId": str(asset.pk), "reason": "Timed out."}]})

    assert response.json() == {"failed": 0}
    asset.refresh_from_db()
    assert (asset.status, asset.error_reason) == (status, "")
    assert storage.stored_size(asset.storage_key) == asset.size


def test_retry_gives_fresh_instructions_for_a_new_key(member_client, upload_session, django_capture_on_commit_callbacks):
    [asset] = _register(upload_session, "a.jpg")
    old_key = asset.storage_key
    _post_json(member_client, _url("fail", upload_session), {"failures": [{"assetId": str(asset.pk), "reason": "Lost."}]})
    default_storage.save(old_key, ContentFile(b"partial"))

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_json(member_client, _url("retry", upload_session), {"assetIds": [str(asset.pk)]})

    assert response.status_code == 200
    [instructions] = response.json()["files"]
    asset.refresh_from_db()
    assert (asset.status, asset.error_reason) == (S.UPLOADING, "")
    assert instructions["assetId"] == str(asset.pk)
    assert instructions["key"] == asset.storage_key != old_key
    assert instructions["put"]["url"].startswith(reverse("storage:object", kwargs={"key": asset.storage_key}))
    assert storage.stored_size(old_key) is None
    # The old key is dead: the portal no longer signs anything for it.
    assert _post_json(member_client, _url("sign", upload_session), {"method": "PUT", "key": old_key}).status_code == 404


def test_retry_leaves_files_that_did_not_fail_alone(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")

    response = _post_json(member_client, _url("retry", upload_session), {"assetIds": [str(asset.pk)]})

    assert response.json() == {"files": []}
    assert Asset.objects.get().storage_key == asset.storage_key


def test_retry_in_a_finalized_session_is_refused(member_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")
    upload_session.mark_finalized()

    response = _post_json(member_client, _url("retry", upload_session), {"assetIds": [str(asset.pk)]})

    assert response.status_code == 409
    assert "start a new session" in response.json()["error"]


# --- finalize and the one email ------------------------------------------------------------------------


def _settle(*assets: Asset) -> None:
    for asset in assets:
        assert asset.move(S.READY)
        asset_settled(asset=asset)


def test_finalize_fails_unfinished_files_and_completes_when_the_rest_are_ready(
    member_client, member, upload_session, eager_tasks, django_capture_on_commit_callbacks
):
    waiting, arrived, done = _register(upload_session, "waiting.jpg", "arrived.jpg", "done.jpg")
    assert arrived.move(S.UPLOADED)
    assert done.move(S.UPLOADED) and done.move(S.READY)

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(_url("finalize", upload_session))

    assert response.status_code == 302
    assert response["Location"] == _url("detail", upload_session)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error_reason) == (S.UPLOAD_ERROR, "The session was finalized before this file finished uploading.")
    assert Asset.objects.get(pk=arrived.pk).status == S.UPLOADED
    upload_session.refresh_from_db()
    assert upload_session.status == UploadSession.Status.FINALIZED
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        _settle(arrived)

    upload_session.refresh_from_db()
    assert upload_session.status == UploadSession.Status.COMPLETE
    assert upload_session.notified_at is not None
    [email] = mail.outbox
    assert email.to == [member.email]
    assert email.subject == "Upload “North gate, camera 2”: 1 of 3 files failed"
    assert "2 of 3 files are ready; 1 failed:" in email.body
    assert "- waiting.jpg: The session was finalized before this file finished uploading." in email.body


def test_a_session_whose_files_all_succeed_sends_one_success_email(
    member_client, upload_session, eager_tasks, django_capture_on_commit_callbacks
):
    first, second = _register(upload_session, "a.jpg", "b.jpg")
    for asset in (first, second):
        assert asset.move(S.UPLOADED)

    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(_url("finalize", upload_session))
        _settle(first)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        _settle(second)
        # A late second look (another worker, a redelivered task) sends nothing more.
        asset_settled(asset=second)
        member_client.post(_url("finalize", upload_session))

    [email] = mail.outbox
    assert email.subject == "Upload “North gate, camera 2” is ready: 2 files"
    assert "All 2 files are ready for annotation." in email.body


def test_finalizing_a_session_whose_files_are_all_terminal_completes_it_at_once(
    member_client, upload_session, eager_tasks, django_capture_on_commit_callbacks
):
    [asset] = _register(upload_session, "a.jpg")
    asset.move(S.UPLOADED)
    asset.move(S.READY)

    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(_url("finalize", upload_session))

    upload_session.refresh_from_db()
    assert upload_session.status == UploadSession.Status.COMPLETE
    assert [m.subject for m in mail.outbox] == ["Upload “North gate, camera 2” is ready: 1 file"]


def test_a_redelivered_email_task_sends_nothing_more(upload_session, eager_tasks, django_capture_on_commit_callbacks):
    [asset] = _register(upload_session, "a.jpg")
    asset.move(S.UPLOADED)
    asset.move(S.READY)
    with django_capture_on_commit_callbacks(execute=True):
        assert upload_session_finalize(session=upload_session)

    send_session_email.apply(args=[str(upload_session.pk)])

    assert len(mail.outbox) == 1


def test_finalize_twice_says_it_was_already_finalized(member_client, upload_session):
    member_client.post(_url("finalize", upload_session))

    response = member_client.post(_url("finalize", upload_session), follow=True)

    assert "This session was already finalized." in text_of(response.content)


def test_finalize_from_htmx_navigates_with_hx_location(member_client, upload_session):
    response = member_client.post(_url("finalize", upload_session), HTTP_HX_REQUEST="true")

    assert json.loads(response["HX-Location"]) == {"path": _url("detail", upload_session), "target": "body"}


def test_a_manager_may_finalize_an_uploaders_session(manager_client, upload_session):
    [asset] = _register(upload_session, "a.jpg")
    assert asset.move(S.UPLOADED)

    assert manager_client.post(_url("finalize", upload_session)).status_code == 302

    upload_session.refresh_from_db()
    assert upload_session.status == UploadSession.Status.FINALIZED


# --- the polling endpoint ------------------------------------------------------------------------------


def _changes(client, session, since=None):
    url = _url("changes", session)
    return client.get(url, {"since": since.isoformat()} if since else {})


def _rows(response) -> set[str]:
    return set(re.findall(r'<tr id="asset-([0-9a-f-]+)"', response.content.decode()))


def test_changes_returns_only_rows_changed_since_the_last_poll_and_the_summary(member_client, upload_session):
    quiet, changed = _register(upload_session, "quiet.jpg", "changed.jpg")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Asset.objects.filter(upload_session=upload_session).update(updated_at=an_hour_ago)
    since = timezone.now() - timedelta(minutes=1)
    changed.mark_upload_error("The network connection was lost.")

    response = _changes(member_client, upload_session, since)

    assert response.status_code == 200
    assert _rows(response) == {str(changed.pk)}
    body = response.content.decode()
    assert 'id="session-summary"' in body and 'hx-swap-oob="true"' in body
    assert 'data-failed="1" data-total="2"' in body
    assert 'id="session-poller"' in body
    assert _rows(_changes(member_client, upload_session)) == {str(quiet.pk), str(changed.pk)}


def test_the_session_page_and_its_polls_show_no_template_source(member_client, upload_session):
    _register(upload_session, "a.jpg")
    for response in (member_client.get(_url("detail", upload_session)), _changes(member_client, upload_session)):
        body = response.content.decode()
        assert "{#" not in body and "#}" not in body and "{%" not in body and "{{" not in body


def test_changes_with_an_unreadable_cursor_returns_every_row(member_client, upload_session):
    _register(upload_session, "a.jpg", "b.jpg")

    response = member_client.get(_url("changes", upload_session), {"since": "yesterday"})

    assert len(_rows(response)) == 2


def test_changes_takes_the_same_queries_for_10_and_300_files(member_client, upload_session):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = _changes(member_client, upload_session, timezone.now() - timedelta(minutes=1))
        assert response.status_code == 200
        return len(captured), len(_rows(response))

    statuses = list(S)  # every status a row can show, Upload Error with its reason

    def add(count: int, start: int) -> None:
        Asset.objects.bulk_create([
            asset_for(
                upload_session.project, name=f"f{n}.jpg", upload_session=upload_session, size=n,
                status=statuses[n % len(statuses)], error_reason="Broken." if statuses[n % len(statuses)] == S.UPLOAD_ERROR else "",
            )
            for n in range(start, start + count)
        ])

    add(10, 0)
    few, rows_few = queries()
    add(290, 10)
    many, rows_many = queries()

    assert (rows_few, rows_many) == (10, 300)
    assert many == few


def test_a_full_sessions_poll_takes_at_most_8_queries_whether_nothing_or_everything_changed(member_client, upload_session):
    # Issue 21's bound for the status poll of a 1,500-file session (bench/polling.py reports its CPU time).
    statuses = list(S)
    Asset.objects.bulk_create([
        asset_for(upload_session.project, name=f"f{n}.jpg", upload_session=upload_session, size=n, status=statuses[n % len(statuses)])
        for n in range(1500)
    ])
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Asset.objects.filter(upload_session=upload_session).update(updated_at=an_hour_ago, created_at=an_hour_ago)
    counts = []
    for since in (timezone.now(), an_hour_ago - timedelta(minutes=1)):
        with CaptureQueriesContext(connection) as captured:
            response = _changes(member_client, upload_session, since)
        assert response.status_code == 200
        counts.append((len(captured), len(_rows(response))))

    assert [rows for _, rows in counts] == [0, 1500]
    assert all(queries <= 8 for queries, _ in counts), counts


def test_changes_stops_polling_once_the_session_is_complete(member_client, upload_session):
    since = timezone.now() - timedelta(minutes=1)
    assert _changes(member_client, upload_session, since).status_code == 200
    upload_session.mark_finalized()
    assert _changes(member_client, upload_session, since).status_code == 200

    upload_session.mark_complete()
    response = _changes(member_client, upload_session, since)

    assert response.status_code == 286
    assert b'data-session-status="complete"' in response.content


@pytest.mark.parametrize("storage_backend, moving", [("embedded", 4), ("s3", 6)], indirect=["storage_backend"])
def test_the_page_sends_fewer_files_at_once_to_the_portal_s_own_storage_endpoint(
    member_client, upload_session, storage_backend, moving
):
    # The embedded endpoint shares the portal's address, and a browser's 6 connections to it, with the pages.
    page = member_client.get(reverse("uploads:detail", args=[upload_session.project_id, upload_session.pk]))
    limits = json.loads(re.search(r'<script id="upload-limits" type="application/json">(.*?)</script>', page.content.decode()).group(1))
    assert limits["concurrency"] == moving
