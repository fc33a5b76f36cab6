"""The Assets page's selection (kept in the session across pages) and its actions through the views: who sees them,
who may use them, foreign ids, and a query count that stays the same on every page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.models import Asset
from projects.models import Batch, Project, Record
from tests.helpers import bulk_assets, make_asset, table_rows, text_of

URL = "/assets/"
SELECT = "/assets/selection/"


def _ids_on(client, **query) -> list[str]:
    response = client.get(URL, query)
    return [a.pk for a in response.context["page"]]


def _pick(client, *ids, checked=True, query=""):
    data = {"op": "pick", "asset": [str(i) for i in ids], "query": query}
    if checked:
        data["checked"] = "1"
    return client.post(SELECT, data, HTTP_HX_REQUEST="true")


@pytest.fixture
def many(project, settings):
    bulk_assets(project, settings.ASSETS_PAGE_SIZE * 2 + 5, status=Asset.Status.READY)


def test_picks_on_two_pages_survive_paging(member_client, many):
    first, second = _ids_on(member_client), _ids_on(member_client, page="2")

    _pick(member_client, first[0], first[1])
    response = _pick(member_client, second[3], query="page=2")

    assert "3 selected" in text_of(response.content)
    page_one = member_client.get(URL).content.decode()
    assert page_one.count("checked aria-label") == 2
    assert "3 selected" in text_of(page_one)
    _pick(member_client, first[0], checked=False)
    assert "2 selected" in text_of(member_client.get(URL, {"page": "2"}).content)


def test_select_all_matching_then_unpick_one(member_client, many, project, settings):
    total = settings.ASSETS_PAGE_SIZE * 2 + 5
    member_client.post(SELECT, {"op": "all", "query": "status=ready&page=2"}, HTTP_HX_REQUEST="true")
    first = _ids_on(member_client)

    _pick(member_client, first[0], checked=False)

    assert f"{total - 1:,} selected" in text_of(member_client.get(URL, {"page": "3"}).content)


def test_a_batch_is_made_from_picks_on_two_pages(member_client, many, project):
    first, second = _ids_on(member_client), _ids_on(member_client, page="2")
    _pick(member_client, *first[:2])
    _pick(member_client, *second[:3])

    response = member_client.post(reverse("assets:selection_batch"), {"batch": f"new:{project.pk}", "new_batch_name": "Night set", "next": "/assets/?page=2"})

    assert response.status_code == 302 and response["Location"] == "/assets/?page=2"
    batch = Batch.objects.get(name="Night set", project=project)
    assert set(Record.objects.filter(batch=batch).values_list("asset_id", flat=True)) == {*first[:2], *second[:3]}
    assert "0 selected" in text_of(member_client.get(URL).content)  # done: the selection is cleared


def test_moving_the_selection_into_a_project(member_client, organization, owner):
    target = Project.objects.create(organization=organization, name="Harbour cameras", created_by=owner)
    loose = Asset.objects.create(organization=organization, name="l.jpg", original_filename="l.jpg", asset_type="image",
                                 status=Asset.Status.READY)
    _pick(member_client, loose.pk)

    response = member_client.post(reverse("assets:selection_move"), {"project": str(target.pk)}, follow=True)

    assert "1 asset moved to Harbour cameras." in text_of(response.content)
    assert Asset.objects.get(pk=loose.pk).project == target


def test_a_refused_move_says_why_and_keeps_the_selection(member_client, project, organization, owner):
    target = Project.objects.create(organization=organization, name="Harbour cameras", created_by=owner)
    make_asset(target, name="there.jpg", sha256="a" * 64, status=Asset.Status.READY)
    mine = make_asset(project, name="mine.jpg", sha256="a" * 64, status=Asset.Status.READY)
    _pick(member_client, mine.pk)

    response = member_client.post(reverse("assets:selection_move"), {"project": str(target.pk)}, follow=True)

    assert "the same file is already in the project Harbour cameras as “there.jpg”" in text_of(response.content)
    assert "1 selected" in text_of(response.content)


def test_deleting_asks_to_confirm_first(owner_client, project):
    asset = make_asset(project, name="bye.jpg", status=Asset.Status.READY)
    _pick(owner_client, asset.pk)

    confirm = owner_client.get(reverse("assets:selection_delete"))
    assert "Delete 1 asset?" in text_of(confirm.content) and "bye.jpg" in text_of(confirm.content)
    assert Asset.objects.filter(pk=asset.pk).exists()

    owner_client.post(reverse("assets:selection_delete"), {"confirm": "1"})
    assert not Asset.objects.filter(pk=asset.pk).exists()


def test_a_viewer_sees_no_checkbox_and_no_action(viewer_client, many):
    content = viewer_client.get(URL).content.decode()

    assert "data-pick" not in content and 'id="selection-bar"' not in content and "Move to project" not in content
    assert table_rows(content)


@pytest.mark.parametrize("path", ["/assets/selection/", "/assets/selection/move/", "/assets/selection/batch/",
                                  "/assets/selection/retry/", "/assets/selection/delete/"])
def test_the_server_refuses_a_viewer_every_selection_request(viewer_client, project, path):
    asset = make_asset(project, status=Asset.Status.READY)
    session = viewer_client.session
    session["asset_selection"] = {"ids": [str(asset.pk)], "query": None, "unpicked": []}
    session.save()

    response = viewer_client.post(path, {"op": "pick", "asset": str(asset.pk), "checked": "1", "confirm": "1", "project": str(project.pk)})

    assert response.status_code == 403
    assert Asset.objects.filter(pk=asset.pk, project=project).exists()


def test_another_organizations_ids_are_never_selected_or_acted_on(member_client, other_project, project):
    foreign = make_asset(other_project, name="globex.jpg", status=Asset.Status.READY)

    _pick(member_client, foreign.pk)
    member_client.post(reverse("assets:selection_delete"), {"confirm": "1"})

    assert Asset.objects.filter(pk=foreign.pk).exists()
    assert member_client.session["asset_selection"]["ids"] == []


def test_a_malformed_id_is_a_404(member_client):
    assert _pick(member_client, "not-a-uuid").status_code == 404


def test_moving_into_another_organizations_project_is_a_404(member_client, project, other_project):
    mine = make_asset(project, status=Asset.Status.READY)
    _pick(member_client, mine.pk)

    assert member_client.post(reverse("assets:selection_move"), {"project": str(other_project.pk)}).status_code == 404
    assert Asset.objects.get(pk=mine.pk).project == project


def _count(client, **query) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, query).status_code == 200
    return len(captured)


def test_with_a_selection_page_1_and_page_3_take_the_same_few_queries(member_client, project, settings):
    bulk_assets(project, settings.ASSETS_PAGE_SIZE * 4, status=Asset.Status.READY)
    Batch.objects.create(project=project, name="B")
    _pick(member_client, *_ids_on(member_client)[:3])

    picked = (_count(member_client), _count(member_client, page="3"))
    member_client.post(SELECT, {"op": "all", "query": ""})
    matching = (_count(member_client), _count(member_client, page="3"))

    assert picked[0] == picked[1] and matching[0] == matching[1]
    # Session, user, memberships, projects, people, count, rows, batches; matching all: which rows are picked, and how many.
    assert max(*picked, *matching) <= 12
