"""Signals, touches matching tasks, queue ordering, and the engine's commands."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Schedule

from cadences.models import Enrolment, Task
from cadences.queues import queue_for_rep
from cadences.services import callback_create, enrolment_start
from leads.models import Signal
from leads.touches import TouchRefused, signal_record, touch_log
from tests.factories import LeadFactory
from tests.integration.engine_helpers import at, make_cadence, queue_json

ROOT = Path(__file__).resolve().parents[2]
TWO_CALLS = [{"channel": "call"}, {"channel": "call", "wait_days": 2}]


def test_intent_signals_make_one_hot_call_per_lead_per_day(rep):
    lead = LeadFactory(owner=rep)
    for minute in ("10", "20"):
        signal_record(
            kind="pricing_page_visit", lead=lead, occurred_at=at(f"2027-03-01T15:{minute}Z")
        )
    signal_record(kind="link_clicked", lead=lead, occurred_at=at("2027-03-01T16:00Z"))
    assert Task.objects.filter(kind="hot").count() == 1
    queue = queue_json("alice", "2027-03-01T16:00:00Z")
    assert [(i["lead_id"], i["reason"], i["step"]) for i in queue["calls"]] == [
        (lead.id, "hot", None)
    ]
    signal_record(kind="pricing_page_visit", lead=lead, occurred_at=at("2027-03-02T15:00Z"))
    assert Task.objects.filter(kind="hot").count() == 2  # a new day, a new hot call


def test_a_signal_for_an_unknown_lead_is_stored_not_refused(db):
    signal = signal_record(
        kind="replied", lead_email="stranger@example.com", occurred_at=at("2027-03-01T10:00Z")
    )
    assert Signal.objects.get(id=signal.id).lead_email == "stranger@example.com"


def test_a_bounce_stops_email_in_every_cadence_for_good(rep):
    lead = LeadFactory(owner=rep, timezone="UTC")
    emails = [{"channel": "email", "wait_days": 1}, {"channel": "email", "wait_days": 1}]
    keeps_going = make_cadence("Keeps", emails, exit_on=["replied"])
    enrolment = enrolment_start(lead=lead, cadence=keeps_going, now=at("2027-03-01T10:00Z"))
    signal_record(kind="bounced", lead=lead, occurred_at=at("2027-03-01T11:00Z"))
    lead.refresh_from_db()
    assert lead.bounced_at == at("2027-03-01T11:00Z")
    assert list(enrolment.tasks.values_list("status", "status_reason")) == [
        ("skipped", "bounced"),
        ("skipped", "email bounced"),
    ]
    enrolment.refresh_from_db()
    assert enrolment.status == "completed"


def test_a_touch_without_a_task_completes_the_due_task_of_its_channel(rep):
    lead = LeadFactory(owner=rep, timezone="UTC")
    enrolment_start(lead=lead, cadence=make_cadence(steps=TWO_CALLS), now=at("2027-03-01T14:00Z"))
    touch = touch_log(
        lead=lead,
        rep=rep,
        channel="call",
        outcome="connected",
        occurred_at=at("2027-03-01T15:00Z"),
        now=at("2027-03-01T15:00Z"),
    )
    assert Task.objects.get(step__position=1).touch == touch
    # The next call is due in two business days: a call today is an extra touch.
    extra = touch_log(
        lead=lead,
        rep=rep,
        channel="call",
        outcome="no_answer",
        occurred_at=at("2027-03-01T16:00Z"),
        now=at("2027-03-01T16:00Z"),
    )
    assert extra.task is None
    assert Task.objects.get(step__position=2).status == "pending"


def test_a_callback_in_the_past_is_refused_and_changes_nothing(rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(TouchRefused) as refused:
        touch_log(
            lead=lead,
            rep=rep,
            channel="call",
            outcome="voicemail",
            occurred_at=at("2027-03-01T15:00Z"),
            now=at("2027-03-01T15:00Z"),
            callback_at=at("2027-03-01T14:00Z"),
        )
    assert refused.value.fields == {"callback_at": "must be in the future"}
    assert lead.touches.count() == 0


def test_queue_orders_hot_callback_new_lead_overdue_due(rep):
    cadence = make_cadence(steps=TWO_CALLS, min_gap_hours=0)
    fresh, old, due, cb, hot = (LeadFactory(owner=rep, timezone="UTC") for _ in range(5))
    enrolment_start(lead=fresh, cadence=cadence, now=at("2027-03-02T15:00Z"))
    for lead, done_at in ((old, "2027-02-24T15:00Z"), (due, "2027-02-26T15:00Z")):
        enrolment_start(lead=lead, cadence=cadence, now=at(done_at))
        touch_log(
            lead=lead,
            rep=rep,
            channel="call",
            outcome="no_answer",
            occurred_at=at(done_at),
            now=at(done_at),
        )
    callback_create(lead=cb, due_at=at("2027-03-02T20:00Z"), now=at("2027-03-01T10:00Z"))
    signal_record(kind="form_submitted", lead=hot, occurred_at=at("2027-03-02T18:00Z"))
    queue = queue_json("alice", "2027-03-02T19:00:00Z")
    assert [(i["lead_id"], i["reason"]) for i in queue["calls"]] == [
        (hot.id, "hot"),
        (cb.id, "callback"),
        (fresh.id, "new_lead"),
        (old.id, "overdue"),
        (due.id, "due"),
    ]


def test_the_queue_takes_the_same_queries_for_3_or_60_items(rep, django_assert_num_queries):
    cadence = make_cadence(steps=TWO_CALLS)
    for _ in range(3):
        enrolment_start(lead=LeadFactory(owner=rep), cadence=cadence, now=at("2027-03-01T14:00Z"))
    rep = type(rep).objects.select_related("rep_profile").get(id=rep.id)
    # One query: the rep's pending and finished tasks of the day, with lead and cadence.
    with django_assert_num_queries(1):
        small = queue_for_rep(rep=rep, now=at("2027-03-01T15:00Z"))
    for _ in range(57):
        enrolment_start(lead=LeadFactory(owner=rep), cadence=cadence, now=at("2027-03-01T14:00Z"))
    with django_assert_num_queries(1):
        big = queue_for_rep(rep=rep, now=at("2027-03-01T15:00Z"))
    assert (len(small["calls"]), len(big["calls"])) == (3, 50)
    assert big["rolled_over"]["call"] == 10


def test_a_lead_is_never_in_two_queues_and_exited_leads_leave_the_queue(rep, teammate):
    cadence = make_cadence(steps=TWO_CALLS)
    lead = LeadFactory(owner=rep, timezone="UTC")
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T14:00Z"))
    assert len(queue_json("alice", "2027-03-01T15:00:00Z")["calls"]) == 1
    assert queue_json("bob", "2027-03-01T15:00:00Z")["calls"] == []
    signal_record(kind="meeting_booked", lead=lead, occurred_at=at("2027-03-01T15:30Z"))
    assert Enrolment.objects.get().status == "exited"
    assert queue_json("alice", "2027-03-01T16:00:00Z")["calls"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["queue", "--rep", "nobody", "--json"], "--rep: no user named 'nobody'"),
        (["queue", "--rep", "alice", "--date", "03/02/2027", "--json"], "--date: '03/02/2027'"),
        (["followup_tick", "--now", "2027-03-02 09:00"], "--now: '2027-03-02 09:00' is not an ISO"),
    ],
)
def test_commands_refuse_bad_arguments_with_a_clear_reason(rep, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command(*args, stdout=StringIO())


def test_migrate_creates_the_worker_schedules_once(db):
    names = sorted(Schedule.objects.values_list("name", flat=True))
    assert names == [
        "followup-repair",
        "followup-report-summaries",
        "followup-tick",
        "followup-trim-task-history",
    ]
    tick = Schedule.objects.get(name="followup-tick")
    assert (tick.func, tick.schedule_type, tick.minutes) == ("cadences.tasks.tick", "I", 1)


def fake_proc(root: Path, processes: dict[int, list[str]]) -> Path:
    for pid, argv in processes.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return root


def test_worker_health_fails_without_a_cluster_and_passes_with_one(db, tmp_path):
    idle = fake_proc(tmp_path / "idle", {10: ["gunicorn", "followup.wsgi"], 11: ["vi", "qcluster"]})
    with pytest.raises(CommandError, match="no qcluster process is running"):
        call_command("worker_health", "--proc", str(idle), stdout=StringIO())
    busy = fake_proc(tmp_path / "busy", {12: ["python", "/app/manage.py", "qcluster"]})
    out = StringIO()
    call_command("worker_health", "--proc", str(busy), stdout=out)
    assert out.getvalue().strip() == "worker ok"


def test_worker_health_exits_non_zero_with_one_line(db, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "worker_health", "--proc", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SECRET_KEY": "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"},
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "CommandError: no qcluster process is running on this host"


def test_owner_less_leads_alternate_between_reps_even_at_the_same_instant(rep, teammate):
    from leads.services import lead_upsert

    same_instant = at("2027-03-01T10:00Z")
    owners = [
        lead_upsert(values={"email": f"rr{n}@example.com"}, now=same_instant).lead.owner.username
        for n in range(6)
    ]
    assert owners == ["alice", "bob"] * 3


def test_a_lead_name_with_a_line_break_is_refused_naming_the_field(db):
    from leads.services import LeadRefused, lead_upsert

    with pytest.raises(LeadRefused) as refused:
        lead_upsert(
            values={"email": "cr@example.com", "first_name": "Ann\r\nBcc: x@evil.example"},
            now=at("2027-03-01T10:00Z"),
        )
    assert refused.value.fields == {"first_name": "must be one line, without control characters"}
