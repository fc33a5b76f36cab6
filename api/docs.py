"""A readable page of the API, rendered on the server from the OpenAPI document (no third-party script)."""

import re

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from api import api

_METHODS = ("get", "post", "put", "patch", "delete")
_CODE = re.compile(r"`([^`]+)`")


def _prose(text: str) -> SafeString:
    """Descriptions with `code` spans (as the OpenAPI document writes them) as HTML."""
    return mark_safe(_CODE.sub(r"<code>\1</code>", escape(text or "")))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_of(schema: dict) -> str:
    """A short human description of a JSON schema: "string (uuid)", "list of Asset", "integer or null"..."""
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    for combiner in ("anyOf", "oneOf"):
        if combiner in schema:
            return " or ".join(_type_of(option) for option in schema[combiner])
    if "enum" in schema:
        return "one of " + ", ".join(f"“{value}”" for value in schema["enum"])
    if "const" in schema:
        return f"“{schema['const']}”"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return kind


def _limits(schema: dict) -> str:
    words = []
    for key, label in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("minLength", "length ≥"),
                       ("maxLength", "length ≤"), ("minItems", "items ≥"), ("maxItems", "items ≤"), ("pattern", "matches")):
        if key in schema:
            words.append(f"{label} {schema[key]}")
    return ", ".join(words)


def _fields(schema: dict, components: dict) -> list[dict]:
    if "$ref" in schema:
        schema = components.get(_ref_name(schema["$ref"]), {})
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type_of(prop),
            "required": name in required,
            "description": _prose(prop.get("description", "")),
            "limits": _limits(prop),
            "default": prop.get("default"),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operations(document: dict) -> list[dict]:
    components = document.get("components", {}).get("schemas", {})
    groups: dict[str, list[dict]] = {}
    for path, item in document["paths"].items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for status, response in operation.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                responses.append({"status": str(status), "description": response.get("description", ""),
                                  "type": _type_of(schema) if schema else ""})
            groups.setdefault((operation.get("tags") or ["Other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "anchor": operation.get("operationId", f"{method}-{path}"),
                    "summary": operation.get("summary", ""),
                    "description": _prose(operation.get("description", "")),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _type_of(p.get("schema", {})),
                            "description": _prose(p.get("description") or p.get("schema", {}).get("description", "")),
                            "limits": _limits(p.get("schema", {})),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _fields(body, components) if body else [],
                    "body_type": _type_of(body) if body else "",
                    "responses": sorted(responses, key=lambda r: str(r["status"])),
                    "login": path.endswith("/login"),
                }
            )
    return [{"tag": tag, "operations": operations} for tag, operations in groups.items()]


@login_required
def api_docs(request: HttpRequest) -> HttpResponse:
    """Every endpoint of /api/v1/ with its parameters, body fields and answers."""
    document = api.get_openapi_schema(path_params={})
    base_url = request.build_absolute_uri(reverse("api:api-root")).rstrip("/")
    return render(
        request,
        "api/api_docs.html",
        {
            "document": document,
            "groups": _operations(document),
            "schemas": [
                {"name": name, "fields": _fields(schema, {})}
                for name, schema in sorted(document.get("components", {}).get("schemas", {}).items())
            ],
            "base_url": base_url,
            "openapi_url": reverse("api:openapi-json"),
            "description": _prose(document["info"].get("description", "")),
            "tab": "api",
        },
    )
