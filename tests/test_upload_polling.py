"""What a session page's poll sends back, and how completions are handed to the workers."""

import html
import io
import re
import threading
from datetime import timedelta
from unittest import mock

from django.urls import reverse
from django.utils import timezone

from assets import storage
from assets.storage.s3 import S3Backend
from assets.models import Asset
from uploads import services


def _asset(session, name, status, *, age_seconds=0):
    asset = Asset.objects.create(
        organization=session.project.organization, project=session.project, upload_session=session, name=name,
        original_filename=name, asset_type="image", status=status, uploaded_by=session.created_by,
    )
    then = timezone.now() - timedelta(seconds=age_seconds)
    Asset.objects.filter(pk=asset.pk).update(created_at=then, updated_at=then)
    return asset


def _poll(client, session, since):
    url = reverse("uploads:changes", args=[session.project_id, session.pk])
    return client.get(url, {"since": since.isoformat()}).content.decode()


def test_a_poll_leaves_out_rows_the_browser_is_still_sending(member_client, upload_session):
    sending = _asset(upload_session, "sending.jpg", Asset.Status.UPLOADING, age_seconds=60)
    page = _poll(member_client, upload_session, timezone.now() - timedelta(seconds=30))
    assert f"asset-{sending.pk}" not in page


def test_a_poll_brings_new_uploading_rows_and_every_changed_row(member_client, upload_session):
    newcomer = _asset(upload_session, "from-a-script.jpg", Asset.Status.UPLOADING)
    checked = _asset(upload_session, "checked.jpg", Asset.Status.UPLOADED)
    old = _asset(upload_session, "old.jpg", Asset.Status.READY, age_seconds=600)
    page = _poll(member_client, upload_session, timezone.now() - timedelta(seconds=1))
    assert f"asset-{newcomer.pk}" in page and f"asset-{checked.pk}" in page
    assert f"asset-{old.pk}" not in page


def test_a_page_that_is_sending_files_does_not_get_its_own_new_rows_back(member_client, upload_session, owner):
    mine = _asset(upload_session, "mine.jpg", Asset.Status.UPLOADING)
    theirs = _asset(upload_session, "theirs.jpg", Asset.Status.UPLOADING)
    Asset.objects.filter(pk=theirs.pk).update(uploaded_by=owner)
    checked = _asset(upload_session, "checked.jpg", Asset.Status.UPLOADED)
    since = timezone.now() - timedelta(seconds=1)
    url = reverse("uploads:changes", args=[upload_session.project_id, upload_session.pk])

    sending = member_client.get(url, {"since": since.isoformat(), "sending": "1"}).content.decode()
    idle = _poll(member_client, upload_session, since)

    assert f"asset-{mine.pk}" not in sending
    assert f"asset-{theirs.pk}" in sending and f"asset-{checked.pk}" in sending
    assert all(f"asset-{asset.pk}" in idle for asset in (mine, theirs, checked))


def test_rows_carry_their_version_so_the_page_skips_unchanged_ones(member_client, upload_session):
    checked = _asset(upload_session, "checked.jpg", Asset.Status.UPLOADED)
    checked.refresh_from_db()
    page = _poll(member_client, upload_session, timezone.now() - timedelta(seconds=1))
    assert f'data-version="{checked.updated_at:%s}.{checked.updated_at:%f}"' in page


def _next_poll(page: str) -> str:
    """The URL the page polls next: the one the answer's poller names."""
    return html.unescape(re.search(r'id="session-poller"[^>]*hx-get="([^"]+)"', page).group(1))


def test_a_poll_leaves_out_rows_the_previous_answer_sent_unless_they_changed(member_client, upload_session):
    kept = _asset(upload_session, "kept.jpg", Asset.Status.UPLOADED)
    changing = _asset(upload_session, "changing.jpg", Asset.Status.UPLOADED)
    first = _poll(member_client, upload_session, timezone.now() - timedelta(seconds=30))
    assert f"asset-{kept.pk}" in first and f"asset-{changing.pk}" in first
    next_url = _next_poll(first)
    assert "seen=" in next_url

    # Both rows are still inside the next poll's overlap, but the page has them at this version.
    again = member_client.get(next_url).content.decode()
    assert f"asset-{kept.pk}" not in again and f"asset-{changing.pk}" not in again

    # A row committed late, with a change time the previous poll could not see yet, still comes.
    late = _asset(upload_session, "late.jpg", Asset.Status.UPLOADED, age_seconds=0.5)
    assert changing.move(Asset.Status.UPLOAD_ERROR, reason="The transfer failed.")
    after = member_client.get(next_url).content.decode()
    assert f"asset-{changing.pk}" in after and f"asset-{late.pk}" in after
    assert f"asset-{kept.pk}" not in after
    # Rows the page has already are named again for the poll after, so they are not sent then either.
    assert f"asset-{kept.pk}" not in member_client.get(_next_poll(after)).content.decode()


def test_completions_are_checked_in_small_batches(upload_session, django_capture_on_commit_callbacks):
    assets = [_asset(upload_session, f"f{i}.jpg", Asset.Status.UPLOADING) for i in range(services.VERIFY_BATCH * 2 + 3)]
    with mock.patch("assets.tasks.verify_uploads.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            queued = services.upload_complete(session=upload_session, asset_ids=[str(a.pk) for a in assets])
    assert queued == len(assets)
    sizes = [len(call.args[0]) for call in delay.call_args_list]
    assert sizes == [services.VERIFY_BATCH, services.VERIFY_BATCH, 3]


def test_inspect_reads_size_and_first_bytes_in_one_go(settings):
    storage.write("assets/t/one.bin", io.BytesIO(b"abcdef"))
    assert storage.inspect("assets/t/one.bin", 3) == (6, b"abc")
    assert storage.inspect("assets/t/missing.bin") is None


def test_inspect_on_s3_reads_the_size_from_a_ranged_get(s3_storage):
    storage.write("assets/t/one.bin", io.BytesIO(b"x" * 10_000))
    storage.write("assets/t/empty.bin", io.BytesIO(b""))
    assert storage.inspect("assets/t/one.bin", 4) == (10_000, b"xxxx")
    assert storage.inspect("assets/t/empty.bin") == (0, b"")
    assert storage.inspect("assets/t/missing.bin") is None


def test_a_batch_of_objects_is_inspected_side_by_side_with_the_same_answers(storage_backend, monkeypatch):
    keys = [f"assets/t/{i}.bin" for i in range(12)]
    for i, key in enumerate(keys):
        storage.write(key, io.BytesIO(bytes([65 + i]) * (100 + i)))
    storage.write("assets/t/empty.bin", io.BytesIO(b""))
    asked = [*keys, "assets/t/empty.bin", "assets/t/missing.bin"]
    one_by_one = {key: storage.inspect(key, 4) for key in asked}
    threads = set()
    read_one = S3Backend.inspect

    def watched(*args):
        threads.add(threading.current_thread().name)
        return read_one(*args)

    monkeypatch.setattr(S3Backend, "inspect", watched)

    found = storage.inspect_many(asked, 4)

    assert found == one_by_one
    assert found[keys[3]] == (103, b"DDDD") and found["assets/t/empty.bin"] == (0, b"") and found["assets/t/missing.bin"] is None
    if storage_backend == "s3":
        assert len(threads) > 1 and all(name.startswith("storage-inspect") for name in threads)
