"""With PORTAL_ENV=production, the portal under gunicorn (as the Procfile starts it) answers a page with HSTS, the
Content-Security-Policy and secure cookies, and sends plain HTTP to HTTPS: what `curl -I` shows an operator."""

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.s3 import free_port
from tests.test_settings_env import PRODUCTION_ENV

HOST = "portal.example.com"


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def production_portal(tmp_path, **env):
    """gunicorn on 127.0.0.1 with the production settings; stopped when the block ends."""
    port = free_port()
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        **PRODUCTION_ENV,
        **env,
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "portal.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--graceful-timeout", "1"],
        cwd=settings.BASE_DIR, env=clean_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if server.poll() is not None:
                pytest.fail(f"gunicorn exited: {server.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not listen within 60 s")
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def head(port: int, path: str, **headers) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("HEAD", path, headers={"Host": HOST, **headers})
    return connection.getresponse()


def test_a_page_over_https_carries_hsts_the_csp_and_secure_cookies(tmp_path):
    with production_portal(tmp_path) as port:
        # The TLS-terminating proxy on this host says the request came over HTTPS.
        response = head(port, "/accounts/login/", **{"X-Forwarded-Proto": "https"})

    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    policy = response.getheader("Content-Security-Policy")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "frame-ancestors 'none'" in policy
    # The page shows stored files and sends uploads to the bucket (AWS, us-east-1 by default).
    assert "connect-src 'self' https://portal-assets.s3.amazonaws.com;" in policy
    csrf_cookie = response.getheader("Set-Cookie")
    assert csrf_cookie.startswith("csrftoken=") and "; Secure" in csrf_cookie and "SameSite=Lax" in csrf_cookie
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"


def test_plain_http_is_redirected_to_https(tmp_path):
    with production_portal(tmp_path) as port:
        response = head(port, "/accounts/login/?next=/projects/")

    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/accounts/login/?next=/projects/"


def test_behind_a_proxy_that_redirects_itself_the_redirect_can_be_turned_off(tmp_path):
    with production_portal(tmp_path, SECURE_SSL_REDIRECT="false") as port:
        response = head(port, "/accounts/login/")

    assert response.status == 200
    # HSTS is only sent over HTTPS: a plain-HTTP answer cannot pin the host.
    assert response.getheader("Strict-Transport-Security") is None
    assert response.getheader("Content-Security-Policy")
