"""The profile page: create an API key (shown once), see when it was last used, revoke it."""

import re

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey
from tests.api import Api


def test_the_header_links_to_the_profile_and_the_api_reference(owner_client, project):
    content = owner_client.get(reverse("projects:list")).content.decode()

    assert f'href="{reverse("profile")}"' in content
    assert f'href="{reverse("api_docs")}"' in content


def test_the_profile_lists_the_persons_keys_only(owner_client, owner, member):
    services.api_key_create(user=owner, name="nightly import")
    services.api_key_create(user=member, name="bob's laptop")

    content = owner_client.get(reverse("profile")).content.decode()

    assert "nightly import" in content
    assert "bob&#x27;s laptop" not in content and "bob's laptop" not in content
    assert "Never" in content  # not used yet


def test_creating_a_key_shows_its_secret_once(owner_client, owner):
    response = owner_client.post(reverse("api_key_create"), {"name": "ci runner"})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = re.search(r"(aup_[A-Za-z0-9_-]{40,})", response.content.decode()).group(1)
    key = ApiKey.objects.get(user=owner)
    assert key.name == "ci runner"
    assert key.key_hash == ApiKey.hash_secret(secret)
    assert secret not in owner_client.get(reverse("profile")).content.decode()


def test_a_key_needs_a_name(owner_client):
    response = owner_client.post(reverse("api_key_create"), {"name": ""})

    assert response.status_code == 422
    assert not ApiKey.objects.exists()


def test_revoking_a_key_stops_it(owner_client, owner, project):
    api = Api(owner)

    response = owner_client.post(reverse("api_key_revoke", args=[api.key.pk]), follow=True)

    assert "revoked" in response.content.decode()
    assert ApiKey.objects.get(pk=api.key.pk).revoked_at is not None
    assert api.get("/workflows").status_code == 403


def test_the_last_use_of_a_key_shows_on_the_profile(owner_client, owner, project):
    api = Api(owner)
    api.get("/workflows")

    content = owner_client.get(reverse("profile")).content.decode()

    assert "Never" not in content


def test_nobody_revokes_someone_elses_key(member_client, owner):
    key, _ = services.api_key_create(user=owner, name="mine")

    assert member_client.post(reverse("api_key_revoke", args=[key.pk])).status_code == 404
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


@pytest.mark.parametrize("name", ["profile", "api_docs"])
def test_the_pages_need_a_login(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
