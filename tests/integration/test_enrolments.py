"""Enrolment lifecycle: enrol, refuse, pause and resume, exit, complete, edits, time off."""

from __future__ import annotations

import datetime as dt

import pytest

from cadences.cadence_format import cadence_apply, parse_cadence
from cadences.models import Enrolment, EnrolmentEvent, Task
from cadences.services import (
    EnrolmentRefused,
    enrolment_pause,
    enrolment_resume,
    enrolment_start,
    lead_status_set,
)
from leads.models import TimeOff
from leads.touches import signal_record, touch_log
from tests.factories import AccountFactory, LeadFactory
from tests.integration.engine_helpers import at, make_cadence

TWO_CALLS = [{"channel": "call"}, {"channel": "call", "wait_days": 2}]


@pytest.fixture
def lead(rep):
    return LeadFactory(owner=rep, timezone="UTC")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "won"}, "the lead is won"),
        ({"status": "lost"}, "the lead is lost"),
        ({"do_not_email": True, "do_not_call": True}, "the lead asked not to be contacted"),
    ],
)
def test_closed_or_do_not_contact_leads_are_refused_with_a_reason(lead, change, reason):
    for field, value in change.items():
        setattr(lead, field, value)
    lead.save()
    with pytest.raises(EnrolmentRefused, match=reason):
        enrolment_start(
            lead=lead, cadence=make_cadence(steps=TWO_CALLS), now=at("2027-03-01T10:00Z")
        )
    assert not Enrolment.objects.exists()


def test_a_second_running_enrolment_in_the_same_cadence_is_refused(lead):
    cadence = make_cadence(steps=TWO_CALLS)
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T10:00Z"))
    with pytest.raises(EnrolmentRefused, match="already in"):
        enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T11:00Z"))
    assert Enrolment.objects.count() == 1


def test_resume_re_times_the_rest_from_now_instead_of_a_burst_of_overdue_steps(lead):
    cadence = make_cadence(steps=TWO_CALLS, min_gap_hours=0)
    enrolment = enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T10:00Z"))
    enrolment_pause(enrolment=enrolment, now=at("2027-03-01T11:00Z"), reason="on holiday")
    assert Task.objects.get().status == "cancelled"
    enrolment_resume(enrolment=enrolment, now=at("2027-03-15T10:00Z"))
    task = Task.objects.get()
    assert (task.status, task.due_at) == ("pending", at("2027-03-15T10:00Z"))
    kinds = list(EnrolmentEvent.objects.values_list("kind", flat=True))
    assert kinds == ["enrolled", "scheduled", "paused", "resumed", "scheduled"]


def test_won_ends_every_enrolment_that_lists_it_and_cancels_its_steps(lead):
    first = enrolment_start(
        lead=lead, cadence=make_cadence("A", TWO_CALLS), now=at("2027-03-01T10:00Z")
    )
    keeps = make_cadence("B", TWO_CALLS, exit_on=["replied"])
    second = enrolment_start(lead=lead, cadence=keeps, now=at("2027-03-01T10:00Z"))
    callback = Task.objects.create(
        lead=lead, rep=lead.owner, kind="callback", channel="call", due_at=at("2027-03-03T10:00Z")
    )
    lead_status_set(lead=lead, status="won", at=at("2027-03-02T10:00Z"))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.exit_reason) == ("exited", "won")
    assert second.status == "active"  # its cadence does not exit on won
    assert first.tasks.get().status == "cancelled"
    callback.refresh_from_db()
    assert callback.status == "cancelled"
    lead.refresh_from_db()
    assert lead.won_at == at("2027-03-02T10:00Z")


def test_a_reply_pauses_the_colleagues_at_the_same_account(rep):
    account = AccountFactory()
    ann, ben = (LeadFactory(owner=rep, account=account, timezone="UTC") for _ in range(2))
    cadence = make_cadence(steps=TWO_CALLS)
    enrolment_start(lead=ann, cadence=cadence, now=at("2027-03-01T10:00Z"))
    colleague = enrolment_start(lead=ben, cadence=cadence, now=at("2027-03-01T10:00Z"))
    signal_record(kind="replied", lead=ann, occurred_at=at("2027-03-01T12:00Z"))
    colleague.refresh_from_db()
    assert colleague.status == "paused"
    assert "at the same account replied" in colleague.events.last().message
    assert Enrolment.objects.get(lead=ann).exit_reason == "replied"


def test_do_not_call_skips_call_steps_and_logs_why(lead):
    lead.do_not_call = True
    lead.save()
    steps = [{"channel": "call"}, {"channel": "email", "wait_days": 1}]
    enrolment = enrolment_start(
        lead=lead, cadence=make_cadence(steps=steps), now=at("2027-03-01T10:00Z")
    )
    call, email = enrolment.tasks.order_by("step__position")
    assert (call.status, call.status_reason) == ("skipped", "do not call")
    assert email.status == "pending"
    assert enrolment.events.filter(kind="skipped", message__contains="do not call").exists()


def test_a_manual_touch_pushes_the_next_step_past_the_min_gap(lead):
    steps = [{"channel": "call"}, {"channel": "email", "wait_days": 1}]
    cadence = make_cadence(steps=steps, min_gap_hours=48)
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T10:00Z"))  # Monday
    touch_log(
        lead=lead,
        rep=lead.owner,
        channel="call",
        outcome="no_answer",
        occurred_at=at("2027-03-01T10:05Z"),
        now=at("2027-03-01T10:05Z"),
    )
    email = Task.objects.get(step__position=2)
    # One business day would be Tue 10:05; the 48 h gap moves it to Wed 10:05.
    assert email.due_at == at("2027-03-03T10:05Z")
    assert "min_gap" in email.due_reasons
    # A touch made by hand outside the cadence pushes it again, then into the window.
    touch_log(
        lead=lead,
        rep=lead.owner,
        channel="social",
        occurred_at=at("2027-03-02T17:30Z"),
        now=at("2027-03-02T17:30Z"),
    )
    email.refresh_from_db()
    # Tue 17:30 + 48 h is Thu 17:30, after the window: Friday at its start.
    assert email.due_at == at("2027-03-05T09:00Z")
    assert email.due_reasons[-2:] == ["min_gap", "window"]


def test_editing_a_cadence_skips_removed_steps_and_never_repeats_one(lead):
    document = {
        "name": "Edited",
        "steps": [
            {"channel": "call"},
            {"channel": "call", "wait_days": 1},
            {"channel": "call", "wait_days": 1},
        ],
    }
    cadence, _ = cadence_apply(
        spec=parse_cadence(document), activate=True, now=at("2027-03-01T09:00Z")
    )
    enrolment = enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T10:00Z"))
    touch_log(
        lead=lead,
        rep=lead.owner,
        channel="call",
        outcome="no_answer",
        occurred_at=at("2027-03-01T10:30Z"),
        now=at("2027-03-01T10:30Z"),
    )
    document["steps"] = document["steps"][:1]
    cadence_apply(spec=parse_cadence(document), now=at("2027-03-01T12:00Z"))
    second = enrolment.tasks.get(step__position=2)
    assert (second.status, second.status_reason) == ("skipped", "step removed")
    enrolment.refresh_from_db()
    assert enrolment.status == "completed"
    assert enrolment.tasks.filter(step__position=1).count() == 1


def test_time_off_shifts_the_reps_manual_steps_past_it(lead):
    TimeOff.objects.create(
        rep=lead.owner, starts_on=dt.date(2027, 3, 1), ends_on=dt.date(2027, 3, 5)
    )
    enrolment = enrolment_start(
        lead=lead, cadence=make_cadence(steps=TWO_CALLS), now=at("2027-03-01T10:00Z")
    )
    task = enrolment.tasks.get()
    assert task.due_at == at("2027-03-08T09:00Z")  # the Monday back, at the window's start
    assert "time_off" in task.due_reasons


def test_the_explain_log_says_why_a_step_moved(lead):
    cadence = make_cadence(
        steps=[{"channel": "call"}, {"channel": "call", "wait_days": 0, "wait_hours": 30}],
        min_gap_hours=0,
    )
    enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-05T10:00Z"))  # Friday
    touch_log(
        lead=lead,
        rep=lead.owner,
        channel="call",
        outcome="no_answer",
        occurred_at=at("2027-03-05T10:00Z"),
        now=at("2027-03-05T10:00Z"),
    )
    message = EnrolmentEvent.objects.filter(kind="scheduled", step_position=2).get().message
    assert (
        message
        == "Step 2 (call) due Mon 8 Mar 09:00 (lead-local) — moved from Sat 6 Mar 16:00 by weekend"
    )


def test_a_manual_step_on_the_reps_public_holiday_waits_for_the_next_working_day(rep):
    rep.rep_profile.holiday_country = "GB"
    rep.rep_profile.timezone = "Europe/London"
    rep.rep_profile.save()
    lead = LeadFactory(owner=rep, timezone="America/New_York")
    # Mon 2027-05-03 is a UK bank holiday but a US working day: the lead's cadence
    # would call then; the rep is off, so the call waits for Tuesday.
    enrolment = enrolment_start(
        lead=lead, cadence=make_cadence(steps=TWO_CALLS), now=at("2027-05-03T14:00Z")
    )
    task = enrolment.tasks.get()
    assert task.due_at == at("2027-05-04T13:00Z")  # Tue 09:00 New York
    assert "rep_holiday" in task.due_reasons
