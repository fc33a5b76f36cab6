"""Fixtures and helpers shared by the import tests (imported by the modules that use them)."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from uploads import imports
from uploads.models import UploadSession


@pytest.fixture
def fetch_settings(settings):
    """The tests' file server is on loopback: allow private addresses, and keep timeouts and retries short."""
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True
    settings.URL_IMPORT_CONNECT_TIMEOUT = 2
    settings.URL_IMPORT_READ_TIMEOUT = 0.5
    settings.URL_IMPORT_MAX_RETRIES = 1
    settings.URL_IMPORT_RETRY_BACKOFF_SECONDS = 0
    return settings


@pytest.fixture
def eager_fetching(eager_tasks):
    """Tasks run in this process as they are queued, and a task's retry runs again at once (Celery only re-runs
    an eager retry when errors do not propagate; the tests assert on the outcome instead)."""
    eager_tasks.conf.task_eager_propagates = False
    yield eager_tasks


def open_session(project, user, source, asset_type="image") -> UploadSession:
    return UploadSession.objects.create(
        project=project, created_by=user, asset_type=asset_type, source=source, view_name="Gate", capture_date=date(2026, 11, 20)
    )


def run_import(session, user, name: str, data: bytes, *, integration=None, good_rows_only=False):
    """Previews a list and starts it (the caller captures on-commit callbacks to run the fetching)."""
    url_import = imports.url_import_preview(session=session, user=user, uploaded=SimpleUploadedFile(name, data), integration=integration)
    imports.url_import_start(url_import=url_import, user=user, good_rows_only=good_rows_only)
    return url_import
