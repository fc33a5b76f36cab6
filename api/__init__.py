"""The public REST API under /api/v1/ (seed 001's flow), on top of the same services as the pages.

Every call carries `x-api-key`; all but /login also `Authorization: Bearer <token from /login>`.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from api import assets, auth, workflows
from api.errors import ApiError, KeyRefused, TokenRefused
from projects.refusals import Refused
from api.security import ApiKeyAndToken

LOGIN_PATH = "/login"
_PAGE_HEADERS = {
    "X-Total-Count": {"description": "Rows in the whole list.", "schema": {"type": "integer"}},
    "Link": {"description": "URLs of the first, previous, next and last pages (RFC 8288).", "schema": {"type": "string"}},
}


class PortalAPI(NinjaAPI):
    def validation_error_from_error_contexts(self, error_contexts) -> ValidationError:
        # Like ninja's, but keeps a short scalar input so the message can name the value that did not fit.
        errors = []
        for context in error_contexts:
            model = context.model
            for error in context.pydantic_validation_error.errors(include_url=False):
                value = error.get("input")
                loc = (model.__ninja_param_source__,) + model.__ninja_flatten_map_reverse__.get(error["loc"], error["loc"])
                entry = {"loc": loc, "msg": error["msg"], "type": error["type"]}
                if isinstance(value, (str, int, float)) and not isinstance(value, bool) and len(str(value)) <= 200:
                    entry["input"] = value
                errors.append(entry)
        return ValidationError(errors)

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {})["securitySchemes"] = {
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "An API key from your profile page."},
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The access_token from POST /login."},
        }
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                login = path.endswith(LOGIN_PATH)
                operation["security"] = [{"apiKey": []}] if login else [{"apiKey": [], "bearerAuth": []}]
                responses = operation.setdefault("responses", {})
                listed = responses.get(200, responses.get("200", {}))
                if listed.get("content", {}).get("application/json", {}).get("schema", {}).get("type") == "array":
                    listed["headers"] = _PAGE_HEADERS
                responses.setdefault("403", {"description": "Missing or unknown API key."})
                if not login:
                    responses.setdefault("401", {"description": "Missing, wrong or expired token (empty body)."})
        return schema


api = PortalAPI(
    title="Asset Upload Portal API",
    version="1",
    description=(
        "Register assets, upload their files through signed URLs, and group them in batches of input records. "
        "Send your API key in `x-api-key` on every request, and the token from `POST /login` as "
        "`Authorization: Bearer <token>` on every other one. Lists take `page`, `pageSize` and `sort` and answer "
        "with `Link` and `X-Total-Count` headers."
    ),
    urls_namespace="api",
    docs_url=None,
    openapi_url="/openapi.json",
    auth=ApiKeyAndToken(),
)


def _message(api_: NinjaAPI, request: HttpRequest, status: int, message: str, **extra: Any) -> HttpResponse:
    return api_.create_response(request, {"message": message, **extra}, status=status)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _message(api, request, exc.status, exc.message, **exc.extra)


@api.exception_handler(Refused)
def _refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    """A service turned the request down (docs/ARCHITECTURE.md, "Refusals"): seed 001's {"message"} with its status."""
    return _message(api, request, exc.status, exc.message)


@api.exception_handler(KeyRefused)
def _key_refused(request: HttpRequest, exc: KeyRefused) -> HttpResponse:
    return _message(api, request, 403, "Send an active API key in the x-api-key header.")


@api.exception_handler(TokenRefused)
def _token_refused(request: HttpRequest, exc: TokenRefused) -> HttpResponse:
    response = HttpResponse(status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _message(api, request, 404, "Not found.")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _message(api, request, 403, str(exc) or "Your role does not allow this.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    response = _message(api, request, exc.status_code, exc.message)
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        # ("path", "batch_id") -> "batch_id"; ("body", "payload", "assetIds", 3) -> "assetIds.3"
        field = ".".join(loc[2:] if len(loc) > 2 and loc[0] == "body" else loc[1:]) or (loc[0] if loc else "request")
        entry = {"field": field, "message": error.get("msg", "Not valid.")}
        if "input" in error:
            entry["value"] = error["input"]
        errors.append(entry)
    first = exc.errors[0] if exc.errors else {}
    if first.get("type") == "uuid_parsing" and "input" in first:
        message = f"Invalid UUID string: {first['input']}"
    else:
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "The request is not valid."
    return _message(api, request, 422, message, errors=errors)


api.add_router("", auth.router)
api.add_router("", assets.router)
api.add_router("", workflows.router)
