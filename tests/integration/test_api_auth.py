"""The HTTP API's gate: tokens, body size, rate limit, and the JSON error shapes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from leads.models import ApiToken
from leads.services import api_token_create, api_token_revoke
from tests.factories import LeadFactory
from tests.integration.api_helpers import MONDAY_9_NY, client_for, post

pytestmark = pytest.mark.django_db


def test_a_request_without_a_token_is_refused_with_401():
    response = Client().get("/api/queue/")
    assert response.status_code == 401
    assert response.json() == {"error": "a valid API token is required"}


def test_an_unknown_token_is_refused_with_401(rep):
    response = Client(headers={"Authorization": "Bearer fu_not-a-real-key"}).get("/api/queue/")
    assert response.status_code == 401


def test_a_token_sent_another_way_than_bearer_is_refused(rep):
    _, key = api_token_create(user=rep)
    response = Client(headers={"Authorization": f"Token {key}"}).get("/api/queue/")
    assert response.status_code == 401


def test_a_revoked_token_is_refused_with_401(rep):
    token, key = api_token_create(user=rep)
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/queue/").status_code == 200
    api_token_revoke(token=token)
    assert client.get("/api/queue/").status_code == 401


def test_the_token_of_a_deactivated_user_is_refused(rep):
    client = client_for(rep)
    rep.is_active = False
    rep.save()
    assert client.get("/api/queue/").status_code == 401


def test_last_used_at_is_written_at_most_once_a_minute(rep, django_assert_num_queries):
    token, key = api_token_create(user=rep)
    client = Client(headers={"Authorization": f"Bearer {key}"})
    with time_machine.travel(MONDAY_9_NY, tick=False):
        client.get("/api/queue/")
    token.refresh_from_db()
    assert token.last_used_at == dt.datetime(2027, 3, 1, 14, 0, tzinfo=dt.UTC)
    with time_machine.travel("2027-03-01T14:00:59Z", tick=False):
        client.get("/api/queue/")
    token.refresh_from_db()
    assert token.last_used_at == dt.datetime(2027, 3, 1, 14, 0, tzinfo=dt.UTC)
    with time_machine.travel("2027-03-01T14:01:00Z", tick=False):
        client.get("/api/queue/")
    token.refresh_from_db()
    assert token.last_used_at == dt.datetime(2027, 3, 1, 14, 1, tzinfo=dt.UTC)


def test_a_body_over_one_megabyte_is_refused_with_413(rep):
    client = client_for(rep)
    big = '{"email": "a@example.com", "notes": "' + "x" * (1024 * 1024) + '"}'
    response = client.post("/api/leads/", data=big, content_type="application/json")
    assert response.status_code == 413
    assert "error" in response.json()


def test_past_the_rate_limit_answers_429_with_retry_after(rep, settings):
    settings.FOLLOWUP_API_RATE_PER_MINUTE = 2
    client = client_for(rep)
    with time_machine.travel("2027-03-01T14:00:45Z", tick=False):
        assert client.get("/api/queue/").status_code == 200
        assert client.get("/api/queue/").status_code == 200
        refused = client.get("/api/queue/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "15"
    assert "error" in refused.json()
    with time_machine.travel("2027-03-01T14:01:00Z", tick=False):
        assert client.get("/api/queue/").status_code == 200


def test_the_rate_limit_counts_each_token_apart(rep, teammate, settings):
    settings.FOLLOWUP_API_RATE_PER_MINUTE = 1
    alice, bob = client_for(rep), client_for(teammate)
    with time_machine.travel(MONDAY_9_NY, tick=False):
        assert alice.get("/api/queue/").status_code == 200
        assert alice.get("/api/queue/").status_code == 429
        assert bob.get("/api/queue/").status_code == 200


def test_a_body_that_is_not_json_is_a_400_naming_the_body(rep):
    response = client_for(rep).post(
        "/api/leads/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["body"]


def test_a_wrongly_typed_field_is_a_400_naming_it(rep):
    response = post(client_for(rep), "/api/leads/", {"email": "a@example.com", "tags": [1]})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "fields"}
    assert list(body["fields"]) == ["tags[0]"]


def test_an_unknown_api_path_is_a_json_404(rep):
    response = client_for(rep).get("/api/nothing-here/")
    assert response.status_code == 404
    assert "error" in response.json()


def test_a_path_id_that_is_not_a_number_is_a_400_naming_it(rep):
    response = client_for(rep).get("/api/leads/abc/")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["id"]


def test_the_token_key_is_never_stored(rep):
    token, key = api_token_create(user=rep)
    assert not ApiToken.objects.filter(key_hash=key).exists()
    assert key not in (token.prefix, token.key_hash)


def test_a_manager_token_reads_another_reps_lead(rep, manager):
    lead = LeadFactory(owner=rep)
    assert client_for(manager).get(f"/api/leads/{lead.id}/").status_code == 200
