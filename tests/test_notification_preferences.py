"""Who gets a session's completion email: the uploader unless they opted out, and managers who opted in."""

import pytest
from django.core import mail
from django.urls import reverse

from assets.models import Asset
from projects.models import Profile
from uploads.models import UploadSession
from uploads.notifications import build_session_email, session_email_recipients


@pytest.fixture
def finished_session(project, member):
    session = UploadSession.objects.create(
        project=project, created_by=member, asset_type="image", view_name="Gate", capture_date="2026-11-20",
        status=UploadSession.Status.COMPLETE,
    )
    Asset.objects.create(
        organization=project.organization, project=project, upload_session=session, name="a.jpg",
        original_filename="a.jpg", asset_type="image", status=Asset.Status.READY,
    )
    return session


def test_it_emails_the_uploader_by_default(finished_session, member, manager):
    assert session_email_recipients(finished_session) == [member.email]


def test_it_leaves_out_an_uploader_who_turned_the_emails_off(finished_session, member):
    Profile.objects.update_or_create(user=member, defaults={"email_own_sessions": False})
    assert session_email_recipients(finished_session) == []
    assert build_session_email(finished_session) is None


def test_it_adds_managers_who_asked_for_every_session(finished_session, member, manager, owner):
    Profile.objects.update_or_create(user=manager, defaults={"email_managed_sessions": True})
    assert session_email_recipients(finished_session) == [member.email, manager.email]


def test_it_ignores_the_opt_in_of_people_who_do_not_manage(finished_session, member, viewer):
    Profile.objects.update_or_create(user=viewer, defaults={"email_managed_sessions": True})
    assert session_email_recipients(finished_session) == [member.email]


def test_it_does_not_email_managers_of_another_organization(finished_session, member, outsider):
    Profile.objects.update_or_create(user=outsider, defaults={"email_managed_sessions": True})
    assert session_email_recipients(finished_session) == [member.email]


def test_people_change_their_preferences_on_the_profile_page(member_client, member):
    page = member_client.get(reverse("profile"))
    assert "Email me when my uploads finish" in page.content.decode()
    assert "projects I manage" not in page.content.decode(), "only managers see the managed-sessions switch"
    response = member_client.post(reverse("notifications_update"), {})
    assert response.status_code == 302
    assert Profile.for_user(member).email_own_sessions is False


def test_managers_see_and_set_the_managed_sessions_switch(manager_client, manager):
    assert "projects I manage" in manager_client.get(reverse("profile")).content.decode()
    manager_client.post(reverse("notifications_update"), {"email_own_sessions": "on", "email_managed_sessions": "on"})
    profile = Profile.for_user(manager)
    assert (profile.email_own_sessions, profile.email_managed_sessions) == (True, True)


def test_the_email_goes_to_every_recipient_once(finished_session, member, manager):
    Profile.objects.update_or_create(user=manager, defaults={"email_managed_sessions": True})
    build_session_email(finished_session).send()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [member.email, manager.email]
    assert "ready" in mail.outbox[0].subject


@pytest.mark.parametrize(("skipped", "line"), [(1, "1 duplicate file was skipped."), (3, "3 duplicate files were skipped.")])
def test_the_email_counts_skipped_duplicates_in_plain_words(finished_session, skipped, line):
    UploadSession.objects.filter(pk=finished_session.pk).update(duplicate_count=skipped)
    finished_session.refresh_from_db()

    assert line in build_session_email(finished_session).body


def test_the_email_links_to_the_session_at_the_sites_address(finished_session, settings):
    settings.SITE_URL = "https://portal.example.com"

    body = build_session_email(finished_session).body

    assert f"https://portal.example.com/projects/{finished_session.project_id}/uploads/{finished_session.pk}/" in body
