"""Google Cloud Storage and Azure Blob Storage for tests, on 127.0.0.1, stopped at the end.

- gcp-storage-emulator (PyPI, a dev dependency) serves the GCS JSON API and signed-URL downloads. It does not
  check tokens, so `google_token_endpoint` plays Google's OAuth token endpoint (the key's token_uri): it verifies
  the JWT each client signs with its service-account key against the keys it knows, as Google does, and answers
  invalid_grant for any other key.
- Azurite (npm, a devDependency in package.json that `make setup` installs) checks Shared Key and SAS signatures
  of its well-known development account.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt
from google.auth.exceptions import GoogleAuthError

from tests.s3 import free_port

# Azurite's well-known development account (the legacy storage emulator's), the same on every install.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
AZURITE = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "azurite-blob"


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"{what} did not start: {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.1)


@contextmanager
def _server(command: list[str], log: Path, what: str, port: int, cwd: Path):
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        try:
            _wait_for_port(port, process, log, what)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def gcs_emulator(workdir: Path):
    """gcp-storage-emulator in memory on 127.0.0.1; yields its endpoint URL."""
    port = free_port()
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"]
    with _server(command, workdir / "gcs-emulator.log", "gcp-storage-emulator", port, workdir):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def azurite(workdir: Path):
    """Azurite's blob service in memory on 127.0.0.1; yields the well-known account's blob endpoint URL."""
    if not AZURITE.exists():
        message = f"Azurite is not installed ({AZURITE}): `npm ci` installs it from package.json."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    command = [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
               "--disableTelemetry", "--skipApiVersionCheck", "--silent"]
    with _server(command, workdir / "azurite.log", "Azurite", port, workdir):
        yield f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_key(private_key: rsa.RSAPrivateKey, *, token_uri: str, email: str = "portal-reader@survey.iam.gserviceaccount.com") -> str:
    """A service-account JSON key file, as Google Cloud's console gives it."""
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return json.dumps({
        "type": "service_account", "project_id": "survey", "private_key_id": "k1", "private_key": pem.decode(),
        "client_email": email, "client_id": "1", "token_uri": token_uri,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    })


@contextmanager
def google_token_endpoint(known_keys: list[rsa.RSAPrivateKey]):
    """An OAuth token endpoint on 127.0.0.1 that grants a token only to a JWT signed by one of `known_keys`; yields
    its URL (a key's token_uri)."""
    public_pems = [key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                   for key in known_keys]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            assertion = form.get("assertion", [""])[0]
            granted = False
            for pem in public_pems:
                try:
                    # Google's libraries address the assertion to Google's token URL whatever token_uri says.
                    jwt.decode(assertion, certs=pem, verify=True, audience=GOOGLE_TOKEN_URL)
                    granted = True
                except (ValueError, GoogleAuthError):
                    continue
            status, body = (200, {"access_token": "granted", "expires_in": 3600, "token_type": "Bearer"}) if granted else (
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
