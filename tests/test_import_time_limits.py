"""A URL cannot hold a worker: the whole file's deadline is checked before every read and no single read waits past
it, the fetch task has Celery time limits, and fetches run on a queue of their own (docs/SECURITY.md)."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from assets.models import Asset
from tests.file_server import Answer, file_server
from tests.imports_support import eager_fetching, fetch_settings, open_session, run_import  # noqa: F401
from uploads import fetching
from uploads.models import UploadSession

# Few bytes, so that a fetch that waits the drip out (the bug) ends too, in a few seconds.
DRIPPED = b"\xff\xd8\xff\xe0" + b"J" * 26


@pytest.fixture
def one_second_per_file(fetch_settings):
    fetch_settings.URL_IMPORT_MAX_SECONDS = 1
    # Longer than the pause between bytes: the read timeout alone never ends these fetches.
    fetch_settings.URL_IMPORT_READ_TIMEOUT = 30
    return fetch_settings


def _read_all(url: str) -> fetching.MeteredBody:
    with fetching.open_url(url) as body:
        stream = fetching.metered(body, deadline=body.deadline)
        try:
            while stream.read(1 << 20):
                pass
        except fetching.FetchError:
            pass
    return stream


def test_a_server_sending_one_byte_at_a_time_is_given_up_at_the_files_deadline(one_second_per_file):
    with file_server({"/drip.jpg": Answer(DRIPPED, drip=0.25)}) as server:
        stream = _read_all(server.url + "/drip.jpg")
    assert stream.error is not None and stream.error.message == fetching.overtime_reason()
    assert not stream.error.transient, "a file that took too long is not tried again"
    assert 0 < stream.received.size < len(DRIPPED), "the reading stopped at the deadline, not at the end of the drip"


def test_a_server_that_goes_quiet_is_given_up_at_the_deadline_not_after_the_read_timeout(one_second_per_file):
    with file_server({"/quiet.jpg": Answer(DRIPPED, drip=60)}) as server:
        stream = _read_all(server.url + "/quiet.jpg")
    assert stream.received.size == 1
    assert stream.error is not None and stream.error.message == fetching.overtime_reason()
    assert not stream.error.transient


def test_a_slow_drip_import_is_an_upload_error_at_its_deadline_without_waiting_the_drip_out(
    project, member, one_second_per_file, eager_fetching, django_capture_on_commit_callbacks
):
    with file_server({"/drip.jpg": Answer(DRIPPED, drip=0.25)}) as server:
        session = open_session(project, member, UploadSession.Source.CSV)
        with django_capture_on_commit_callbacks(execute=True):
            run_import(session, member, "list.csv", f"{server.url}/drip.jpg,Drip".encode())
    asset = Asset.objects.get(upload_session=session)
    assert asset.status == Asset.Status.UPLOAD_ERROR
    assert asset.error_reason.startswith("Fetching took longer than the 1 seconds allowed for one file.")
    assert "tried" not in asset.error_reason
    assert server.requests == ["/drip.jpg"]
    assert server.dripped < len(DRIPPED)


def test_a_fetch_past_its_soft_time_limit_is_an_upload_error_with_its_reason(
    project, member, fetch_settings, eager_fetching, django_capture_on_commit_callbacks, monkeypatch
):
    def held_until_the_limit(*, asset_id):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("uploads.imports.url_import_fetch", held_until_the_limit)
    session = open_session(project, member, UploadSession.Source.CSV)
    with django_capture_on_commit_callbacks(execute=True):
        run_import(session, member, "list.csv", b"http://files.example.com/slow.jpg,Slow")
    asset = Asset.objects.get(upload_session=session)
    assert asset.status == Asset.Status.UPLOAD_ERROR
    assert asset.error_reason == f"{fetching.overtime_reason()} Retry to fetch it again."


def test_fetches_run_on_a_queue_of_their_own_under_time_limits_from_the_settings(settings):
    from portal.celery import app
    from uploads.tasks import fetch_imported_file

    def queue(task: str) -> str:
        return app.amqp.router.route({}, task, args=(), kwargs={})["queue"].name

    assert queue(fetch_imported_file.name) == "fetch"
    assert {queue(f"assets.tasks.{name}") for name in ("process_image", "queue_video", "preprocess_video")} == {"media"}
    margin = settings.URL_IMPORT_TIME_LIMIT_MARGIN_SECONDS
    assert fetch_imported_file.soft_time_limit == settings.URL_IMPORT_MAX_SECONDS + margin
    assert fetch_imported_file.time_limit == settings.URL_IMPORT_MAX_SECONDS + 2 * margin
