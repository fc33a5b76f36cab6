from django.http import HttpRequest


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request for part of a page; boosted navigation and history restores want the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request
