from functools import cache

from projects.models import Membership


def navigation(request) -> dict:
    """The organizations the user administers, for the Members link in the header (one query, only when asked)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    # Cached: the header reads it more than once (the loop and |length inside it).
    @cache
    def admin_organizations():
        return [m.organization for m in Membership.objects.for_user(user).filter(role=Membership.Role.ADMIN).select_related("organization")]

    return {"nav_admin_organizations": admin_organizations}
