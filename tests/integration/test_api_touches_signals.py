"""POST /api/touches/ and POST /api/signals/ (CONTRACT.md sections 5 and 6)."""

from __future__ import annotations

import pytest
import time_machine

from cadences.models import Enrolment, Task
from cadences.services import enrolment_start
from leads.models import Signal, Touch
from tests.factories import LeadFactory
from tests.integration.api_helpers import MONDAY_9_NY, client_for, post
from tests.integration.engine_helpers import at, make_cadence

pytestmark = pytest.mark.django_db

CALL_THEN_EMAIL = [
    {"channel": "call", "wait_days": 0},
    {"channel": "email", "wait_days": 2},
]


@pytest.fixture(autouse=True)
def _monday_morning():
    with time_machine.travel("2027-03-01T14:30:00Z", tick=False):
        yield


@pytest.fixture
def enrolled_lead(rep):
    lead = LeadFactory(owner=rep, timezone="America/New_York", email="ann@example.com")
    enrolment_start(lead=lead, cadence=make_cadence(steps=CALL_THEN_EMAIL), now=at(MONDAY_9_NY))
    return lead


# --- touches ------------------------------------------------------------------------


def test_a_touch_completes_the_leads_due_task_of_its_channel(rep, enrolled_lead):
    call = Task.objects.get(lead=enrolled_lead, channel="call")
    response = post(
        client_for(rep),
        "/api/touches/",
        {"lead_email": "ANN@example.com", "channel": "call", "outcome": "no_answer"},
    )
    assert response.status_code == 201
    touch = Touch.objects.get()
    assert response.json() == {
        "id": touch.id,
        "lead_id": enrolled_lead.id,
        "completed_task_id": call.id,
    }
    call.refresh_from_db()
    assert call.status == "done"
    assert (touch.rep, touch.source, touch.occurred_at) == (rep, "api", at("2027-03-01T14:30Z"))


def test_a_touch_on_another_channel_is_an_extra_touch(rep, enrolled_lead):
    response = post(
        client_for(rep),
        "/api/touches/",
        {"lead_id": enrolled_lead.id, "channel": "social", "outcome": "sent"},
    )
    assert response.json()["completed_task_id"] is None
    assert Task.objects.get(channel="call").status == "pending"


def test_a_voicemail_with_callback_at_makes_a_callback_task_due_exactly_then(rep, enrolled_lead):
    post(
        client_for(rep),
        "/api/touches/",
        {
            "lead_id": enrolled_lead.id,
            "channel": "call",
            "outcome": "voicemail",
            "callback_at": "2027-03-02T16:15:00-05:00",
        },
    )
    callback = Task.objects.get(kind="callback")
    assert (callback.rep, callback.due_at) == (rep, at("2027-03-02T21:15:00Z"))


def test_a_touch_naming_another_leads_task_is_a_400_naming_task_id(rep, enrolled_lead):
    other = LeadFactory(owner=rep)
    task = Task.objects.get(lead=enrolled_lead, channel="call")
    response = post(
        client_for(rep),
        "/api/touches/",
        {"lead_id": other.id, "channel": "call", "outcome": "connected", "task_id": task.id},
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["task_id"]
    assert not Touch.objects.exists()


def test_a_touch_with_a_given_task_id_completes_that_task(rep, enrolled_lead):
    task = Task.objects.get(lead=enrolled_lead, channel="call")
    response = post(
        client_for(rep),
        "/api/touches/",
        {
            "lead_id": enrolled_lead.id,
            "channel": "call",
            "outcome": "connected",
            "task_id": task.id,
        },
    )
    assert response.json()["completed_task_id"] == task.id


def test_a_bad_channel_or_outcome_is_a_400_naming_the_field(rep, enrolled_lead):
    client = client_for(rep)
    bad_channel = post(
        client, "/api/touches/", {"lead_id": enrolled_lead.id, "channel": "fax", "outcome": "sent"}
    )
    bad_outcome = post(
        client, "/api/touches/", {"lead_id": enrolled_lead.id, "channel": "call", "outcome": "meh"}
    )
    assert list(bad_channel.json()["fields"]) == ["channel"]
    assert list(bad_outcome.json()["fields"]) == ["outcome"]


def test_occurred_at_without_an_offset_is_a_400_naming_it(rep, enrolled_lead):
    response = post(
        client_for(rep),
        "/api/touches/",
        {
            "lead_id": enrolled_lead.id,
            "channel": "call",
            "outcome": "connected",
            "occurred_at": "2027-03-01T09:00:00",
        },
    )
    assert list(response.json()["fields"]) == ["occurred_at"]


def test_a_callback_in_the_past_is_a_400_naming_callback_at(rep, enrolled_lead):
    response = post(
        client_for(rep),
        "/api/touches/",
        {
            "lead_id": enrolled_lead.id,
            "channel": "call",
            "outcome": "voicemail",
            "callback_at": "2027-02-01T09:00:00Z",
        },
    )
    assert list(response.json()["fields"]) == ["callback_at"]


def test_a_touch_without_a_lead_is_a_400_naming_lead_id(rep):
    response = post(client_for(rep), "/api/touches/", {"channel": "call", "outcome": "connected"})
    assert list(response.json()["fields"]) == ["lead_id"]


def test_a_touch_for_an_unknown_lead_is_a_404(rep):
    client = client_for(rep)
    by_id = post(client, "/api/touches/", {"lead_id": 99999, "channel": "call", "outcome": "sent"})
    by_email = post(
        client, "/api/touches/", {"lead_email": "x@ex.com", "channel": "call", "outcome": "sent"}
    )
    assert (by_id.status_code, by_email.status_code) == (404, 404)


def test_a_touch_on_another_reps_lead_is_refused_with_403(rep, teammate):
    lead = LeadFactory(owner=teammate)
    response = post(
        client_for(rep), "/api/touches/", {"lead_id": lead.id, "channel": "call", "outcome": "sent"}
    )
    assert response.status_code == 403
    assert not Touch.objects.exists()


def test_a_replied_touch_ends_the_enrolment(rep, enrolled_lead):
    post(
        client_for(rep),
        "/api/touches/",
        {"lead_id": enrolled_lead.id, "channel": "email", "outcome": "replied"},
    )
    assert Enrolment.objects.get().status == "exited"


# --- signals ------------------------------------------------------------------------


def test_a_signal_for_an_unknown_email_is_stored_and_accepted_with_202(rep):
    response = post(
        client_for(rep),
        "/api/signals/",
        {"lead_email": "stranger@example.com", "kind": "pricing_page_visit", "data": {"p": 1}},
    )
    assert response.status_code == 202
    signal = Signal.objects.get()
    assert response.json() == {"id": signal.id}
    assert (signal.lead, signal.lead_email, signal.data) == (None, "stranger@example.com", {"p": 1})


def test_an_intent_signal_puts_a_hot_call_in_the_owners_queue(rep, enrolled_lead):
    response = post(
        client_for(rep),
        "/api/signals/",
        {"lead_email": "ann@example.com", "kind": "pricing_page_visit"},
    )
    assert response.status_code == 202
    assert Signal.objects.get().lead == enrolled_lead
    hot = Task.objects.get(kind="hot")
    assert (hot.rep, hot.due_at) == (rep, at("2027-03-01T14:30:00Z"))


def test_an_unsubscribed_signal_stops_email_as_of_occurred_at(rep, enrolled_lead):
    post(
        client_for(rep),
        "/api/signals/",
        {"lead_id": enrolled_lead.id, "kind": "unsubscribed", "occurred_at": "2027-03-01T10:00Z"},
    )
    enrolled_lead.refresh_from_db()
    assert enrolled_lead.unsubscribed_at == at("2027-03-01T10:00:00Z")


def test_a_signal_for_an_unknown_lead_id_is_a_404(rep):
    response = post(client_for(rep), "/api/signals/", {"lead_id": 99999, "kind": "replied"})
    assert response.status_code == 404
    assert not Signal.objects.exists()


def test_a_bad_kind_or_email_is_a_400_naming_the_field(rep):
    client = client_for(rep)
    bad_kind = post(client, "/api/signals/", {"lead_email": "a@ex.com", "kind": "liked"})
    bad_email = post(client, "/api/signals/", {"lead_email": "nope", "kind": "replied"})
    assert list(bad_kind.json()["fields"]) == ["kind"]
    assert list(bad_email.json()["fields"]) == ["lead_email"]


def test_a_signal_for_another_reps_lead_is_refused_with_403(rep, teammate):
    lead = LeadFactory(owner=teammate)
    response = post(client_for(rep), "/api/signals/", {"lead_id": lead.id, "kind": "replied"})
    assert response.status_code == 403


def test_a_manager_token_posts_signals_for_any_lead(rep, manager):
    lead = LeadFactory(owner=rep)
    response = post(client_for(manager), "/api/signals/", {"lead_id": lead.id, "kind": "replied"})
    assert response.status_code == 202
