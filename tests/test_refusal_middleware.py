"""portal/middleware.py: a refusal a view lets through becomes its answer, the one place pages map refusals to HTTP."""

import json

from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from portal.middleware import RefusalMiddleware
from projects.refusals import Refused
from uploads.errors import UploadRefused

middleware = RefusalMiddleware(lambda request: None)


def _page_request(**headers):
    request = RequestFactory().post("/projects/x/settings/", headers=headers)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_a_request_that_speaks_json_gets_the_message_and_the_status():
    request = RequestFactory().post("/x/", data="{}", content_type="application/json")

    response = middleware.process_exception(request, UploadRefused("This session was finalized.", status=409))

    assert response.status_code == 409
    assert json.loads(response.content) == {"error": "This session was finalized."}


def test_a_page_gets_the_message_on_the_page_it_came_from():
    request = _page_request(Referer="http://testserver/projects/x/")

    response = middleware.process_exception(request, Refused("Give the batch a name."))

    assert (response.status_code, response["Location"]) == (302, "http://testserver/projects/x/")
    assert [str(message) for message in get_messages(request)] == ["Give the batch a name."]


def test_a_referer_on_another_site_is_not_followed():
    request = _page_request(Referer="https://evil.example.com/")

    response = middleware.process_exception(request, Refused("No."))

    assert response["Location"] == "/"


def test_other_errors_are_left_to_django():
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("boom")) is None
