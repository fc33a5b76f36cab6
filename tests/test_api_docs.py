"""The API's OpenAPI document and the readable reference page rendered from it."""

from django.test import Client
from django.urls import reverse

ENDPOINTS = [
    ("POST", "/api/v1/login"),
    ("POST", "/api/v1/assets"),
    ("GET", "/api/v1/assets"),
    ("GET", "/api/v1/assets/{asset_id}"),
    ("POST", "/api/v1/assets/{asset_id}/upload"),
    ("DELETE", "/api/v1/assets/{asset_id}/upload"),
    ("GET", "/api/v1/workflows"),
    ("POST", "/api/v1/workflows/{workflow_id}/batches"),
    ("GET", "/api/v1/workflows/{workflow_id}/batches"),
    ("GET", "/api/v1/batches/{batch_id}"),
    ("POST", "/api/v1/batches/{batch_id}/records/assets"),
    ("GET", "/api/v1/batches/{batch_id}/records"),
]


def test_the_openapi_document_describes_every_endpoint_and_both_credentials(db):
    document = Client().get("/api/v1/openapi.json").json()

    for method, path in ENDPOINTS:
        assert method.lower() in document["paths"][path], (method, path)
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key", "description": schemes["apiKey"]["description"]}
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert document["paths"]["/api/v1/login"]["post"]["security"] == [{"apiKey": []}]
    assert document["paths"]["/api/v1/assets"]["post"]["security"] == [{"apiKey": [], "bearerAuth": []}]


def test_the_reference_page_lists_every_endpoint_with_its_fields(owner_client):
    response = owner_client.get(reverse("api_docs"))

    content = response.content.decode()
    assert response.status_code == 200
    for method, path in ENDPOINTS:
        assert f"{method}</span> <code>{path}</code>" in content, (method, path)
    for field in ("fileName", "frameCount", "assetIds", "pageSize", "access_token", "assetValidationErrors"):
        assert f"<code>{field}</code>" in content, field
    assert "http://testserver/api/v1" in content
    assert "<script" not in content.split("</head>")[1]  # server-rendered: no third-party script in the page


def test_lists_document_their_paging_headers(db):
    document = Client().get("/api/v1/openapi.json").json()

    for path in ("/api/v1/assets", "/api/v1/workflows", "/api/v1/workflows/{workflow_id}/batches", "/api/v1/batches/{batch_id}/records"):
        assert set(document["paths"][path]["get"]["responses"]["200"]["headers"]) == {"X-Total-Count", "Link"}
    assert "headers" not in document["paths"]["/api/v1/assets/{asset_id}"]["get"]["responses"]["200"]


def test_code_in_descriptions_is_shown_as_code_and_the_api_link_is_current(owner_client):
    content = owner_client.get(reverse("api_docs")).content.decode()

    assert "<code>x-api-key</code>" in content
    assert "`" not in content.split("<main")[1].split("<pre")[0]
    assert f'<a href="{reverse("api_docs")}" aria-current="page">API</a>' in content
