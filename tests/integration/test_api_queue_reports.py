"""GET /api/queue/ and GET /api/reports/{name}/ (CONTRACT.md section 6)."""

from __future__ import annotations

import importlib.util

import pytest
import time_machine

from cadences.models import Cadence
from cadences.services import enrolment_start
from tests.factories import LeadFactory
from tests.integration.api_helpers import MONDAY_9_NY, client_for
from tests.integration.engine_helpers import at, make_cadence, queue_json

pytestmark = pytest.mark.django_db

REPORTS_BUILT = importlib.util.find_spec("cadences.reports") is not None


@pytest.fixture(autouse=True)
def _monday_morning():
    with time_machine.travel("2027-03-01T14:30:00Z", tick=False):
        yield


def enrol_leads(owner, count: int) -> None:
    cadence = Cadence.objects.filter(name="Outbound 8").first() or make_cadence("Outbound 8")
    for _ in range(count):
        lead = LeadFactory(owner=owner, timezone="America/New_York")
        enrolment_start(lead=lead, cadence=cadence, now=at(MONDAY_9_NY))


# --- queue --------------------------------------------------------------------------


def test_the_queue_is_the_same_json_as_the_queue_command(rep):
    enrol_leads(rep, 2)
    response = client_for(rep).get("/api/queue/", {"date": "2027-03-01"})
    assert response.status_code == 200
    assert response.json() == queue_json("alice", "2027-03-01T14:30:00Z", "2027-03-01")
    assert [c["reason"] for c in response.json()["calls"]] == ["new_lead", "new_lead"]


def test_without_a_date_the_queue_is_the_reps_today(rep):
    body = client_for(rep).get("/api/queue/").json()
    assert (body["rep"], body["date"]) == ("alice", "2027-03-01")


def test_a_manager_reads_any_reps_queue(rep, manager):
    enrol_leads(rep, 1)
    body = client_for(manager).get("/api/queue/", {"rep": "alice"}).json()
    assert body["rep"] == "alice"
    assert len(body["calls"]) == 1


def test_a_rep_asking_for_another_reps_queue_is_refused_with_403(rep, teammate):
    assert client_for(rep).get("/api/queue/", {"rep": "bob"}).status_code == 403


def test_a_rep_may_name_themselves(rep):
    assert client_for(rep).get("/api/queue/", {"rep": "alice"}).status_code == 200


def test_a_bad_date_or_unknown_rep_is_a_400_naming_it(rep, manager):
    bad_date = client_for(rep).get("/api/queue/", {"date": "2027-02-30"})
    unknown = client_for(manager).get("/api/queue/", {"rep": "nobody"})
    assert (bad_date.status_code, list(bad_date.json()["fields"])) == (400, ["date"])
    assert (unknown.status_code, list(unknown.json()["fields"])) == (400, ["rep"])


def test_the_queue_takes_a_fixed_number_of_queries_whatever_its_length(
    rep, django_assert_num_queries
):
    client = client_for(rep)
    client.get("/api/queue/")  # token's last_used_at written once a minute
    enrol_leads(rep, 2)
    # token with user and profile, the rep's tasks
    with django_assert_num_queries(2):
        short = client.get("/api/queue/").json()
    enrol_leads(rep, 6)
    with django_assert_num_queries(2):
        long = client.get("/api/queue/").json()
    assert (len(short["calls"]), len(long["calls"])) == (2, 8)


# --- reports ------------------------------------------------------------------------

PERIOD = {"from": "2027-02-01", "to": "2027-02-28"}


def test_reports_are_refused_to_reps_with_403(rep):
    response = client_for(rep).get("/api/reports/speed-to-lead/", PERIOD)
    assert response.status_code == 403


def test_a_rep_learns_nothing_from_bad_report_parameters(rep):
    response = client_for(rep).get("/api/reports/speed-to-lead/", {"from": "junk"})
    assert response.status_code == 403


def test_report_dates_missing_or_malformed_are_a_400_naming_them(manager):
    client = client_for(manager)
    missing = client.get("/api/reports/speed-to-lead/")
    malformed = client.get("/api/reports/speed-to-lead/", {"from": "2027-13-01", "to": "x"})
    assert set(missing.json()["fields"]) == {"from", "to"}
    assert set(malformed.json()["fields"]) == {"from", "to"}


def test_a_period_ending_before_it_starts_is_a_400_naming_to(manager):
    response = client_for(manager).get(
        "/api/reports/speed-to-lead/", {"from": "2027-03-01", "to": "2027-02-01"}
    )
    assert (response.status_code, list(response.json()["fields"])) == (400, ["to"])


def test_an_unknown_report_is_a_404(manager):
    response = client_for(manager).get("/api/reports/best-reps/", PERIOD)
    assert response.status_code == 404


@pytest.mark.skipif(not REPORTS_BUILT, reason="cadences/reports.py is not written yet")
@pytest.mark.parametrize("name", ["touches-to-close", "follow-up-stops", "speed-to-lead"])
def test_each_contract_report_answers_with_its_period_and_rep(manager, rep, name):
    response = client_for(manager).get(f"/api/reports/{name}/", {**PERIOD, "rep": "alice"})
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["rep"]) == ("2027-02-01", "2027-02-28", "alice")
