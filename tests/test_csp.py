"""The Content-Security-Policy of pages (portal/csp.py): only the portal's own scripts and styles, and the
object store's origin where pages show and send files. tests/e2e fails on any violation in Chromium."""

import re
from pathlib import Path

import pytest
from botocore.config import Config
from django.conf import settings
from django.http import HttpResponse
from django.templatetags.static import static
from django.test import RequestFactory
from django.urls import reverse

from assets import storage
from portal.csp import ContentSecurityPolicyMiddleware
from tests import s3


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


def assert_strict(policy: dict[str, list[str]]) -> None:
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["worker-src"] == ["'self'"]
    assert policy["font-src"] == ["'self'"]
    everything = " ".join(value for values in policy.values() for value in values)
    assert "unsafe-inline" not in everything and "unsafe-eval" not in everything and "*" not in everything


@pytest.mark.parametrize(
    "page",
    [
        lambda project, session: reverse("projects:list"),
        lambda project, session: reverse("assets:list", args=[project.pk]),
        lambda project, session: reverse("uploads:list", args=[project.pk]),
        lambda project, session: reverse("uploads:new", args=[project.pk]),
        lambda project, session: reverse("uploads:detail", args=[project.pk, session.pk]),
        lambda project, session: reverse("assets:batches", args=[project.pk]),
        lambda project, session: reverse("projects:members", args=[project.organization.pk]),
        lambda project, session: reverse("profile"),
        lambda project, session: reverse("api_docs"),
        lambda project, session: reverse("admin:index"),
    ],
    ids=["projects", "assets", "uploads", "new-upload", "session", "batches", "members", "profile", "api-docs", "admin"],
)
def test_pages_allow_only_the_portals_own_scripts_and_styles(owner, owner_client, project, upload_session, page):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    response = owner_client.get(page(project, upload_session))
    assert response.status_code == 200
    assert_strict(policy_of(response))


def test_the_login_page_has_the_policy_before_anyone_logs_in(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    policy = policy_of(response)
    assert_strict(policy)
    assert policy["connect-src"] == ["'self'"]


def test_htmx_fragments_carry_the_policy_too(member_client, project):
    response = member_client.get(reverse("assets:list", args=[project.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert_strict(policy_of(response))


def test_on_embedded_storage_files_come_from_the_portals_own_address(member_client, project):
    policy = policy_of(member_client.get(reverse("projects:list")))
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["media-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]


def _origin(url: str) -> str:
    return re.match(r"^https?://[^/]+", url).group(0)


@pytest.mark.parametrize(
    ("endpoint", "style", "region"),
    [
        ("http://127.0.0.1:9", "path", "us-east-1"),
        ("https://objects.example.test:9443", "virtual", "us-east-1"),
        (None, "auto", "eu-west-1"),
    ],
    ids=["path-style-endpoint", "virtual-hosted-endpoint", "aws"],
)
def test_on_s3_pages_may_show_and_send_files_to_the_buckets_origin(settings, member_client, endpoint, style, region):
    options = s3.storage_settings(endpoint, "portal-assets")
    options["OPTIONS"]["region_name"] = region
    options["OPTIONS"]["client_config"] = options["OPTIONS"]["client_config"].merge(Config(s3={"addressing_style": style}))
    settings.STORAGES = {**settings.STORAGES, "default": options}
    key = storage.new_key(organization_id="org", asset_id="asset", extension=".png")
    put = _origin(storage.presign("put", key, size=3, content_type="image/png")["url"])
    get = _origin(storage.presign("get", key, content_type="image/png")["url"])

    policy = policy_of(member_client.get(reverse("projects:list")))

    assert put == get
    assert policy["connect-src"] == ["'self'", put]
    assert policy["img-src"] == ["'self'", "data:", get]
    assert policy["media-src"] == ["'self'", get]
    assert_strict(policy)


def test_the_hash_worker_is_served_without_the_page_policy_so_it_may_compile_webassembly(client):
    # Chromium holds a worker to its own response's policy: script-src 'self' there would refuse hash-wasm (files
    # over 32 MiB). Static files are served by WhiteNoise, above the CSP middleware, as in production.
    response = client.get(static("dist/hash-worker.js"))
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers


def test_a_response_with_its_own_policy_keeps_it():
    sandboxed = HttpResponse(headers={"Content-Security-Policy": "sandbox"})
    middleware = ContentSecurityPolicyMiddleware(lambda request: sandboxed)
    assert middleware(RequestFactory().get("/"))["Content-Security-Policy"] == "sandbox"


# Markup the policy refuses: inline scripts, event-handler attributes, style attributes and <style> blocks, htmx's
# hx-on (evaluated with Function) and trigger filters such as toggle[open] (evaluated with eval). Emails are not pages.
_REFUSED = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|\shx-on\b|\shx-on:|javascript:", re.IGNORECASE)
_TRIGGER = re.compile(r'hx-trigger="([^"]*)"')


def _refused(line: str) -> bool:
    line = re.sub(r"\{#.*?#\}", "", line)
    filtered = any("[" in spec.split()[0] for trigger in _TRIGGER.findall(line) for spec in trigger.split(",") if spec.strip())
    return filtered or bool(_REFUSED.search(line))


def test_templates_hold_nothing_the_policy_would_refuse():
    offending = []
    for path in sorted(Path(settings.BASE_DIR, "templates").rglob("*")):
        if path.suffix not in (".html", ".svg") or "email" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if _refused(line):
                offending.append(f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()[:120]}")
    assert not offending, "\n".join(offending)
