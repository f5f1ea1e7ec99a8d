"""Reads for the lead pages: who may see which lead, the list, the lead page's timeline.

Every read here runs a fixed number of queries whatever the number of rows:
relations come through ``select_related``, counts and next due times through
subqueries, and each kind of history through one query.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from cadences import scheduling
from cadences.models import Enrolment, EnrolmentEvent, OutboundEmail, Step, Task
from cadences.services import lead_timezone
from followup.roles import is_manager
from leads.models import Lead, Signal, Touch

# Enough history for a rep to read before a call; older rows stay in the database.
TIMELINE_LIMIT = 200
COLLEAGUE_LIMIT = 50
RUNNING = (Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED)

SORTS: dict[str, tuple] = {
    "name": (Lower("last_name"), Lower("first_name"), "id"),
    "-name": (Lower("last_name").desc(), Lower("first_name").desc(), "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "touched": (F("last_touched_at").asc(nulls_first=True), "id"),
    "-touched": (F("last_touched_at").desc(nulls_last=True), "-id"),
    "status": ("status", "-created_at", "-id"),
    "-status": ("-status", "-created_at", "-id"),
}
DEFAULT_SORT = "-created"


def leads_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Lead]:
    """A manager sees every lead; anyone else only the leads they own."""
    if not user.is_authenticated:
        return Lead.objects.none()
    if is_manager(user):
        return Lead.objects.all()
    return Lead.objects.filter(owner=user)


def can_see_lead(user: AbstractBaseUser, lead: Lead) -> bool:
    return is_manager(user) or (lead.owner_id is not None and lead.owner_id == user.pk)


def _pending_manual_tasks() -> QuerySet[Task]:
    return Task.objects.filter(
        lead=OuterRef("pk"), status=Task.Status.PENDING, mode=Step.Mode.MANUAL
    )


@dataclass
class LeadFilters:
    q: str = ""
    status: str = ""
    stage: str = ""
    owner_id: int | None = None
    cadence_id: int | None = None
    tag_id: int | None = None
    overdue: bool = False
    sort: str = DEFAULT_SORT


def lead_list(*, user: AbstractBaseUser, filters: LeadFilters, now: dt.datetime) -> QuerySet[Lead]:
    """The leads page: visible leads, filtered, sorted, with the next task's due time."""
    leads = (
        leads_visible_to(user)
        .select_related("account", "owner")
        .annotate(
            next_due_at=Subquery(_pending_manual_tasks().order_by("due_at").values("due_at")[:1])
        )
    )
    leads = _filtered(leads, filters, now=now)
    return leads.order_by(*SORTS.get(filters.sort, SORTS[DEFAULT_SORT]))


def _filtered(leads: QuerySet[Lead], filters: LeadFilters, *, now: dt.datetime) -> QuerySet[Lead]:
    for word in filters.q.split():
        leads = leads.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(account__name__icontains=word)
        )
    if filters.status:
        leads = leads.filter(status=filters.status)
    if filters.stage:
        leads = leads.filter(stage=filters.stage)
    if filters.owner_id:
        leads = leads.filter(owner_id=filters.owner_id)
    if filters.cadence_id:
        running = Enrolment.objects.filter(
            lead=OuterRef("pk"), cadence_id=filters.cadence_id, status__in=RUNNING
        )
        leads = leads.filter(Exists(running))
    if filters.tag_id:
        # A lead holds a tag at most once, so this join cannot duplicate rows.
        leads = leads.filter(tags__id=filters.tag_id)
    if filters.overdue:
        leads = leads.filter(Exists(_pending_manual_tasks().filter(due_at__lt=now)))
    return leads


# --- the lead page -----------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: dt.datetime
    kind: str  # touch, signal, email, event
    title: str
    detail: str = ""
    badge: str = ""
    css: str = ""
    warning: str = ""
    who: str = ""


def _touch_entry(touch: Touch) -> TimelineEntry:
    title = touch.get_channel_display()
    if touch.outcome:
        title += f" · {touch.get_outcome_display()}"
    detail = touch.notes
    if touch.subject:
        detail = f"{touch.subject}\n{detail}".strip()
    if touch.callback_at:
        detail = f"{detail}\nPromised callback: {touch.callback_at:%Y-%m-%d %H:%M} UTC".strip()
    css = "is-inbound" if not touch.is_outbound else ("is-auto" if touch.automated else "")
    step = f"step {touch.step.position}" if touch.step else ""
    who = "automated" if touch.automated else (str(touch.rep) if touch.rep else touch.source)
    return TimelineEntry(
        at=touch.occurred_at,
        kind="touch",
        title=title,
        detail=detail,
        badge=step,
        css=css,
        who=who,
    )


def _signal_entry(signal: Signal) -> TimelineEntry:
    return TimelineEntry(
        at=signal.occurred_at,
        kind="signal",
        title=f"Signal · {signal.get_kind_display()}",
        css="is-inbound",
    )


UNKNOWN_EMAIL_WARNING = "may not have been sent — check before resending"


def _email_entry(email: OutboundEmail) -> TimelineEntry:
    warning = UNKNOWN_EMAIL_WARNING if email.status == OutboundEmail.Status.UNKNOWN else ""
    detail = f"To {email.to_email}"
    if email.last_error:
        detail += f"\n{email.last_error}"
    return TimelineEntry(
        at=email.sent_at or email.created_at,
        kind="email",
        title=f"Automated email · {email.subject}",
        detail=detail,
        badge=email.status,
        css="is-auto",
        warning=warning,
    )


def _event_entry(event: EnrolmentEvent) -> TimelineEntry:
    return TimelineEntry(
        at=event.occurred_at,
        kind="event",
        title=event.message,
        badge=event.enrolment.cadence.name,
        detail=f"step {event.step_position}" if event.step_position else "",
    )


def lead_timeline(lead: Lead, *, limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """Touches, signals, automated emails and enrolment events, newest first.

    Four queries whatever the history. A sent automated email already has its Touch,
    so only the outbox rows without one (queued, failed, unknown…) are added.
    """
    touches = lead.touches.select_related("rep", "step").order_by("-occurred_at", "-id")
    signals = lead.signals.order_by("-occurred_at", "-id")
    emails = lead.outbound_emails.filter(touch__isnull=True).order_by("-created_at", "-id")
    events = (
        EnrolmentEvent.objects.filter(enrolment__lead=lead)
        .select_related("enrolment__cadence")
        .order_by("-occurred_at", "-id")
    )
    entries = [
        *(_touch_entry(t) for t in touches[:limit]),
        *(_signal_entry(s) for s in signals[:limit]),
        *(_email_entry(e) for e in emails[:limit]),
        *(_event_entry(e) for e in events[:limit]),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


REASON_WORDS = {
    scheduling.MOVE_WINDOW: "it fell outside the step's window, so it moved to the window's start",
    scheduling.MOVE_WEEKEND: "it fell on a weekend, so it moved to the next business day",
    scheduling.MOVE_HOLIDAY: "it fell on a public holiday, so it moved to the next business day",
    scheduling.MOVE_MIN_GAP: "it was too soon after the lead's previous touch (the cadence's "
    "minimum gap)",
    "time_off": "the owner is on time off then, so it moved past the time off",
    "snoozed": "a rep snoozed it to this time",
}


@dataclass
class TaskWhy:
    task: Task
    explanation: str
    reasons: list[str] = field(default_factory=list)


def task_why(task: Task, *, tz: str) -> TaskWhy:
    """Why a task is due when it is, in words a rep reads in a second."""
    due = scheduling.DueTime(
        at=task.due_at,
        reasons=tuple(task.due_reasons or ()),
        naive_at=task.unmoved_due_at or task.due_at,
    )
    reasons = [REASON_WORDS.get(r, r) for r in task.due_reasons or ()]
    if task.kind == Task.Kind.CALLBACK:
        reasons.insert(0, "a promised callback, kept to the minute")
    elif task.kind == Task.Kind.HOT:
        reasons.insert(0, f"a hot lead ({task.title or 'intent signal'}): call today")
    elif task.step_id and not task.due_reasons:
        reasons.append("the step's wait after the previous step, inside its window")
    if task.due_reasons and "snoozed" in task.due_reasons and task.status_reason:
        reasons.append(f"snooze reason: {task.status_reason}")
    return TaskWhy(task=task, explanation=due.explain(tz), reasons=reasons)


@dataclass
class LeadPage:
    lead: Lead
    tz: str
    local_now: dt.datetime
    colleagues: list[Lead]
    hidden_colleagues: int
    enrolments: list[Enrolment]
    pending: list[TaskWhy]
    timeline: list[TimelineEntry]
    unknown_emails: int


def lead_page(*, lead: Lead, user: AbstractBaseUser, now: dt.datetime) -> LeadPage:
    """Everything the lead page shows, in a fixed number of queries."""
    tz = lead_timezone(lead)
    colleagues, hidden = _colleagues(lead, user)
    pending = (
        lead.tasks.filter(status=Task.Status.PENDING)
        .select_related("step", "enrolment__cadence")
        .order_by("due_at", "id")[:20]
    )
    timeline = lead_timeline(lead)
    return LeadPage(
        lead=lead,
        tz=tz,
        local_now=now.astimezone(zoneinfo.ZoneInfo(tz)),
        colleagues=colleagues,
        hidden_colleagues=hidden,
        enrolments=list(_enrolments(lead)),
        pending=[task_why(task, tz=tz) for task in pending],
        timeline=timeline,
        unknown_emails=sum(1 for entry in timeline if entry.warning),
    )


def _enrolments(lead: Lead) -> QuerySet[Enrolment]:
    live_steps = Count("cadence__steps", filter=Q(cadence__steps__removed_at__isnull=True))
    return (
        lead.enrolments.select_related("cadence")
        .annotate(steps_total=live_steps)
        .order_by("-started_at", "-id")
    )


def _colleagues(lead: Lead, user: AbstractBaseUser) -> tuple[list[Lead], int]:
    """The other people at the account; another rep's leads are counted, not shown."""
    if lead.account_id is None:
        return [], 0
    others = list(
        Lead.objects.filter(account_id=lead.account_id)
        .exclude(id=lead.id)
        .select_related("owner")
        .order_by(F("last_touched_at").desc(nulls_last=True), "id")[:COLLEAGUE_LIMIT]
    )
    visible = [other for other in others if can_see_lead(user, other)]
    return visible, len(others) - len(visible)
