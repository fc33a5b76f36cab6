"""Importing lists of URLs end to end: files served by a loopback HTTP server are fetched into storage, checked,
deduplicated by content and processed, on the embedded storage and on S3 (moto); failures are Upload Errors
with their reason, the session completes once and sends one email."""

import json
import os
from pathlib import Path
import pytest
from django.core import mail
from django.core.files.storage import default_storage

from assets.models import Asset
from projects.models import Batch, Record
from tests.file_server import Answer, file_server
from tests.media_factory import make_jpeg, make_png, make_video
from uploads import imports
from uploads.models import UploadSession, UrlImportItem
from uploads.services import upload_session_finalize
from tests.imports_support import eager_fetching, fetch_settings, open_session, run_import  # noqa: F401

S = Asset.Status


def test_a_csv_of_fifty_urls_becomes_ready_files_failures_and_counted_duplicates(
    storage_backend, project, member, fetch_settings, eager_fetching, django_capture_on_commit_callbacks, tmp_path
):
    images = {f"/img/{n:02d}.jpg": make_jpeg(40 + n, 30) for n in range(42)}
    images["/img/42.png"] = make_png(33, 21)
    video = make_video(tmp_path / "clip.mp4", frames=6).read_bytes()
    routes = {
        **images,
        "/copy/a.jpg": images["/img/00.jpg"],  # duplicate by content of line 1
        "/copy/b.png": images["/img/42.png"],  # duplicate by content of line 43
        "/videos/clip.mp4": video,  # a video in a session of images
        "/videos/clip-2.mp4": make_video(tmp_path / "clip2.mp4", frames=8).read_bytes(),
        "/page.html": Answer(b"<!doctype html><html><body>Photo gallery</body></html>", headers={"Content-Type": "text/html"}),
        "/slow.jpg": Answer(make_jpeg(20, 20), delay=5),
    }
    with file_server(routes) as server:
        paths = [*images, "/copy/a.jpg", "/copy/b.png", "/videos/clip.mp4", "/videos/clip-2.mp4", "/gone.jpg", "/slow.jpg", "/page.html"]
        lines = ["url,name"] + [f'{server.url}{path},"Gate, shot {i:02d}"' for i, path in enumerate(paths)]
        assert len(lines) - 1 == 50
        session = open_session(project, member, UploadSession.Source.CSV)
        with django_capture_on_commit_callbacks(execute=True):
            url_import = run_import(session, member, "gate.csv", "\n".join(lines).encode())
            upload_session_finalize(session=session)

    assert url_import.row_count == 50 and url_import.problems == []
    session.refresh_from_db()
    assets = {asset.name: asset for asset in Asset.objects.filter(upload_session=session)}
    ready = [a for a in assets.values() if a.status == S.READY]
    failed = {a.source_url.removeprefix(server.url): a.error_reason for a in assets.values() if a.status == S.UPLOAD_ERROR}
    assert len(ready) == 43
    assert session.duplicate_count == 2 and len(assets) == 48
    assert set(failed) == {"/videos/clip.mp4", "/videos/clip-2.mp4", "/gone.jpg", "/slow.jpg", "/page.html"}
    assert "HTTP 404" in failed["/gone.jpg"]
    assert "did not answer in time" in failed["/slow.jpg"] and "tried 2 times" in failed["/slow.jpg"]
    assert "text, not an image" in failed["/page.html"]
    assert "MP4 video, not an image" in failed["/videos/clip.mp4"]
    first = assets["Gate, shot 00"]
    assert first.source == Asset.Source.URL and first.thumbnail_key and first.size == len(images["/img/00.jpg"])
    assert default_storage.exists(first.storage_key)
    assert not default_storage.exists(assets["Gate, shot 46"].storage_key)  # the 404 left nothing behind
    duplicates = UrlImportItem.objects.filter(url_import=url_import, asset__isnull=True)
    assert sorted(item.line for item in duplicates) == [45, 46]
    assert session.status == UploadSession.Status.COMPLETE
    assert len(mail.outbox) == 1
    assert "5 of 48 files failed" in mail.outbox[0].subject


def test_a_json_list_keeps_metadata_context_data_and_external_ids_and_fills_batches(
    project, member, owner, fetch_settings, eager_fetching, django_capture_on_commit_callbacks, tmp_path, monkeypatch
):
    week = Batch.objects.create(project=project, name="Week 12")
    night = Batch.objects.create(project=project, name="Night")
    probed = []
    monkeypatch.setattr("assets.media.probe_video", lambda path: probed.append(path) or {})
    clip = make_video(tmp_path / "a.mp4", frames=10, size=(64, 48)).read_bytes()
    other = make_video(tmp_path / "b.mp4", frames=12, size=(64, 48)).read_bytes()
    with file_server({"/a.mp4": clip, "/b.mp4": other}) as server:
        rows = [
            {
                "data": f"{server.url}/a.mp4",
                "externalId": "cam-a.mp4",
                "metadata": {"frameRate": 24, "frameCount": 150, "width": 1920, "height": 1080.0},
                "contextData": {"site": "North gate", "lane": 2},
                "batches": ["Week 12", str(night.pk)],
            },
            {"data": f"{server.url}/b.mp4", "externalId": "cam-b.mp4", "batches": [str(week.pk)],
             "metadata": {"frameRate": 30, "frameCount": 12, "width": 64, "height": 48}},
        ]
        session = open_session(project, member, UploadSession.Source.JSON, asset_type="video")
        with django_capture_on_commit_callbacks(execute=True):
            run_import(session, member, "cams.json", json.dumps(rows, indent=2).encode())

    a = Asset.objects.get(upload_session=session, external_id="cam-a.mp4")
    b = Asset.objects.get(upload_session=session, external_id="cam-b.mp4")
    assert a.status == S.READY and b.status == S.READY
    assert probed == []  # metadata given for every video: nothing was probed
    assert a.media_metadata["frame_rate"] == 24 and a.media_metadata["frame_count"] == 150
    assert a.media_metadata["width"] == 1920 and a.media_metadata["provided"] is True
    assert a.context_data == {"site": "North gate", "lane": 2}
    assert a.name == "cam-a.mp4" and a.thumbnail_key
    assert set(Record.objects.filter(asset=a).values_list("batch__name", flat=True)) == {"Week 12", "Night"}
    assert set(Record.objects.filter(asset=b).values_list("batch__name", flat=True)) == {"Week 12"}
    from tests.api import Api

    answer = Api(member).get(f"/assets/{a.pk}").json()
    assert answer["externalId"] == "cam-a.mp4" and answer["contextData"] == {"site": "North gate", "lane": 2}


def test_a_failed_file_is_fetched_again_on_retry(project, member, fetch_settings, eager_fetching, django_capture_on_commit_callbacks):
    with file_server() as server:
        session = open_session(project, member, UploadSession.Source.CSV)
        with django_capture_on_commit_callbacks(execute=True):
            run_import(session, member, "one.csv", f"{server.url}/late.jpg,Late arrival".encode())
        asset = Asset.objects.get(upload_session=session)
        assert asset.status == S.UPLOAD_ERROR and "HTTP 404" in asset.error_reason
        first_key = asset.storage_key
        server.add("/late.jpg", make_jpeg())
        with django_capture_on_commit_callbacks(execute=True):
            assert imports.url_import_retry(session=session, asset_ids=[asset.pk]) == 1
    asset.refresh_from_db()
    assert asset.status == S.READY and asset.storage_key != first_key


def test_a_server_error_is_tried_again_and_a_client_error_is_not(project, member, fetch_settings, eager_fetching, django_capture_on_commit_callbacks):
    fetch_settings.URL_IMPORT_MAX_RETRIES = 2
    with file_server({"/busy.jpg": Answer(b"busy", status=503), "/private.jpg": Answer(b"no", status=403)}) as server:
        session = open_session(project, member, UploadSession.Source.CSV)
        with django_capture_on_commit_callbacks(execute=True):
            run_import(session, member, "two.csv", f"{server.url}/busy.jpg,Busy\n{server.url}/private.jpg,Private".encode())
        assert server.requests.count("/busy.jpg") == 3
        assert server.requests.count("/private.jpg") == 1
    reasons = dict(Asset.objects.filter(upload_session=session).values_list("name", "error_reason"))
    assert "HTTP 503" in reasons["Busy"] and "tried 3 times" in reasons["Busy"]
    assert "HTTP 403" in reasons["Private"] and "tried" not in reasons["Private"]



def test_a_file_the_portal_cannot_store_is_an_upload_error_not_a_file_waiting_for_ever(
    project, member, fetch_settings, eager_fetching, django_capture_on_commit_callbacks, monkeypatch
):
    from botocore.exceptions import ClientError

    from assets import storage

    def refused(key, stream):
        stream.read()
        raise ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")

    monkeypatch.setattr(storage, "write_stream", refused)
    with file_server({"/gate.jpg": make_jpeg(), "/dock.jpg": make_jpeg(50, 40)}) as server:
        session = open_session(project, member, UploadSession.Source.CSV)
        with django_capture_on_commit_callbacks(execute=True):
            run_import(session, member, "two.csv", f"{server.url}/gate.jpg,Gate\n{server.url}/dock.jpg,Dock".encode())
            upload_session_finalize(session=session)

    reasons = dict(Asset.objects.filter(upload_session=session).values_list("name", "error_reason"))
    assert reasons == dict.fromkeys(
        ["Gate", "Dock"],
        "The portal gave up fetching the file: the storage answered AccessDenied (HTTP 403). Retry to fetch it again; "
        "if it keeps failing, an admin should check the portal's access to the storage.",
    )
    session.refresh_from_db()
    assert session.status == UploadSession.Status.COMPLETE


def test_a_body_over_the_size_limit_is_refused_and_nothing_is_kept(project, member, fetch_settings, eager_fetching, django_capture_on_commit_callbacks):
    fetch_settings.URL_IMPORT_MAX_FILE_SIZE = 10_000
    big = make_jpeg(400, 300, detail=True)
    assert len(big) > 10_000
    with file_server({"/big.jpg": big}) as server:
        session = open_session(project, member, UploadSession.Source.CSV)
        with django_capture_on_commit_callbacks(execute=True):
            run_import(session, member, "big.csv", f"{server.url}/big.jpg,Big".encode())
    asset = Asset.objects.get(upload_session=session)
    assert asset.status == S.UPLOAD_ERROR and "the most the portal takes is 9.8" in asset.error_reason
    assert not default_storage.exists(asset.storage_key)


class _Endless:
    """A body of `size` bytes that is produced as it is read (never whole in memory), like a socket."""

    def __init__(self, size: int):
        self.left = size

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else size
        chunk = b"\x5a" * min(size, self.left)
        self.left -= len(chunk)
        return chunk


def test_a_large_body_goes_to_s3_in_parts(s3_storage, settings):
    from assets import storage
    from tests import s3

    settings.UPLOAD_MULTIPART_THRESHOLD = settings.UPLOAD_PART_SIZE = 5 * 1024 * 1024
    storage.write_stream("imports/big.bin", _Endless(12 * 1024 * 1024))
    head = s3.client(settings.STORAGES["default"]["OPTIONS"]["endpoint_url"]).head_object(Bucket=s3_storage, Key="imports/big.bin")
    assert head["ContentLength"] == 12 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-3")  # three parts of a multipart upload


def test_an_interrupted_body_leaves_nothing_in_the_embedded_storage():
    from assets import storage
    from uploads.fetching import FetchError

    class Broken(_Endless):
        def read(self, size: int = -1) -> bytes:
            if self.left < 3 * 1024 * 1024:
                raise FetchError("The connection broke.", transient=True)
            return super().read(size)

    with pytest.raises(FetchError):
        storage.write_stream("imports/half.bin", Broken(4 * 1024 * 1024))
    assert not default_storage.exists("imports/half.bin")
    # No half-written temporary file either, wherever the storage keeps them.
    assert [path for path in Path(default_storage.location).rglob("*") if path.is_file()] == []
