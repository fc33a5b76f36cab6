"""Shared fixtures: one organization with an owner (admin), manager, member (uploader) and viewer,
and an outsider who belongs to another organization with a project of its own."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from projects.models import Membership, Organization, Project

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    """Tests write stored objects to a fresh folder unless they run against S3."""
    if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        settings.MEDIA_ROOT = tmp_path / "media"
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "media"}},
        }


def _user(username: str, **extra):
    return get_user_model().objects.create_user(username, email=f"{username}@example.com", password=PASSWORD, **extra)


@pytest.fixture
def organization(db):
    return Organization.objects.create(name="Acme Vision")


@pytest.fixture
def owner(organization):
    user = _user("alice", first_name="Alice", last_name="Admin")
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def manager(organization):
    user = _user("mia", first_name="Mia", last_name="Manager")
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.MANAGER)
    return user


@pytest.fixture
def member(organization):
    user = _user("bob", first_name="Bob", last_name="Uploader")
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.UPLOADER)
    return user


@pytest.fixture
def viewer(organization):
    user = _user("vera", first_name="Vera", last_name="Viewer")
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def project(organization, owner):
    return Project.objects.create(organization=organization, name="Street scenes", created_by=owner)


@pytest.fixture
def other_organization(db):
    return Organization.objects.create(name="Globex")


@pytest.fixture
def outsider(other_organization):
    user = _user("eve", first_name="Eve", last_name="Outsider")
    Membership.objects.create(organization=other_organization, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def other_project(other_organization, outsider):
    return Project.objects.create(organization=other_organization, name="Globex secrets", created_by=outsider)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def member_client(member):
    return _client_for(member)


@pytest.fixture
def manager_client(manager):
    return _client_for(manager)


@pytest.fixture
def viewer_client(viewer):
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Counts kept in the cache (password-reset and API login throttles) start at zero in every test, whatever the backend."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {name: {**config, "KEY_PREFIX": prefix} for name, config in settings.CACHES.items()}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are created in almost every test: a cheap hasher keeps the suite quick (production keeps PBKDF2)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the upload protocol ------------------------------------------------------------------------


@pytest.fixture
def eager_tasks():
    """Celery tasks run in the calling process as soon as they are queued, and their errors propagate."""
    from portal.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def upload_session(project, member):
    """An open session of images, opened by `member` (an uploader) on `project`."""
    from datetime import date

    from uploads.models import UploadSession

    return UploadSession.objects.create(
        project=project,
        created_by=member,
        asset_type=UploadSession.AssetType.IMAGE,
        source=UploadSession.Source.DIRECT,
        view_name="North gate, camera 2",
        capture_date=date(2026, 11, 20),
    )


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server, started once for the whole run."""
    from tests import s3

    with s3.moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def gcs_endpoint(tmp_path_factory):
    """gcp-storage-emulator, started once for the whole run (tests/cloud_emulators.py)."""
    from tests import cloud_emulators

    with cloud_emulators.gcs_emulator(tmp_path_factory.mktemp("gcs-emulator")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory):
    """Azurite's blob service, started once for the whole run; its well-known account's URL (tests/cloud_emulators.py)."""
    from tests import cloud_emulators

    with cloud_emulators.azurite(tmp_path_factory.mktemp("azurite")) as account_url:
        yield account_url


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """The default storage is a fresh bucket on the S3-compatible endpoint; returns the bucket name."""
    from tests import s3

    bucket = s3.create_bucket(s3_endpoint)
    settings.STORAGES = {**settings.STORAGES, "default": s3.storage_settings(s3_endpoint, bucket)}
    return bucket


@pytest.fixture(params=["embedded", "s3"])
def storage_backend(request) -> str:
    """Runs a test once on the embedded storage and once on an S3-compatible endpoint (moto)."""
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


@pytest.fixture
def queued_processing(monkeypatch) -> list:
    """Media processing is another part's job: record the assets it would get instead of running it."""
    queued: list = []
    monkeypatch.setattr("assets.services.asset_queue_processing", lambda *, asset: queued.append(asset))
    return queued
