"""The top-level Assets page: every asset of the person's organizations, in projects and the library; filters,
sorting, pages and a query count that does not grow with the rows or the page."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.models import Asset
from projects.models import Membership, Organization, Project
from tests.helpers import asset_for, make_asset, table_rows, text_of
from uploads.models import UploadSession

S = Asset.Status
URL = "/assets/"


def library_asset(organization, **fields) -> Asset:
    fields.setdefault("asset_type", Asset.Type.IMAGE)
    name = fields.pop("name", "library.jpg")
    asset = Asset(organization=organization, project=None, name=name, original_filename=name, **fields)
    asset.save()
    return asset


def _session(project, user, *, view_name: str, captured: date) -> UploadSession:
    return UploadSession.objects.create(
        project=project, created_by=user, asset_type="image",
        view_name=view_name, capture_date=captured,
    )


@pytest.fixture
def sibling(organization, owner):
    return Project.objects.create(organization=organization, name="Aerial survey", created_by=owner)


@pytest.fixture
def spread(project, sibling, organization, owner, member, other_project):
    """Assets in two projects and the library of Acme, and one of Globex that nobody here may see."""
    day = datetime(2026, 3, 4, 10, 5, tzinfo=UTC)
    north = _session(project, member, view_name="North gate", captured=date(2026, 2, 1))
    south = _session(sibling, owner, view_name="South pier", captured=date(2026, 2, 20))
    make_asset(project, name="gate-1.jpg", status=S.READY, uploaded_by=member, upload_session=north, size=300, created_at=day)
    make_asset(project, name="gate-2.jpg", status=S.UPLOAD_ERROR, error_reason="Not an image", uploaded_by=member,
               upload_session=north, size=100, created_at=day + timedelta(minutes=1))
    make_asset(sibling, name="pier.mp4", asset_type=Asset.Type.VIDEO, status=S.PREPROCESSING, uploaded_by=owner,
               upload_session=south, size=900, created_at=day + timedelta(minutes=2))
    library_asset(organization, name="loose.png", status=S.READY, uploaded_by=owner, size=200,
                  created_at=day + timedelta(minutes=3))
    make_asset(other_project, name="globex-secret.jpg", status=S.READY)


def _names(response) -> list[str]:
    return [row["Name"] for row in table_rows(response.content)]


def test_the_main_navigation_links_to_the_assets_page_for_every_role(viewer_client, member_client, owner_client):
    for client in (viewer_client, member_client, owner_client):
        content = client.get(reverse("projects:list")).content.decode()
        assert f'href="{URL}"' in content

    assert 'aria-current="page">Assets<' in viewer_client.get(URL).content.decode()


def test_it_lists_every_asset_of_the_organization_across_projects_and_the_library(viewer_client, spread):
    rows = table_rows(viewer_client.get(URL).content)

    assert [row["Name"] for row in rows] == ["loose.png", "pier.mp4", "gate-2.jpg", "gate-1.jpg"]
    assert [row["Project"] for row in rows] == ["Library", "Aerial survey", "Street scenes", "Street scenes"]
    assert rows[1]["View"] == "South pier captured Feb 20, 2026"
    assert rows[0]["View"] == "—"


def test_another_organizations_assets_never_show(outsider_client, spread):
    assert _names(outsider_client.get(URL)) == ["globex-secret.jpg"]


def test_a_person_in_two_organizations_sees_both(owner, spread, other_project, owner_client):
    Membership.objects.create(organization=other_project.organization, user=owner, role=Membership.Role.VIEWER)

    names = _names(owner_client.get(URL))

    assert "globex-secret.jpg" in names and len(names) == 5
    # The project filter groups the projects under their organizations.
    choices = owner_client.get(URL).context["form"].fields["project"].choices
    assert ("Globex", [(str(other_project.pk), "Globex secrets")]) in choices


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"project": "library"}, ["loose.png"]),
        ({"status": "ready"}, ["loose.png", "gate-1.jpg"]),
        ({"type": "video"}, ["pier.mp4"]),
        ({"q": "GATE"}, ["gate-2.jpg", "gate-1.jpg"]),
        ({"view": "pier"}, ["pier.mp4"]),
        ({"captured_from": "2026-02-10"}, ["pier.mp4"]),
        ({"captured_to": "2026-02-10"}, ["gate-2.jpg", "gate-1.jpg"]),
        ({"captured_from": "2026-02-01", "captured_to": "2026-02-01", "status": "ready"}, ["gate-1.jpg"]),
    ],
)
def test_it_filters_by_project_status_type_name_view_and_capture_date(member_client, spread, query, expected):
    assert _names(member_client.get(URL, query)) == expected


def test_it_filters_by_one_project(member_client, spread, sibling):
    assert _names(member_client.get(URL, {"project": str(sibling.pk)})) == ["pier.mp4"]


def test_it_filters_by_uploader(member_client, spread, member):
    assert _names(member_client.get(URL, {"uploader": member.pk})) == ["gate-2.jpg", "gate-1.jpg"]


def test_another_organizations_project_is_not_a_filter_value(member_client, spread, other_project):
    response = member_client.get(URL, {"project": str(other_project.pk)})

    assert "Some filters were not understood and were ignored: project" in text_of(response.content)
    assert "globex-secret.jpg" not in _names(response)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("oldest", ["gate-1.jpg", "gate-2.jpg", "pier.mp4", "loose.png"]),
        ("name", ["gate-1.jpg", "gate-2.jpg", "loose.png", "pier.mp4"]),
        ("-name", ["pier.mp4", "loose.png", "gate-2.jpg", "gate-1.jpg"]),
        ("largest", ["pier.mp4", "gate-1.jpg", "loose.png", "gate-2.jpg"]),
        ("smallest", ["gate-2.jpg", "loose.png", "gate-1.jpg", "pier.mp4"]),
        ("bogus", ["loose.png", "pier.mp4", "gate-2.jpg", "gate-1.jpg"]),
    ],
)
def test_it_sorts(member_client, spread, sort, expected):
    assert _names(member_client.get(URL, {"sort": sort})) == expected


def test_sorting_alone_is_not_filtering(member_client, spread):
    text = text_of(member_client.get(URL, {"sort": "name"}).content)

    assert "4 assets" in text and "match" not in text and "Clear filters" not in text


def test_an_htmx_request_gets_only_the_results(member_client, spread):
    response = member_client.get(URL, {"status": "ready"}, HTTP_HX_REQUEST="true")

    assert _names(response) == ["loose.png", "gate-1.jpg"]
    assert "<html" not in response.content.decode() and 'class="filters"' not in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_a_person_with_no_assets_sees_an_empty_state(member_client, project):
    assert "No assets yet" in text_of(member_client.get(URL).content)


def test_signed_out_people_are_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302 and "/login" in response["Location"]


# --- pages and queries ------------------------------------------------------------------------------------------


def _fill(organization, projects, people, count: int) -> None:
    """`count` assets spread over the projects, the library, every status, type and uploader, with sessions."""
    sessions = [_session(p, people[0], view_name=f"View {p.name}", captured=date(2026, 1, 1)) for p in projects]
    statuses = S.values
    rows = []
    for n in range(count):
        where = n % (len(projects) + 1)
        if where == len(projects):
            asset = Asset(organization=organization, project=None, name=f"lib-{n:06d}.jpg", original_filename="x.jpg",
                          asset_type="image")
        else:
            asset = asset_for(projects[where], name=f"a-{n:06d}.jpg", upload_session=sessions[where])
        asset.status = statuses[n % len(statuses)]
        asset.uploaded_by = people[n % len(people)]
        asset.size = n
        asset.thumbnail_key = f"assets/{organization.pk}/thumbs/{n}.jpg" if n % 2 else ""
        rows.append(asset)
    Asset.objects.bulk_create(rows, batch_size=5000)


def _copy_assets(times: int) -> None:
    """Every asset `times` times over, in one INSERT ... SELECT (fresh ids): many rows without building them in Python."""
    table = connection.ops.quote_name(Asset._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in Asset._meta.concrete_fields if not f.primary_key)
    new_id = "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE copies(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM copies WHERE n < %s) "
            f"INSERT INTO {table} (id, {columns}) SELECT {new_id}, {columns} FROM {table}, copies",
            [times],
        )


def _queries(client, **query) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, query)
    assert response.status_code == 200 and table_rows(response.content)
    return len(captured.captured_queries)


def test_page_1_and_page_3_take_the_same_few_queries(
    owner_client, organization, project, sibling, owner, manager, member, settings
):
    _fill(organization, [project, sibling], [owner, manager, member], settings.ASSETS_PAGE_SIZE * 4)

    first, third = _queries(owner_client), _queries(owner_client, page="3")
    filtered = _queries(owner_client, page="3", sort="name", q="-0", project="")

    # Session, user, memberships, projects, people, count, rows, the batches a selection can go to: however many rows,
    # uploaders and projects.
    assert first == third == filtered
    assert first <= 10


@pytest.mark.integration
def test_100_000_assets_page_in_the_same_few_queries(owner_client, organization, project, sibling, owner, manager, member):
    _fill(organization, [project, sibling], [owner, manager, member], 1_000)
    _copy_assets(99)
    assert Asset.objects.count() == 100_000

    first, third = _queries(owner_client), _queries(owner_client, page="3")
    deep = _queries(owner_client, page="1999", sort="largest", project="library")

    assert first == third == deep
    assert first <= 10
