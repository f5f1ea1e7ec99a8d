"""Team changes a manager makes: a rep's time off moves their steps; leads change hands.

Both keep the engine's promise that nothing is dropped: a rep back from a week away
does not find a week of overdue steps, and a lead handed to another rep keeps its
cadence, its place in it and its pending tasks, now in the new rep's queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from cadences import scheduling
from cadences.models import Enrolment, EnrolmentEvent, Step, Task
from cadences.services import (
    MOVE_TIME_OFF,
    cadence_calendar,
    lead_timezone,
    log_event,
    rep_timezone,
    step_timing,
)
from followup import audit
from leads.models import Lead, TimeOff

RUNNING = (Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED)


# --- time off ---------------------------------------------------------------------------


def time_off_apply(*, rep: AbstractBaseUser, now: dt.datetime) -> int:
    """Move the rep's pending manual steps due during their time off to the day back.

    Each goes to the first business day after the time off (in the cadence's calendar
    and the lead's zone), at the opening of the step's window, and says so in its
    reasons and in the enrolment's log. Callbacks and hot calls stay: they are promises.
    """
    rep_tz = rep_timezone(rep)
    periods = list(TimeOff.objects.filter(rep=rep, ends_on__gte=scheduling.local_date(now, rep_tz)))
    if not periods:
        return 0
    last_day = max(period.ends_on for period in periods)
    until = scheduling.local_day_bounds(last_day, rep_tz)[1]
    tasks = Task.objects.filter(
        rep=rep,
        kind=Task.Kind.STEP,
        mode=Step.Mode.MANUAL,
        status=Task.Status.PENDING,
        due_at__lt=until,
    ).select_related("step__cadence", "enrolment", "lead__owner__rep_profile")
    return sum(_move_past_time_off(task, periods, rep_tz=rep_tz, now=now) for task in tasks)


def _move_past_time_off(
    task: Task, periods: Sequence[TimeOff], *, rep_tz: str, now: dt.datetime
) -> int:
    moved = _after_time_off(task, periods, rep_tz=rep_tz)
    if moved is None:
        return 0
    at, reasons, away = moved
    # Only while still pending: a task the rep finished meanwhile keeps its history.
    updated = Task.objects.filter(id=task.id, status=Task.Status.PENDING).update(
        due_at=at, due_reasons=[*task.due_reasons, *reasons]
    )
    if updated and task.enrolment_id:
        tz = lead_timezone(task.lead)
        when = scheduling.DueTime(at=at, reasons=(), naive_at=at).explain(tz)
        log_event(
            task.enrolment,
            kind="retimed",
            position=task.step.position,
            at=now,
            message=f"Step {task.step.position} moved to {when} by time off "
            f"({away.starts_on:%Y-%m-%d} to {away.ends_on:%Y-%m-%d})",
        )
    return updated


def _after_time_off(
    task: Task, periods: Sequence[TimeOff], *, rep_tz: str
) -> tuple[dt.datetime, list[str], TimeOff] | None:
    """The task's new due time, past every time off it lands in, or None when it stays."""
    at, reasons, last_away = task.due_at, [], None
    tz, calendar = lead_timezone(task.lead), cadence_calendar(task.step.cadence)
    # Each turn moves past one period, so back-to-back periods need at most one turn each.
    for _ in range(len(periods)):
        day = scheduling.local_date(at, rep_tz)
        away = next((p for p in periods if p.starts_on <= day <= p.ends_on), None)
        if away is None:
            break
        restart = scheduling.local_day_bounds(away.ends_on + dt.timedelta(days=1), tz)[0]
        at, window = scheduling.into_window(restart, step_timing(task.step), tz, calendar)
        reasons += [MOVE_TIME_OFF, *window]
        last_away = away
    return (at, reasons, last_away) if last_away else None


# --- handing leads to another rep ----------------------------------------------------------


@dataclass(frozen=True)
class Reassignment:
    """How many leads, running enrolments and pending tasks move (or moved)."""

    leads: int
    enrolments: int
    tasks: int


def _leads_of(rep: AbstractBaseUser, lead_ids: Iterable[int] | None) -> QuerySet[Lead]:
    leads = Lead.objects.filter(owner=rep)
    return leads if lead_ids is None else leads.filter(id__in=list(lead_ids))


def _moving(
    rep: AbstractBaseUser, leads: QuerySet[Lead]
) -> tuple[QuerySet[Enrolment], QuerySet[Task]]:
    lead_pks = leads.values("pk")
    enrolments = Enrolment.objects.filter(lead__in=lead_pks, owner=rep, status__in=RUNNING)
    tasks = Task.objects.filter(lead__in=lead_pks, rep=rep, status=Task.Status.PENDING)
    return enrolments, tasks


def reassign_counts(
    *, from_rep: AbstractBaseUser, lead_ids: Iterable[int] | None = None
) -> Reassignment:
    """What `leads_reassign` would move, for the manager to see before confirming."""
    leads = _leads_of(from_rep, lead_ids)
    enrolments, tasks = _moving(from_rep, leads)
    return Reassignment(leads=leads.count(), enrolments=enrolments.count(), tasks=tasks.count())


@transaction.atomic
def leads_reassign(
    *,
    from_rep: AbstractBaseUser,
    to_rep: AbstractBaseUser,
    lead_ids: Iterable[int] | None = None,
    now: dt.datetime,
) -> Reassignment:
    """Give `from_rep`'s leads (all, or those of `lead_ids`) to `to_rep`, all or nothing.

    Their running enrolments and pending tasks follow, so the new rep's queue holds the
    work at once and the cadences carry on where they were. Set-based: one UPDATE per
    table whatever the count, and the leads last, since the others select by owner.
    """
    if from_rep.pk == to_rep.pk:
        raise ValueError("choose another rep to hand the leads to")
    leads = _leads_of(from_rep, lead_ids)
    enrolments, tasks = _moving(from_rep, leads)
    enrolment_ids = list(enrolments.values_list("pk", flat=True))
    moved_tasks = tasks.update(rep=to_rep)
    moved_enrolments = enrolments.update(owner=to_rep)
    _log_reassigned(enrolment_ids, from_rep=from_rep, to_rep=to_rep, now=now)
    moved_ids = list(leads.values_list("pk", flat=True))
    moved_leads = leads.update(owner=to_rep)
    audit.audit_record(
        action=audit.LEAD_OWNER,
        target=None,
        at=now,
        before={"owner": from_rep.get_username(), "leads": moved_ids},
        after={"owner": to_rep.get_username(), "leads": moved_ids, "tasks": moved_tasks},
    )
    return Reassignment(leads=moved_leads, enrolments=moved_enrolments, tasks=moved_tasks)


def _log_reassigned(
    enrolment_ids: list[int],
    *,
    from_rep: AbstractBaseUser,
    to_rep: AbstractBaseUser,
    now: dt.datetime,
) -> None:
    message = f"Reassigned from {from_rep.get_username()} to {to_rep.get_username()}"
    EnrolmentEvent.objects.bulk_create(
        [
            EnrolmentEvent(enrolment_id=pk, kind="reassigned", message=message, occurred_at=now)
            for pk in enrolment_ids
        ],
        batch_size=500,
    )
