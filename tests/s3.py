"""An S3-compatible endpoint for tests and benchmarks: moto's server mode, on 127.0.0.1, stopped at the end."""

import socket
import threading
import time
import uuid
from contextlib import contextmanager

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Outage:
    """A switch in front of moto: while it is on, every S3 request is answered with `status` and moto never sees it
    (what a store under maintenance or overload answers)."""

    def __init__(self):
        self.status = 0
        self.until = 0.0
        self.refused = 0

    def answer(self, status: int, *, seconds: float) -> None:
        self.status, self.until = status, time.monotonic() + seconds

    def wrap(self, app):
        def outage_or_moto(environ, start_response):
            if self.status and time.monotonic() < self.until:
                self.refused += 1
                body = f"<Error><Code>ServiceUnavailable</Code><Message>outage ({self.status})</Message></Error>".encode()
                start_response(f"{self.status} Outage", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
                return [body]
            return app(environ, start_response)

        return outage_or_moto


@contextmanager
def moto_server(outage: Outage | None = None):
    """Runs moto's S3 server in a thread of this process; yields its endpoint URL. With `outage`, the switch stands in
    front of it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", free_port(), outage.wrap(app) if outage else app, threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def create_bucket(endpoint: str, name: str | None = None) -> str:
    """A fresh bucket that browsers may upload to directly (CORS exposing ETag, for multipart)."""
    name = name or f"assets-{uuid.uuid4().hex[:12]}"
    s3 = client(endpoint)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": ["*"],
                    "AllowedMethods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    return name


def storage_settings(endpoint: str, bucket: str) -> dict:
    """The STORAGES["default"] entry the portal builds from AWS_* variables, for this endpoint and bucket."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "client_config": Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        },
    }


def environment(endpoint: str, bucket: str) -> dict[str, str]:
    """The same as environment variables, for a portal started in another process."""
    return {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_ADDRESSING_STYLE": "path",
    }
