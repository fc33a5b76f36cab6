"""Start-up of web and Celery pool processes (portal/warmup.py): the work of a first request or task comes first."""

import gc
import hashlib
import importlib
import logging
import sys

import pytest
from django.core.files.storage import storages
from django.urls import reverse
from storages.backends.s3 import S3Storage

from assets import storage
from assets.storage.s3 import S3Backend
from portal import warmup


@pytest.fixture(autouse=True)
def _unfrozen():
    """warm_up() freezes the collector's view of what exists; the test process gets it back afterwards."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_after_start_up_the_first_registration_builds_no_s3_client(
    s3_storage, member_client, upload_session, monkeypatch
):
    assert "put_signing" not in vars(storage.backend())
    warmup.warm_up()

    def no_new_client(*args, **kwargs):
        raise AssertionError("a request built an S3 client or session")

    monkeypatch.setattr(S3Storage, "_create_session", no_new_client)
    data = b"\xff\xd8\xff" + b"x" * 100
    declared = {"name": "a.jpg", "size": len(data), "contentType": "image/jpeg", "sha256": hashlib.sha256(data).hexdigest()}
    response = member_client.post(
        reverse("uploads:register", args=[upload_session.project_id, upload_session.pk]),
        {"files": [declared]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    [answer] = response.json()["files"]
    assert answer["outcome"] == "upload"
    assert answer["put"]["url"].startswith(storages["default"].endpoint_url)


def test_on_the_embedded_storage_there_is_nothing_to_build(monkeypatch):
    monkeypatch.setattr(S3Backend, "prepare", lambda self: pytest.fail("no S3 set-up without S3"))
    storage.prepare()
    assert storage.browser_origin() is None


def test_a_step_that_fails_is_logged_and_the_others_still_run(monkeypatch, caplog):
    def broken():
        raise RuntimeError("no credentials here")

    loaded = []
    monkeypatch.setattr(storage, "prepare", broken)
    monkeypatch.setattr(warmup, "get_template", loaded.append)
    with caplog.at_level(logging.WARNING, logger="portal.warmup"):
        warmup.warm_up()
    assert "Start-up step _storage failed" in caplog.text
    assert "no credentials here" in caplog.text
    assert loaded == list(warmup.HOT_TEMPLATES)


def test_the_wsgi_application_warms_up_as_it_loads(monkeypatch):
    calls = []
    monkeypatch.setattr(warmup, "warm_up", lambda: calls.append("warm_up"))
    monkeypatch.delitem(sys.modules, "portal.wsgi", raising=False)
    wsgi = importlib.import_module("portal.wsgi")
    assert calls == ["warm_up"]
    assert callable(wsgi.application)


def test_what_start_up_built_is_left_out_of_later_collections():
    class LivesAsLongAsTheProcess:
        pass

    built_at_start = LivesAsLongAsTheProcess()
    assert gc.get_freeze_count() == 0
    warmup.warm_up()
    assert gc.get_freeze_count() > 0
    # A full collection now walks only what was made after start-up, not the frozen objects.
    assert not any(obj is built_at_start for obj in gc.get_objects())
    made_later = LivesAsLongAsTheProcess()
    assert any(obj is made_later for obj in gc.get_objects())


def test_each_celery_pool_process_warms_up_before_its_first_task(monkeypatch):
    from celery import signals

    import portal.celery  # noqa: F401 (connects the handler)

    calls = []
    monkeypatch.setattr(warmup, "warm_up", lambda: calls.append("warm_up"))
    signals.worker_process_init.send(sender=None)
    assert calls == ["warm_up"]
