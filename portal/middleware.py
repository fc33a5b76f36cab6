"""Refusals a page let through become the page's answer: the one place the pages map them to HTTP
(docs/ARCHITECTURE.md, "Refusals"; the REST API has its own, in api/__init__.py)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from projects.refusals import Refused


class RefusalMiddleware:
    """A `Refused` raised in a view: `{"error": message}` with its status to a request that speaks JSON (the upload
    protocol's), otherwise the message on the page the request came from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Refused):
            return None
        if request.content_type == "application/json" or "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"error": exception.message}, status=exception.status)
        messages.error(request, exception.message)
        back = request.headers.get("Referer", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            back = "/"
        return redirect(back)
