"""The cadence engine's writes: enrolments, the tasks they make due, and their life.

Every active enrolment always has exactly one live task: the pending task of its
next step. It is created in the same transaction that finishes the previous step,
so the tick never has to scan enrolments to find work; it only reads due tasks.
The rules (when a step is due) are the pure functions of ``cadences.scheduling``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.timezone import now as clock_now

from cadences import scheduling
from cadences.models import Cadence, Enrolment, EnrolmentEvent, Step, Task
from followup.prepared import HotQuery, concrete_fields, row_instances
from leads.models import Channel, Lead, LeadStatus, RepProfile, TimeOff

MOVE_TIME_OFF = "time_off"
MOVE_REP_HOLIDAY = "rep_holiday"
CLOSED_STATUSES = (LeadStatus.WON, LeadStatus.LOST)


class EnrolmentRefused(Exception):
    """The lead cannot be enrolled; ``str()`` says why in words a rep understands."""


# --- time zones and calendars ---------------------------------------------------


def rep_timezone(rep: object) -> str:
    profile = _profile(rep)
    return (profile.timezone if profile else "") or settings.TIME_ZONE


def lead_timezone(lead: Lead) -> str:
    """The lead's basis time zone: its own, else its owner's, else TIME_ZONE."""
    if lead.timezone:
        return lead.timezone
    return rep_timezone(lead.owner) if lead.owner_id else settings.TIME_ZONE


def _profile(user: object) -> RepProfile | None:
    try:
        return user.rep_profile  # type: ignore[attr-defined]
    except (RepProfile.DoesNotExist, AttributeError):
        return None


def cadence_calendar(cadence: Cadence) -> scheduling.Calendar:
    return scheduling.Calendar(
        business_days_only=cadence.business_days_only,
        holiday_country=cadence.holiday_country or None,
    )


def step_timing(step: Step) -> scheduling.StepTiming:
    return scheduling.StepTiming(
        wait_days=step.wait_days,
        wait_hours=step.wait_hours,
        window_start=step.window_start,
        window_end=step.window_end,
    )


# --- the explain log --------------------------------------------------------------


def log_event(
    enrolment: Enrolment, *, kind: str, message: str, at: dt.datetime, position: int | None = None
) -> None:
    _event(enrolment, kind=kind, message=message, at=at, position=position).save(force_insert=True)


def _event(
    enrolment: Enrolment, *, kind: str, message: str, at: dt.datetime, position: int | None = None
) -> EnrolmentEvent:
    return EnrolmentEvent(
        enrolment=enrolment,
        kind=kind,
        message=message[:500],
        occurred_at=at,
        step_position=position,
    )


# --- enrolling --------------------------------------------------------------------


def enrolment_refusal(*, lead: Lead, cadence: Cadence) -> str | None:
    """Why this lead cannot start this cadence, or None when it can."""
    reason = _lead_refusal(lead)
    if reason:
        return reason
    if not cadence.steps.filter(removed_at__isnull=True).exists():
        return _no_steps(cadence)
    if _running(lead, cadence).exists():
        return _already_in(cadence)
    return None


def _lead_refusal(lead: Lead) -> str | None:
    if lead.status in CLOSED_STATUSES:
        return f"the lead is {lead.get_status_display().lower()}"
    if lead.do_not_email and lead.do_not_call:
        return "the lead asked not to be contacted"
    if lead.unsubscribed_at and lead.do_not_call:
        return "the lead unsubscribed and asked not to be called"
    return None


def _running(lead: Lead, cadence: Cadence) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(
        lead=lead, cadence=cadence, status__in=[Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED]
    )


def _no_steps(cadence: Cadence) -> str:
    return f"cadence '{cadence.name}' has no steps"


def _already_in(cadence: Cadence) -> str:
    return f"the lead is already in '{cadence.name}'"


def enrolment_start(
    *,
    lead: Lead,
    cadence: Cadence,
    now: dt.datetime,
    owner: object | None = None,
    lead_is_new: bool = False,
) -> Enrolment:
    """Enrol a lead; its first step becomes a task at once. Refuses with a reason.

    ``lead_is_new``: the lead was created in the caller's transaction, so it has no
    enrolment yet and no other transaction can enrol it (``lead_upsert`` says so): its
    running enrolments are not asked for and its insert needs no savepoint.
    """
    owner = owner or lead.owner
    if owner is None:
        raise EnrolmentRefused("the lead has no owner")
    # savepoint=False: inside a caller's transaction (a new lead's upsert) a savepoint
    # would cost two round trips, and a refusal is raised only after this block, never
    # through it, so the caller's transaction stays usable when it catches one.
    with transaction.atomic(savepoint=False):
        first = None
        reason = _lead_refusal(lead)
        if reason is None:
            first = _step_after(cadence, 0)
            if first is None:
                reason = _no_steps(cadence)
            elif not lead_is_new and _running(lead, cadence).exists():
                reason = _already_in(cadence)
        if reason is None:
            enrolment = _enrolment_create(
                lead=lead, cadence=cadence, owner=owner, now=now, race=not lead_is_new
            )
            if enrolment is None:
                reason = _already_in(cadence)
            else:
                events = [
                    _event(
                        enrolment, kind="enrolled", message=f"Enrolled in {cadence.name}", at=now
                    )
                ]
                _schedule(enrolment, first, counted_from=now, now=now, events=events)
    if reason:
        raise EnrolmentRefused(reason)
    return enrolment


def _enrolment_create(
    *, lead: Lead, cadence: Cadence, owner: object, now: dt.datetime, race: bool
) -> Enrolment | None:
    """The new enrolment, or None when a concurrent request enrolled the lead first."""
    enrolment = Enrolment(
        lead=lead,
        cadence=cadence,
        owner=owner,
        started_at=now,
        variant_seed=random.randrange(1_000_000),
    )
    if not race:
        enrolment.save(force_insert=True)
        return enrolment
    try:
        with transaction.atomic():
            enrolment.save(force_insert=True)
    except IntegrityError:
        return None
    return enrolment


def enrolment_start_many(
    *, leads: Iterable[Lead], cadence: Cadence, now: dt.datetime
) -> tuple[list[Enrolment], list[tuple[Lead, str]]]:
    """Enrol each lead it can; return the enrolments and the refusals with reasons."""
    started: list[Enrolment] = []
    refused: list[tuple[Lead, str]] = []
    for lead in leads:
        try:
            started.append(enrolment_start(lead=lead, cadence=cadence, now=now))
        except EnrolmentRefused as exc:
            refused.append((lead, str(exc)))
    return started, refused


# --- scheduling steps -------------------------------------------------------------


def _step_after(cadence: Cadence, position: int) -> Step | None:
    """The cadence's next live step after ``position`` (every enrolment asks)."""
    found = _STEP_AFTER.rows(cadence.id, position)
    if not found:
        return None
    (step,) = row_instances(found[0], Step)
    step.cadence = cadence  # as cadence.steps would: its steps know their cadence
    return step


def _step_after_query(cadence_id: int, position: int) -> QuerySet:
    steps = Step.objects.filter(
        cadence_id=cadence_id, removed_at__isnull=True, position__gt=position
    )
    return steps.order_by("position", "pk").values_list(*concrete_fields(Step))[:1]


_STEP_AFTER = HotQuery(_step_after_query, (int, int))


def _skip_reason(step: Step, lead: Lead) -> str | None:
    """Why this step cannot reach this lead at all (it is then skipped, logged)."""
    if step.channel == Channel.CALL and lead.do_not_call:
        return "do not call"
    if step.channel == Channel.CALL and not lead.phone:
        return "no phone number"
    if step.channel == Channel.EMAIL:
        if lead.bounced_at:
            return "email bounced"
        if lead.unsubscribed_at:
            return "unsubscribed"
        if lead.do_not_email:
            return "do not email"
        if not lead.email:
            return "no email address"
    return None


def compute_due(
    *, step: Step, lead: Lead, rep: object, counted_from: dt.datetime
) -> scheduling.DueTime:
    """When ``step`` falls due for ``lead``: waits, window, business days, min gap, time off."""
    cadence = step.cadence
    tz = lead_timezone(lead)
    calendar = cadence_calendar(cadence)
    due = scheduling.step_due_at(
        counted_from,
        step_timing(step),
        tz,
        calendar,
        last_outbound_at=lead.last_outbound_at,
        min_gap_hours=cadence.min_gap_hours,
    )
    if step.mode == Step.Mode.MANUAL:
        due = _past_time_off(due, rep=rep, step=step, tz=tz, calendar=calendar)
    return due


def _past_time_off(
    due: scheduling.DueTime, *, rep: object, step: Step, tz: str, calendar: scheduling.Calendar
) -> scheduling.DueTime:
    """A manual step due while its rep is away (time off, or a public holiday where the
    rep works) moves to the first working day back: no pile of overdue steps on return."""
    for _ in range(60):  # bounded: each pass moves at least one day forward
        back, reason = _rep_back_on(rep, scheduling.local_date(due.at, rep_timezone(rep)))
        if back is None:
            return due
        restart = scheduling.local_day_bounds(back, tz)[0]
        moved, reasons = scheduling.into_window(restart, step_timing(step), tz, calendar)
        due = scheduling.DueTime(
            at=moved, reasons=(*due.reasons, reason, *reasons), naive_at=due.naive_at
        )
    return due


def _rep_back_on(rep: object, day: dt.date) -> tuple[dt.date | None, str]:
    """The day the rep is back when ``day`` is a day off for them, else None."""
    away = _TIME_OFF_ON.rows(rep.pk, day)
    if away:
        return away[0][0] + dt.timedelta(days=1), MOVE_TIME_OFF
    profile = _profile(rep)
    country = profile.holiday_country if profile else ""
    if country and scheduling.Calendar(holiday_country=country).is_holiday(day):
        return day + dt.timedelta(days=1), MOVE_REP_HOLIDAY
    return None, ""


def _time_off_on_query(rep_id: int, day: dt.date) -> QuerySet:
    """The end of the rep's time off around ``day`` (the first by start, as .first())."""
    away = TimeOff.objects.filter(rep_id=rep_id, starts_on__lte=day, ends_on__gte=day)
    return away.order_by("starts_on", "pk").values_list("ends_on")[:1]


_TIME_OFF_ON = HotQuery(_time_off_on_query, (int, dt.date))


def schedule_next_step(
    enrolment: Enrolment, *, counted_from: dt.datetime, now: dt.datetime
) -> Task | None:
    """Create (or revive) the task of the enrolment's next step, or complete it.

    Steps that cannot reach the lead (do-not-call, bounced…) are skipped and logged,
    and the step after them counts from the same moment.
    """
    step = _step_after(enrolment.cadence, enrolment.position)
    return _schedule(enrolment, step, counted_from=counted_from, now=now)


def _schedule(
    enrolment: Enrolment,
    step: Step | None,
    *,
    counted_from: dt.datetime,
    now: dt.datetime,
    events: list[EnrolmentEvent] | None = None,
) -> Task | None:
    """``schedule_next_step`` from ``step``, the enrolment's next one.

    ``events``, for an enrolment made in this transaction (it has no task yet, and no
    other transaction can see it, so none is looked up or raced for): its explain log,
    which is written with the tasks' in one INSERT.
    """
    while step is not None:
        skip = _skip_reason(step, enrolment.lead)
        task = _upsert_step_task(
            enrolment, step, counted_from=counted_from, now=now, skip=skip, events=events
        )
        if task.status == Task.Status.PENDING:
            _write_events(events)
            return task
        enrolment.position = step.position
        enrolment.save(update_fields=["position"])
        step = _step_after(enrolment.cadence, enrolment.position)
    _write_events(events)
    enrolment_complete(enrolment=enrolment, now=now)
    return None


def _write_events(events: list[EnrolmentEvent] | None) -> None:
    if events:
        EnrolmentEvent.objects.bulk_create(events)
        events.clear()


def _variant_for(enrolment: Enrolment, step: Step) -> object | None:
    if step.channel != Channel.EMAIL:
        return None  # only emails have variants; their query is spared for the rest
    variants = list(step.variants.all())
    if not variants:
        return None
    # The base copy is variant "A"; each enrolment gets one evenly, by its seed.
    choice = (enrolment.variant_seed + step.position) % (len(variants) + 1)
    return None if choice == 0 else variants[choice - 1]


def _upsert_step_task(
    enrolment: Enrolment,
    step: Step,
    *,
    counted_from: dt.datetime,
    now: dt.datetime,
    skip: str | None,
    events: list[EnrolmentEvent] | None = None,
) -> Task:
    fresh = events is not None
    existing = (
        None
        if fresh
        else Task.objects.filter(enrolment=enrolment, step=step, kind=Task.Kind.STEP).first()
    )
    if existing and existing.status not in (Task.Status.PENDING, Task.Status.CANCELLED):
        return existing  # never repeat a step that was done, sent or skipped
    due = compute_due(
        step=step, lead=enrolment.lead, rep=enrolment.owner, counted_from=counted_from
    )
    task = existing or Task(enrolment=enrolment, step=step, kind=Task.Kind.STEP, created_at=now)
    task.lead = enrolment.lead
    task.rep = enrolment.owner
    task.channel = step.channel
    task.mode = step.mode
    task.title = step.title
    task.variant = _variant_for(enrolment, step)
    task.due_at = due.at
    task.due_reasons = list(due.reasons)
    task.unmoved_due_at = due.naive_at
    task.status = Task.Status.SKIPPED if skip else Task.Status.PENDING
    task.status_reason = skip or ""
    task.completed_at = now if skip else None
    if fresh:
        task.save(force_insert=True)  # nobody else can have made this task
    else:
        _save_step_task(task)
    tz = lead_timezone(enrolment.lead)
    if skip:
        message = f"Step {step.position} ({step.channel}) skipped: {skip}"
    else:
        message = f"Step {step.position} ({step.channel}) due {due.explain(tz)}"
    event = _event(
        enrolment,
        kind="skipped" if skip else "scheduled",
        position=step.position,
        at=now,
        message=message,
    )
    if events is None:
        event.save(force_insert=True)
    else:
        events.append(event)
    return task


def _save_step_task(task: Task) -> None:
    try:
        with transaction.atomic():
            task.save()
    except IntegrityError:
        # Another worker created this enrolment step's task first: keep theirs.
        pass


# --- finishing tasks --------------------------------------------------------------


def task_finish(
    *,
    task: Task,
    status: str,
    at: dt.datetime,
    reason: str = "",
    touch: object | None = None,
) -> bool:
    """Mark a pending task finished and advance its enrolment. False if it was not pending.

    The compare-and-set on ``status`` makes this safe when a rep double-clicks or two
    workers race: only one caller finishes the task and advances the enrolment.
    """
    with transaction.atomic():
        won = Task.objects.filter(id=task.id, status=Task.Status.PENDING).update(
            status=status, completed_at=at, status_reason=reason[:300], touch=touch
        )
        if not won:
            return False
        task.status, task.completed_at, task.status_reason = status, at, reason
        if task.enrolment_id and task.kind == Task.Kind.STEP:
            _advance(task, at=at)
    return True


def _advance(task: Task, *, at: dt.datetime) -> None:
    enrolment = (
        # of=self: PostgreSQL cannot lock the nullable side of the joined profiles.
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("cadence", "lead__owner__rep_profile", "owner__rep_profile")
        .get(id=task.enrolment_id)
    )
    if enrolment.status != Enrolment.Status.ACTIVE:
        return
    step = task.step
    verb = {"done": "done", "sent": "sent", "skipped": "skipped", "failed": "failed"}[task.status]
    detail = f": {task.status_reason}" if task.status_reason else ""
    log_event(
        enrolment,
        kind=verb,
        position=step.position,
        at=at,
        message=f"Step {step.position} ({step.channel}) {verb}{detail}",
    )
    if step.position > enrolment.position:
        enrolment.position = step.position
        enrolment.save(update_fields=["position"])
    schedule_next_step(enrolment, counted_from=at, now=at)


def task_skip(*, task: Task, reason: str, at: dt.datetime) -> bool:
    return task_finish(task=task, status=Task.Status.SKIPPED, at=at, reason=reason)


@transaction.atomic
def task_snooze(*, task: Task, until: dt.datetime, reason: str, now: dt.datetime) -> None:
    """Move a pending task later; it is the rep's decision, so no rule moves it back."""
    if until <= now:
        raise ValueError("snooze until a time in the future")
    updated = Task.objects.filter(id=task.id, status=Task.Status.PENDING).update(
        due_at=until, due_reasons=["snoozed"], status_reason=reason[:300]
    )
    if updated and task.enrolment_id:
        log_event(
            task.enrolment,
            kind="snoozed",
            position=task.step.position if task.step else None,
            at=now,
            message=f"Snoozed to {until:%Y-%m-%d %H:%M} UTC: {reason}",
        )


def callback_create(
    *, lead: Lead, due_at: dt.datetime, now: dt.datetime, note: str = "", rep: object = None
) -> Task:
    """A promised callback: a call task for the owner (else ``rep``) due exactly then."""
    rep = lead.owner or rep
    if rep is None:
        raise ValueError("the lead has no owner to make the callback")
    return Task.objects.create(
        lead=lead,
        rep=rep,
        kind=Task.Kind.CALLBACK,
        channel=Channel.CALL,
        mode=Step.Mode.MANUAL,
        title=note[:200] or "Call back as promised",
        due_at=due_at,
        unmoved_due_at=due_at,
        created_at=now,
    )


def hot_call_create(*, lead: Lead, at: dt.datetime, why: str) -> Task | None:
    """One hot call per lead per rep-local day, for the owner, due now."""
    if lead.owner_id is None or lead.do_not_call or lead.status in CLOSED_STATUSES:
        return None
    day = scheduling.local_date(at, rep_timezone(lead.owner))
    try:
        with transaction.atomic():
            return Task.objects.create(
                lead=lead,
                rep=lead.owner,
                kind=Task.Kind.HOT,
                channel=Channel.CALL,
                mode=Step.Mode.MANUAL,
                title=why[:200],
                due_at=at,
                unmoved_due_at=at,
                hot_date=day,
                created_at=at,
            )
    except IntegrityError:
        return None  # already hot today: one call is enough


# --- pausing, exiting, completing ---------------------------------------------------


def _cancel_pending(tasks: QuerySet[Task], *, reason: str, at: dt.datetime) -> int:
    return tasks.filter(status=Task.Status.PENDING).update(
        status=Task.Status.CANCELLED, status_reason=reason[:300], completed_at=at
    )


@transaction.atomic
def enrolment_pause(*, enrolment: Enrolment, now: dt.datetime, reason: str = "") -> bool:
    if enrolment.status != Enrolment.Status.ACTIVE:
        return False
    Enrolment.objects.filter(id=enrolment.id).update(status=Enrolment.Status.PAUSED, paused_at=now)
    enrolment.status, enrolment.paused_at = Enrolment.Status.PAUSED, now
    _cancel_pending(
        enrolment.tasks.all(), reason=f"paused: {reason}" if reason else "paused", at=now
    )
    log_event(enrolment, kind="paused", at=now, message=f"Paused{': ' + reason if reason else ''}")
    return True


@transaction.atomic
def enrolment_resume(*, enrolment: Enrolment, now: dt.datetime) -> bool:
    """Resume: the rest is re-timed from now, never a burst of overdue steps."""
    if enrolment.status != Enrolment.Status.PAUSED:
        return False
    Enrolment.objects.filter(id=enrolment.id).update(status=Enrolment.Status.ACTIVE, paused_at=None)
    enrolment.status, enrolment.paused_at = Enrolment.Status.ACTIVE, None
    log_event(enrolment, kind="resumed", at=now, message="Resumed; the next step counts from now")
    schedule_next_step(enrolment, counted_from=now, now=now)
    return True


@transaction.atomic
def enrolment_exit(*, enrolment: Enrolment, reason: str, now: dt.datetime) -> bool:
    updated = Enrolment.objects.filter(
        id=enrolment.id, status__in=[Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED]
    ).update(status=Enrolment.Status.EXITED, exit_reason=reason[:200], ended_at=now)
    if not updated:
        return False
    enrolment.status, enrolment.exit_reason, enrolment.ended_at = "exited", reason, now
    _cancel_pending(enrolment.tasks.all(), reason=f"exited: {reason}", at=now)
    _cancel_outbox(enrolment.tasks.all(), reason=f"exited: {reason}")
    log_event(enrolment, kind="exited", at=now, message=f"Exited on {reason}")
    return True


def _cancel_outbox(tasks: QuerySet[Task], *, reason: str) -> None:
    from cadences.models import OutboundEmail

    OutboundEmail.objects.filter(
        task__in=tasks, status__in=[OutboundEmail.Status.QUEUED, OutboundEmail.Status.RETRY]
    ).update(status=OutboundEmail.Status.CANCELLED, last_error=reason[:300])


def enrolment_complete(*, enrolment: Enrolment, now: dt.datetime) -> None:
    """The last step is done: apply ``on_complete`` (status, hand-off to nurture)."""
    updated = Enrolment.objects.filter(id=enrolment.id, status=Enrolment.Status.ACTIVE).update(
        status=Enrolment.Status.COMPLETED, ended_at=now
    )
    if not updated:
        return
    enrolment.status, enrolment.ended_at = Enrolment.Status.COMPLETED, now
    cadence = enrolment.cadence
    log_event(enrolment, kind="completed", at=now, message=f"Completed {cadence.name}")
    lead = enrolment.lead
    if cadence.on_complete_status and lead.status not in CLOSED_STATUSES:
        lead_status_set(lead=lead, status=cadence.on_complete_status, at=now)
    nurture = cadence.on_complete_cadence
    if nurture is not None and nurture.id != cadence.id:
        try:
            handed = enrolment_start(lead=lead, cadence=nurture, owner=enrolment.owner, now=now)
        except EnrolmentRefused as exc:
            log_event(enrolment, kind="handoff", at=now, message=f"Not handed to {nurture}: {exc}")
        else:
            log_event(enrolment, kind="handoff", at=now, message=f"Handed to {nurture.name}")
            log_event(handed, kind="handoff", at=now, message=f"Came from {cadence.name}")


def lead_status_set(*, lead: Lead, status: str, at: dt.datetime) -> None:
    """Change a lead's status; won/lost end its enrolments that list them."""
    if status == lead.status:
        return
    lead.status = status
    lead.status_changed_at = at
    fields = ["status", "status_changed_at"]
    if status == LeadStatus.WON:
        lead.won_at = at
        fields.append("won_at")
    lead.save(update_fields=fields)
    if status in CLOSED_STATUSES:
        exit_on_kind(lead=lead, kind=status, at=at)
        _cancel_pending(lead.tasks.exclude(kind=Task.Kind.STEP), reason=f"lead {status}", at=at)


# --- exits on outcomes and signals -------------------------------------------------


def running_enrolments(lead: Lead) -> QuerySet[Enrolment]:
    return lead.enrolments.filter(
        status__in=[Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED]
    ).select_related("cadence")


def exit_on_kind(*, lead: Lead, kind: str, at: dt.datetime) -> list[Enrolment]:
    """End every running enrolment of the lead whose cadence lists ``kind`` in exit_on."""
    ended = []
    for enrolment in running_enrolments(lead):
        if kind in (enrolment.cadence.exit_on or []) and enrolment_exit(
            enrolment=enrolment, reason=kind, now=at
        ):
            ended.append(enrolment)
    return ended


def pause_account_colleagues(*, lead: Lead, kind: str, at: dt.datetime) -> int:
    """A reply or meeting from one person pauses the others at the same account."""
    if not lead.account_id:
        return 0
    colleagues = (
        Enrolment.objects.filter(
            lead__account_id=lead.account_id,
            status=Enrolment.Status.ACTIVE,
            cadence__pause_account_on_reply=True,
        )
        .exclude(lead=lead)
        .select_related("cadence", "lead")
    )
    why = f"{lead.name or lead.email} at the same account {kind.replace('_', ' ')}"
    return sum(enrolment_pause(enrolment=e, now=at, reason=why) for e in colleagues)


def stop_channel(*, lead: Lead, channel: str, reason: str, at: dt.datetime) -> None:
    """Skip every pending task of one channel for the lead (unsubscribe, bounce, DNC)."""
    pending = list(
        lead.tasks.filter(status=Task.Status.PENDING, channel=channel).select_related("step")
    )
    for task in pending:
        task_finish(task=task, status=Task.Status.SKIPPED, at=at, reason=reason)


# --- min gap: a manual touch pushes the next step back ------------------------------


def retime_after_touch(*, lead: Lead, at: dt.datetime) -> int:
    """Push the lead's pending cadence steps past each cadence's min gap after ``at``."""
    moved = 0
    pending = lead.tasks.filter(
        status=Task.Status.PENDING, kind=Task.Kind.STEP, enrolment__status="active"
    ).select_related("step__cadence", "enrolment")
    tz = lead_timezone(lead)
    for task in pending:
        cadence = task.step.cadence
        earliest = scheduling.earliest_after_gap(at, cadence.min_gap_hours)
        if earliest is None or task.due_at >= earliest:
            continue
        due, reasons = scheduling.into_window(
            earliest, step_timing(task.step), tz, cadence_calendar(cadence)
        )
        Task.objects.filter(id=task.id, status=Task.Status.PENDING).update(
            due_at=due, due_reasons=[*task.due_reasons, scheduling.MOVE_MIN_GAP, *reasons]
        )
        log_event(
            task.enrolment,
            kind="retimed",
            position=task.step.position,
            at=at,
            message=f"Step {task.step.position} moved to {_explain(due, tz)} by min_gap "
            f"after a touch",
        )
        moved += 1
    return moved


def _explain(at: dt.datetime, tz: str) -> str:
    return scheduling.DueTime(at=at, reasons=(), naive_at=at).explain(tz)


# --- cadence edits ------------------------------------------------------------------


def cadence_retime_pending(*, cadence: Cadence, now: dt.datetime) -> int:
    """After a template edit: skip tasks of removed steps, re-time pending not-yet-due ones."""
    changed = 0
    removed = Task.objects.filter(
        step__cadence=cadence, step__removed_at__isnull=False, status=Task.Status.PENDING
    ).select_related("step")
    for task in removed:
        changed += task_finish(task=task, status=Task.Status.SKIPPED, at=now, reason="step removed")
    future = Task.objects.filter(
        step__cadence=cadence,
        kind=Task.Kind.STEP,
        status=Task.Status.PENDING,
        due_at__gt=now,
        enrolment__status=Enrolment.Status.ACTIVE,
    ).select_related("step__cadence", "enrolment", "lead__owner__rep_profile", "rep__rep_profile")
    for task in future:
        changed += _retime_from_template(task, now=now)
    return changed


def _retime_from_template(task: Task, *, now: dt.datetime) -> int:
    counted_from = _previous_done_at(task) or task.enrolment.started_at
    due = compute_due(step=task.step, lead=task.lead, rep=task.rep, counted_from=counted_from)
    at = max(due.at, now)
    if at == task.due_at and task.mode == task.step.mode and task.channel == task.step.channel:
        return 0
    Task.objects.filter(id=task.id, status=Task.Status.PENDING).update(
        due_at=at,
        due_reasons=list(due.reasons),
        unmoved_due_at=due.naive_at,
        channel=task.step.channel,
        mode=task.step.mode,
        title=task.step.title,
    )
    return 1


def _previous_done_at(task: Task) -> dt.datetime | None:
    previous = (
        Task.objects.filter(enrolment=task.enrolment, kind=Task.Kind.STEP)
        .exclude(id=task.id)
        .exclude(completed_at__isnull=True)
        .exclude(status=Task.Status.CANCELLED)
        .order_by("-completed_at")
        .first()
    )
    return previous.completed_at if previous else None


# --- repair -------------------------------------------------------------------------


@dataclass
class RepairResult:
    scheduled: int = 0


def enrolments_repair(*, now: dt.datetime, batch: int = 500) -> RepairResult:
    """Give any active enrolment without a live task its next step (belt and braces)."""
    result = RepairResult()
    live_task = Task.objects.filter(
        enrolment=OuterRef("pk"), kind=Task.Kind.STEP, status=Task.Status.PENDING
    )
    orphans = (
        Enrolment.objects.filter(status=Enrolment.Status.ACTIVE)
        .exclude(Exists(live_task))
        .select_related("cadence", "lead__owner__rep_profile", "owner__rep_profile")
        .order_by("id")[:batch]
    )
    for enrolment in orphans:
        with transaction.atomic():
            counted_from = _last_step_done_at(enrolment) or enrolment.started_at
            if schedule_next_step(enrolment, counted_from=counted_from, now=now):
                result.scheduled += 1
    return result


def _last_step_done_at(enrolment: Enrolment) -> dt.datetime | None:
    last = (
        enrolment.tasks.filter(kind=Task.Kind.STEP, status__in=Task.FINISHED)
        .order_by("-completed_at")
        .first()
    )
    return last.completed_at if last else None


def now_or_clock(now: dt.datetime | None) -> dt.datetime:
    return now or clock_now()
