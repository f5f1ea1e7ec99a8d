"""The API's OpenAPI document is valid, complete, and true of the running app.

schemathesis generates requests from the schema (valid and invalid ones) and sends them
to the WSGI app in-process; each answer must be no 5xx and must match the schema: a
documented status code, content type and body shape.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cadences.services import enrolment_start
from leads.services import api_token_create
from tests.factories import LeadFactory
from tests.integration.engine_helpers import make_cadence

CONTRACT_OPERATIONS = {
    ("post", "/api/leads/"),
    ("post", "/api/touches/"),
    ("post", "/api/signals/"),
    ("get", "/api/queue/"),
    ("get", "/api/leads/{id}/"),
    ("patch", "/api/leads/{id}/"),
    ("get", "/api/reports/{name}/"),
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def openapi_document() -> dict:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_openapi_document_is_valid_openapi_3(db):
    document = openapi_document()
    assert document["openapi"].startswith("3.")
    validate(document)


def test_every_contract_operation_is_in_the_schema_and_needs_a_bearer_token(db):
    document = openapi_document()
    operations = {(m, p) for p, methods in document["paths"].items() for m in methods}
    assert operations >= CONTRACT_OPERATIONS
    schemes = document["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"}
    for method, path in CONTRACT_OPERATIONS:
        assert document["paths"][path][method]["security"], (method, path)


def test_the_docs_page_serves_swagger_ui_from_our_own_static_files(db):
    html = Client().get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


@pytest.fixture
def api_schema(db):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: the real WSGI handler closes the database connection
    after each request, which mid-transaction kills the test's connection (harmless on
    in-memory SQLite, fatal on PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def manager_key(db, manager, rep, settings):
    settings.FOLLOWUP_API_RATE_PER_MINUTE = 0  # the fuzzer sends hundreds a minute
    _, key = api_token_create(user=manager, name="schemathesis")
    return key


@pytest.fixture
def lead_id(rep):
    cadence = make_cadence("Fuzzed")
    lead = LeadFactory(owner=rep, email="fuzz@example.com")
    enrolment_start(lead=lead, cadence=cadence, now=timezone.now())
    return lead.id


def aim_at_a_real_lead(case, lead_id: int) -> None:
    """Point generated lead ids at a real lead, so the fuzz reaches past the 404."""
    if isinstance((case.path_parameters or {}).get("id"), int):
        case.path_parameters["id"] = lead_id
    if isinstance(case.body, dict) and isinstance(case.body.get("lead_id"), int):
        case.body["lead_id"] = lead_id


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_its_schema_says(case, manager_key, lead_id):
    aim_at_a_real_lead(case, lead_id)
    case.call_and_validate(headers={"Authorization": f"Bearer {manager_key}"}, checks=CHECKS)
