"""The Batches tab, a batch's records, and adding assets selected on the Assets tab to a batch."""

import pytest
from django.urls import reverse

from assets.models import Asset
from projects.models import Batch, Project, Record
from tests.helpers import make_asset, table_rows, text_of

S = Asset.Status


@pytest.fixture
def batch(project, owner):
    return Batch.objects.create(project=project, name="Week 12", created_by=owner)


def test_the_project_has_a_batches_tab(owner_client, project):
    content = owner_client.get(reverse("assets:list", args=[project.pk])).content.decode()

    assert f'href="{reverse("assets:batches", args=[project.pk])}"' in content


def test_the_batches_tab_lists_batches_with_record_counts(owner_client, project, batch):
    for status in ["queued", "queued", "complete"]:
        Record.objects.create(batch=batch, asset=make_asset(project, status=S.READY), status=status)
    Batch.objects.create(project=project, name="Empty one", is_enabled=False)

    rows = table_rows(owner_client.get(reverse("assets:batches", args=[project.pk])).content)

    by_name = {row["Batch"]: row for row in rows}
    assert (by_name["Week 12"]["Records"], by_name["Week 12"]["Queued"], by_name["Week 12"]["Complete"]) == ("3", "2", "1")
    assert by_name["Empty one"]["Status"] == "Disabled"


def test_creating_a_batch_from_the_tab(member_client, project, member):
    response = member_client.post(reverse("assets:batches", args=[project.pk]), {"name": "Night drives", "is_enabled": "on"}, follow=True)

    batch = Batch.objects.get(project=project)
    assert (batch.name, batch.is_enabled, batch.created_by) == ("Night drives", True, member)
    assert "Batch “Night drives” created" in text_of(response.content)


def test_a_viewer_sees_batches_but_cannot_create_one(viewer_client, project, batch):
    page = viewer_client.get(reverse("assets:batches", args=[project.pk]))

    assert "Week 12" in page.content.decode()
    assert "Create batch" not in page.content.decode()
    assert viewer_client.post(reverse("assets:batches", args=[project.pk]), {"name": "x"}).status_code == 403


def test_another_organizations_batches_are_404(outsider_client, project, batch):
    assert outsider_client.get(reverse("assets:batches", args=[project.pk])).status_code == 404
    assert outsider_client.get(reverse("assets:batch_detail", args=[project.pk, batch.pk])).status_code == 404


def test_a_batch_page_lists_its_records_filtered_by_status(owner_client, project, batch):
    Record.objects.create(batch=batch, asset=make_asset(project, name="kept.jpg", status=S.READY), status="complete")
    Record.objects.create(batch=batch, asset=make_asset(project, name="other.jpg", status=S.READY), status="queued")
    url = reverse("assets:batch_detail", args=[project.pk, batch.pk])

    everything = table_rows(owner_client.get(url).content)
    complete = table_rows(owner_client.get(url, {"status": "complete"}).content)

    assert sorted(row["Asset"] for row in everything) == ["kept.jpg", "other.jpg"]
    assert [row["Asset"] for row in complete] == ["kept.jpg"]
    assert complete[0]["Record"] == "Complete"


# --- the Assets tab's selection -----------------------------------------------------------------


def test_the_assets_tab_offers_checkboxes_and_the_batches(owner_client, project, batch):
    asset = make_asset(project, status=S.READY)

    content = owner_client.get(reverse("assets:list", args=[project.pk])).content.decode()

    assert f'name="asset" value="{asset.pk}" form="add-to-batch"' in content
    assert f'<option value="{batch.pk}">Week 12</option>' in content
    assert 'id="add-to-batch"' in content


def test_a_viewer_gets_no_selection(viewer_client, project, batch):
    make_asset(project, status=S.READY)

    content = viewer_client.get(reverse("assets:list", args=[project.pk])).content.decode()

    assert 'form="add-to-batch"' not in content
    assert 'id="add-to-batch"' not in content


def test_adding_selected_assets_to_a_batch(owner_client, project, batch):
    ready = make_asset(project, name="ready.jpg", status=S.READY)
    uploading = make_asset(project, name="late.jpg", status=S.UPLOADING)
    back = reverse("assets:list", args=[project.pk]) + "?status=ready"

    response = owner_client.post(
        reverse("assets:batch_add_assets", args=[project.pk]),
        {"batch": str(batch.pk), "asset": [str(ready.pk), str(uploading.pk)], "next": back},
    )

    assert response.status_code == 302
    assert response["Location"] == back
    assert list(Record.objects.filter(batch=batch).values_list("asset_id", flat=True)) == [ready.pk]
    text = text_of(owner_client.get(back).content)
    assert "1 asset added to “Week 12”" in text
    assert "1 not added: The asset's file has not arrived yet" in text.replace("&#x27;", "'")


def test_adding_to_a_new_batch_creates_it(owner_client, project):
    asset = make_asset(project, status=S.READY)

    owner_client.post(
        reverse("assets:batch_add_assets", args=[project.pk]),
        {"batch": "new", "new_batch_name": "Fresh", "asset": [str(asset.pk)]},
    )

    batch = Batch.objects.get(project=project, name="Fresh")
    assert batch.records.get().asset == asset


def test_adding_without_a_selection_says_so(owner_client, project, batch):
    response = owner_client.post(reverse("assets:batch_add_assets", args=[project.pk]), {"batch": str(batch.pk)}, follow=True)

    assert "Select at least one asset." in text_of(response.content)
    assert not Record.objects.exists()


def test_a_batch_of_another_project_is_not_offered(owner_client, project, organization, owner):
    sibling = Project.objects.create(organization=organization, name="Aerial", created_by=owner)
    foreign_batch = Batch.objects.create(project=sibling, name="Theirs")
    asset = make_asset(project, status=S.READY)

    response = owner_client.post(
        reverse("assets:batch_add_assets", args=[project.pk]), {"batch": str(foreign_batch.pk), "asset": [str(asset.pk)]}, follow=True
    )

    assert not Record.objects.exists()
    assert "Select a valid choice" in text_of(response.content)


def test_an_unsafe_next_goes_back_to_the_assets_tab(owner_client, project, batch):
    asset = make_asset(project, status=S.READY)

    response = owner_client.post(
        reverse("assets:batch_add_assets", args=[project.pk]),
        {"batch": str(batch.pk), "asset": [str(asset.pk)], "next": "https://evil.example/"},
    )

    assert response["Location"] == reverse("assets:list", args=[project.pk])


def test_a_viewer_cannot_add_to_a_batch(viewer_client, project, batch):
    asset = make_asset(project, status=S.READY)

    response = viewer_client.post(reverse("assets:batch_add_assets", args=[project.pk]), {"batch": str(batch.pk), "asset": [str(asset.pk)]})

    assert response.status_code == 403
    assert not Record.objects.exists()
