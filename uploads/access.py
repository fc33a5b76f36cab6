"""Who may see an upload session and who may add files to it: one access helper for every page and request of it."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from projects.access import ProjectAccess
from projects.models import Membership, role_can_manage, role_can_upload
from uploads.models import UploadSession


def _session_with_role(user, project_id, session_id, *, organization_id=None, related: tuple[str, ...] = ()) -> UploadSession:
    """The session, with the user's role in its organization as `role`, in one query (404 for anybody outside it).

    A project's session is addressed under its project (`project_id`); a library session (no project) under its
    organization (`organization_id`, with `project_id` None): one address never opens the other kind."""
    if not user.is_authenticated or (project_id is None and organization_id is None):
        raise Http404
    sessions = UploadSession.objects.annotate(role=Membership.objects.role_in("organization", user))
    if related:
        sessions = sessions.select_related(*related)
    where = {"project_id": project_id} if project_id is not None else {"organization_id": organization_id, "project__isnull": True}
    return get_object_or_404(sessions, pk=session_id, role__isnull=False, **where)


def _check_session_access(user, session: UploadSession, *, write: bool) -> None:
    """Managers see every session of the project (or of the library), uploaders their own (else 404); only its uploader
    adds files to it."""
    owns = session.created_by_id == user.pk
    if not owns and not role_can_manage(session.role):
        raise Http404
    if write and not (owns and role_can_upload(session.role)):
        raise PermissionDenied


def get_session_for_user(
    user, project_id, session_id, *, write: bool = False, organization_id=None
) -> tuple[ProjectAccess, UploadSession]:
    """A session the user may see, with its project (None in the library), organization and creator, and the user's
    access to it.

    `write=True` is for adding and transferring files: only the person who opened the session may.
    """
    session = _session_with_role(
        user, project_id, session_id, organization_id=organization_id, related=("created_by", "organization", "project")
    )
    _check_session_access(user, session, write=write)
    return ProjectAccess(project=session.project, role=session.role), session


def get_session_to_send(user, project_id, session_id, *, organization_id=None) -> UploadSession:
    """The session a request of the upload protocol adds or transfers files of: the session row alone.

    The protocol calls this on every request and needs neither the project nor the creator; the same rules as
    get_session_for_user(write=True).
    """
    session = _session_with_role(user, project_id, session_id, organization_id=organization_id)
    _check_session_access(user, session, write=True)
    return session
