"""A schema-driven fuzz run: schemathesis generates requests from the OpenAPI document, a few per operation
that fit the schema and a few that do not, with valid credentials so they reach the handlers; no answer may be
a server error."""

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from accounts import services
from assets.models import Asset
from projects.models import Batch
from tests.conftest import PASSWORD

# Per operation and per mode (fitting the schema, and not).
EXAMPLES_PER_OPERATION = 10


@pytest.mark.integration
def test_no_generated_request_gets_a_server_error(live_server, owner, project, queued_processing):
    import schemathesis
    from schemathesis import GenerationMode

    _, secret = services.api_key_create(user=owner, name="fuzz")
    base = f"{live_server.url}/api/v1"
    token = requests.post(f"{base}/login", json={"username": owner.username, "password": PASSWORD},
                          headers={"x-api-key": secret}, timeout=30).json()["access_token"]
    headers = {"x-api-key": secret, "Authorization": f"Bearer {token}"}
    # Ids that exist, so some generated requests go past the 404 into the handlers' own checks.
    uploading = Asset.objects.create(organization=project.organization, project=project, name="a.jpg", original_filename="a.jpg",
                                     asset_type="image", uploaded_by=owner, storage_key=f"assets/{project.organization_id}/x/a.jpg")
    batch = Batch.objects.create(project=project, name="Fuzzed", created_by=owner)
    known = {"asset_id": str(uploading.pk), "batch_id": str(batch.pk), "workflow_id": str(project.pk), "project_id": str(project.pk)}

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    server_errors: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation.as_strategy(mode), known, headers, live_server.url, server_errors)

    assert operations >= 15
    assert server_errors == []


def _fuzz(strategy, known: dict[str, str], headers: dict[str, str], base_url: str, server_errors: list[str]) -> None:
    """Sends EXAMPLES_PER_OPERATION generated requests, half of them with path ids that exist."""


    def with_known_ids(drawn):
        case, use_known = drawn
        if use_known and case.path_parameters:
            case.path_parameters = {name: known.get(name, value) for name, value in case.path_parameters.items()}
        return case

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.tuples(strategy, st.booleans()).map(with_known_ids))
    def call(case):
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if response.status_code >= 500:
            server_errors.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r} -> {response.status_code}")

    call()
