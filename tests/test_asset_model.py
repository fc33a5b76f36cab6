"""The asset status machine (docs/ARCHITECTURE.md, "Status machine"): guarded moves that report whether they happened."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from assets.models import Asset
from tests.helpers import make_asset

S = Asset.Status

# Written out from the design, not read from the model, so a wrong table in the model fails here.
ALLOWED = {
    (S.UPLOADING, S.UPLOADED),
    (S.UPLOADING, S.UPLOAD_ERROR),
    (S.UPLOADED, S.READY),  # image validated by a worker
    (S.UPLOADED, S.PENDING_PREPROCESSING),  # video queued
    (S.UPLOADED, S.UPLOAD_ERROR),  # unreadable, disguised, checksum mismatch
    (S.PENDING_PREPROCESSING, S.PREPROCESSING),
    (S.PENDING_PREPROCESSING, S.UPLOAD_ERROR),
    (S.PREPROCESSING, S.READY),
    (S.PREPROCESSING, S.RECOVERING_PREPROCESSING),  # heartbeat lost
    (S.PREPROCESSING, S.UPLOAD_ERROR),
    (S.RECOVERING_PREPROCESSING, S.PREPROCESSING),
    (S.RECOVERING_PREPROCESSING, S.UPLOAD_ERROR),
    (S.UPLOAD_ERROR, S.UPLOADING),  # retry
}
DISALLOWED = sorted(set(itertools.product(S.values, S.values)) - {(str(a), str(b)) for a, b in ALLOWED})
LONG_AGO = timezone.now() - timedelta(days=1)


def _ids(pairs):
    return [f"{a}->{b}" for a, b in pairs]


@pytest.fixture
def asset_in(project):
    """An image asset of `project` saved in the given status, last changed a day ago."""

    def build(status: str) -> Asset:
        reason = "Earlier failure" if status == S.UPLOAD_ERROR else ""
        return make_asset(project, status=status, error_reason=reason, status_changed_at=LONG_AGO)

    return build


def test_the_display_names_are_exactly_those_of_the_design():
    assert [label for _, label in S.choices] == [
        "Uploading",
        "Uploaded",
        "Upload Error",
        "Pending Pre-Processing",
        "Pre-Processing",
        "Recovering Pre-Processing",
        "Ready",
    ]


def test_a_new_asset_starts_uploading(project):
    assert make_asset(project).status == S.UPLOADING


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED), ids=_ids(sorted(ALLOWED)))
def test_every_allowed_move_happens_and_reports_true(asset_in, source, target):
    asset = asset_in(source)
    reason = "The stored object is 10 bytes, not 12." if target == S.UPLOAD_ERROR else ""

    assert asset.move(target, reason=reason) is True

    assert asset.status == target
    asset.refresh_from_db()
    assert asset.status == target
    assert asset.status_changed_at > LONG_AGO
    assert asset.error_reason == reason


@pytest.mark.parametrize(("source", "target"), DISALLOWED, ids=_ids(DISALLOWED))
def test_every_other_move_reports_false_and_leaves_the_row_unchanged(asset_in, source, target):
    asset = asset_in(source)
    before = Asset.objects.filter(pk=asset.pk).values().get()

    assert asset.move(target, reason="Should not be stored") is False

    assert asset.status == source
    assert Asset.objects.filter(pk=asset.pk).values().get() == before


def test_the_design_lists_every_status():
    # Guards the two tables above: a status added to the model must be placed in the machine.
    assert {s for pair in ALLOWED for s in pair} == set(S.values)


def test_a_second_identical_move_reports_false(asset_in):
    asset = asset_in(S.UPLOADING)
    # Two requests (or workers) holding the same row.
    first, second = Asset.objects.get(pk=asset.pk), Asset.objects.get(pk=asset.pk)

    assert first.mark_uploaded() is True
    assert second.mark_uploaded() is False
    assert first.mark_uploaded() is False
    assert Asset.objects.get(pk=asset.pk).status == S.UPLOADED


def test_two_workers_claim_a_video_once(asset_in):
    asset = asset_in(S.PENDING_PREPROCESSING)
    worker_a, worker_b = Asset.objects.get(pk=asset.pk), Asset.objects.get(pk=asset.pk)

    assert worker_a.start_preprocessing(token="run-a") is True
    assert worker_b.start_preprocessing(token="run-b") is False
    assert Asset.objects.get(pk=asset.pk).processing_token == "run-a"


def test_a_stalled_video_is_recovered_but_a_beating_one_is_not(asset_in):
    asset = asset_in(S.PENDING_PREPROCESSING)
    asset.start_preprocessing(token="run-a")

    # The run beat just now: it is not stalled before a minute ago.
    assert asset.mark_recovering(stalled_before=timezone.now() - timedelta(minutes=1)) is False
    assert asset.mark_recovering(stalled_before=timezone.now() + timedelta(minutes=1)) is True
    assert Asset.objects.get(pk=asset.pk).status == S.RECOVERING_PREPROCESSING


def test_a_late_callback_cannot_move_a_ready_file_backwards(asset_in):
    asset = asset_in(S.UPLOADING)
    stale = Asset.objects.get(pk=asset.pk)
    asset.mark_uploaded()
    asset.mark_ready()

    # The browser's late report of a failed transfer, or a retried "uploaded" callback.
    assert stale.mark_upload_error("PUT failed") is False
    assert stale.mark_uploaded() is False
    assert stale.restart_upload() is False

    asset.refresh_from_db()
    assert (asset.status, asset.error_reason) == (S.READY, "")


def test_mark_upload_error_requires_a_reason(asset_in):
    asset = asset_in(S.UPLOADING)

    with pytest.raises(ValueError, match="always carries a reason"):
        asset.mark_upload_error("")

    asset.refresh_from_db()
    assert asset.status == S.UPLOADING


def test_mark_upload_error_stores_the_reason_shown_to_people(asset_in):
    asset = asset_in(S.UPLOADED)

    assert asset.mark_upload_error("The file is a PDF renamed to .jpg.") is True

    asset.refresh_from_db()
    assert (asset.status, asset.error_reason) == (S.UPLOAD_ERROR, "The file is a PDF renamed to .jpg.")


def test_retry_goes_back_to_uploading_and_clears_the_reason(asset_in):
    asset = asset_in(S.UPLOAD_ERROR)

    assert asset.restart_upload(storage_key="projects/x/retry-2.jpg") is True

    asset.refresh_from_db()
    assert (asset.status, asset.error_reason, asset.storage_key) == (S.UPLOADING, "", "projects/x/retry-2.jpg")


def test_a_move_stores_the_fields_that_come_with_it(asset_in):
    asset = asset_in(S.UPLOADED)

    assert asset.mark_ready(media_metadata={"width": 640, "height": 480}) is True

    asset.refresh_from_db()
    assert asset.media_metadata == {"width": 640, "height": 480}


def test_a_refused_move_stores_none_of_the_fields_that_come_with_it(asset_in):
    asset = asset_in(S.UPLOADING)

    assert asset.mark_ready(media_metadata={"width": 640}) is False

    asset.refresh_from_db()
    assert asset.media_metadata == {}


@pytest.mark.parametrize(
    ("method", "arguments", "source", "target"),
    [
        ("mark_uploaded", {}, S.UPLOADING, S.UPLOADED),
        ("mark_ready", {}, S.UPLOADED, S.READY),
        ("queue_preprocessing", {}, S.UPLOADED, S.PENDING_PREPROCESSING),
        ("start_preprocessing", {"token": "run-1"}, S.PENDING_PREPROCESSING, S.PREPROCESSING),
        ("start_preprocessing", {"token": "run-2"}, S.RECOVERING_PREPROCESSING, S.PREPROCESSING),
        ("restart_upload", {}, S.UPLOAD_ERROR, S.UPLOADING),
    ],
)
def test_each_named_step_makes_its_move(asset_in, method, arguments, source, target):
    asset = asset_in(source)

    assert getattr(asset, method)(**arguments) is True

    assert Asset.objects.get(pk=asset.pk).status == target


@pytest.mark.parametrize("status", S.values)
def test_only_ready_and_upload_error_are_terminal(status):
    assert Asset(status=status).is_terminal is (status in {S.READY, S.UPLOAD_ERROR})


def test_the_status_label_is_what_people_read_for_every_status():
    for status, label in Asset.Status.choices:
        asset = Asset(status=status)
        assert asset.status_label == label == asset.get_status_display()
