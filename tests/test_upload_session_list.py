"""The Uploads tab as the upload protocol leaves it: rows that link to their session, counts and order that follow
the files through register, fail and finalize. (Role scoping, ordering and query counts on hand-made rows are in
tests/test_uploads_tab.py.)"""

import hashlib
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from assets.models import Asset
from tests.helpers import table_rows
from uploads.models import UploadSession
from uploads.services import upload_fail, upload_session_finalize, upload_session_register

S = Asset.Status


@pytest.fixture
def url(project):
    return reverse("uploads:list", args=[project.pk])


def _open(project, user, view_name: str) -> UploadSession:
    return UploadSession.objects.create(
        project=project, created_by=user, asset_type="image", view_name=view_name, capture_date=date(2026, 11, 20)
    )


def _register(session, *names: str) -> list[Asset]:
    files = [{"name": n, "size": 100, "contentType": "image/jpeg", "sha256": hashlib.sha256(n.encode()).hexdigest()} for n in names]
    return [result.asset for result in upload_session_register(session=session, user=session.created_by, files=files)]


def _links(response) -> dict[str, str]:
    """View name -> href of each row's link."""
    return dict((name, href) for href, name in re.findall(r'<a href="([^"]+)">([^<]+)</a></td>', response.content.decode()))


def test_each_row_links_to_its_session_page(manager_client, url, project, member, manager):
    mine = _open(project, manager, "Loading bay")
    theirs = _open(project, member, "North gate")

    links = _links(manager_client.get(url))

    assert links == {"Loading bay": mine.get_absolute_url(), "North gate": theirs.get_absolute_url()}
    for href in links.values():
        assert manager_client.get(href).status_code == 200


def test_an_uploaders_rows_link_to_pages_they_can_open(member_client, url, project, member, manager):
    mine = _open(project, member, "North gate")
    _open(project, manager, "Loading bay")

    links = _links(member_client.get(url))

    assert links == {"North gate": mine.get_absolute_url()}
    assert member_client.get(links["North gate"]).status_code == 200


def test_counts_and_order_follow_the_files_through_the_protocol(
    manager_client, url, project, member, manager, django_capture_on_commit_callbacks, eager_tasks
):
    in_progress = _open(project, manager, "Started first, still going")
    _register(in_progress, "a.jpg", "b.jpg")
    UploadSession.objects.filter(pk=in_progress.pk).update(created_at=in_progress.created_at - timedelta(hours=1))
    done = _open(project, member, "Started later, done")
    lost, ready, unfinished = _register(done, "lost.jpg", "ready.jpg", "unfinished.jpg")
    upload_fail(session=done, failures=[{"assetId": str(lost.pk), "reason": "Connection lost."}])
    assert ready.move(S.UPLOADED) and ready.move(S.READY)

    # Finalize checks the unfinished file in storage (a worker's task, run here at once): it never arrived.
    with django_capture_on_commit_callbacks(execute=True):
        assert upload_session_finalize(session=done)

    rows = table_rows(manager_client.get(url).content)

    summary = [(r["View name"], r["Status"], r["Files"], r["Ready"], r["Errors"]) for r in rows]
    assert summary == [
        ("Started first, still going", "In progress", "2", "0", "0"),
        ("Started later, done", "Complete", "3", "1", "2"),
    ]
