"""One byte-identical file, brought into one project through every door: the browser's protocol, the REST API, the
command-line client and a URL import. Each answers "duplicate" the same way, with the same words, because each asks
the one selector (assets.selectors, docs/ARCHITECTURE.md "Duplicates")."""

import hashlib
import os
import subprocess

import pytest

from accounts import services as account_services
from assets.models import Asset
from tests.api import Api
from tests.conftest import PASSWORD
from tests.file_server import file_server
from tests.imports_support import eager_fetching, fetch_settings, open_session, run_import  # noqa: F401
from tests.media_factory import make_jpeg
from tests.test_portal_upload import COMMAND, RUN_WAIT
from uploads.models import UploadSession, UrlImportItem
from uploads.services import upload_session_register

DATA = make_jpeg(48, 32)
SHA256 = hashlib.sha256(DATA).hexdigest()
SAID = "The same file is already in the project as “gate-1.jpg”."


@pytest.fixture
def earlier(project, owner):
    """The file, already Ready in the project."""
    return Asset.objects.create(
        organization=project.organization, project=project, name="gate-1.jpg", original_filename="gate-1.jpg",
        asset_type="image", sha256=SHA256, size=len(DATA), status=Asset.Status.READY, uploaded_by=owner,
    )


def _only_the_earlier_copy(project) -> None:
    assert list(Asset.objects.filter(project=project, sha256=SHA256).values_list("name", flat=True)) == ["gate-1.jpg"]


def test_the_browser_protocol_answers_duplicate(earlier, upload_session, project):
    [result] = upload_session_register(
        session=upload_session, user=upload_session.created_by,
        files=[{"name": "again.jpg", "size": len(DATA), "contentType": "image/jpeg", "sha256": SHA256}],
    )

    assert (result.outcome, result.reason, result.duplicate_of) == ("duplicate", SAID, "gate-1.jpg")
    _only_the_earlier_copy(project)


def test_the_api_answers_duplicate(earlier, owner, project):
    response = Api(owner).register(projectId=str(project.pk), fileName="again.jpg", sha256=SHA256, size=len(DATA))

    assert response.status_code == 409
    assert response.json() == {"message": SAID, "existingId": str(earlier.pk), "status": "ready"}
    _only_the_earlier_copy(project)


def test_the_command_line_client_answers_duplicate(earlier, live_server, owner, project, tmp_path):
    (tmp_path / "again.jpg").write_bytes(DATA)
    _, secret = account_services.api_key_create(user=owner, name="portal-upload")
    env = {**os.environ, "PORTAL_USERNAME": owner.username, "PORTAL_PASSWORD": PASSWORD}

    result = subprocess.run(
        [str(COMMAND), "--url", live_server.url, "--api-key", secret, "--project", str(project.pk), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=RUN_WAIT,
    )

    assert result.returncode == 0, result.stderr
    assert f"again.jpg ({SAID})" in result.stdout
    assert "1 files: 0 uploaded, 1 already in the project" in result.stdout
    _only_the_earlier_copy(project)


def test_a_url_import_answers_duplicate(earlier, project, member, fetch_settings, eager_fetching, django_capture_on_commit_callbacks):
    session = open_session(project, member, UploadSession.Source.CSV)
    with file_server({"/again.jpg": DATA}) as server, django_capture_on_commit_callbacks(execute=True):
        run_import(session, member, "list.csv", f"url,name\n{server.url}/again.jpg,again.jpg\n".encode())

    [item] = UrlImportItem.objects.filter(url_import__session=session)
    session.refresh_from_db()
    assert (item.asset, item.duplicate_of, session.duplicate_count) == (None, SAID, 1)
    _only_the_earlier_copy(project)
