"""POST /api/leads/, GET and PATCH /api/leads/{id}/ (CONTRACT.md section 6)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from cadences.models import Enrolment, Task
from cadences.services import enrolment_start
from leads.models import Lead
from tests.factories import LeadFactory, RepFactory
from tests.integration.api_helpers import MONDAY_9_NY, client_for, patch, post
from tests.integration.engine_helpers import at, make_cadence

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _monday_morning():
    with time_machine.travel(MONDAY_9_NY, tick=False):
        yield


# --- POST /api/leads/ ---------------------------------------------------------------


def test_a_new_lead_is_created_with_201_and_owned_by_the_rep_who_names_themselves(rep):
    response = post(
        client_for(rep),
        "/api/leads/",
        {
            "email": "Ann.Lee@Example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "company": "Acme",
            "tags": ["expo", "vip"],
            "owner": "alice",
        },
    )
    assert response.status_code == 201
    lead = Lead.objects.get()
    assert response.json() == {
        "id": lead.id,
        "email": "Ann.Lee@Example.com",
        "owner": "alice",
        "enrolled_in": [],
        "enrolment_refused": None,
        "ignored_fields": [],
    }
    assert lead.account.name == "Acme"
    assert sorted(t.name for t in lead.tags.all()) == ["expo", "vip"]


def test_the_same_email_in_another_case_matches_with_200_and_never_makes_two_leads(rep):
    client = client_for(rep)
    first = post(client, "/api/leads/", {"email": "ann@example.com", "owner": "alice"})
    again = post(client, "/api/leads/", {"email": "ANN@Example.COM", "title": "CTO"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Lead.objects.count() == 1
    assert Lead.objects.get().title == "CTO"


def test_leads_without_an_owner_rotate_among_active_reps(rep, teammate, manager):
    RepFactory(username="gone", is_active=False)
    client = client_for(manager)
    with time_machine.travel(MONDAY_9_NY, tick=True):  # the rotation follows assignment times
        owners = [
            post(client, "/api/leads/", {"email": f"lead{n}@example.com"}).json()["owner"]
            for n in range(4)
        ]
    assert sorted(owners) == ["alice", "alice", "bob", "bob"]
    assert owners[0] != owners[1] and owners[2] != owners[3]


def test_a_rep_giving_a_lead_to_another_rep_is_refused_with_403(rep, teammate):
    response = post(client_for(rep), "/api/leads/", {"email": "a@example.com", "owner": "bob"})
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_a_manager_may_give_a_lead_to_any_rep(rep, manager):
    response = post(client_for(manager), "/api/leads/", {"email": "a@ex.com", "owner": "alice"})
    assert response.status_code == 201
    assert response.json()["owner"] == "alice"


def test_an_owner_who_is_not_a_rep_is_a_400_naming_owner(manager):
    response = post(client_for(manager), "/api/leads/", {"email": "a@ex.com", "owner": "maria"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["owner"]


def test_a_rep_matching_another_reps_lead_is_refused_with_403(rep, teammate):
    LeadFactory(owner=teammate, email="taken@example.com")
    response = post(client_for(rep), "/api/leads/", {"email": "taken@example.com"})
    assert response.status_code == 403


def test_a_lead_without_email_or_phone_is_a_400_naming_both(rep):
    response = post(client_for(rep), "/api/leads/", {"first_name": "Ann"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"email", "phone"}


def test_a_phone_only_lead_is_created(rep):
    response = post(client_for(rep), "/api/leads/", {"phone": "+1 555 0100", "owner": "alice"})
    assert response.status_code == 201
    assert response.json()["email"] == ""


def test_a_bad_email_or_time_zone_is_a_400_naming_the_field(rep):
    client = client_for(rep)
    bad_email = post(client, "/api/leads/", {"email": "not-an-email"})
    bad_zone = post(client, "/api/leads/", {"email": "a@example.com", "timezone": "Mars/Base"})
    assert list(bad_email.json()["fields"]) == ["email"]
    assert list(bad_zone.json()["fields"]) == ["timezone"]
    assert not Lead.objects.exists()


def test_an_unknown_cadence_is_a_400_naming_cadence(rep):
    response = post(client_for(rep), "/api/leads/", {"email": "a@ex.com", "cadence": "Nope"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["cadence"]
    assert not Lead.objects.exists()


def test_a_lead_posted_with_a_cadence_is_enrolled_and_its_first_call_is_due(rep):
    make_cadence("Inbound demo request")
    response = post(
        client_for(rep),
        "/api/leads/",
        {"email": "a@example.com", "owner": "alice", "cadence": "Inbound demo request"},
    )
    assert response.json()["enrolled_in"] == ["Inbound demo request"]
    task = Task.objects.get(step__position=1)
    assert (task.channel, task.rep, task.due_at) == ("call", rep, at(MONDAY_9_NY))


def test_a_refused_enrolment_keeps_the_lead_and_says_why(rep):
    cadence = make_cadence("Inbound demo request")
    lead = LeadFactory(owner=rep, email="a@example.com")
    enrolment_start(lead=lead, cadence=cadence, now=at(MONDAY_9_NY))
    response = post(
        client_for(rep), "/api/leads/", {"email": "a@example.com", "cadence": cadence.name}
    )
    assert response.status_code == 200
    assert "already" in response.json()["enrolment_refused"]
    assert response.json()["enrolled_in"] == ["Inbound demo request"]


def test_created_at_without_an_offset_is_a_400_naming_it(rep):
    response = post(
        client_for(rep), "/api/leads/", {"email": "a@ex.com", "created_at": "2027-01-05T10:00:00"}
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["created_at"]


def test_created_at_with_an_offset_dates_a_synced_lead(rep):
    post(
        client_for(rep),
        "/api/leads/",
        {"email": "a@ex.com", "owner": "alice", "created_at": "2027-01-05T10:00:00+01:00"},
    )
    assert Lead.objects.get().created_at == dt.datetime(2027, 1, 5, 9, tzinfo=dt.UTC)


def test_unknown_fields_are_ignored_and_listed_back(rep):
    response = post(
        client_for(rep), "/api/leads/", {"email": "a@ex.com", "owner": "alice", "utm": "x"}
    )
    assert response.status_code == 201
    assert response.json()["ignored_fields"] == ["utm"]


# --- GET /api/leads/{id}/ -----------------------------------------------------------


def test_a_lead_reads_with_its_enrolments_and_next_task_explained(rep):
    cadence = make_cadence("Inbound demo request")
    lead = LeadFactory(owner=rep, timezone="America/New_York", email="ann@example.com")
    lead.tags.create(name="expo")
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-02-27T15:00:00Z"))  # a Saturday
    body = client_for(rep).get(f"/api/leads/{lead.id}/").json()
    assert (body["email"], body["owner"], body["tags"]) == ("ann@example.com", "alice", ["expo"])
    assert [(e["cadence"], e["status"], e["position"]) for e in body["enrolments"]] == [
        ("Inbound demo request", "active", 0)
    ]
    task = body["next_task"]
    assert task["due_at"] == "2027-03-01T14:00:00Z"
    assert task["reasons"] == ["weekend"]
    assert task["explanation"].startswith("Mon 1 Mar 09:00 (lead-local) — moved from Sat 27 Feb")


def test_a_lead_that_does_not_exist_is_a_404(rep):
    assert client_for(rep).get("/api/leads/999999/").status_code == 404


def test_another_reps_lead_is_refused_with_403(rep, teammate):
    lead = LeadFactory(owner=teammate)
    assert client_for(rep).get(f"/api/leads/{lead.id}/").status_code == 403


def test_reading_a_lead_takes_a_fixed_number_of_queries(rep, django_assert_num_queries):
    cadence = make_cadence("Inbound demo request")
    leads = [LeadFactory(owner=rep) for _ in range(3)]
    for lead in leads:
        enrolment_start(lead=lead, cadence=cadence, now=at(MONDAY_9_NY))
        lead.tags.create(name=f"tag-{lead.id}")
    client = client_for(rep)
    client.get(f"/api/leads/{leads[0].id}/")  # token's last_used_at written once a minute
    # token with user and profile, lead with owner/profile/account, tags, enrolments, next task
    with django_assert_num_queries(5):
        assert client.get(f"/api/leads/{leads[1].id}/").status_code == 200


def test_posting_a_new_lead_in_a_cadence_takes_a_fixed_number_of_queries(
    rep, teammate, django_assert_max_num_queries
):
    make_cadence("Inbound demo request")
    client = client_for(rep)
    body = {"phone": "+1 555 0100", "company": "Acme", "tags": ["expo"], "source": "web"}
    body["cadence"] = "Inbound demo request"
    post(client, "/api/leads/", {**body, "email": "first@example.com"})  # account, tag, token
    # token with user and profile; cadence; the email looked up (in the upsert's
    # transaction, which also checks the caller may change it); suppression; routing
    # rules; the next rep in rotation (locked) and their turn recorded; account; the lead;
    # tags and their link; the first step, the enrolment, the rep's time off, the first
    # step's task and the explain log in one insert (cadences.services); the transaction's
    # two statements. Before: 48 on PostgreSQL, then 32 (the email looked up twice, the
    # enrolment's checks asked twice, savepoints around rows nobody else could see yet).
    with django_assert_max_num_queries(18):
        response = post(client, "/api/leads/", {**body, "email": "second@example.com"})
    assert response.status_code == 201
    assert response.json()["enrolled_in"] == ["Inbound demo request"]


# --- PATCH /api/leads/{id}/ ---------------------------------------------------------


def test_patching_changes_the_given_fields_and_answers_the_lead(rep):
    lead = LeadFactory(owner=rep, title="CTO", city="Oslo")
    response = patch(
        client_for(rep), f"/api/leads/{lead.id}/", {"title": "CEO", "tags": ["a"], "company": "X"}
    )
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["city"]) == ("CEO", "Oslo")
    assert (response.json()["tags"], response.json()["company"]) == (["a"], "X")


def test_a_status_of_won_ends_the_enrolment_as_of_occurred_at(rep):
    cadence = make_cadence("Inbound demo request")
    lead = LeadFactory(owner=rep)
    enrolment_start(lead=lead, cadence=cadence, now=at(MONDAY_9_NY))
    response = patch(
        client_for(rep),
        f"/api/leads/{lead.id}/",
        {"status": "won", "occurred_at": "2027-02-28T12:00:00Z"},
    )
    assert response.json()["status"] == "won"
    assert response.json()["next_task"] is None
    enrolment = Enrolment.objects.get()
    assert (enrolment.status, enrolment.ended_at) == ("exited", at("2027-02-28T12:00:00Z"))


def test_occurred_at_without_a_status_is_a_400_naming_it(rep):
    lead = LeadFactory(owner=rep)
    response = patch(client_for(rep), f"/api/leads/{lead.id}/", {"occurred_at": MONDAY_9_NY})
    assert list(response.json()["fields"]) == ["occurred_at"]


def test_an_unknown_field_or_status_is_a_400_naming_it(rep):
    lead = LeadFactory(owner=rep)
    client = client_for(rep)
    typo = patch(client, f"/api/leads/{lead.id}/", {"tittle": "CEO"})
    status = patch(client, f"/api/leads/{lead.id}/", {"status": "sold"})
    assert (typo.status_code, typo.json()["fields"]) == (400, {"tittle": "unknown field"})
    assert list(status.json()["fields"]) == ["status"]


def test_taking_another_leads_email_is_a_400_naming_email(rep):
    LeadFactory(owner=rep, email="one@example.com")
    lead = LeadFactory(owner=rep, email="two@example.com")
    response = patch(client_for(rep), f"/api/leads/{lead.id}/", {"email": "ONE@example.com"})
    assert list(response.json()["fields"]) == ["email"]


def test_patching_another_reps_lead_is_refused_with_403(rep, teammate):
    lead = LeadFactory(owner=teammate, title="CTO")
    response = patch(client_for(rep), f"/api/leads/{lead.id}/", {"title": "CEO"})
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.title == "CTO"


def test_a_rep_cannot_hand_their_lead_to_another_rep(rep, teammate):
    lead = LeadFactory(owner=rep)
    response = patch(client_for(rep), f"/api/leads/{lead.id}/", {"owner": "bob"})
    assert response.status_code == 403


def test_patching_a_lead_that_does_not_exist_is_a_404(rep):
    assert patch(client_for(rep), "/api/leads/999999/", {"title": "x"}).status_code == 404
