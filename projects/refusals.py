"""The portal's one family of refusals: what a service raises when it turns a request down whole.

Every app's refusals derive from `Refused` (UploadRefused, BatchRefused, LastAdminError, ...). Nothing was changed,
`message` says what was wrong and what to do, and `status` is the HTTP status both doors answer with: the pages map
a refusal to a response in one place (portal/middleware.py), the REST API in one other (api/errors.py).
It lives in the lowest app so that every layer can raise it (docs/ARCHITECTURE.md, "Refusals").
"""


class Refused(Exception):
    """A request turned down whole; nothing was changed."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
