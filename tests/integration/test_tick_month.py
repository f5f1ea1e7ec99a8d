"""A simulated month through the real tick (`followup_tick --now`), the queue command,
and a real SMTP sink: queues each day, emails sent once, exit on reply, callbacks to
the minute, capacity roll-over and the hand-off to nurture."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

from cadences.models import Enrolment, OutboundEmail, Task
from cadences.services import enrolment_start
from leads.models import Lead
from leads.touches import signal_record, touch_log
from tests.factories import LeadFactory, RepFactory
from tests.integration.engine_helpers import at, make_cadence, queue_json, run_tick

NY = ZoneInfo("America/New_York")


def log(lead: Lead, channel: str, when: str, outcome: str = "", **extra) -> None:
    moment = at(when)
    touch_log(
        lead=lead,
        rep=lead.owner,
        channel=channel,
        outcome=outcome,
        occurred_at=moment,
        now=moment,
        **extra,
    )


def items(queue: dict, section: str) -> list[tuple[int, str, int | None, str]]:
    return [(i["lead_id"], i["reason"], i["step"], i["status"]) for i in queue[section]]


def test_a_lead_is_worked_day_by_day_until_it_replies(rep, smtp_sink):
    cadence = make_cadence()
    lead = LeadFactory(owner=rep, timezone="America/New_York", first_name="Ann")
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T14:00:00Z"))  # Mon 09:00 NY

    run_tick("2027-03-01T14:00:00Z")
    assert items(queue_json("alice", "2027-03-01T14:00:00Z"), "calls") == [
        (lead.id, "new_lead", 1, "pending")
    ]
    log(lead, "call", "2027-03-01T15:00:00Z", "no_answer")
    # Done items stay in the day's queue with their status.
    assert items(queue_json("alice", "2027-03-01T15:01:00Z"), "calls") == [
        (lead.id, "new_lead", 1, "done")
    ]

    # Step 2, the automated email: one business day later, same wall time; sent once.
    run_tick("2027-03-02T14:59:00Z")
    assert smtp_sink.messages == []
    run_tick("2027-03-02T15:00:00Z")
    run_tick("2027-03-02T15:01:00Z")
    assert [m["Subject"] for m in smtp_sink.messages] == ["The guide, Ann"]
    assert OutboundEmail.objects.get().status == "sent"

    # Step 3, a call two business days after the email; not done that day → overdue next.
    run_tick("2027-03-04T14:00:00Z")
    assert items(queue_json("alice", "2027-03-04T15:00:00Z"), "calls") == [
        (lead.id, "due", 3, "pending")
    ]
    assert items(queue_json("alice", "2027-03-05T14:00:00Z"), "calls") == [
        (lead.id, "overdue", 3, "pending")
    ]

    # A voicemail with a promised callback: a call task due exactly then.
    log(lead, "call", "2027-03-05T14:30:00Z", "voicemail", callback_at=at("2027-03-08T13:30:00Z"))
    callback = Task.objects.get(lead=lead, kind="callback")
    assert callback.due_at == at("2027-03-08T13:30:00Z")
    monday = queue_json("alice", "2027-03-08T13:00:00Z")
    assert [(i["task_id"], i["reason"], i["due_at"]) for i in monday["calls"]] == [
        (callback.id, "callback", "2027-03-08T13:30:00+00:00")
    ]
    # The cadence's own next step (a letter) keeps its schedule: Wed 09:30 NY.
    letter = Task.objects.get(lead=lead, step__position=4)
    assert letter.due_at.astimezone(NY) == dt.datetime(2027, 3, 10, 9, 30, tzinfo=NY)

    log(lead, "call", "2027-03-08T13:35:00Z", "connected")  # completes the callback
    callback.refresh_from_db()
    assert callback.status == "done"

    log(lead, "mail", "2027-03-10T15:00:00Z")
    manual_email = Task.objects.get(lead=lead, step__position=5)
    assert manual_email.due_at == at("2027-03-12T15:00:00Z")
    run_tick("2027-03-12T13:00:00Z")
    assert items(queue_json("alice", "2027-03-12T13:00:00Z"), "emails") == [
        (lead.id, "due", 5, "pending")
    ]

    signal_record(
        kind="replied",
        occurred_at=at("2027-03-12T14:00:00Z"),
        lead=lead,
        now=at("2027-03-12T14:00:00Z"),
    )
    enrolment = Enrolment.objects.get(lead=lead)
    assert (enrolment.status, enrolment.exit_reason) == ("exited", "replied")
    assert queue_json("alice", "2027-03-12T14:01:00Z")["emails"] == []
    manual_email.refresh_from_db()
    assert manual_email.status == "cancelled"
    assert len(smtp_sink.messages) == 1


def test_a_quiet_lead_gets_all_eight_touches_then_goes_to_nurture(rep, smtp_sink):
    nurture = make_cadence("Long-term nurture", [{"channel": "email", "wait_days": 20}])
    cadence = make_cadence(on_complete_status="unresponsive", on_complete_cadence=nurture)
    lead = LeadFactory(owner=rep, timezone="America/New_York", first_name="Ben")
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T14:00:00Z"))

    day = dt.date(2027, 3, 1)
    for _ in range(45):
        morning = f"{day.isoformat()}T14:00:00Z"
        run_tick(morning)
        for section in ("calls", "emails", "other"):
            for item in queue_json("alice", morning)[section]:
                if item["status"] == "pending":
                    task = Task.objects.get(id=item["task_id"])
                    log(
                        lead,
                        task.channel,
                        f"{day.isoformat()}T15:00:00Z",
                        "no_answer" if task.channel == "call" else "sent",
                        task=task,
                    )
        run_tick(f"{day.isoformat()}T21:00:00Z")
        day += dt.timedelta(days=1)

    steps = Task.objects.filter(lead=lead, enrolment__cadence=cadence).order_by("step__position")
    assert [t.status for t in steps] == [
        "done",
        "sent",
        "done",
        "done",
        "done",
        "done",
        "done",
        "sent",
    ]
    for task in steps:
        local = task.due_at.astimezone(NY)
        assert local.weekday() < 5 and dt.time(9) <= local.time() < dt.time(17)
    touches = list(lead.touches.order_by("occurred_at").values_list("occurred_at", flat=True))
    assert all(b - a >= dt.timedelta(hours=20) for a, b in pairwise(touches))
    assert [m["Subject"] for m in smtp_sink.messages] == [
        "The guide, Ben",
        "Should I close your file?",
    ]
    assert len({m["Message-ID"] for m in smtp_sink.messages}) == 2
    lead.refresh_from_db()
    assert lead.status == "unresponsive"
    assert Enrolment.objects.get(lead=lead, cadence=cadence).status == "completed"
    handed = Enrolment.objects.get(lead=lead, cadence=nurture)
    assert handed.status == "active"
    assert handed.tasks.get().status == "pending"


def test_capacity_rolls_the_rest_over_to_tomorrow_as_overdue(db):
    rep = RepFactory(username="carol", profile={"timezone": "UTC", "call_capacity": 2})
    cadence = make_cadence("Calls", [{"channel": "call"}, {"channel": "call", "wait_days": 5}])
    leads = [LeadFactory(owner=rep, timezone="UTC") for _ in range(3)]
    for lead in leads:
        enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-02T10:00:00Z"))
    Task.objects.filter(lead=leads[0]).update(due_at=at("2027-03-01T10:00:00Z"))  # overdue

    queue = queue_json("carol", "2027-03-02T10:00:00Z")
    assert queue["rolled_over"] == {"call": 1, "email": 0}
    assert [(i["lead_id"], i["reason"]) for i in queue["calls"]] == [
        (leads[0].id, "new_lead"),
        (leads[1].id, "new_lead"),
    ]
    tomorrow = queue_json("carol", "2027-03-03T10:00:00Z")
    assert [i["lead_id"] for i in tomorrow["calls"]][:2] == [leads[0].id, leads[1].id]
    assert tomorrow["rolled_over"] == {"call": 1, "email": 0}
