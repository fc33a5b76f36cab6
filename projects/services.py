"""Workflows around organizations, members and projects."""

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from projects.models import Invitation, Membership, Organization, Project
from projects.refusals import Refused

User = get_user_model()


class LastAdminError(Refused):
    """An organization must keep at least one admin."""

    status = 409


class InvitationForAnotherPerson(Refused):
    """The account accepting an invitation does not have the invited email address."""

    status = 403


@transaction.atomic
def organization_create(*, name: str, owner) -> Organization:
    """Creates an organization with `owner` as its first admin."""
    organization = Organization.objects.create(name=name)
    Membership.objects.create(organization=organization, user=owner, role=Membership.Role.ADMIN)
    return organization


def project_create(*, organization: Organization, created_by, **fields) -> Project:
    return Project.objects.create(organization=organization, created_by=created_by, **fields)


def invitation_create(*, organization: Organization, email: str, role: str, invited_by, base_url: str) -> Invitation:
    """Records an invitation and emails its link; the email goes out only once the row is committed."""
    invitation = Invitation.objects.create(organization=organization, email=email, role=role, invited_by=invited_by)
    link = base_url.rstrip("/") + reverse("projects:invitation_accept", args=[invitation.token])
    context = {"invitation": invitation, "link": link, "inviter": invited_by}
    transaction.on_commit(
        lambda: send_mail(
            subject=f"{invited_by.get_full_name() or invited_by.username} invited you to {organization.name}",
            message=render_to_string("projects/email/invitation.txt", context),
            html_message=render_to_string("projects/email/invitation.html", context),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> Membership | None:
    """Joins `user` to the invitation's organization; None when the invitation was already used or expired.

    Only the account with the invited email may accept (InvitationForAnotherPerson otherwise): a forwarded link
    joins nobody else.
    """
    if not invitation.is_usable():
        return None
    if not invitation.is_for(user):
        raise InvitationForAnotherPerson(f"This invitation was sent to {invitation.email_hint}.")
    if not invitation.mark_accepted(user):
        return None
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    return membership


def _ensure_another_admin(membership: Membership) -> None:
    """Refuses to take away the last admin of an organization (rows locked so two changes cannot race)."""
    if membership.role != Membership.Role.ADMIN:
        return
    admins = Membership.objects.select_for_update().filter(
        organization=membership.organization, role=Membership.Role.ADMIN
    )
    if len(admins.values_list("pk", flat=True)) <= 1:
        raise LastAdminError("The organization needs at least one admin: make someone else admin first.")


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    """Changes a member's role, refusing to leave the organization without an admin."""
    if role != Membership.Role.ADMIN:
        _ensure_another_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _ensure_another_admin(membership)
    membership.delete()
