"""Builders for the Today and work-mode view tests: a cadence and queue items."""

from __future__ import annotations

import datetime as dt

from cadences.models import Cadence, Task
from tests.factories import AccountFactory, EnrolmentFactory, LeadFactory, TaskFactory
from tests.integration.engine_helpers import EIGHT_STEPS, at, make_cadence

# Tuesday 2 March 2027, 10:00 in New York (the rep), 09:00 in Chicago (the leads).
NOW = at("2027-03-02T15:00:00Z")
LEAD_TZ = "America/Chicago"


def inbound_cadence() -> Cadence:
    cadence = Cadence.objects.filter(name="Inbound demo request").first()
    return cadence or make_cadence("Inbound demo request", EIGHT_STEPS, holiday_country="US")


def queue_task(
    rep: object,
    *,
    position: int = 3,
    cadence: Cadence | None = None,
    lead: object | None = None,
    due_at: dt.datetime | None = None,
    **lead_fields: object,
) -> Task:
    """A pending manual task of step ``position`` for a fresh lead of ``rep``."""
    cadence = cadence or inbound_cadence()
    step = cadence.steps.get(position=position)
    if lead is None:
        lead_fields.setdefault("timezone", LEAD_TZ)
        lead_fields.setdefault("account", AccountFactory())
        lead = LeadFactory(owner=rep, **lead_fields)
    enrolment = EnrolmentFactory(
        lead=lead, cadence=cadence, owner=rep, position=position - 1, started_at=NOW
    )
    return TaskFactory(
        lead=lead,
        rep=rep,
        enrolment=enrolment,
        step=step,
        channel=step.channel,
        mode=step.mode,
        title=step.title,
        due_at=due_at or NOW - dt.timedelta(hours=1),
        created_at=NOW - dt.timedelta(days=1),
    )


def mixed_queue(rep: object, *, calls: int, emails: int, other: int) -> list[Task]:
    """Calls (step 3), manual emails (step 5) and social touches (step 6), one lead each."""
    return [
        *(queue_task(rep, position=3) for _ in range(calls)),
        *(queue_task(rep, position=5) for _ in range(emails)),
        *(queue_task(rep, position=6) for _ in range(other)),
    ]
