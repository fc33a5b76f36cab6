"""A CSV import taken to the end by a real Celery worker process: files fetched from a loopback server, a
server error tried again after its back-off, a dead link failed at once, one email to a real SMTP server."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from tests.file_server import Answer, file_server
from tests.media_factory import make_jpeg
from tests.worker import celery_worker, smtp_server, wait_for
from uploads import imports
from uploads.models import UploadSession
from uploads.services import upload_session_finalize, upload_session_open

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WORKER_SETTINGS = {
    "URL_IMPORT_ALLOW_PRIVATE_ADDRESSES": "true",  # the file server is on loopback
    "URL_IMPORT_MAX_RETRIES": "2",
    "URL_IMPORT_RETRY_BACKOFF_SECONDS": "1",
    "URL_IMPORT_READ_TIMEOUT": "2",
}


class Flaky(Answer):
    """503 for the first request, the image afterwards."""

    def __init__(self, body: bytes):
        super().__init__(body)
        self.calls = 0

    @property
    def status(self):  # read once per request by the server
        self.calls += 1
        return 503 if self.calls == 1 else 200

    @status.setter
    def status(self, value):
        pass


def test_a_worker_fetches_a_csv_import_retries_a_server_error_and_sends_one_email(project, member, tmp_path, settings):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True  # this process previews the list, the worker fetches it
    flaky = Flaky(make_jpeg(50, 40))
    routes = {f"/photos/{n}.jpg": make_jpeg(40 + n, 30) for n in range(4)} | {"/photos/flaky.jpg": flaky}
    with file_server(routes) as server, smtp_server() as (mailbox, email_url), celery_worker(tmp_path, EMAIL_URL=email_url, **WORKER_SETTINGS) as worker:
        session = upload_session_open(project=project, user=member, asset_type="image", source="csv", view_name="Roof", capture_date="2026-11-20")
        lines = [f"{server.url}/photos/{n}.jpg,Roof {n}" for n in range(4)] + [f"{server.url}/photos/flaky.jpg,Flaky", f"{server.url}/gone.jpg,Gone"]
        url_import = imports.url_import_preview(session=session, user=member, uploaded=SimpleUploadedFile("roof.csv", "\n".join(lines).encode()))
        imports.url_import_start(url_import=url_import, user=member)
        upload_session_finalize(session=session)
        wait_for(lambda: UploadSession.objects.get(pk=session.pk).status == UploadSession.Status.COMPLETE, timeout=120, what="the session to complete", worker=worker)
        wait_for(lambda: mailbox.messages, timeout=30, what="the email", worker=worker)

    statuses = dict(Asset.objects.filter(upload_session=session).values_list("name", "status"))
    assert statuses == {**{f"Roof {n}": "ready" for n in range(4)}, "Flaky": "ready", "Gone": "upload_error"}
    assert server.requests.count("/photos/flaky.jpg") == 2 and server.requests.count("/gone.jpg") == 1
    assert len(mailbox.messages) == 1 and "1 of 6 files failed" in mailbox.messages[0]["Subject"]
