"""Writes for what happens with a lead: touches, signals, status changes, unsubscribes.

Each one is where the cadence engine hears about the outside world, so each applies
the rules of CONTRACT.md section 5: a touch completes the task it fulfils and pushes
the next step past the min gap; outcomes and signals in ``exit_on`` end enrolments;
a voicemail's callback is kept to the minute; intent signals make a hot call.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from cadences import scheduling
from cadences.models import Task
from cadences.services import (
    callback_create,
    exit_on_kind,
    hot_call_create,
    lead_status_set,
    pause_account_colleagues,
    rep_timezone,
    retime_after_touch,
    stop_channel,
    task_finish,
)
from leads.models import CONNECT_OUTCOMES, INTENT_SIGNALS, Lead, LeadStatus, Signal, Touch
from leads.suppression import suppress_email

EMAIL_STOPPERS = ("bounced", "unsubscribed")
CONVERSATION_KINDS = ("replied", "meeting_booked")
KIND_ORDER = {Task.Kind.HOT: 0, Task.Kind.CALLBACK: 1, Task.Kind.STEP: 2}


class TouchRefused(ValueError):
    """The touch cannot be logged; ``fields`` names what is wrong."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def _direction(outcome: str) -> str:
    return Touch.Direction.INBOUND if outcome == "replied" else Touch.Direction.OUTBOUND


def matching_task(*, lead: Lead, channel: str, at: dt.datetime) -> Task | None:
    """The lead's pending task of this channel due on or before the touch's day."""
    candidates = list(
        lead.tasks.filter(status=Task.Status.PENDING, channel=channel, mode="manual")
        .select_related("rep__rep_profile", "step", "enrolment")
        .order_by("due_at", "id")
    )
    fitting = [
        task
        for task in candidates
        if task.due_at
        < scheduling.local_day_bounds(
            scheduling.local_date(at, rep_timezone(task.rep)), rep_timezone(task.rep)
        )[1]
    ]
    fitting.sort(key=lambda t: (KIND_ORDER.get(t.kind, 3), t.due_at, t.id))
    return fitting[0] if fitting else None


@transaction.atomic
def touch_log(
    *,
    lead: Lead,
    rep: AbstractBaseUser | None,
    channel: str,
    occurred_at: dt.datetime,
    now: dt.datetime,
    outcome: str = "",
    notes: str = "",
    callback_at: dt.datetime | None = None,
    task: Task | None = None,
    source: str = "ui",
    subject: str = "",
    asset: object | None = None,
) -> Touch:
    """Record a touch and apply what it means for the lead's cadences."""
    # The caller's copy of the lead was read before this transaction: re-read it under a
    # row lock, as touches_record_sent_emails does, so a touch recorded meanwhile (the
    # worker's email, an API call) keeps its place in the lead's counters.
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _check_touch(lead=lead, outcome=outcome, callback_at=callback_at, now=now, task=task, rep=rep)
    if task is None:
        task = matching_task(lead=lead, channel=channel, at=occurred_at)
    touch = Touch.objects.create(
        lead=lead,
        rep=rep,
        channel=channel,
        direction=_direction(outcome),
        outcome=outcome,
        occurred_at=occurred_at,
        notes=notes,
        callback_at=callback_at,
        source=source,
        subject=subject,
        asset=asset,
        created_at=now,
        task=task,
        step=task.step if task else None,
        enrolment=task.enrolment if task else None,
    )
    _count_touch(lead, touch)
    if task is not None and task.status == Task.Status.PENDING:
        task_finish(task=task, status=Task.Status.DONE, at=occurred_at, touch=touch)
    if touch.is_outbound:
        retime_after_touch(lead=lead, at=occurred_at)
    if outcome == "voicemail" and callback_at:
        callback_create(
            lead=lead, due_at=callback_at, now=now, note=f"Promised callback: {notes}", rep=rep
        )
    _apply_outcome(lead, outcome, at=occurred_at)
    return touch


def _check_touch(
    *,
    lead: Lead,
    outcome: str,
    callback_at: dt.datetime | None,
    now: dt.datetime,
    task: Task | None,
    rep: AbstractBaseUser | None = None,
) -> None:
    errors = {}
    if callback_at is not None and callback_at <= now:
        errors["callback_at"] = "must be in the future"
    if callback_at is not None and outcome not in ("voicemail", "no_answer", "connected"):
        errors["callback_at"] = "a callback goes with a call outcome (voicemail, no answer…)"
    if task is not None and task.lead_id != lead.id:
        errors["task_id"] = "that task belongs to another lead"
    if callback_at is not None and lead.owner_id is None and rep is None:
        errors["callback_at"] = "the lead has no owner to make the callback"
    if errors:
        raise TouchRefused(errors)


def _count_touch(lead: Lead, touch: Touch) -> None:
    lead.save(update_fields=_counted(lead, touch))


def _counted(lead: Lead, touch: Touch) -> list[str]:
    """Move the lead's counters on for this touch; the fields changed, to be saved."""
    at = touch.occurred_at
    fields = ["last_touched_at"]
    lead.last_touched_at = max(filter(None, [lead.last_touched_at, at]))
    if touch.is_outbound:
        lead.touch_count += 1
        lead.first_touched_at = min(filter(None, [lead.first_touched_at, at]))
        lead.last_outbound_at = max(filter(None, [lead.last_outbound_at, at]))
        fields += ["touch_count", "first_touched_at", "last_outbound_at"]
    fields += first_times_of(lead, touch)
    if lead.status == LeadStatus.NEW:
        lead.status = LeadStatus.WORKING
        lead.status_changed_at = at
        fields += ["status", "status_changed_at"]
    return fields


def first_times_of(lead: Lead, touch: Touch) -> list[str]:
    """Move the lead's first attempt and first connect to this touch if it is earlier.

    Speed to lead counts from the lead's creation: a touch before it (an imported
    history) is neither. Returns the fields changed, for ``save(update_fields=...)``.
    """
    at = touch.occurred_at
    if at < lead.created_at:
        return []
    fields = []
    if touch.is_outbound and (lead.first_attempt_at is None or at < lead.first_attempt_at):
        lead.first_attempt_at = at
        fields.append("first_attempt_at")
    connects = touch.outcome in CONNECT_OUTCOMES
    if connects and (lead.first_connect_at is None or at < lead.first_connect_at):
        lead.first_connect_at = at
        fields.append("first_connect_at")
    return fields


def _apply_outcome(lead: Lead, kind: str, *, at: dt.datetime) -> None:
    """The shared effects of a touch outcome or a signal kind."""
    if not kind:
        return
    if kind == "bounced" and not lead.bounced_at:
        lead.bounced_at = at
        lead.save(update_fields=["bounced_at"])
    if kind == "unsubscribed" and not lead.unsubscribed_at:
        lead.unsubscribed_at = at
        lead.save(update_fields=["unsubscribed_at"])
    exit_on_kind(lead=lead, kind=kind, at=at)
    if kind in EMAIL_STOPPERS:
        stop_channel(lead=lead, channel="email", reason=kind, at=at)
        if lead.email:
            suppress_email(lead.email, kind)  # import and the API honour it from now on
    if kind in CONVERSATION_KINDS:
        pause_account_colleagues(lead=lead, kind=kind, at=at)
    if kind == "meeting_booked" and lead.status not in (LeadStatus.WON, LeadStatus.LOST):
        lead_status_set(lead=lead, status=LeadStatus.MEETING, at=at)


def touches_record_sent_emails(*, outbounds: list) -> list[Touch]:
    """The Touches of automated emails just sent, each at its ``sent_at``, set-based:
    one lock of their leads, one insert, one update of the leads' counters."""
    # Locked in id order, so two recorders never wait on each other in a circle.
    leads = Lead.objects.select_for_update().filter(id__in={o.lead_id for o in outbounds})
    by_id = {lead.id: lead for lead in leads.order_by("id")}
    touches = [_sent_email_touch(o, by_id[o.lead_id], o.sent_at) for o in outbounds]
    Touch.objects.bulk_create(touches)
    fields: set[str] = set()
    for touch in touches:  # a lead with two emails in the batch counts both
        fields.update(_counted(touch.lead, touch))
    if fields:
        Lead.objects.bulk_update(list(by_id.values()), sorted(fields))
    return touches


def _sent_email_touch(outbound: object, lead: Lead, at: dt.datetime) -> Touch:
    task = outbound.task
    return Touch(
        lead=lead,
        rep=task.rep,
        channel="email",
        outcome="sent",
        occurred_at=at,
        automated=True,
        source="cadence",
        subject=outbound.subject,
        created_at=at,
        task=task,
        step=task.step,
        enrolment=task.enrolment,
    )


@transaction.atomic
def signal_record(
    *,
    kind: str,
    occurred_at: dt.datetime,
    lead: Lead | None = None,
    lead_email: str = "",
    data: dict | None = None,
    now: dt.datetime | None = None,
) -> Signal:
    """Store a signal, then apply it. A signal for an unknown lead is kept, not an error."""
    signal = Signal.objects.create(
        lead=lead,
        lead_email=lead_email or (lead.email if lead else ""),
        kind=kind,
        occurred_at=occurred_at,
        data=data or {},
        created_at=now or occurred_at,
    )
    if lead is None:
        return signal
    lead = Lead.objects.select_for_update().get(pk=lead.pk)  # see touch_log
    if kind in INTENT_SIGNALS:
        hot_call_create(lead=lead, at=now or occurred_at, why=kind.replace("_", " "))
    if kind == "replied":
        lead.last_touched_at = max(filter(None, [lead.last_touched_at, occurred_at]))
        lead.save(update_fields=["last_touched_at"])
    _apply_outcome(lead, kind, at=occurred_at)
    return signal


def lead_unsubscribe(*, lead: Lead, at: dt.datetime, how: str = "link") -> bool:
    """Idempotent: the first call records the signal and stops email; later ones do nothing."""
    if lead.unsubscribed_at:
        return False
    signal_record(kind="unsubscribed", occurred_at=at, lead=lead, data={"via": how}, now=at)
    return True
