"""The Content-Security-Policy of every page: settings.SECURE_CSP, plus the object store's address.

Pages show stored files (thumbnails, images, video) and browsers send files straight to the store, so on S3
the bucket's origin joins img-src, media-src and connect-src. It is worked out from the storage the portal
signs with, so it is the address browsers are actually handed (endpoint, region, addressing style).
"""

from django.conf import settings
from django.middleware import csp
from django.utils.csp import CSP, build_policy

from assets import storage

# Where pages reach stored files: <img>, <video> and the browser's PUTs.
STORAGE_DIRECTIVES = ("img-src", "media-src", "connect-src")


# Where a page shows a file of a customer's bucket (storage.show_in_page): it is never sent there.
SHOWN_DIRECTIVES = ("img-src", "media-src")


def page_policy(shown_origins=()) -> dict[str, list[str]]:
    """SECURE_CSP with the object store's origin added to the directives through which pages reach stored files,
    and the origins of customers' buckets this page shows a file from (`shown_origins`) to img-src and media-src."""
    policy = settings.SECURE_CSP
    origin = storage.browser_origin()
    extra = {directive: [origin] if origin else [] for directive in STORAGE_DIRECTIVES}
    for directive in SHOWN_DIRECTIVES:
        extra[directive] = [*extra[directive], *sorted(set(shown_origins) - set(extra[directive]))]
    return {directive: [*values, *extra.get(directive, [])] for directive, values in policy.items()}


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    """Django's CSP middleware, enforcing page_policy(); a response that set its own policy keeps it."""

    def process_response(self, request, response):
        if settings.SECURE_CSP and CSP.HEADER_ENFORCE not in response:
            response.headers[str(CSP.HEADER_ENFORCE)] = build_policy(page_policy(storage.page_origins(request)), csp.get_nonce(request))
        return super().process_response(request, response)
