from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from projects import services
from projects.access import get_membership_for_user, get_project_for_user
from projects.forms import InvitationForm, ProjectForm, RoleForm, SignUpForm
from projects.models import Invitation, Membership, Project, role_can_manage
from projects.refusals import Refused


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = (
        Project.objects.for_user(request.user)
        .select_related("organization")
        .annotate(asset_count=Count("assets"), last_upload=Max("assets__created_at"))
        .order_by("organization__name", "name")
    )
    memberships = Membership.objects.for_user(request.user).select_related("organization").order_by("organization__name")
    groups = []
    for membership in memberships:
        groups.append(
            {
                "membership": membership,
                "can_create": role_can_manage(membership.role),
                "projects": [p for p in projects if p.organization_id == membership.organization_id],
            }
        )
    return render(request, "projects/project_list.html", {"groups": groups})


@login_required
def project_detail(request: HttpRequest, project_id) -> HttpResponse:
    access = get_project_for_user(request.user, project_id)
    return redirect("assets:list", project_id=access.project.pk)


@login_required
def project_create(request: HttpRequest, organization_id) -> HttpResponse:
    membership = get_membership_for_user(request.user, organization_id)
    if not role_can_manage(membership.role):
        raise PermissionDenied
    organization = membership.organization
    form = ProjectForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        project = services.project_create(organization=organization, created_by=request.user, **form.cleaned_data)
        messages.success(request, f"Project “{project.name}” created.")
        return redirect("assets:list", project_id=project.pk)
    return render(request, "projects/project_form.html", {"form": form, "organization": organization})


@login_required
def project_settings(request: HttpRequest, project_id) -> HttpResponse:
    access = get_project_for_user(request.user, project_id, need="manage")
    project = access.project
    form = ProjectForm(request.POST or None, instance=project, organization=project.organization)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Project settings saved.")
        return redirect("projects:settings", project_id=project.pk)
    return render(
        request, "projects/project_form.html", {"form": form, "organization": project.organization, "access": access, "tab": "settings"}
    )


@login_required
def organization_members(request: HttpRequest, organization_id) -> HttpResponse:
    membership = get_membership_for_user(request.user, organization_id, admin=True)
    organization = membership.organization
    form = InvitationForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        invitation = services.invitation_create(
            organization=organization,
            invited_by=request.user,
            base_url=request.build_absolute_uri("/"),
            **form.cleaned_data,
        )
        messages.success(request, f"Invitation sent to {invitation.email}.")
        return redirect("projects:members", organization_id=organization.pk)
    members = organization.memberships.select_related("user").order_by("user__username")
    pending = organization.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).select_related("invited_by")
    return render(
        request,
        "projects/members.html",
        {
            "organization": organization,
            "members": members,
            "pending": [i for i in pending if i.is_usable()],
            "form": form,
            "roles": Membership.Role.choices,
        },
    )


def _change_member(request: HttpRequest, organization_id, membership_id: int, change) -> HttpResponse:
    """An admin changes a membership with `change(member)`, which returns what to tell them; back to the members page,
    with the refusal when the change would leave the organization without an admin."""
    admin = get_membership_for_user(request.user, organization_id, admin=True)
    member = get_object_or_404(
        Membership.objects.select_related("user", "organization"), pk=membership_id, organization=admin.organization
    )
    try:
        messages.success(request, change(member))
    except Refused as refusal:
        messages.error(request, refusal.message)
    return redirect("projects:members", organization_id=admin.organization_id)


@require_POST
@login_required
def member_role(request: HttpRequest, organization_id, membership_id: int) -> HttpResponse:
    form = RoleForm(request.POST)

    def change_role(member: Membership) -> str:
        if not form.is_valid():
            raise Refused("Choose one of the listed roles.")
        services.membership_change_role(membership=member, role=form.cleaned_data["role"])
        return f"{member.user.username} is now {member.get_role_display().lower()}."

    return _change_member(request, organization_id, membership_id, change_role)


@require_POST
@login_required
def member_remove(request: HttpRequest, organization_id, membership_id: int) -> HttpResponse:
    def remove(member: Membership) -> str:
        services.membership_remove(membership=member)
        return f"{member.user.username} was removed from {member.organization.name}."

    return _change_member(request, organization_id, membership_id, remove)


@require_POST
@login_required
def invitation_revoke(request: HttpRequest, organization_id, invitation_id) -> HttpResponse:
    """An admin withdraws a pending invitation: its link stops working at once."""
    admin = get_membership_for_user(request.user, organization_id, admin=True)
    invitation = get_object_or_404(Invitation, pk=invitation_id, organization=admin.organization)
    if invitation.revoke():
        messages.success(request, f"The invitation to {invitation.email} was withdrawn: its link no longer works.")
        return redirect("projects:members", organization_id=admin.organization_id)
    invitation.refresh_from_db(fields=["accepted_at", "revoked_at"])
    if invitation.accepted_at is not None:
        messages.info(request, f"{invitation.email} had already accepted the invitation: remove them from People if they should not be here.")
    else:
        messages.info(request, f"The invitation to {invitation.email} was already withdrawn.")
    return redirect("projects:members", organization_id=admin.organization_id)


class _InvitationGone(Exception):
    """The invitation was used or withdrawn while someone signed up with it: the new account is rolled back."""


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.select_related("organization", "invited_by"), token=token)
    if not invitation.is_usable():
        return _invitation_gone(request, invitation)
    form = None
    if request.user.is_authenticated:
        if not invitation.is_for(request.user):
            # A forwarded link: only the invited address's account may use it (docs/SECURITY.md).
            context = {"invitation": invitation, "form": None, "for_another_person": True}
            return render(request, "projects/invitation_accept.html", context, status=403)
        if request.method == "POST":
            if services.invitation_accept(invitation=invitation, user=request.user) is None:
                return _invitation_gone(request, invitation)
            messages.success(request, f"Welcome to {invitation.organization.name}.")
            return redirect("projects:list")
    else:
        form = SignUpForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    user = form.save(commit=False)
                    user.email = invitation.email
                    user.save()
                    if services.invitation_accept(invitation=invitation, user=user) is None:
                        raise _InvitationGone  # used or withdrawn meanwhile: no account either
            except _InvitationGone:
                return _invitation_gone(request, invitation)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {invitation.organization.name}.")
            return redirect("projects:list")
    return render(request, "projects/invitation_accept.html", {"invitation": invitation, "form": form})


def _invitation_gone(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    invitation.refresh_from_db(fields=["accepted_at", "revoked_at"])
    return render(request, "projects/invitation_used.html", {"invitation": invitation}, status=410)
