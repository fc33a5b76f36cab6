"""Add Assets from the Assets page: a session with no project puts its files in the organization's library, under
addresses of that library; the duplicate rule of library files; and nobody outside the organization, or with the
wrong address, opens, sees or sends to it."""

import hashlib
import json
from datetime import date

import pytest
from django.urls import reverse

from assets.models import Asset
from projects.models import Membership
from tests.helpers import make_asset
from uploads.models import UploadSession

NEW = "/library/uploads/new/"


def _sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _details(destination: str, **extra) -> dict:
    return {"destination": destination, "asset_type": "image", "source": "direct", "view_name": "Pier, camera 1",
            "capture_date": "2026-11-20", **extra}


@pytest.fixture
def library_session(organization, member) -> UploadSession:
    return UploadSession.objects.create(
        organization=organization, project=None, created_by=member, asset_type="image", view_name="Pier",
        capture_date=date(2026, 11, 20),
    )


def _register(client, session, *names, sha=None):
    files = [{"name": n, "size": 2048, "contentType": "image/jpeg", "sha256": sha or _sha(n)} for n in names]
    return client.post(session.url("register"), json.dumps({"files": files}), content_type="application/json")


def test_a_session_with_no_project_is_opened_on_the_library(member_client, organization, member):
    response = member_client.post(NEW, _details(f"library:{organization.pk}"))

    session = UploadSession.objects.get()
    assert (session.project, session.organization, session.created_by) == (None, organization, member)
    assert response.status_code == 302 and response["Location"] == f"/library/{organization.pk}/uploads/{session.pk}/"
    page = member_client.get(response["Location"])
    assert page.status_code == 200 and "Library upload" in page.content.decode() and "data-dropzone" in page.content.decode()


def test_choosing_a_project_opens_a_session_of_that_project(member_client, project):
    response = member_client.post(NEW, _details(str(project.pk)))

    session = UploadSession.objects.get()
    assert session.project == project and response["Location"] == reverse("uploads:detail", args=[project.pk, session.pk])


def test_lists_of_urls_go_into_a_project_not_the_library(member_client, organization):
    response = member_client.post(NEW, _details(f"library:{organization.pk}", source="csv"))

    assert "Lists of URLs are imported into a project" in response.content.decode()
    assert not UploadSession.objects.exists()


def test_another_organizations_library_or_project_is_not_a_choice(member_client, other_organization, other_project):
    for destination in (f"library:{other_organization.pk}", str(other_project.pk)):
        response = member_client.post(NEW, _details(destination))
        assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not UploadSession.objects.exists()


def test_a_viewer_cannot_add_assets(viewer_client, organization):
    assert viewer_client.get(NEW).status_code == 403
    assert viewer_client.post(NEW, _details(f"library:{organization.pk}")).status_code == 403


def test_files_of_a_library_session_join_the_library(member_client, library_session, organization):
    answer = _register(member_client, library_session, "a.jpg", "b.jpg").json()

    assert [f["outcome"] for f in answer["files"]] == ["upload", "upload"]
    assert all(f["put"]["url"] for f in answer["files"])
    assets = Asset.objects.filter(upload_session=library_session)
    assert {(a.organization_id, a.project_id) for a in assets} == {(organization.pk, None)}


def test_a_library_file_duplicates_only_the_library_and_says_so(member_client, library_session, organization, project):
    make_asset(project, name="in-project.jpg", sha256=_sha("p.jpg"), status=Asset.Status.READY)
    Asset.objects.create(organization=organization, name="in-library.jpg", original_filename="in-library.jpg",
                         asset_type="image", sha256=_sha("l.jpg"), status=Asset.Status.READY)

    files = _register(member_client, library_session, "p.jpg", "l.jpg").json()["files"]

    assert files[0]["outcome"] == "upload"  # a copy in a project does not keep a file out of the library
    assert (files[1]["outcome"], files[1]["reason"]) == ("duplicate", "The same file is already in the library as “in-library.jpg”.")


def test_another_organization_never_opens_sees_or_sends_to_a_library_session(
    outsider_client, library_session, other_organization
):
    own_address = reverse("uploads:library_detail", args=[other_organization.pk, library_session.pk])
    for url in (library_session.url("detail"), library_session.url("changes"), own_address):
        assert outsider_client.get(url).status_code == 404
    assert _register(outsider_client, library_session, "x.jpg").status_code == 404
    assert outsider_client.post(library_session.url("finalize")).status_code == 404
    assert not Asset.objects.exists()


def test_an_outsider_made_member_of_both_still_needs_the_sessions_own_address(
    outsider, outsider_client, library_session, other_organization, organization
):
    Membership.objects.create(organization=organization, user=outsider, role=Membership.Role.ADMIN)
    wrong = reverse("uploads:library_detail", args=[other_organization.pk, library_session.pk])

    assert outsider_client.get(wrong).status_code == 404
    assert outsider_client.get(library_session.url("detail")).status_code == 200  # an admin of its organization sees it


def test_a_library_session_is_not_reached_under_a_project_nor_a_project_session_under_the_library(
    member_client, library_session, upload_session, project, organization
):
    assert member_client.get(reverse("uploads:detail", args=[project.pk, library_session.pk])).status_code == 404
    assert member_client.get(reverse("uploads:library_detail", args=[organization.pk, upload_session.pk])).status_code == 404


def test_only_the_person_who_opened_it_sends_files_and_managers_see_it(manager_client, viewer_client, library_session):
    assert manager_client.get(library_session.url("detail")).status_code == 200
    assert _register(manager_client, library_session, "m.jpg").status_code == 403
    assert viewer_client.get(library_session.url("detail")).status_code == 404


def test_a_library_sessions_report_is_served_under_the_library_only(member_client, outsider_client, library_session):
    _register(member_client, library_session, "r.jpg")

    report = member_client.get(library_session.url("report"))

    assert report.status_code == 200 and "r.jpg" in b"".join(report.streaming_content).decode()
    assert outsider_client.get(library_session.url("report")).status_code == 404


def test_finalizing_a_library_session_returns_to_its_page(member_client, library_session):
    response = member_client.post(library_session.url("finalize"))

    assert response.status_code == 302 and response["Location"] == library_session.get_absolute_url()
    library_session.refresh_from_db()
    assert library_session.status == UploadSession.Status.COMPLETE


def test_the_assets_page_offers_add_assets_to_people_who_upload(member_client, viewer_client):
    assert f'href="{NEW}"' in member_client.get("/assets/").content.decode()
    assert f'href="{NEW}"' not in viewer_client.get("/assets/").content.decode()
