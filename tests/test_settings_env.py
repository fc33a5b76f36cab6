"""portal/env.py's strict readers, and settings.py refusing what production cannot run without."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_int, env_list, parse_email_url

# --- env_bool ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["true", "True", "1", "yes", "on", " TRUE "])
def test_env_bool_reads_true(monkeypatch, raw):
    monkeypatch.setenv("PORTAL_TEST_FLAG", raw)
    assert env_bool("PORTAL_TEST_FLAG", False) is True


@pytest.mark.parametrize("raw", ["false", "False", "0", "no", "off"])
def test_env_bool_reads_false(monkeypatch, raw):
    monkeypatch.setenv("PORTAL_TEST_FLAG", raw)
    assert env_bool("PORTAL_TEST_FLAG", True) is False


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_falls_back_to_the_default_when_unset_or_empty(monkeypatch, default):
    monkeypatch.delenv("PORTAL_TEST_FLAG", raising=False)
    assert env_bool("PORTAL_TEST_FLAG", default) is default
    monkeypatch.setenv("PORTAL_TEST_FLAG", "")
    assert env_bool("PORTAL_TEST_FLAG", default) is default


def test_env_bool_refuses_maybe_naming_the_variable(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_TEST_FLAG='maybe' is not a boolean"):
        env_bool("PORTAL_TEST_FLAG", False)


# --- env_int ----------------------------------------------------------------------------------


def test_env_int_reads_a_whole_number(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_COUNT", " 42 ")
    assert env_int("PORTAL_TEST_COUNT", 7, minimum=1) == 42


def test_env_int_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("PORTAL_TEST_COUNT", raising=False)
    assert env_int("PORTAL_TEST_COUNT", 7) == 7


@pytest.mark.parametrize("raw", ["abc", "1.5", "10k"])
def test_env_int_refuses_what_is_not_a_whole_number(monkeypatch, raw):
    monkeypatch.setenv("PORTAL_TEST_COUNT", raw)
    with pytest.raises(ImproperlyConfigured, match=rf"PORTAL_TEST_COUNT='{raw}' is not a whole number"):
        env_int("PORTAL_TEST_COUNT", 7)


def test_env_int_refuses_a_value_below_the_minimum(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_COUNT", "59")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_COUNT=59 is below the minimum of 60"):
        env_int("PORTAL_TEST_COUNT", 900, minimum=60)


def test_env_int_accepts_the_minimum_itself(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_COUNT", "60")
    assert env_int("PORTAL_TEST_COUNT", 900, minimum=60) == 60


# --- env_choice and env_list ------------------------------------------------------------------


def test_env_choice_refuses_an_unknown_value_naming_the_variable(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_MODE", "staging")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_MODE='staging' is not one of: development, production"):
        env_choice("PORTAL_TEST_MODE", ("development", "production"), "development")


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_HOSTS", " a.example.com, ,b.example.com,")
    assert env_list("PORTAL_TEST_HOSTS", ["default"]) == ["a.example.com", "b.example.com"]


# --- parse_email_url --------------------------------------------------------------------------


def test_parse_email_url_reads_plain_smtp():
    assert parse_email_url("smtp://mailer:s%40cret@mail.example.com") == {
        "host": "mail.example.com",
        "port": 25,
        "username": "mailer",
        "password": "s@cret",
        "use_tls": False,
        "use_ssl": False,
    }


def test_parse_email_url_reads_smtp_with_starttls():
    parsed = parse_email_url("smtp+tls://mailer:pw@mail.example.com")
    assert (parsed["port"], parsed["use_tls"], parsed["use_ssl"]) == (587, True, False)


def test_parse_email_url_reads_smtps():
    parsed = parse_email_url("smtps://mailer:pw@mail.example.com")
    assert (parsed["port"], parsed["use_tls"], parsed["use_ssl"]) == (465, False, True)


def test_parse_email_url_keeps_an_explicit_port_and_allows_no_credentials():
    parsed = parse_email_url("smtp+tls://relay.internal:2525")
    assert parsed["port"] == 2525
    assert (parsed["username"], parsed["password"]) == ("", "")


@pytest.mark.parametrize("url", ["http://mail.example.com", "https://mail.example.com", "mail.example.com:25"])
def test_parse_email_url_refuses_other_schemes(url):
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL scheme .* is not supported"):
        parse_email_url(url)


def test_parse_email_url_refuses_a_url_without_host():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL has no host name"):
        parse_email_url("smtp://")


# --- settings.py in a fresh process -----------------------------------------------------------

PRODUCTION_ENV = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:pw@db.example.com:5432/portal",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "AWS_STORAGE_BUCKET_NAME": "portal-assets",
    "EMAIL_URL": "smtp+tls://mailer:pw@mail.example.com:587",
}

# Prints the settings a fresh process ends up with, so tests see what an operator would get.
_SHOW_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
from portal.celery import app
transport = app.connection_for_write().get_transport_cls()
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "database": settings.DATABASES["default"]["ENGINE"],
    "database_connections_kept_for": settings.DATABASES["default"]["CONN_MAX_AGE"],
    "storage": settings.STORAGES["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "broker_transport": f"{transport.__module__}.{transport.__name__}",
    "email": settings.MAILERS["default"]["BACKEND"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "sessions": settings.SESSION_ENGINE,
}))
"""


def _load_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    """Imports the settings in a new interpreter whose environment holds only `env` (and what Python needs)."""
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", _SHOW_SETTINGS],
        cwd=settings.BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_with_nothing_set_the_portal_runs_on_embedded_defaults(tmp_path):
    result = _load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "DEBUG": False,
        "database": "django.db.backends.sqlite3",
        "database_connections_kept_for": 60,
        "storage": "django.core.files.storage.FileSystemStorage",
        "broker": "filesystem://",
        "broker_transport": "portal.broker.Transport",
        "email": "django.core.mail.backends.filebased.EmailBackend",
        "cache": "django.core.cache.backends.filebased.FileBasedCache",
        "sessions": "django.contrib.sessions.backends.db",
    }
    # The embedded parts keep their data under PORTAL_VAR_DIR.
    assert (tmp_path / "var" / "secret_key").exists()


def test_production_starts_when_every_required_variable_is_set(tmp_path):
    result = _load_settings(tmp_path, **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "DEBUG": False,
        "database": "django.db.backends.postgresql",
        "database_connections_kept_for": 60,
        "storage": "storages.backends.s3.S3Storage",
        "broker": "redis://redis.example.com:6379/0",
        "broker_transport": "kombu.transport.redis.Transport",
        "email": "django.core.mail.backends.smtp.EmailBackend",
        "cache": "django.core.cache.backends.redis.RedisCache",
        "sessions": "django.contrib.sessions.backends.cached_db",
    }


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "EMAIL_URL"]
)
def test_production_refuses_to_start_without_a_required_variable(tmp_path, missing):
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != missing}
    result = _load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} is not set: required when PORTAL_ENV=production" in result.stderr


def test_production_accepts_email_host_instead_of_email_url(tmp_path):
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != "EMAIL_URL"}
    result = _load_settings(tmp_path, **env, EMAIL_HOST="mail.example.com")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["email"] == "django.core.mail.backends.smtp.EmailBackend"


def test_a_debug_value_that_is_not_a_boolean_is_refused(tmp_path):
    result = _load_settings(tmp_path, DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_an_unknown_portal_env_is_refused(tmp_path):
    result = _load_settings(tmp_path, PORTAL_ENV="prod")
    assert result.returncode != 0
    assert "PORTAL_ENV='prod' is not one of: development, production" in result.stderr


def test_an_unsupported_email_url_is_refused_at_start(tmp_path):
    result = _load_settings(tmp_path, EMAIL_URL="http://mail.example.com")
    assert result.returncode != 0
    assert "EMAIL_URL scheme 'http' is not supported" in result.stderr
