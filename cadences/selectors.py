"""Reads for the rep's pages: the Today queue, the work screen, the hot-call poll.

Every page reads a fixed number of queries whatever the queue's size or the lead's
history: the queue comes from ``queues.queue_for_rep`` (one query), and what the page
adds per item (company, time zone, touch count, the cadence's step count) is read in
one more query keyed by the queue's task ids, never per item.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.urls import reverse

from cadences import copy, scheduling
from cadences.models import Step, Task
from cadences.queues import queue_for_rep, rep_day
from followup.roles import active_reps, is_manager
from leads.models import Lead

SECTIONS = (("calls", "Calls"), ("emails", "Emails"), ("other", "Other"))
REASON_LABELS = {
    "hot": "hot",
    "callback": "callback",
    "new_lead": "new lead",
    "overdue": "overdue",
    "due": "due",
}
CALLING_HOURS = (dt.time(9, 0), dt.time(17, 0))
UPCOMING_AUTO_LIMIT = 200
URL_MARKER = 918273645  # an id no pattern contains otherwise


@functools.cache
def id_url(name: str) -> Callable[[int], str]:
    """``reverse(name, args=[pk])`` for any ``pk`` at the cost of one ``reverse``.

    The page links each of a hundred items; reversing per item (``{% url %}``) was a
    tenth of its rendering time. The URL is reversed once with a marker id and split.
    """
    head, tail = reverse(name, args=[URL_MARKER]).split(str(URL_MARKER))
    return lambda pk: f"{head}{pk}{tail}"


def work_url(task_id: int) -> str:
    return id_url("cadences-work")(task_id)


# --- the queue, with what each item needs to be read at a glance -------------------------


@dataclass(frozen=True)
class QueueItem:
    task_id: int
    lead_id: int
    lead_name: str
    lead_email: str
    company: str
    channel: str
    kind: str
    reason: str
    status: str
    due_at: dt.datetime
    step_label: str
    touch_number: int
    lead_tz: str
    lead_now: dt.datetime
    work_url: str = ""

    @property
    def is_pending(self) -> bool:
        return self.status == Task.Status.PENDING

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def lead_clock(self) -> str:
        """The lead's wall clock now, as text: templates would convert a datetime."""
        return f"{self.lead_now:%H:%M}"

    @property
    def due_clock(self) -> str:
        return f"{self.due_at.astimezone(ZoneInfo(self.lead_tz)):%H:%M}"


@dataclass
class QueueSection:
    name: str
    label: str
    items: list[QueueItem]
    rolled_over: int = 0

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def done(self) -> int:
        return sum(not item.is_pending for item in self.items)

    @property
    def pending(self) -> int:
        return self.total - self.done

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


@dataclass
class TodayQueue:
    rep: AbstractBaseUser
    day: dt.date
    tz: str
    sections: list[QueueSection]
    upcoming_auto: list[UpcomingEmail] = field(default_factory=list)
    to_check: list = field(default_factory=list)

    @property
    def items(self) -> list[QueueItem]:
        return [item for section in self.sections for item in section.items]

    @property
    def pending(self) -> list[QueueItem]:
        return [item for item in self.items if item.is_pending]

    @property
    def hot(self) -> list[QueueItem]:
        return [item for item in self.pending if item.reason == "hot"]

    @property
    def rolled_over(self) -> int:
        return sum(section.rolled_over for section in self.sections)

    def first_pending_in(self, name: str) -> int | None:
        items = next((section.items for section in self.sections if section.name == name), [])
        return next((item.task_id for item in items if item.is_pending), None)

    @property
    def order(self) -> QueueOrder:
        return QueueOrder(tuple((item.task_id, item.status) for item in self.items))


@dataclass(frozen=True)
class QueueOrder:
    """The queue's tasks in working order (calls, emails, other), for moving through it."""

    entries: tuple[tuple[int, str], ...]  # (task id, status)

    @property
    def ids(self) -> list[int]:
        return [task_id for task_id, _ in self.entries]

    def pending_ids(self, *, besides: int | None = None) -> list[int]:
        return [
            task_id
            for task_id, status in self.entries
            if status == Task.Status.PENDING and task_id != besides
        ]

    def next_pending_after(self, task_id: int | None, *, prefer: int | None = None) -> int | None:
        """The task to work after ``task_id``: ``prefer`` if still pending, else the next
        pending one further down the queue, else the first pending one left."""
        pending = self.pending_ids(besides=task_id)
        if prefer in pending:
            return prefer
        if task_id in self.ids:
            for candidate in self.ids[self.ids.index(task_id) + 1 :]:
                if candidate in pending:
                    return candidate
        return pending[0] if pending else None

    def neighbours(self, task_id: int) -> tuple[int | None, int | None, int | None]:
        """(previous id, next id, 1-based position) of a task in the queue's order."""
        ids = self.ids
        if task_id not in ids:
            return None, self.next_pending_after(task_id), None
        index = ids.index(task_id)
        previous = ids[index - 1] if index > 0 else None
        following = ids[index + 1] if index + 1 < len(ids) else None
        return previous, following, index + 1


def queue_order(*, rep: AbstractBaseUser, now: dt.datetime) -> QueueOrder:
    """Today's queue order for ``rep``: one query (``queue_for_rep``), no per-item data."""
    queue = queue_for_rep(rep=rep, now=now)
    return QueueOrder(
        tuple((entry["task_id"], entry["status"]) for name, _ in SECTIONS for entry in queue[name])
    )


def next_day_counts(*, rep: AbstractBaseUser, now: dt.datetime, day: dt.date) -> dict[str, int]:
    """Pending calls, emails and other tasks in the rep's queue for the day after ``day``."""
    queue = queue_for_rep(rep=rep, now=now, day=day + dt.timedelta(days=1))
    return {
        name: sum(entry["status"] == Task.Status.PENDING for entry in queue[name])
        for name, _ in SECTIONS
    }


def today_queue(
    *, rep: AbstractBaseUser, now: dt.datetime, day: dt.date | None = None
) -> TodayQueue:
    """The rep's queue for a rep-local day, each item carrying what the page shows.

    Queries: the queue's tasks (``queue_for_rep``), then one for every item's lead,
    account, owner's zone and cadence step count (``_task_extras``).
    """
    queue = queue_for_rep(rep=rep, now=now, day=day)
    entries = [(name, entry) for name, _ in SECTIONS for entry in queue[name]]
    extras = _task_extras([entry["task_id"] for _, entry in entries])
    rolled = queue["rolled_over"]
    sections = [
        QueueSection(
            name=name,
            label=label,
            items=[_queue_item(e, extras[e["task_id"]], now) for e in queue[name]],
            rolled_over={"calls": rolled.get("call", 0), "emails": rolled.get("email", 0)}.get(
                name, 0
            ),
        )
        for name, label in SECTIONS
    ]
    when = rep_day(rep, dt.date.fromisoformat(queue["date"]), now)
    return TodayQueue(rep=rep, day=when.day, tz=when.tz, sections=sections)


EXTRA_FIELDS = (
    "id",
    "kind",
    "title",
    "channel",
    "status",
    "due_at",
    "lead_id",
    "lead__first_name",
    "lead__last_name",
    "lead__email",
    "lead__phone",
    "lead__touch_count",
    "lead__timezone",
    "lead__owner_id",
    "lead__owner__rep_profile__timezone",
    "lead__account__name",
)


def _task_extras(task_ids: list[int]) -> dict[int, dict]:
    """One query: each task's lead, account, owner's zone and cadence length, as values.

    Plain rows, not model instances: building five objects per item was most of the
    page's time at a hundred items.
    """
    if not task_ids:
        return {}
    step_total = (
        Step.objects.filter(cadence_id=OuterRef("enrolment__cadence_id"), removed_at__isnull=True)
        .order_by()
        .values("cadence_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = (
        Task.objects.filter(id__in=task_ids)
        .annotate(step_total=Subquery(step_total))
        .values(*EXTRA_FIELDS, "step_total")
        .order_by()
    )
    return {row["id"]: row for row in rows}


def _row_timezone(row: dict, prefix: str = "lead__") -> str:
    """``lead_timezone`` of a values row: the lead's zone, else its owner's, else TIME_ZONE."""
    if row[f"{prefix}timezone"]:
        return row[f"{prefix}timezone"]
    if row[f"{prefix}owner_id"]:
        return row[f"{prefix}owner__rep_profile__timezone"] or settings.TIME_ZONE
    return settings.TIME_ZONE


def _queue_item(entry: dict, row: dict, now: dt.datetime) -> QueueItem:
    tz = _row_timezone(row)
    name = f"{row['lead__first_name']} {row['lead__last_name']}".strip()
    return QueueItem(
        task_id=row["id"],
        lead_id=row["lead_id"],
        lead_name=name or row["lead__email"] or row["lead__phone"],
        lead_email=row["lead__email"],
        company=row["lead__account__name"] or "",
        channel=row["channel"],
        kind=row["kind"],
        reason=entry["reason"],
        status=row["status"],
        due_at=row["due_at"],
        step_label=label_for(
            kind=row["kind"],
            title=row["title"],
            cadence=entry["cadence"],
            position=entry["step"],
            total=row["step_total"],
        ),
        touch_number=row["lead__touch_count"] + 1,
        lead_tz=tz,
        lead_now=now.astimezone(ZoneInfo(tz)),
        work_url=work_url(row["id"]),
    )


def step_label(task: Task, cadence: str | None, position: int | None, total: int | None) -> str:
    """What the task is, in a rep's words: "Inbound demo request · step 3 of 8"."""
    return label_for(
        kind=task.kind, title=task.title, cadence=cadence, position=position, total=total
    )


def label_for(
    *, kind: str, title: str, cadence: str | None, position: int | None, total: int | None
) -> str:
    if kind == Task.Kind.CALLBACK:
        return title or "Promised callback"
    if kind == Task.Kind.HOT:
        return f"Hot lead: {title}" if title else "Hot lead"
    if cadence and position:
        label = f"{cadence} · step {position} of {total or position}"
        return f"{label} · {title}" if title else label
    return title or "Task"


# --- upcoming automated emails ------------------------------------------------------------


@dataclass(frozen=True)
class UpcomingEmail:
    task_id: int
    lead_id: int
    lead_name: str
    company: str
    subject: str
    cadence: str
    step: int | None
    due_at: dt.datetime
    lead_tz: str
    in_outbox: bool
    cancel_url: str = ""

    @property
    def due_clock(self) -> str:
        """Lead-local send time, as text (a template would convert a datetime)."""
        return f"{self.due_at.astimezone(ZoneInfo(self.lead_tz)):%H:%M}"


UPCOMING_FIELDS = (
    "id",
    "due_at",
    "lead_id",
    "lead__first_name",
    "lead__last_name",
    "lead__email",
    "lead__title",
    "lead__phone",
    "lead__source",
    "lead__timezone",
    "lead__owner_id",
    "lead__owner__rep_profile__timezone",
    "lead__account__name",
    "step__subject",
    "step__position",
    "step__cadence__name",
    "variant_id",
    "variant__subject",
    "outbound_email__id",
)


def upcoming_auto_emails(*, rep: AbstractBaseUser, before: dt.datetime) -> list[UpcomingEmail]:
    """The rep's automated emails still to go out before ``before``: one query.

    ``channel="email"`` says what every automated step is, and names the partial index
    that serves this query (leads migration 0012), apart from the worker's.
    """
    rows = (
        Task.objects.filter(
            rep=rep, status=Task.Status.PENDING, mode="auto", channel="email", due_at__lt=before
        )
        .values(*UPCOMING_FIELDS)
        .order_by("due_at", "id")[:UPCOMING_AUTO_LIMIT]
    )
    rep_vars = copy.rep_context(rep)
    return [_upcoming(row, rep_vars) for row in rows]


def _upcoming(row: dict, rep_vars: dict[str, str]) -> UpcomingEmail:
    name = f"{row['lead__first_name']} {row['lead__last_name']}".strip()
    subject = row["variant__subject"] if row["variant_id"] else row["step__subject"]
    lead_vars = {
        "first_name": row["lead__first_name"],
        "last_name": row["lead__last_name"],
        "name": name,
        "email": row["lead__email"],
        "title": row["lead__title"],
        "phone": row["lead__phone"],
        "company": row["lead__account__name"] or "",
        "source": row["lead__source"],
    }
    return UpcomingEmail(
        task_id=row["id"],
        lead_id=row["lead_id"],
        lead_name=name or row["lead__email"],
        company=row["lead__account__name"] or "",
        subject=_subject_preview(subject or "", lead_vars, rep_vars),
        cadence=row["step__cadence__name"] or "",
        step=row["step__position"],
        due_at=row["due_at"],
        lead_tz=_row_timezone(row),
        in_outbox=row["outbound_email__id"] is not None,
        cancel_url=id_url("cadences-auto-cancel")(row["id"]),
    )


def _subject_preview(subject: str, lead_vars: dict[str, str], rep_vars: dict[str, str]) -> str:
    if "{" not in subject:
        return " ".join(subject.split())  # plain text: nothing to render
    variables = {"lead": lead_vars, "rep": rep_vars, "asset": copy.asset_context(None)}
    try:
        return " ".join(copy.render_text(subject, variables).split())
    except copy.CopyError:
        return subject  # the worker reports the template error when it renders for real


# --- the hot-call poll ---------------------------------------------------------------------


@dataclass(frozen=True)
class HotCall:
    task_id: int
    lead_name: str
    company: str
    why: str
    due_at: dt.datetime


def hot_calls(*, rep: AbstractBaseUser, now: dt.datetime) -> list[HotCall]:
    """Pending hot calls for the rep's today, newest first: one query."""
    day = rep_day(rep, None, now)
    tasks = (
        Task.objects.filter(
            rep=rep, kind=Task.Kind.HOT, status=Task.Status.PENDING, due_at__lt=day.end
        )
        .select_related("lead__account")
        .order_by("-due_at", "-id")[:20]
    )
    return [
        HotCall(
            task_id=task.id,
            lead_name=task.lead.name or task.lead.email or task.lead.phone,
            company=task.lead.account.name if task.lead.account else "",
            why=task.title,
            due_at=task.due_at,
        )
        for task in tasks
    ]


def hot_from_queue(queue: TodayQueue) -> list[HotCall]:
    """The hot calls already in the assembled queue, newest first (no query)."""
    hot = sorted(queue.hot, key=lambda item: (item.due_at, item.task_id), reverse=True)
    return [
        HotCall(
            task_id=item.task_id,
            lead_name=item.lead_name,
            company=item.company,
            why=item.step_label.removeprefix("Hot lead: "),
            due_at=item.due_at,
        )
        for item in hot
    ]


# --- access -----------------------------------------------------------------------------------


def task_for_user(user: AbstractBaseUser, task_id: int) -> Task:
    """A manual task the user may work: their own, or any for a manager. 404 otherwise."""
    tasks = Task.objects.filter(mode="manual").select_related(
        "lead__account",
        "lead__owner__rep_profile",
        "rep__rep_profile",
        "step__cadence",
        "enrolment__cadence",
        "variant",
    )
    if not is_manager(user):
        tasks = tasks.filter(rep=user)
    task = tasks.filter(id=task_id).first()
    if task is None:
        raise Http404("No such task")
    return task


def rep_for_user(user: AbstractBaseUser, username: str | None) -> AbstractBaseUser:
    """Whose queue the user sees: their own, or (managers only) the named rep's."""
    if not username or username == user.get_username():
        return user
    if not is_manager(user):
        raise Http404("No such rep")
    rep = (
        get_user_model()
        .objects.filter(username=username, is_active=True)
        .select_related("rep_profile")
        .first()
    )
    if rep is None:
        raise Http404("No such rep")
    return rep


def reps_for_picker(user: AbstractBaseUser) -> QuerySet | list:
    if not is_manager(user):
        return []
    return active_reps().only("id", "username", "first_name", "last_name")


# --- the work screen ------------------------------------------------------------------------


def calling_hours_now(tz: str, now: dt.datetime) -> bool:
    """Inside 09:00-17:00 lead-local on a weekday: when a call is welcome."""
    local = now.astimezone(ZoneInfo(tz))
    start, end = CALLING_HOURS
    return local.weekday() < 5 and start <= local.time() < end


def cadence_length(task: Task) -> int | None:
    if not task.enrolment_id:
        return None
    return Step.objects.filter(
        cadence_id=task.enrolment.cadence_id, removed_at__isnull=True
    ).count()


def pending_callbacks(lead: Lead, *, exclude_task: Task | None = None) -> list[Task]:
    tasks = Task.objects.filter(
        lead=lead, kind=Task.Kind.CALLBACK, status=Task.Status.PENDING
    ).order_by("due_at", "id")
    if exclude_task is not None:
        tasks = tasks.exclude(id=exclude_task.id)
    return list(tasks)


def day_end(day: dt.date, tz: str) -> dt.datetime:
    return scheduling.local_day_bounds(day, tz)[1]
