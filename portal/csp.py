"""The Content-Security-Policy of every page: settings.SECURE_CSP, plus the object store's address.

Pages show stored files (thumbnails, images, video) and browsers send files straight to the store, so on S3
the bucket's origin joins img-src, media-src and connect-src. It is worked out from the storage the portal
signs with, so it is the address browsers are actually handed (endpoint, region, addressing style).
"""

import weakref
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.middleware import csp
from django.utils.csp import CSP, build_policy

# Where pages reach stored files: <img>, <video> and the browser's PUTs.
STORAGE_DIRECTIVES = ("img-src", "media-src", "connect-src")

# Per storage object: a settings change (STORAGES) makes a new one.
_ORIGINS: "weakref.WeakKeyDictionary[Storage, str | None]" = weakref.WeakKeyDictionary()


def storage_origin() -> str | None:
    """scheme://host[:port] of the object store's URLs, or None when they are the portal's own (embedded storage)."""
    storage = storages["default"]
    if storage not in _ORIGINS:
        _ORIGINS[storage] = None if isinstance(storage, FileSystemStorage) else _s3_origin(storage)
    return _ORIGINS[storage]


def _s3_origin(storage) -> str:
    # The unsigned client resolves the same endpoint as the signing one, without needing credentials.
    client = storage.unsigned_connection.meta.client
    url = urlsplit(client.generate_presigned_url("put_object", Params={"Bucket": storage.bucket_name, "Key": "_"}))
    return f"{url.scheme}://{url.netloc}"


def page_policy() -> dict[str, list[str]]:
    """SECURE_CSP with the object store's origin added to the directives through which pages reach stored files."""
    policy = settings.SECURE_CSP
    origin = storage_origin()
    if not origin:
        return policy
    return {directive: [*values, origin] if directive in STORAGE_DIRECTIVES else values for directive, values in policy.items()}


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    """Django's CSP middleware, enforcing page_policy(); a response that set its own policy keeps it."""

    def process_response(self, request, response):
        if settings.SECURE_CSP and CSP.HEADER_ENFORCE not in response:
            response.headers[str(CSP.HEADER_ENFORCE)] = build_policy(page_policy(), csp.get_nonce(request))
        return super().process_response(request, response)
