"""Who reaches which project and organization page: foreign ids answer 404, missing rights 403."""

import uuid

import pytest
from django.urls import reverse

from projects.models import Invitation, Membership, Project

# url name -> what its arguments point at, and the methods it answers.
URLS = {
    "assets:list": ("project", ["get", "post"]),
    "uploads:list": ("project", ["get", "post"]),
    "projects:detail": ("project", ["get", "post"]),
    "projects:settings": ("project", ["get", "post"]),
    "projects:create": ("organization", ["get", "post"]),
    "projects:members": ("organization", ["get", "post"]),
    "projects:member_role": ("membership", ["post"]),
    "projects:member_remove": ("membership", ["post"]),
}
CASES = [(name, method) for name, (_, methods) in URLS.items() for method in methods]


def _url(name: str, project: Project, membership: Membership) -> str:
    target = URLS[name][0]
    args = {
        "project": [project.pk],
        "organization": [project.organization_id],
        "membership": [project.organization_id, membership.pk],
    }[target]
    return reverse(name, args=args)


# --- outsiders: everything of another organization is 404 -------------------------------------


@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_it_returns_404_for_outsiders(outsider_client, project, owner, name, method):
    url = _url(name, project, owner.memberships.get())

    response = getattr(outsider_client, method)(url, {"role": "viewer", "name": "Taken over"})

    assert response.status_code == 404


@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_outsiders_reach_the_same_pages_of_their_own_organization(outsider_client, other_project, outsider, name, method):
    # The control for the test above: the outsider is an admin at home, so a 404 there is about tenancy.
    url = _url(name, other_project, outsider.memberships.get())

    response = getattr(outsider_client, method)(url, {"role": "admin"})

    assert response.status_code in {200, 302}


def test_an_outsider_cannot_change_a_project_of_another_organization(outsider_client, project):
    form = {"name": "Taken over", "allow_images": "on", "require_camera_metadata": "on"}

    outsider_client.post(reverse("projects:settings", args=[project.pk]), form)

    project.refresh_from_db()
    assert (project.name, project.require_camera_metadata) == ("Street scenes", False)


def test_an_outsider_cannot_create_a_project_in_another_organization(outsider_client, organization):
    outsider_client.post(reverse("projects:create", args=[organization.pk]), {"name": "Planted", "allow_images": "on"})

    assert not Project.objects.filter(name="Planted").exists()


def test_an_outsider_cannot_change_or_remove_members_of_another_organization(outsider_client, organization, owner, member):
    membership = member.memberships.get()

    outsider_client.post(reverse("projects:member_role", args=[organization.pk, membership.pk]), {"role": "admin"})
    outsider_client.post(reverse("projects:member_remove", args=[organization.pk, membership.pk]))

    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.UPLOADER


@pytest.mark.parametrize("name", ["projects:member_role", "projects:member_remove"])
def test_an_admin_cannot_reach_a_foreign_membership_through_their_own_organization(
    outsider_client, other_organization, member, name
):
    # The admin of Globex names Globex in the URL but a membership of Acme Vision.
    membership = member.memberships.get()

    response = outsider_client.post(reverse(name, args=[other_organization.pk, membership.pk]), {"role": "viewer"})

    assert response.status_code == 404
    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.UPLOADER


def test_an_outsider_does_not_see_the_members_link_of_another_organization(outsider_client, organization):
    content = outsider_client.get(reverse("projects:list")).content.decode()

    assert reverse("projects:members", args=[organization.pk]) not in content
    assert "Acme Vision" not in content


# --- ids that do not exist or are not ids -----------------------------------------------------

MALFORMED = [
    "/projects/not-a-uuid/",
    "/projects/123/assets/",
    "/projects/0000/uploads/",
    "/projects/{uuid}x/settings/",
    "/orgs/acme/projects/new/",
    "/orgs/{uuid}-/members/",
    "/orgs/{org}/members/abc/role/",
    "/orgs/{org}/members/1.5/remove/",
]


@pytest.mark.parametrize("path", MALFORMED)
def test_malformed_ids_in_urls_answer_404(owner_client, organization, path):
    url = path.format(uuid=uuid.uuid4(), org=organization.pk)

    assert owner_client.get(url).status_code == 404
    assert owner_client.post(url).status_code == 404


@pytest.mark.parametrize("name", [name for name, (target, _) in URLS.items() if target != "membership"])
def test_ids_that_do_not_exist_answer_404(owner_client, name):
    assert owner_client.get(reverse(name, args=[uuid.uuid4()])).status_code == 404


@pytest.mark.parametrize("name", ["projects:member_role", "projects:member_remove"])
def test_a_membership_id_that_does_not_exist_answers_404(owner_client, organization, name):
    assert owner_client.post(reverse(name, args=[organization.pk, 999_999]), {"role": "viewer"}).status_code == 404


# --- members of the organization: each role reaches what it may --------------------------------

ROLES = ["owner", "manager", "member", "viewer"]  # admin, manager, uploader, viewer
PAGES = {
    # url name: the answer to a GET for each role in ROLES
    "assets:list": [200, 200, 200, 200],
    "uploads:list": [200, 200, 200, 200],
    "projects:detail": [302, 302, 302, 302],  # the project opens on its Assets tab
    "projects:settings": [200, 200, 403, 403],  # managers and admins
    "projects:create": [200, 200, 403, 403],  # managers and admins
    "projects:members": [200, 403, 403, 403],  # admins only
}
GETS = [(name, role, statuses[i]) for name, statuses in PAGES.items() for i, role in enumerate(ROLES)]


@pytest.mark.parametrize(("name", "role", "status"), GETS, ids=[f"{n}-{r}" for n, r, _ in GETS])
def test_each_role_gets_what_it_may_see(request, project, owner, manager, member, viewer, name, role, status):
    client = request.getfixturevalue(f"{role}_client")

    response = client.get(_url(name, project, owner.memberships.get()))

    assert response.status_code == status
    if status == 302:
        assert response["Location"] == reverse("assets:list", args=[project.pk])


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_uploaders_and_viewers_cannot_change_project_settings(request, project, role):
    client = request.getfixturevalue(f"{role}_client")
    form = {"name": "Renamed", "allow_images": "on", "require_camera_metadata": "on"}

    response = client.post(reverse("projects:settings", args=[project.pk]), form)

    assert response.status_code == 403
    project.refresh_from_db()
    assert (project.name, project.require_camera_metadata) == ("Street scenes", False)


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_uploaders_and_viewers_cannot_create_projects(request, organization, role):
    client = request.getfixturevalue(f"{role}_client")

    response = client.post(reverse("projects:create", args=[organization.pk]), {"name": "Sneaky", "allow_images": "on"})

    assert response.status_code == 403
    assert not Project.objects.filter(name="Sneaky").exists()


@pytest.mark.parametrize("role", ["manager", "member", "viewer"])
def test_only_admins_invite_members(request, organization, role):
    client = request.getfixturevalue(f"{role}_client")

    response = client.post(reverse("projects:members", args=[organization.pk]), {"email": "x@example.com", "role": "admin"})

    assert response.status_code == 403
    assert not organization.invitations.exists()


@pytest.mark.parametrize("role", ["manager", "member", "viewer"])
def test_only_admins_withdraw_invitations(request, organization, owner, role):
    client = request.getfixturevalue(f"{role}_client")
    invitation = Invitation.objects.create(organization=organization, email="x@example.com", invited_by=owner)

    response = client.post(reverse("projects:invitation_revoke", args=[organization.pk, invitation.pk]))

    assert response.status_code == 403
    invitation.refresh_from_db()
    assert invitation.is_usable()


def test_an_admin_cannot_withdraw_another_organizations_invitation(owner_client, organization, other_organization, outsider):
    invitation = Invitation.objects.create(organization=other_organization, email="x@example.com", invited_by=outsider)

    # Not a member there, and the invitation is not one of their own organization's.
    assert owner_client.post(reverse("projects:invitation_revoke", args=[other_organization.pk, invitation.pk])).status_code == 404
    assert owner_client.post(reverse("projects:invitation_revoke", args=[organization.pk, invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.is_usable()


@pytest.mark.parametrize("role", ["manager", "member", "viewer"])
@pytest.mark.parametrize("name", ["projects:member_role", "projects:member_remove"])
def test_only_admins_change_or_remove_members(request, organization, owner, manager, member, viewer, role, name):
    client = request.getfixturevalue(f"{role}_client")
    target = viewer.memberships.get()

    response = client.post(reverse(name, args=[organization.pk, target.pk]), {"role": "admin"})

    assert response.status_code == 403
    assert Membership.objects.get(pk=target.pk).role == Membership.Role.VIEWER


@pytest.mark.parametrize("name", ["projects:member_role", "projects:member_remove"])
def test_member_changes_answer_only_post(owner_client, organization, owner, name):
    assert owner_client.get(reverse(name, args=[organization.pk, owner.memberships.get().pk])).status_code == 405


def test_the_settings_tab_shows_only_to_those_who_may_open_it(project, owner_client, member_client):
    settings_url = reverse("projects:settings", args=[project.pk])
    assets_url = reverse("assets:list", args=[project.pk])

    assert settings_url in owner_client.get(assets_url).content.decode()
    assert settings_url not in member_client.get(assets_url).content.decode()
