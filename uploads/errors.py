"""Refusals of the upload protocol and of imports (the portal's one family: projects.refusals)."""

from projects.refusals import Refused


class UploadRefused(Refused):
    """A whole upload request is refused and nothing was changed; the message says why and what to do."""
