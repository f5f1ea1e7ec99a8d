"""A lead's history for the work screen: every touch, signal, automated email and
engine decision, newest first, and the other people at the lead's account.

One query per kind of entry, never one per row, so a lead with years of history
costs the page what a new lead does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from cadences.models import EnrolmentEvent, OutboundEmail, Task
from leads.models import Lead, Signal, Touch

TIMELINE_LIMIT = 200  # per kind: a page, not an archive; the lead page has the rest
COLLEAGUES_LIMIT = 25


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # touch, signal, email, event, task
    icon: str
    title: str
    detail: str = ""
    css: str = ""
    who: str = ""


def lead_timeline(lead: Lead, *, limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """Everything that happened with the lead, newest first: one query per kind.

    Queries: touches (with rep and asset), signals, automated emails not yet sent
    (sent ones are touches already), enrolment events (with cadence), and the
    lead's callbacks and hot calls (whose snoozes and skips have no enrolment log).
    """
    entries = [
        *(_touch_entry(t) for t in lead.touches.select_related("rep", "asset")[:limit]),
        *(_signal_entry(s) for s in Signal.objects.filter(lead=lead)[:limit]),
        *(
            _email_entry(e)
            for e in OutboundEmail.objects.filter(lead=lead, touch__isnull=True).order_by(
                "-created_at", "-id"
            )[:limit]
        ),
        *(
            _event_entry(e)
            for e in EnrolmentEvent.objects.filter(enrolment__lead=lead)
            .select_related("enrolment__cadence")
            .order_by("-occurred_at", "-id")[:limit]
        ),
        *(
            _side_task_entry(t)
            for t in Task.objects.filter(lead=lead)
            .exclude(kind=Task.Kind.STEP)
            .order_by("-created_at", "-id")[:limit]
        ),
    ]
    return sorted(entries, key=lambda e: e.at, reverse=True)


CHANNEL_ICONS = {
    "call": "telephone",
    "email": "envelope",
    "mail": "mailbox",
    "sms": "chat-dots",
    "social": "linkedin",
    "meeting": "calendar-event",
    "task": "check2-square",
}


def _touch_entry(touch: Touch) -> TimelineEntry:
    outcome = touch.get_outcome_display() if touch.outcome else ""
    title = " · ".join(p for p in (touch.get_channel_display(), outcome) if p)
    if touch.automated:
        title += " (automated)"
    detail = touch.subject
    if touch.asset:
        detail = f"{detail} — sent {touch.asset.title}" if detail else f"Sent {touch.asset.title}"
    if touch.callback_at:
        detail = f"{detail} — promised a callback".lstrip(" —")
    css = "is-inbound" if not touch.is_outbound else ("is-auto" if touch.automated else "")
    who = (touch.rep.get_full_name() or touch.rep.get_username()) if touch.rep else touch.source
    return TimelineEntry(
        at=touch.occurred_at,
        kind="touch",
        icon=CHANNEL_ICONS.get(touch.channel, "dot"),
        title=title,
        detail="\n".join(p for p in (detail, touch.notes) if p),
        css=css,
        who=who,
    )


def _signal_entry(signal: Signal) -> TimelineEntry:
    page = signal.data.get("url") or signal.data.get("page") if signal.data else ""
    return TimelineEntry(
        at=signal.occurred_at,
        kind="signal",
        icon="lightning-charge",
        title=signal.get_kind_display(),
        detail=str(page or ""),
        css="is-inbound",
    )


def _email_entry(email: OutboundEmail) -> TimelineEntry:
    return TimelineEntry(
        at=email.sent_at or email.created_at,
        kind="email",
        icon="envelope-paper",
        title=f"Automated email {email.get_status_display().lower()}",
        detail="\n".join(p for p in (email.subject, email.last_error) if p),
        css="is-auto",
    )


def _event_entry(event: EnrolmentEvent) -> TimelineEntry:
    return TimelineEntry(
        at=event.occurred_at,
        kind="event",
        icon="diagram-3",
        title=event.message,
        detail=event.enrolment.cadence.name,
        css="text-muted",
    )


def _side_task_entry(task: Task) -> TimelineEntry:
    what = "Callback" if task.kind == Task.Kind.CALLBACK else "Hot call"
    status = task.get_status_display().lower()
    detail = task.title
    if task.status_reason:
        detail = f"{detail} — {task.status_reason}" if detail else task.status_reason
    return TimelineEntry(
        at=task.created_at,
        kind="task",
        icon="telephone-forward" if task.kind == Task.Kind.CALLBACK else "fire",
        title=f"{what} due {task.due_at:%Y-%m-%d %H:%M} UTC ({status})",
        detail=detail,
    )


def account_colleagues(lead: Lead) -> list[Lead]:
    """The other people at the lead's account, each with their last touch: one query."""
    if not lead.account_id:
        return []
    last = Touch.objects.filter(lead=OuterRef("pk")).order_by("-occurred_at", "-id")
    return list(
        Lead.objects.filter(account_id=lead.account_id)
        .exclude(id=lead.id)
        .select_related("owner")
        .annotate(
            last_touch_at=Subquery(last.values("occurred_at")[:1]),
            last_touch_channel=Subquery(last.values("channel")[:1]),
            last_touch_outcome=Subquery(last.values("outcome")[:1]),
        )
        .order_by("last_name", "first_name", "id")[:COLLEAGUES_LIMIT]
    )
