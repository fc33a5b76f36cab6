"""The Uploads tab: a project's upload sessions, everyone's for managers and one's own for uploaders."""

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets.models import Asset
from tests.helpers import asset_for, table_rows, text_of
from uploads.models import UploadSession

S = Asset.Status


@pytest.fixture
def url(project):
    return reverse("uploads:list", args=[project.pk])


def _session(project, user, view_name: str, *, status=UploadSession.Status.OPEN, age_minutes: int = 0, **fields):
    return UploadSession.objects.create(
        project=project,
        created_by=user,
        asset_type=fields.pop("asset_type", UploadSession.AssetType.IMAGE),
        view_name=view_name,
        capture_date=fields.pop("capture_date", date(2026, 11, 20)),
        status=status,
        created_at=timezone.now() - timedelta(minutes=age_minutes),
        **fields,
    )


def _files(session, **per_status: int) -> None:
    """Adds files to `session`: _files(session, ready=3, upload_error=2)."""
    Asset.objects.bulk_create(
        [
            asset_for(session.project, name=f"{status}-{n}.jpg", status=status, upload_session=session, uploaded_by=session.created_by)
            for status, count in per_status.items()
            for n in range(count)
        ]
    )


def _view_names(response) -> list[str]:
    return [row["View name"] for row in table_rows(response.content)]


@pytest.fixture
def two_people_sessions(project, manager, member):
    return {
        "by_member": _session(project, member, "North gate, camera 2", age_minutes=5),
        "by_manager": _session(project, manager, "Loading bay", age_minutes=10),
    }


def test_a_project_without_sessions_shows_an_empty_state(manager_client, url):
    response = manager_client.get(url)

    assert response.status_code == 200
    text = text_of(response.content)
    assert "No uploads yet" in text
    assert "Every upload session of Street scenes shows up here" in text
    assert table_rows(response.content) == []


def test_an_uploaders_empty_state_speaks_of_their_own_sessions(member_client, url):
    text = text_of(member_client.get(url).content)

    assert "No uploads yet" in text
    assert "Your upload sessions of Street scenes show up here" in text


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_managers_and_admins_see_every_session_of_the_project(request, url, two_people_sessions, role):
    client = request.getfixturevalue(f"{role}_client")

    assert _view_names(client.get(url)) == ["North gate, camera 2", "Loading bay"]


def test_uploaders_see_only_their_own_sessions(member_client, url, two_people_sessions):
    assert _view_names(member_client.get(url)) == ["North gate, camera 2"]


def test_viewers_see_no_one_elses_sessions(viewer_client, url, two_people_sessions):
    response = viewer_client.get(url)

    assert response.status_code == 200
    assert _view_names(response) == []
    assert "No uploads yet" in text_of(response.content)


def test_it_lists_only_the_projects_sessions(manager_client, url, project, manager, organization, owner, other_project, outsider):
    _session(project, manager, "Here")
    sibling = project.__class__.objects.create(organization=organization, name="Aerial survey", created_by=owner)
    _session(sibling, manager, "In the sibling project")
    _session(other_project, outsider, "At Globex")

    assert _view_names(manager_client.get(url)) == ["Here"]


def test_rows_count_the_files_by_status(manager_client, url, project, member):
    session = _session(project, member, "North gate, camera 2", capture_date=date(2026, 11, 20))
    _files(session, ready=3, upload_error=2, uploading=1, preprocessing=1)
    quiet = _session(project, member, "Quiet", age_minutes=30)

    rows = table_rows(manager_client.get(url).content)

    row = rows[0]
    assert row["View name"] == "North gate, camera 2"
    assert (row["Files"], row["Ready"], row["Errors"]) == ("7", "3", "2")
    assert row["Capture date"] == "Nov 20, 2026"
    assert (row["Type"], row["Uploaded by"], row["Status"]) == ("Image", "Bob Uploader", "In progress")
    assert (rows[1]["View name"], rows[1]["Files"], rows[1]["Ready"], rows[1]["Errors"]) == (quiet.view_name, "0", "0", "0")


def test_counts_include_only_the_sessions_own_files(manager_client, url, project, member, manager):
    first = _session(project, member, "First")
    second = _session(project, manager, "Second", age_minutes=1)
    _files(first, ready=2)
    _files(second, ready=1, upload_error=4)
    # A file of the project outside any session counts nowhere.
    Asset.objects.create(organization=project.organization, project=project, name="loose.jpg", asset_type="image", status=S.READY)

    counts = {row["View name"]: (row["Files"], row["Ready"], row["Errors"]) for row in table_rows(manager_client.get(url).content)}

    assert counts == {"First": ("2", "2", "0"), "Second": ("5", "1", "4")}


def test_sessions_in_progress_come_before_complete_ones_newest_first(manager_client, url, project, member):
    _session(project, member, "Complete, newest", status=UploadSession.Status.COMPLETE, age_minutes=1)
    _session(project, member, "Open, older", status=UploadSession.Status.OPEN, age_minutes=20)
    _session(project, member, "Processing", status=UploadSession.Status.FINALIZED, age_minutes=10)
    _session(project, member, "Complete, older", status=UploadSession.Status.COMPLETE, age_minutes=30)

    rows = table_rows(manager_client.get(url).content)

    assert [row["View name"] for row in rows] == ["Processing", "Open, older", "Complete, newest", "Complete, older"]
    assert [row["Status"] for row in rows] == ["Processing", "In progress", "Complete", "Complete"]


def test_a_session_whose_uploader_left_still_shows(manager_client, url, project, member):
    session = _session(project, member, "Orphaned")
    UploadSession.objects.filter(pk=session.pk).update(created_by=None)

    rows = table_rows(manager_client.get(url).content)

    assert (rows[0]["View name"], rows[0]["Uploaded by"]) == ("Orphaned", "—")


def test_the_tab_takes_the_same_queries_for_2_and_20_sessions(manager_client, url, project, member, manager):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get(url).status_code == 200
        return len(captured)

    for n in range(2):
        _files(_session(project, [member, manager][n % 2], f"Session {n}"), ready=2, upload_error=1)
    few = queries()
    for n in range(2, 20):
        _files(_session(project, [member, manager][n % 2], f"Session {n}"), ready=2, upload_error=1)

    assert queries() == few


# --- The header's Uploads menu: one's own sessions not complete yet, in every project --------------------------------

_ITEM = re.compile(r'<a class="menu-item" href="([^"]+)">(.*?)</a>', re.S)


def _menu(client) -> list[tuple[str, str]]:
    """(link, text) of each session the menu lists."""
    response = client.get(reverse("uploads:unfinished"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return [(href, text_of(body)) for href, body in _ITEM.findall(response.content.decode())]


def test_the_menu_lists_ones_own_unfinished_sessions_in_every_project_newest_first(
    member_client, project, member, manager, organization, owner
):
    sibling = project.__class__.objects.create(organization=organization, name="Aerial survey", created_by=owner)
    processing = _session(sibling, member, "Roof, processing", status=UploadSession.Status.FINALIZED, age_minutes=10)
    _files(processing, ready=2, preprocessing=1)
    sending = _session(project, member, "North gate", capture_date=date(2026, 11, 20), age_minutes=1)
    _files(sending, ready=3, upload_error=2, uploading=5)
    _files(_session(project, member, "Done", status=UploadSession.Status.COMPLETE), ready=4)
    _session(project, member, "Opened, nothing added yet")
    _files(_session(project, manager, "Someone else's"), uploading=1)

    assert _menu(member_client) == [
        (sending.get_absolute_url(), "North gate In progress Street scenes · captured Nov 20, 2026 10 files · 3 ready · 2 failed"),
        (processing.get_absolute_url(), "Roof, processing Processing Aerial survey · captured Nov 20, 2026 3 files · 2 ready"),
    ]


def test_the_menu_leaves_out_organizations_one_has_left(member_client, member, other_project, outsider):
    from projects.models import Membership

    Membership.objects.create(organization=other_project.organization, user=member, role=Membership.Role.UPLOADER)
    session = _session(other_project, member, "At Globex")
    _files(session, uploading=2)
    assert [text.split(" In progress")[0] for _, text in _menu(member_client)] == ["At Globex"]

    Membership.objects.filter(organization=other_project.organization, user=member).delete()

    assert _menu(member_client) == []
    assert "No uploads in progress" in text_of(member_client.get(reverse("uploads:unfinished")).content)


def test_the_menu_shows_the_newest_eight_and_says_where_the_others_are(member_client, project, member):
    for n in range(9):
        _files(_session(project, member, f"Camera {n}", age_minutes=n), uploading=1)

    response = member_client.get(reverse("uploads:unfinished"))

    assert [text.split(" In progress")[0] for _, text in _menu(member_client)] == [f"Camera {n}" for n in range(8)]
    assert "Older sessions are on each project's Uploads tab." in text_of(response.content)


def test_the_menu_takes_the_same_queries_for_one_session_and_eight(member_client, project, member):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            member_client.get(reverse("uploads:unfinished"))
        return len(captured)

    _files(_session(project, member, "First"), ready=3, uploading=2)
    one = queries()
    for n in range(7):
        _files(_session(project, member, f"More {n}", age_minutes=n + 1), upload_error=1, uploading=4)

    assert len(_menu(member_client)) == 8
    assert queries() == one


def test_the_menu_asks_anonymous_visitors_to_log_in(client):
    response = client.get(reverse("uploads:unfinished"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_every_page_of_the_portal_has_the_menu(member_client):
    page = member_client.get(reverse("projects:list")).content.decode()

    assert 'id="uploads-menu"' in page
    assert f'hx-get="{reverse("uploads:unfinished")}"' in page


# --- Filters and pages -----------------------------------------------------------------------------------------------


def test_the_tab_shows_a_page_of_sessions_at_a_time(manager_client, url, project, member, settings):
    settings.ASSETS_PAGE_SIZE = 10
    for n in range(23):
        _session(project, member, f"Camera {n:02}", age_minutes=n)

    first = manager_client.get(url)
    third = manager_client.get(url, {"page": 3})

    assert _view_names(first) == [f"Camera {n:02}" for n in range(10)]
    assert "Page 1 of 3" in text_of(first.content)
    assert _view_names(third) == ["Camera 20", "Camera 21", "Camera 22"]


def test_files_are_counted_for_the_sessions_of_the_page_only(manager_client, url, project, member, settings):
    # Counted before paginating, a large project's tab read every file of every session (docs/CAPACITY.md).
    settings.ASSETS_PAGE_SIZE = 10
    sessions = [_session(project, member, f"Camera {n:02}", age_minutes=n) for n in range(12)]
    for n, session in enumerate(sessions):
        _files(session, ready=n % 3, upload_error=1)

    with CaptureQueriesContext(connection) as captured:
        rows = table_rows(manager_client.get(url, {"page": 2}).content)

    assert [(row["View name"], row["Files"], row["Ready"]) for row in rows] == [("Camera 10", "2", "1"), ("Camera 11", "3", "2")]
    counting = [query["sql"] for query in captured if 'COUNT("assets_asset"' in query["sql"]]
    assert len(counting) == 1
    assert sorted(re.findall("|".join(session.pk.hex for session in sessions), counting[0])) == sorted(
        session.pk.hex for session in sessions[10:]
    )


def test_managers_filter_sessions_by_status_uploader_and_view_name(manager_client, url, project, member, manager):
    _session(project, member, "North gate, camera 2", status=UploadSession.Status.COMPLETE)
    _session(project, member, "North gate, camera 3", age_minutes=1)
    _session(project, manager, "South gate", status=UploadSession.Status.COMPLETE, age_minutes=2)

    assert _view_names(manager_client.get(url, {"status": "complete"})) == ["North gate, camera 2", "South gate"]
    assert _view_names(manager_client.get(url, {"uploader": member.pk})) == ["North gate, camera 3", "North gate, camera 2"]
    assert _view_names(manager_client.get(url, {"q": "north", "status": "complete"})) == ["North gate, camera 2"]
    nothing = manager_client.get(url, {"q": "east"})
    assert "No sessions match these filters" in text_of(nothing.content)


def test_uploaders_get_no_uploader_filter_and_cannot_use_one_to_see_others(member_client, url, project, member, manager):
    _session(project, member, "Mine")
    _session(project, manager, "The manager's", age_minutes=1)

    response = member_client.get(url, {"uploader": manager.pk})

    assert 'name="uploader"' not in response.content.decode()
    assert _view_names(response) == ["Mine"]


def test_a_filter_that_does_not_fit_is_reported_and_the_others_still_apply(manager_client, url, project, member):
    _session(project, member, "North gate")
    _session(project, member, "South gate", age_minutes=1)

    response = manager_client.get(url, {"status": "lost", "q": "south"})

    assert response.status_code == 200
    assert "Some filters were not understood and were ignored: status" in text_of(response.content)
    assert _view_names(response) == ["South gate"]
