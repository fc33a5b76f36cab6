"""Logging in and out, resetting a password by email, and keeping anonymous people out."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from tests.conftest import PASSWORD

LOGIN_URL = reverse("login")
NEW_PASSWORD = "violet tangerine lighthouse 42"


def test_the_login_page_renders_its_form(client, db):
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    assert response.templates[0].name == "registration/login.html"
    content = response.content.decode()
    assert 'name="username"' in content
    assert 'name="password"' in content
    assert f'href="{reverse("password_reset")}"' in content


def test_a_wrong_password_shows_the_error_and_does_not_log_in(client, owner):
    response = client.post(LOGIN_URL, {"username": owner.username, "password": "not the password"})

    assert response.status_code == 200
    assert "That username and password do not match an account. Check both and try again." in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_right_password_logs_in_and_opens_the_projects_list(client, owner):
    response = client.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("projects:list")
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_login_goes_back_to_the_page_that_asked_for_it(client, owner, project):
    wanted = reverse("uploads:list", args=[project.pk])

    response = client.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD, "next": wanted})

    assert response["Location"] == wanted


@pytest.mark.parametrize("elsewhere", ["https://evil.example.com/", "//evil.example.com/projects/"])
def test_login_never_sends_people_to_another_site(client, owner, elsewhere):
    response = client.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD, "next": elsewhere})

    assert response["Location"] == reverse("projects:list")


def test_logout_by_post_ends_the_session(owner_client):
    response = owner_client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert SESSION_KEY not in owner_client.session
    assert owner_client.get(reverse("projects:list"))["Location"].startswith(LOGIN_URL)


def test_logout_by_get_is_refused_and_keeps_the_session(owner_client, owner):
    response = owner_client.get(reverse("logout"))

    assert response.status_code == 405
    assert owner_client.session[SESSION_KEY] == str(owner.pk)


def test_every_page_offers_logout_as_a_form(owner_client):
    content = owner_client.get(reverse("projects:list")).content.decode()

    assert re.search(rf'<form(?=[^>]*method="post")(?=[^>]*action="{reverse("logout")}")[^>]*>', content)


def _reset_link(message) -> str:
    match = re.search(r"https?://testserver(/accounts/reset/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_password_reset_emails_a_working_link_and_the_new_password_logs_in(client, owner):
    response = client.post(reverse("password_reset"), {"email": owner.email})

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert message.subject == "Reset your Asset Upload Portal password"
    assert f'account "{owner.username}"' in message.body

    # The emailed link leads to the form that sets a new password.
    form_page = client.get(_reset_link(message), follow=True)
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0]
    done = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("password_reset_complete")

    # The new password logs in through the login form; the old one no longer does.
    fresh = client.__class__()
    refused = fresh.post(LOGIN_URL, {"username": owner.username, "password": PASSWORD})
    assert SESSION_KEY not in fresh.session
    assert refused.status_code == 200
    logged_in = fresh.post(LOGIN_URL, {"username": owner.username, "password": NEW_PASSWORD})
    assert logged_in["Location"] == reverse("projects:list")
    assert fresh.session[SESSION_KEY] == str(owner.pk)


def test_a_password_reset_link_works_only_once(client, owner):
    client.post(reverse("password_reset"), {"email": owner.email})
    link = _reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = client.get(link, follow=True)

    assert "This link no longer works" in again.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, owner):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


# Every page of the portal, with what it takes to reach it: (url name, needs, method).
PAGES = [
    ("projects:list", None, "get"),
    ("projects:detail", "project", "get"),
    ("projects:settings", "project", "get"),
    ("projects:create", "organization", "get"),
    ("projects:members", "organization", "get"),
    ("projects:member_role", "membership", "post"),
    ("projects:member_remove", "membership", "post"),
    ("assets:list", "project", "get"),
    ("uploads:list", "project", "get"),
    ("password_change", None, "get"),
]


@pytest.mark.parametrize(("name", "needs", "method"), PAGES, ids=[page[0] for page in PAGES])
def test_anonymous_people_are_sent_to_login_from_every_page(client, project, owner, name, needs, method):
    membership = owner.memberships.get()
    args = {
        None: [],
        "project": [project.pk],
        "organization": [project.organization_id],
        "membership": [project.organization_id, membership.pk],
    }[needs]
    url = reverse(name, args=args)

    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={url}"


def test_the_home_page_sends_anonymous_people_to_login_and_members_to_their_projects(client, owner):
    assert client.get(reverse("home"))["Location"] == LOGIN_URL
    client.force_login(owner)
    assert client.get(reverse("home"))["Location"] == reverse("projects:list")
