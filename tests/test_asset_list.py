"""The Assets tab: rows, filters, the htmx partial, pagination and a query count that does not grow."""

import re
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.models import Asset
from tests.helpers import asset_for, bulk_assets, make_asset, table_rows, text_of

S = Asset.Status


@pytest.fixture
def url(project):
    return reverse("assets:list", args=[project.pk])


@pytest.fixture
def mixed_assets(project, owner, member):
    """Four assets that differ in status, type, uploader and name."""
    day = datetime(2026, 3, 4, 10, 5, tzinfo=UTC)
    return [
        make_asset(project, name="crosswalk-01.jpg", status=S.READY, uploaded_by=member, size=2_500_000, created_at=day),
        make_asset(project, name="crosswalk-02.jpg", status=S.UPLOAD_ERROR, error_reason="Not an image", uploaded_by=owner,
                   created_at=day + timedelta(minutes=1)),
        make_asset(project, name="night-drive.mp4", asset_type=Asset.Type.VIDEO, status=S.PREPROCESSING, uploaded_by=member,
                   size=700 * 1024**2, created_at=day + timedelta(minutes=2)),
        make_asset(project, name="bridge.png", status=S.READY, uploaded_by=owner, created_at=day + timedelta(minutes=3)),
    ]


def _names(response) -> list[str]:
    return [row["Name"] for row in table_rows(response.content)]


def test_a_project_without_assets_shows_an_empty_state_not_an_error(owner_client, url, project):
    response = owner_client.get(url)

    assert response.status_code == 200
    text = text_of(response.content)
    assert "No assets in this project yet" in text
    assert "Images and videos brought into Street scenes appear here" in text
    assert "alert" not in response.content.decode()
    assert table_rows(response.content) == []
    # Nothing to select yet, so no batch bar; the way to bring the first files in instead.
    assert 'id="add-to-batch"' not in response.content.decode()
    empty_state = response.content.decode().partition('<div class="empty">')[2].partition("</div>\n")[2]
    assert f'href="{reverse("uploads:new", args=[project.pk])}"' in empty_state and "Add Assets</a>" in empty_state


def test_a_viewers_empty_project_offers_no_upload(viewer_client, url):
    content = viewer_client.get(url).content.decode()

    assert "No assets in this project yet" in text_of(content)
    assert "Add Assets" not in content


def test_filters_that_match_nothing_keep_the_batch_bar(owner_client, url, mixed_assets):
    content = owner_client.get(url, {"q": "no-such-name"}).content.decode()

    assert "No assets match these filters" in text_of(content)
    assert 'id="add-to-batch"' in content


def test_rows_show_name_type_size_status_uploader_and_date(owner_client, url, project, member):
    make_asset(
        project,
        name="crosswalk-01.jpg",
        status=S.PENDING_PREPROCESSING,
        uploaded_by=member,
        size=2_500_000,
        created_at=datetime(2026, 3, 4, 10, 5, tzinfo=UTC),
    )

    rows = table_rows(owner_client.get(url).content)

    assert len(rows) == 1
    row = rows[0]
    assert row["Name"] == "crosswalk-01.jpg"
    assert row["Type"] == "Image"
    assert row["Size"] == "2.4 MB"
    assert row["Status"] == "Pending Pre-Processing"
    assert row["Uploaded by"] == "Bob Uploader"
    assert row["Date"] == "Mar 4, 2026 10:05"


@pytest.mark.parametrize(("status", "label"), S.choices)
def test_each_status_shows_its_display_name(owner_client, url, project, status, label):
    make_asset(project, status=status, error_reason="Reason" if status == S.UPLOAD_ERROR else "")

    assert table_rows(owner_client.get(url).content)[0]["Status"] == label


def test_an_upload_errors_reason_is_on_its_status(owner_client, url, project):
    make_asset(project, status=S.UPLOAD_ERROR, error_reason="The file is a PDF renamed to .jpg.")

    assert 'title="The file is a PDF renamed to .jpg."' in owner_client.get(url).content.decode()


def test_rows_without_size_or_uploader_show_a_dash(owner_client, url, project):
    make_asset(project, size=None, uploaded_by=None)

    row = table_rows(owner_client.get(url).content)[0]

    assert (row["Size"], row["Uploaded by"]) == ("—", "—")


def test_newest_assets_come_first(owner_client, url, mixed_assets):
    assert _names(owner_client.get(url)) == ["bridge.png", "night-drive.mp4", "crosswalk-02.jpg", "crosswalk-01.jpg"]


def test_it_lists_only_the_projects_assets(owner_client, url, project, owner, organization, mixed_assets, other_project):
    sibling = project.__class__.objects.create(organization=organization, name="Aerial survey", created_by=owner)
    make_asset(sibling, name="from-the-sibling.jpg")
    make_asset(other_project, name="from-globex.jpg")

    names = _names(owner_client.get(url))

    assert "from-the-sibling.jpg" not in names
    assert "from-globex.jpg" not in names
    assert len(names) == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "ready"}, ["bridge.png", "crosswalk-01.jpg"]),
        ({"status": "upload_error"}, ["crosswalk-02.jpg"]),
        ({"type": "video"}, ["night-drive.mp4"]),
        ({"type": "image"}, ["bridge.png", "crosswalk-02.jpg", "crosswalk-01.jpg"]),
        ({"q": "CROSSWALK"}, ["crosswalk-02.jpg", "crosswalk-01.jpg"]),
        ({"q": "walk-0", "status": "ready"}, ["crosswalk-01.jpg"]),
    ],
)
def test_it_filters_by_status_type_and_name(owner_client, url, mixed_assets, query, expected):
    assert _names(owner_client.get(url, query)) == expected


def test_it_filters_by_uploader(owner_client, url, mixed_assets, member):
    assert _names(owner_client.get(url, {"uploader": member.pk})) == ["night-drive.mp4", "crosswalk-01.jpg"]


def test_the_uploader_filter_offers_the_organizations_members(owner_client, url, owner, member, outsider):
    form = owner_client.get(url).context["form"]

    offered = dict(form.fields["uploader"].choices)
    assert offered[owner.pk] == "Alice Admin"
    assert offered[member.pk] == "Bob Uploader"
    assert outsider.pk not in offered


def test_filters_that_match_nothing_say_so(owner_client, url, mixed_assets):
    response = owner_client.get(url, {"q": "zebra"})

    assert response.status_code == 200
    assert "No assets match these filters" in text_of(response.content)
    assert table_rows(response.content) == []


def test_a_filtered_count_says_how_many_match(owner_client, url, mixed_assets):
    assert "2 assets match" in text_of(owner_client.get(url, {"status": "ready"}).content)


@pytest.mark.parametrize("query", [{"status": "bogus"}, {"type": "audio"}, {"uploader": "abc"}, {"uploader": "999999"}])
def test_a_filter_value_that_does_not_fit_shows_a_warning_not_an_error(owner_client, url, mixed_assets, query):
    response = owner_client.get(url, query)

    assert response.status_code == 200
    assert "Some filters were not understood and were ignored" in text_of(response.content)
    assert len(table_rows(response.content)) == 4


def test_filters_that_fit_still_apply_beside_one_that_does_not(owner_client, url, mixed_assets):
    response = owner_client.get(url, {"status": "bogus", "q": "crosswalk"})

    text = text_of(response.content)
    assert "Some filters were not understood and were ignored: status" in text
    assert _names(response) == ["crosswalk-02.jpg", "crosswalk-01.jpg"]


def test_an_htmx_request_gets_only_the_results_partial(owner_client, url, mixed_assets):
    response = owner_client.get(url, {"status": "ready"}, HTTP_HX_REQUEST="true")

    content = response.content.decode()
    assert response.status_code == 200
    assert _names(response) == ["bridge.png", "crosswalk-01.jpg"]
    assert "<html" not in content
    assert 'class="filters"' not in content
    assert 'id="asset-results"' not in content
    assert "Street scenes" not in content  # no project header either


def test_a_full_page_request_gets_the_page_around_the_results(owner_client, url, mixed_assets):
    content = owner_client.get(url).content.decode()

    assert "<html" in content
    assert 'id="asset-results"' in content
    assert 'class="filters"' in content


@pytest.mark.parametrize("htmx", [False, True])
def test_responses_vary_on_hx_request(owner_client, url, htmx):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = owner_client.get(url, **headers)

    assert "HX-Request" in [part.strip() for part in response["Vary"].split(",")]


# --- pagination -------------------------------------------------------------------------------


def test_it_pages_through_many_assets(owner_client, url, project, settings):
    bulk_assets(project, settings.ASSETS_PAGE_SIZE + 10)

    first = owner_client.get(url)
    second = owner_client.get(url, {"page": 2})

    assert len(table_rows(first.content)) == settings.ASSETS_PAGE_SIZE
    assert "Page 1 of 2" in text_of(first.content)
    assert "?page=2" in first.content.decode()
    assert len(table_rows(second.content)) == 10
    assert "Page 2 of 2" in text_of(second.content)
    assert not set(_names(first)) & set(_names(second))


@pytest.mark.parametrize(("page", "shown"), [("999", "Page 2 of 2"), ("abc", "Page 1 of 2"), ("-1", "Page 2 of 2")])
def test_a_page_number_out_of_range_shows_a_real_page(owner_client, url, project, settings, page, shown):
    bulk_assets(project, settings.ASSETS_PAGE_SIZE + 10)

    response = owner_client.get(url, {"page": page})

    assert response.status_code == 200
    assert shown in text_of(response.content)


def test_page_links_keep_the_filters(owner_client, url, project, settings):
    bulk_assets(project, settings.ASSETS_PAGE_SIZE + 5, status=S.READY)

    content = owner_client.get(url, {"status": "ready", "q": "asset"}).content.decode()

    next_links = [unescape(href) for href in re.findall(r'href="(\?[^"]*page=2)"', content)]
    assert next_links
    for href in next_links:
        assert parse_qs(href[1:]) == {"status": ["ready"], "q": ["asset"], "page": ["2"]}


def test_a_short_list_has_no_pagination(owner_client, url, mixed_assets):
    assert "Page 1 of" not in text_of(owner_client.get(url).content)


# --- queries ----------------------------------------------------------------------------------


def _queries_for(client, url, **query) -> int:
    """The queries one page takes; only pages that show rows are compared."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query)
    assert response.status_code == 200
    assert table_rows(response.content), f"{query} shows no rows"
    return len(captured.captured_queries)


def _spread(project, people, count: int) -> None:
    """`count` assets of every status and type, from several uploaders, in batches."""
    statuses, types = S.values, Asset.Type.values
    Asset.objects.bulk_create(
        [
            asset_for(
                project,
                name=f"spread-{n:05d}.jpg",
                status=statuses[n % len(statuses)],
                asset_type=types[n % len(types)],
                uploaded_by=people[n % len(people)],
                size=1000 + n,
            )
            for n in range(count)
        ],
        batch_size=5000,
    )


def test_a_page_takes_the_same_queries_with_10_60_and_600_assets(
    owner_client, url, project, owner, manager, member, django_assert_max_num_queries
):
    people = [owner, manager, member]
    counts = []
    for total in (10, 60, 600):
        Asset.objects.filter(project=project).delete()
        _spread(project, people, total)
        counts.append(_queries_for(owner_client, url))
    # Rows of many uploaders on a full page cost no more than a few rows on a short one.
    assert counts[0] == counts[1] == counts[2]
    with django_assert_max_num_queries(counts[0]):
        owner_client.get(url, {"page": 12})


def test_a_filtered_page_takes_as_few_queries_as_an_unfiltered_one(owner_client, url, project, owner, member):
    _spread(project, [owner, member], 600)

    plain = _queries_for(owner_client, url)
    # Ready images of the owner (n % 7 == 6, n even): the filtered page has rows too.
    filtered = _queries_for(owner_client, url, status="ready", type="image", uploader=str(owner.pk), q="spread")
    with CaptureQueriesContext(connection) as htmx:
        owner_client.get(url, {"status": "ready"}, HTTP_HX_REQUEST="true")

    assert filtered == plain
    assert len(htmx) <= plain


def test_the_page_query_count_stays_small(owner_client, url, project, owner, member, django_assert_max_num_queries):
    _spread(project, [owner, member], 120)

    # Session, user, project with role, uploader choices, count, page rows (plus savepoint noise on some backends).
    with django_assert_max_num_queries(10):
        owner_client.get(url)


@pytest.mark.integration
def test_a_project_with_100_000_assets_pages_in_few_queries(owner_client, url, project, owner, manager, member):
    people = [owner, manager, member]
    started = time.monotonic()
    for start in range(0, 100_000, 5000):
        Asset.objects.bulk_create(
            [
                asset_for(
                    project,
                    name=f"bulk-{n:06d}.jpg",
                    status=S.values[n % 7],
                    asset_type=Asset.Type.VIDEO if n % 3 == 0 else Asset.Type.IMAGE,
                    uploaded_by=people[n % 3],
                    size=n,
                )
                for n in range(start, start + 5000)
            ],
            batch_size=5000,
        )
    assert Asset.objects.filter(project=project).count() == 100_000
    print(f"bulk_create of 100,000 assets: {time.monotonic() - started:.1f}s")  # shown with -s, never asserted

    first_page = _queries_for(owner_client, url)
    deep_page = _queries_for(owner_client, url, page="1500")
    # Ready videos of the owner: n % 7 == 6 and n % 3 == 0, so the filtered page has rows too.
    filtered = _queries_for(owner_client, url, status="ready", type="video", uploader=str(owner.pk))
    searched = _queries_for(owner_client, url, q="bulk-0999")

    assert first_page <= 10
    assert first_page == deep_page == filtered == searched
    last = owner_client.get(url, {"page": "999999"})  # past the end: the last page
    assert "Page 2,000 of 2,000" in text_of(last.content)
