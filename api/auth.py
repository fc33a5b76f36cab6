"""POST /login: username and password (with the API key) for a bearer token."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts import services
from api.schemas import ErrorOut, Text, ValidationErrorOut
from api.security import ApiKeyOnly

router = Router(tags=["Authentication"])


class LoginIn(Schema):
    username: Text = Field(min_length=1, max_length=150)
    password: Text = Field(min_length=1, max_length=4096)


class TokenOut(Schema):
    access_token: str
    expires_in: int
    token_type: str


class _TooManyLogins(HttpError):
    def __init__(self, retry_after: int):
        super().__init__(429, f"Too many failed logins: try again in {retry_after} seconds.")
        self.retry_after = retry_after


@router.post(
    "/login",
    auth=ApiKeyOnly(),
    response={200: TokenOut, 401: ErrorOut, 422: ValidationErrorOut, 429: ErrorOut},
    summary="Get a bearer token",
)
def login(request: HttpRequest, payload: LoginIn):
    """Checks the username and password of the person the API key belongs to and returns a bearer token,
    valid for `expires_in` seconds. Repeated failures with one key for one username are locked out for a while
    (429 with `Retry-After`)."""
    try:
        token = services.api_login(
            key=request.auth, username=payload.username, password=payload.password, request=request
        )
    except services.LoginThrottled as throttled:
        raise _TooManyLogins(throttled.retry_after) from None
    except services.LoginRefused as refused:
        return Status(401, {"message": str(refused)})
    return {"access_token": token, "expires_in": settings.API_TOKEN_EXPIRY_SECONDS, "token_type": "bearer"}
