"""Shapes shared by the API's operations. Field names are the wire format: camelCase, as in seed 001."""

from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator

from api.errors import ApiError

def _storable(value: Any) -> Any:
    """Text the database can store: no NUL character and valid UTF-8 (no lone surrogates), nested values too."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("Text must not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("Text must be valid Unicode.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)
    return value


Text = Annotated[str, AfterValidator(_storable)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]


class ErrorOut(Schema):
    message: str


class FieldErrorOut(Schema):
    field: str
    message: str


class ValidationErrorOut(Schema):
    message: str
    errors: list[FieldErrorOut]


def statuses_filter(value: str, allowed: list[str], *, what: str = "status") -> set[str]:
    """The statuses a comma-separated filter names (`ready,upload_error`); an unknown one answers 422 naming those
    allowed."""
    wanted = {status.strip() for status in value.split(",") if status.strip()}
    unknown = sorted(wanted - set(allowed))
    if unknown:
        raise ApiError(422, f"Unknown {what} {unknown[0]!r}: use {', '.join(allowed)}.")
    return wanted
