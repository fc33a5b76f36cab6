"""manage.py create_demo: the demo organization, project and user, created once."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from projects.models import Membership, Organization, Project

User = get_user_model()


def _run() -> str:
    out = StringIO()
    call_command("create_demo", stdout=out)
    return out.getvalue()


def _counts() -> tuple[int, int, int, int]:
    return User.objects.count(), Organization.objects.count(), Membership.objects.count(), Project.objects.count()


@pytest.mark.django_db
def test_it_creates_the_demo_organization_project_and_user_with_demo_password(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")

    output = _run()

    user = User.objects.get(username="demo")
    assert user.check_password("demo-password-for-tests")
    organization = Organization.objects.get(name="Demo")
    assert Membership.objects.get(organization=organization, user=user).role == Membership.Role.ADMIN
    project = Project.objects.get(organization=organization)
    assert (project.name, project.created_by) == ("Demo project", user)
    assert _counts() == (1, 1, 1, 1)
    assert "Demo login: user demo, password demo-password-for-tests" in output


@pytest.mark.django_db
def test_without_demo_password_it_prints_a_random_password_that_works(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)

    output = _run()

    password = re.search(r"password (\S+)", output).group(1)
    assert len(password) >= 12
    assert User.objects.get(username="demo").check_password(password)


@pytest.mark.django_db
def test_a_second_run_creates_nothing_new_and_keeps_the_password(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "first-password")
    _run()
    before = _counts()

    monkeypatch.setenv("DEMO_PASSWORD", "second-password")
    output = _run()

    assert _counts() == before
    assert User.objects.get(username="demo").check_password("first-password")
    assert "second-password" not in output
    assert "password unchanged" in output


@pytest.mark.django_db
def test_it_leaves_other_organizations_alone(monkeypatch, organization, project, owner):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")

    _run()

    assert list(Organization.objects.values_list("name", flat=True)) == ["Acme Vision", "Demo"]
    assert not Membership.objects.filter(organization=organization, user__username="demo").exists()
    assert list(organization.projects.values_list("name", flat=True)) == ["Street scenes"]


@pytest.mark.django_db
def test_the_demo_user_logs_in_and_sees_the_demo_project(monkeypatch, client):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    _run()

    # Through the login page: the login throttle (django-axes) refuses a password check made without a request.
    assert client.post(reverse("login"), {"username": "demo", "password": "demo-password-for-tests"}).status_code == 302
    assert "Demo project" in client.get("/projects/").content.decode()
