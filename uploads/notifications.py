"""The one email a session sends when it completes: a success summary, or the list of failed files."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from assets.models import Asset
from projects.models import Membership, Profile
from uploads.models import UploadSession
from uploads.services import session_counts


def session_email_recipients(session: UploadSession) -> list[str]:
    """The uploader who opened the session (unless they turned these emails off), and the project's
    managers and admins who asked for every session's email."""
    recipients = []
    uploader = session.created_by
    if uploader is not None and uploader.email and Profile.for_user(uploader).email_own_sessions:
        recipients.append(uploader.email)
    managers = Membership.objects.filter(
        organization_id=session.organization_id,
        role__in=[Membership.Role.ADMIN, Membership.Role.MANAGER],
        user__profile__email_managed_sessions=True,
    ).select_related("user")
    for membership in managers:
        if membership.user.email and membership.user.email not in recipients:
            recipients.append(membership.user.email)
    return recipients


def build_session_email(session: UploadSession) -> EmailMultiAlternatives | None:
    recipients = session_email_recipients(session)
    if not recipients:
        return None
    counts = session_counts(session)
    failed = list(
        Asset.objects.filter(upload_session=session, status=Asset.Status.UPLOAD_ERROR).order_by("name")[:200]
    )
    succeeded = counts["total"] - counts[Asset.Status.UPLOAD_ERROR]
    path = session.get_absolute_url()
    context = {
        "session": session,
        "project": session.project,
        "counts": counts,
        "succeeded": succeeded,
        "failed": failed,
        "failed_total": counts[Asset.Status.UPLOAD_ERROR],
        "link": f"{settings.SITE_URL}{path}",
    }
    if counts[Asset.Status.UPLOAD_ERROR]:
        subject = f"Upload “{session.view_name}”: {counts[Asset.Status.UPLOAD_ERROR]:,} of {counts['total']:,} files failed"
    else:
        subject = f"Upload “{session.view_name}” is ready: {succeeded:,} file{'s' if succeeded != 1 else ''}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("uploads/email/session_complete.txt", context),
        to=recipients,
    )
    message.attach_alternative(render_to_string("uploads/email/session_complete.html", context), "text/html")
    return message
