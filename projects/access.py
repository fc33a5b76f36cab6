"""The one way views reach projects and organizations: scoped by membership, foreign ids answer 404."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from projects.models import Batch, Membership, Organization, Project, role_can_manage, role_can_upload


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    role: str

    @property
    def can_upload(self) -> bool:
        return role_can_upload(self.role)

    @property
    def can_manage(self) -> bool:
        return role_can_manage(self.role)


def get_project_for_user(user, project_id, *, need: str = "view") -> ProjectAccess:
    """Loads a project of one of the user's organizations with the user's role in it.

    `need` is "view", "upload" or "manage": a member without that right gets 403, anybody
    outside the organization gets 404 whatever they ask.
    """
    project = get_object_or_404(Project.objects.for_user(user).select_related("organization"), pk=project_id)
    access = ProjectAccess(project=project, role=project.role)
    if (need == "upload" and not access.can_upload) or (need == "manage" and not access.can_manage):
        raise PermissionDenied
    return access


def get_membership_for_user(user, organization_id, *, admin: bool = False) -> Membership:
    """The user's membership of an organization (404 when there is none); `admin=True` also demands the admin role."""
    if not user.is_authenticated:
        raise PermissionDenied
    membership = get_object_or_404(
        Membership.objects.select_related("organization"), organization_id=organization_id, user=user
    )
    if admin and membership.role != Membership.Role.ADMIN:
        raise PermissionDenied
    return membership


def organizations_for_user(user):
    return Organization.objects.filter(memberships__user=user) if user.is_authenticated else Organization.objects.none()


def get_batch_for_user(user, batch_id, *, need: str = "view") -> tuple[ProjectAccess, Batch]:
    """A batch of a project the user may see, with the user's access to that project (foreign ids: 404)."""
    batch = get_object_or_404(Batch.objects.filter(project__in=Project.objects.for_user(user).values("pk")), pk=batch_id)
    access = get_project_for_user(user, batch.project_id, need=need)
    batch.project = access.project
    return access, batch


@dataclass(frozen=True)
class LibraryAccess:
    """The organizations a person belongs to, with their role in each: the scope of the top-level Assets page."""

    organizations: list[Organization]
    roles: dict  # organization id -> role

    @property
    def organization_ids(self) -> list:
        return [organization.pk for organization in self.organizations]

    def can_upload_in(self, organization_id) -> bool:
        return role_can_upload(self.roles.get(organization_id, ""))

    def can_manage_in(self, organization_id) -> bool:
        return role_can_manage(self.roles.get(organization_id, ""))

    @property
    def can_upload(self) -> bool:
        """Whether the person may add or change assets in at least one of their organizations (viewers may not)."""
        return any(role_can_upload(role) for role in self.roles.values())

    @property
    def upload_organizations(self) -> list[Organization]:
        return [organization for organization in self.organizations if self.can_upload_in(organization.pk)]


def get_library_access(user) -> LibraryAccess:
    """The person's organizations and roles, in one query (none for anybody signed out)."""
    if not user.is_authenticated:
        raise PermissionDenied
    memberships = Membership.objects.for_user(user).select_related("organization").order_by("organization__name")
    organizations, roles = [], {}
    for membership in memberships:
        organizations.append(membership.organization)
        roles[membership.organization_id] = membership.role
    return LibraryAccess(organizations=organizations, roles=roles)
