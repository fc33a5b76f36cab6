"""The projects list, creating a project, its settings, and an organization's members and invitations."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.test import Client
from django.urls import reverse

from projects.models import Invitation, Membership, Organization, Project
from tests.helpers import make_asset, text_of

User = get_user_model()
NEW_PASSWORD = "violet tangerine lighthouse 42"


# --- the projects list ------------------------------------------------------------------------


def test_the_projects_list_groups_projects_by_organization(owner_client, owner, project, organization):
    Project.objects.create(organization=organization, name="Aerial survey", created_by=owner)
    second = Organization.objects.create(name="Beta Labs")
    Membership.objects.create(organization=second, user=owner, role=Membership.Role.VIEWER)
    Project.objects.create(organization=second, name="Night drives")

    response = owner_client.get(reverse("projects:list"))

    assert response.status_code == 200
    groups = [
        (group["membership"].organization.name, [p.name for p in group["projects"]]) for group in response.context["groups"]
    ]
    assert groups == [("Acme Vision", ["Aerial survey", "Street scenes"]), ("Beta Labs", ["Night drives"])]
    text = text_of(response.content)
    assert text.index("Acme Vision") < text.index("Aerial survey") < text.index("Street scenes")
    assert text.index("Street scenes") < text.index("Beta Labs") < text.index("Night drives")


def test_the_projects_list_shows_the_users_role_and_the_asset_count(owner_client, project):
    make_asset(project, name="a.jpg")
    make_asset(project, name="b.jpg")

    text = text_of(owner_client.get(reverse("projects:list")).content)

    assert "Acme Vision Admin" in text
    assert "2 assets" in text


def test_the_projects_list_shows_an_empty_state_for_an_organization_without_projects(owner_client, owner, project):
    empty = Organization.objects.create(name="Beta Labs")
    Membership.objects.create(organization=empty, user=owner, role=Membership.Role.ADMIN)

    response = owner_client.get(reverse("projects:list"))

    text = text_of(response.content)
    beta = text[text.index("Beta Labs"):]
    assert "No projects yet" in beta
    assert "Create a project to start bringing images and videos in." in beta
    assert "No projects yet" not in text[: text.index("Beta Labs")]
    assert reverse("projects:create", args=[empty.pk]) in response.content.decode()


def test_people_who_cannot_create_projects_are_told_who_does(viewer_client, organization):
    text = text_of(viewer_client.get(reverse("projects:list")).content)

    assert "No projects yet" in text
    assert "An admin or manager of Acme Vision creates projects" in text
    assert "New project" not in text


def test_the_projects_list_leaves_out_other_organizations(owner_client, project, other_project):
    text = text_of(owner_client.get(reverse("projects:list")).content)

    assert "Street scenes" in text
    assert "Globex" not in text


def test_someone_in_no_organization_is_told_to_ask_for_an_invitation(client, db):
    client.force_login(User.objects.create_user("loner", password="x"))

    text = text_of(client.get(reverse("projects:list")).content)

    assert "You are not in an organization yet" in text


# --- creating a project -----------------------------------------------------------------------

CREATE_FORM = {
    "name": "Parking lots",
    "description": "Cars from above",
    "allow_images": "on",
    "allow_videos": "on",
    "image_formats": ["JPEG", "PNG"],
}


def test_creating_a_project_opens_it(owner_client, owner, organization):
    response = owner_client.post(reverse("projects:create", args=[organization.pk]), CREATE_FORM)

    created = Project.objects.get(name="Parking lots")
    assert response.status_code == 302
    assert response["Location"] == reverse("assets:list", args=[created.pk])
    assert (created.organization, created.created_by, created.description) == (organization, owner, "Cars from above")
    assert (created.allow_images, created.allow_videos, created.require_camera_metadata) == (True, True, False)
    page = owner_client.get(response["Location"])
    assert "Project “Parking lots” created." in page.content.decode()


def test_a_new_projects_form_starts_from_the_defaults_and_submits_as_it_is(owner_client, organization):
    url = reverse("projects:create", args=[organization.pk])
    page = owner_client.get(url).content.decode()

    checked = re.findall(r'<input type="checkbox" name="(\w+)" value="(\w+)"[^>]*\bchecked\b', page)
    assert checked == [("image_formats", value) for value in ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF")]
    assert re.search(r'<input type="checkbox" name="allow_images"[^>]*\bchecked\b', page)
    assert re.search(r'<input type="checkbox" name="allow_videos"[^>]*\bchecked\b', page)

    # What a browser sends when someone types a name and submits the form as it came.
    response = owner_client.post(url, {"name": "Dock cameras", "allow_images": "on", "allow_videos": "on", "image_formats": [
        value for _, value in checked]})

    assert response.status_code == 302
    assert Project.objects.get(name="Dock cameras").image_formats == ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF"]


def test_managers_create_projects_too(manager_client, organization):
    response = manager_client.post(reverse("projects:create", args=[organization.pk]), CREATE_FORM)

    assert response.status_code == 302
    assert Project.objects.filter(organization=organization, name="Parking lots").exists()


@pytest.mark.parametrize("name", ["Street scenes", "street SCENES", "  Street scenes  "])
def test_a_duplicate_name_in_the_same_organization_is_refused(owner_client, organization, project, name):
    response = owner_client.post(reverse("projects:create", args=[organization.pk]), {**CREATE_FORM, "name": name})

    assert response.status_code == 200
    assert f"Acme Vision already has a project named “{name.strip()}”." in response.content.decode()
    assert Project.objects.filter(organization=organization).count() == 1


def test_the_same_name_in_another_organization_is_fine(owner_client, organization, other_project):
    response = owner_client.post(reverse("projects:create", args=[organization.pk]), {**CREATE_FORM, "name": "Globex secrets"})

    assert response.status_code == 302
    assert Project.objects.filter(name="Globex secrets").count() == 2


def test_a_project_must_take_images_or_videos(owner_client, organization):
    form = {"name": "Nothing allowed", "description": ""}

    response = owner_client.post(reverse("projects:create", args=[organization.pk]), form)

    assert response.status_code == 200
    assert "Choose at least one asset type the project takes: images, videos or both." in response.content.decode()
    assert not Project.objects.filter(name="Nothing allowed").exists()


def test_a_project_needs_a_name(owner_client, organization):
    response = owner_client.post(reverse("projects:create", args=[organization.pk]), {**CREATE_FORM, "name": ""})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not organization.projects.exists()


# --- project settings -------------------------------------------------------------------------


def _settings_form(project, **changes) -> dict:
    form = {"name": project.name, "description": project.description, "image_formats": project.image_formats}
    form.update({field: "on" for field in ("allow_images", "allow_videos", "require_camera_metadata") if getattr(project, field)})
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_settings_save_the_require_camera_metadata_switch(manager_client, project):
    url = reverse("projects:settings", args=[project.pk])

    response = manager_client.post(url, _settings_form(project, require_camera_metadata="on"))

    assert response.status_code == 302
    assert response["Location"] == url
    project.refresh_from_db()
    assert project.require_camera_metadata is True
    assert "Project settings saved." in manager_client.get(url).content.decode()

    manager_client.post(url, _settings_form(project, require_camera_metadata=None))
    project.refresh_from_db()
    assert project.require_camera_metadata is False


def test_the_settings_page_shows_the_current_values(owner_client, project):
    Project.objects.filter(pk=project.pk).update(require_camera_metadata=True, allow_videos=False)

    content = owner_client.get(reverse("projects:settings", args=[project.pk])).content.decode()

    assert re.search(r'<input type="checkbox" name="require_camera_metadata"[^>]*checked', content)
    assert not re.search(r'<input type="checkbox" name="allow_videos"[^>]*checked', content)


def test_settings_keep_the_projects_own_name_but_refuse_another_projects(owner_client, owner, project, organization):
    Project.objects.create(organization=organization, name="Aerial survey", created_by=owner)
    url = reverse("projects:settings", args=[project.pk])

    assert owner_client.post(url, _settings_form(project, description="Updated")).status_code == 302
    response = owner_client.post(url, _settings_form(project, name="Aerial Survey"))

    assert "Acme Vision already has a project named “Aerial Survey”." in response.content.decode()
    project.refresh_from_db()
    assert (project.name, project.description) == ("Street scenes", "Updated")


# --- members and invitations ------------------------------------------------------------------


def _invite(client, organization, django_capture_on_commit_callbacks, email="newcomer@example.com", role="manager"):
    # The invitation email leaves once the row is committed.
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("projects:members", args=[organization.pk]), {"email": email, "role": role})


def _invitation_link(message) -> str:
    match = re.search(r"http://testserver(/invitations/[\w-]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_the_members_page_lists_people_with_their_roles(owner_client, organization, owner, manager, member, viewer):
    rows = owner_client.get(reverse("projects:members", args=[organization.pk])).context["members"]

    assert [(m.user.username, m.role) for m in rows] == [
        ("alice", "admin"),
        ("bob", "uploader"),
        ("mia", "manager"),
        ("vera", "viewer"),
    ]


def test_an_invitation_emails_a_link(owner_client, organization, django_capture_on_commit_callbacks):
    response = _invite(owner_client, organization, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.organization) == ("newcomer@example.com", "manager", organization)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newcomer@example.com"]
    assert message.subject == "Alice Admin invited you to Acme Vision"
    assert "as manager" in message.body
    assert _invitation_link(message) == reverse("projects:invitation_accept", args=[invitation.token])
    page = owner_client.get(reverse("projects:members", args=[organization.pk]))
    assert "Invitation sent to newcomer@example.com." in page.content.decode()
    assert "newcomer@example.com" in text_of(page.content.decode().split("Pending invitations")[1])


def test_inviting_an_existing_member_is_refused(owner_client, organization, member, django_capture_on_commit_callbacks):
    response = _invite(owner_client, organization, django_capture_on_commit_callbacks, email="BOB@example.com")

    assert response.status_code == 200
    assert "bob@example.com is already a member of Acme Vision." in response.content.decode()
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_accepting_an_invitation_as_a_new_person_creates_the_account_and_membership(
    owner_client, organization, django_capture_on_commit_callbacks
):
    _invite(owner_client, organization, django_capture_on_commit_callbacks, role="manager")
    link = _invitation_link(mail.outbox[0])
    newcomer = Client()

    page = newcomer.get(link)
    assert page.status_code == 200
    assert "Join Acme Vision" in page.content.decode()
    response = newcomer.post(
        link,
        {"username": "nina", "first_name": "Nina", "last_name": "New", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("projects:list")
    user = User.objects.get(username="nina")
    assert (user.email, user.get_full_name()) == ("newcomer@example.com", "Nina New")
    assert user.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=user).role == Membership.Role.MANAGER
    assert Membership.objects.get(user=user).organization == organization
    assert newcomer.session[SESSION_KEY] == str(user.pk)
    invitation = Invitation.objects.get()
    assert (invitation.accepted_by, invitation.accepted_at is not None) == (user, True)
    assert "Welcome to Acme Vision." in newcomer.get(reverse("projects:list")).content.decode()


def test_an_invitation_is_accepted_by_someone_who_already_has_an_account(outsider_client, outsider, organization, owner):
    invitation = Invitation.objects.create(organization=organization, email=outsider.email, role="viewer", invited_by=owner)

    response = outsider_client.post(reverse("projects:invitation_accept", args=[invitation.token]))

    assert response.status_code == 302
    assert Membership.objects.get(organization=organization, user=outsider).role == Membership.Role.VIEWER


def test_a_used_invitation_answers_410_with_a_clear_page(owner_client, organization, django_capture_on_commit_callbacks):
    _invite(owner_client, organization, django_capture_on_commit_callbacks)
    link = _invitation_link(mail.outbox[0])
    form = {"username": "nina", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    Client().post(link, form)

    second = Client()
    response = second.get(link)
    again = second.post(link, {**form, "username": "nina2"})

    assert response.status_code == 410
    text = text_of(response.content)
    assert "This invitation no longer works" in text
    assert "It was already used. Ask an admin of Acme Vision to send you a new one." in text
    assert again.status_code == 410
    assert not User.objects.filter(username="nina2").exists()


def test_an_expired_invitation_answers_410_with_a_clear_page(client, organization, owner, settings):
    invitation = Invitation.objects.create(organization=organization, email="late@example.com", invited_by=owner)
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=invitation.created_at - timedelta(days=settings.INVITATION_EXPIRY_DAYS, minutes=1)
    )
    url = reverse("projects:invitation_accept", args=[invitation.token])

    response = client.get(url)
    refused = client.post(url, {"username": "late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 410
    assert "This invitation no longer works" in text_of(response.content)
    assert "It expired on" in text_of(response.content)
    assert refused.status_code == 410
    assert not User.objects.filter(username="late").exists()
    assert not Membership.objects.filter(user__email="late@example.com").exists()


def test_an_admin_withdraws_a_pending_invitation_and_its_link_stops_working(
    owner_client, organization, django_capture_on_commit_callbacks
):
    _invite(owner_client, organization, django_capture_on_commit_callbacks)
    link = _invitation_link(mail.outbox[0])
    invitation = Invitation.objects.get()
    members_url = reverse("projects:members", args=[organization.pk])
    assert "newcomer@example.com" in text_of(owner_client.get(members_url).content.decode().split("Pending invitations")[1])

    response = owner_client.post(reverse("projects:invitation_revoke", args=[organization.pk, invitation.pk]))

    assert response.status_code == 302
    page = owner_client.get(members_url).content.decode()
    assert "The invitation to newcomer@example.com was withdrawn: its link no longer works." in page
    assert "Pending invitations" not in page
    stranger = Client()
    refused = stranger.get(link)
    assert refused.status_code == 410
    assert "An admin withdrew it. Ask an admin of Acme Vision to send you a new one." in text_of(refused.content)
    signed_up = stranger.post(link, {"username": "nina", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert signed_up.status_code == 410
    assert not User.objects.filter(username="nina").exists()


def test_withdrawing_an_accepted_invitation_changes_nothing_and_says_so(owner_client, organization, owner, outsider, outsider_client):
    invitation = Invitation.objects.create(organization=organization, email=outsider.email, role="viewer", invited_by=owner)
    outsider_client.post(reverse("projects:invitation_accept", args=[invitation.token]))

    owner_client.post(reverse("projects:invitation_revoke", args=[organization.pk, invitation.pk]))

    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert Membership.objects.filter(organization=organization, user=outsider).exists()
    page = owner_client.get(reverse("projects:members", args=[organization.pk])).content.decode()
    assert f"{outsider.email} had already accepted the invitation: remove them from People if they should not be here." in page


def test_an_invitation_withdrawn_while_someone_signs_up_makes_no_account(client, organization, owner, monkeypatch):
    invitation = Invitation.objects.create(organization=organization, email="late@example.com", invited_by=owner)
    url = reverse("projects:invitation_accept", args=[invitation.token])
    assert client.get(url).status_code == 200
    invitation.revoke()
    # The page's own check ran before the withdrawal landed: the guarded acceptance is what refuses.
    monkeypatch.setattr(Invitation, "is_usable", lambda self: True)

    response = client.post(url, {"username": "late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 410
    assert "An admin withdrew it." in text_of(response.content)
    assert not User.objects.filter(username="late").exists()
    assert not Membership.objects.filter(organization=organization, user__email="late@example.com").exists()


def test_an_unknown_invitation_token_answers_404(client, db):
    assert client.get(reverse("projects:invitation_accept", args=["no-such-token"])).status_code == 404


def test_an_admin_changes_a_members_role(owner_client, organization, member):
    membership = member.memberships.get()

    response = owner_client.post(reverse("projects:member_role", args=[organization.pk, membership.pk]), {"role": "manager"})

    assert response["Location"] == reverse("projects:members", args=[organization.pk])
    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.MANAGER
    assert "bob is now manager." in owner_client.get(response["Location"]).content.decode()


def test_an_unknown_role_is_refused(owner_client, organization, member):
    membership = member.memberships.get()

    response = owner_client.post(
        reverse("projects:member_role", args=[organization.pk, membership.pk]), {"role": "superuser"}, follow=True
    )

    assert "Choose one of the listed roles." in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.UPLOADER


def test_an_admin_removes_a_member(owner_client, organization, member):
    membership = member.memberships.get()

    response = owner_client.post(reverse("projects:member_remove", args=[organization.pk, membership.pk]), follow=True)

    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert "bob was removed from Acme Vision." in response.content.decode()


LAST_ADMIN = "The organization needs at least one admin: make someone else admin first."


@pytest.mark.parametrize("role", ["manager", "uploader", "viewer"])
def test_demoting_the_last_admin_is_refused(owner_client, organization, owner, role):
    membership = owner.memberships.get()

    response = owner_client.post(
        reverse("projects:member_role", args=[organization.pk, membership.pk]), {"role": role}, follow=True
    )

    assert LAST_ADMIN in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.ADMIN


def test_removing_the_last_admin_is_refused(owner_client, organization, owner, member):
    membership = owner.memberships.get()

    response = owner_client.post(reverse("projects:member_remove", args=[organization.pk, membership.pk]), follow=True)

    assert LAST_ADMIN in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk, role=Membership.Role.ADMIN).exists()
    assert organization.memberships.count() == 2


def test_an_admin_steps_down_once_there_is_another_admin(owner_client, organization, owner, manager):
    Membership.objects.filter(user=manager).update(role=Membership.Role.ADMIN)
    membership = owner.memberships.get()

    response = owner_client.post(
        reverse("projects:member_role", args=[organization.pk, membership.pk]), {"role": "manager"}, follow=True
    )

    assert LAST_ADMIN not in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.MANAGER


def test_an_admin_is_removed_once_there_is_another_admin(owner_client, organization, owner, manager):
    promoted = manager.memberships.get()
    promoted.role = Membership.Role.ADMIN
    promoted.save()

    owner_client.post(reverse("projects:member_remove", args=[organization.pk, promoted.pk]))

    assert not Membership.objects.filter(pk=promoted.pk).exists()


# --- the header -------------------------------------------------------------------------------


def test_the_header_links_to_the_members_of_each_organization_the_user_administers(owner_client, owner, organization):
    beta = Organization.objects.create(name="Beta Labs")
    Membership.objects.create(organization=beta, user=owner, role=Membership.Role.ADMIN)
    gamma = Organization.objects.create(name="Gamma")
    Membership.objects.create(organization=gamma, user=owner, role=Membership.Role.VIEWER)

    content = owner_client.get(reverse("projects:list")).content.decode()

    assert reverse("projects:members", args=[organization.pk]) in content
    assert reverse("projects:members", args=[beta.pk]) in content
    assert reverse("projects:members", args=[gamma.pk]) not in content
    assert "Members · Beta Labs" in content


def test_the_header_takes_one_query_however_many_organizations_the_user_administers(owner_client, owner, project):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(reverse("projects:list")).status_code == 200
        return len(captured)

    one = queries()
    for name in ("Beta Labs", "Gamma", "Delta"):
        Membership.objects.create(organization=Organization.objects.create(name=name), user=owner, role=Membership.Role.ADMIN)

    assert queries() == one


def test_a_project_can_take_jpeg_only(owner_client, project):
    response = owner_client.post(
        reverse("projects:settings", args=[project.pk]),
        {"name": project.name, "allow_images": "on", "image_formats": ["JPEG"], "require_camera_metadata": "on"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.image_formats == ["JPEG"]
    assert project.accepts_image_format("JPEG") and not project.accepts_image_format("PNG")


def test_a_project_can_stop_taking_animated_images(owner_client, project):
    url = reverse("projects:settings", args=[project.pk])
    page = owner_client.get(url).content.decode()
    assert re.search(r'<input type="checkbox" name="allow_animated_images"[^>]*\bchecked\b', page)
    assert "Take animated images" in page

    # An unticked box is not sent at all.
    response = owner_client.post(url, {"name": project.name, "allow_images": "on", "image_formats": ["PNG", "GIF"]})

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.allow_animated_images is False and project.image_formats == ["PNG", "GIF"]


def test_taking_images_needs_at_least_one_format(owner_client, project):
    response = owner_client.post(
        reverse("projects:settings", args=[project.pk]), {"name": project.name, "allow_images": "on"}
    )
    assert response.status_code == 200
    assert "Choose at least one image format" in response.content.decode()
    project.refresh_from_db()
    assert len(project.image_formats) == 6


@pytest.mark.parametrize("name", ["projects:members", "uploads:integrations"])
def test_an_organizations_members_and_storage_pages_light_up_members_in_the_header(owner_client, organization, name):
    page = owner_client.get(reverse(name, args=[organization.pk])).content.decode()

    current = re.findall(r'<a href="([^"]+)" aria-current="page">', page.split("</nav>")[0])
    assert current == [reverse("projects:members", args=[organization.pk])]


def test_a_project_page_lights_up_projects_in_the_header(owner_client, project):
    page = owner_client.get(reverse("assets:list", args=[project.pk])).content.decode()

    assert re.findall(r'<a href="([^"]+)" aria-current="page">', page.split("</nav>")[0]) == [reverse("projects:list")]
