"""Errors of the public API and the bodies they answer with (seed 001: 401 with an empty body, 403 for the key,
422 with a `message`)."""


class ApiError(Exception):
    """Answered as {"message": ..., **extra} with `status`."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


class KeyRefused(Exception):
    """No API key, or not an active one: 403."""


class TokenRefused(Exception):
    """No bearer token, or a wrong or expired one: 401 with an empty body."""
