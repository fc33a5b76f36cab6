"""An invitation joins only the account with the invited email: a forwarded link joins nobody else."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client
from django.urls import reverse

from projects import services
from projects.models import Invitation, Membership
from tests.conftest import PASSWORD
from tests.helpers import text_of

NEW_PASSWORD = "violet tangerine lighthouse 42"


@pytest.fixture
def invitation(organization, owner):
    """Alice (admin of Acme Vision) invited Eve's address; Eve already has an account in another organization."""
    return Invitation.objects.create(organization=organization, email="eve@example.com", role="viewer", invited_by=owner)


def _url(invitation: Invitation) -> str:
    return reverse("projects:invitation_accept", args=[invitation.token])


def test_a_forwarded_invitation_cannot_be_accepted_by_another_account(invitation, organization, member, member_client):
    page = member_client.get(_url(invitation))
    response = member_client.post(_url(invitation))

    for answer in (page, response):
        assert answer.status_code == 403
        text = text_of(answer.content)
        assert "This invitation was sent to e…@example.com, and you are signed in as bob (bob@example.com)" in text
        assert "Sign in with that account, or ask Alice Admin to invite bob@example.com." in text
        assert "Join as bob" not in text
    assert member.memberships.get().role == Membership.Role.UPLOADER  # unchanged
    invitation.refresh_from_db()
    assert (invitation.accepted_at, invitation.accepted_by) == (None, None)
    assert invitation.is_usable()


def test_an_outsider_with_a_forwarded_invitation_does_not_join(invitation, organization, manager):
    other = get_user_model().objects.create_user("mallory", email="mallory@example.net", password=PASSWORD)
    client = Client()
    client.force_login(other)

    assert client.post(_url(invitation)).status_code == 403
    assert not Membership.objects.filter(organization=organization, user=other).exists()


def test_the_invited_account_can_accept_after_another_one_was_refused(invitation, organization, member_client, outsider, outsider_client):
    member_client.post(_url(invitation))

    response = outsider_client.post(_url(invitation))

    assert response.status_code == 302
    assert Membership.objects.get(organization=organization, user=outsider).role == Membership.Role.VIEWER
    invitation.refresh_from_db()
    assert invitation.accepted_by == outsider


def test_the_invited_address_matches_whatever_its_letter_case(organization, owner, outsider, outsider_client):
    invitation = Invitation.objects.create(organization=organization, email="Eve@Example.COM", invited_by=owner)

    assert outsider_client.post(_url(invitation)).status_code == 302
    assert Membership.objects.filter(organization=organization, user=outsider).exists()


def test_an_account_without_an_email_cannot_accept(organization, owner):
    invitation = Invitation.objects.create(organization=organization, email="", invited_by=owner)
    nameless = get_user_model().objects.create_user("nameless", email="", password=PASSWORD)

    with pytest.raises(services.InvitationForAnotherPerson):
        services.invitation_accept(invitation=invitation, user=nameless)
    assert not Membership.objects.filter(user=nameless).exists()


def test_the_service_refuses_another_account_too(invitation, member):
    with pytest.raises(services.InvitationForAnotherPerson, match="This invitation was sent to e…@example.com."):
        services.invitation_accept(invitation=invitation, user=member)

    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_another_account_can_log_out_from_the_page_and_come_back_to_the_invitation(invitation, member_client):
    page = member_client.get(_url(invitation)).content.decode()
    assert f'action="{reverse("logout")}"' in page

    response = member_client.post(reverse("logout"), {"next": _url(invitation)})

    assert response["Location"] == _url(invitation)
    assert SESSION_KEY not in member_client.session
    assert "Create account and join" in text_of(member_client.get(_url(invitation)).content)


def test_an_account_created_from_the_invitation_gets_the_invited_address(invitation, organization):
    newcomer = Client()

    response = newcomer.post(
        _url(invitation), {"username": "evelyn", "email": "someone@else.example", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    user = get_user_model().objects.get(username="evelyn")
    assert user.email == "eve@example.com"
    assert Membership.objects.get(organization=organization, user=user).role == Membership.Role.VIEWER
