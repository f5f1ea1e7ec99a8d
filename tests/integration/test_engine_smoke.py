from __future__ import annotations

from cadences.models import Task
from cadences.services import enrolment_start
from tests.factories import LeadFactory
from tests.integration.engine_helpers import at, make_cadence, queue_json, run_tick


def test_enrolled_lead_appears_as_new_lead_call_in_todays_queue(rep, smtp_sink):
    cadence = make_cadence()
    lead = LeadFactory(owner=rep, timezone="America/New_York")
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T14:00:00Z"))
    run_tick("2027-03-01T14:01:00Z")
    queue = queue_json("alice", "2027-03-01T14:01:00Z")
    assert [(c["lead_id"], c["reason"], c["step"]) for c in queue["calls"]] == [
        (lead.id, "new_lead", 1)
    ]
    assert Task.objects.filter(lead=lead).count() == 1
