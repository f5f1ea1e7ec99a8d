"""Daily queues: whom each rep calls and emails today, and why (CONTRACT.md section 5).

A queue is read live from the task table with the pure ``scheduling.assemble_queue``,
so the Today page, the API and ``manage.py queue`` always agree. The tick also
materialises a ``DailyQueue`` row per rep and day (assembled when the rep's day
begins, refreshed when their tasks change) with the day's totals, for progress and
for managers' reports. Those totals need no ordering (how many tasks a capped section
keeps does not depend on which), so the tick counts tasks in SQL, a batch of reps per
query, and never loads the tasks themselves.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from cadences import scheduling
from cadences.models import DailyQueue, Enrolment, Task
from cadences.services import rep_timezone
from followup.prepared import HotQuery
from followup.roles import active_reps
from leads.models import RepProfile

QUEUE_STATUSES_SHOWN_DONE = ("done", "skipped")
TASK_FIELDS = (
    "id",
    "rep_id",
    "lead_id",
    "lead__email",
    "lead__first_name",
    "lead__last_name",
    "channel",
    "kind",
    "due_at",
    "status",
    "completed_at",
    "step__position",
    "enrolment__cadence__name",
)


@dataclass(frozen=True)
class RepDay:
    rep_id: int
    day: dt.date
    tz: str
    start: dt.datetime
    end: dt.datetime
    call_capacity: int
    email_capacity: int


def rep_day(rep: AbstractBaseUser, day: dt.date | None, now: dt.datetime) -> RepDay:
    profile = getattr(rep, "rep_profile", None) if _has_profile(rep) else None
    tz = rep_timezone(rep)
    day = day or scheduling.local_date(now, tz)
    start, end = scheduling.local_day_bounds(day, tz)
    return RepDay(
        rep_id=rep.id,
        day=day,
        tz=tz,
        start=start,
        end=end,
        call_capacity=profile.call_capacity if profile else 50,
        email_capacity=profile.email_capacity if profile else 50,
    )


def _has_profile(rep: AbstractBaseUser) -> bool:
    try:
        rep.rep_profile  # noqa: B018 (touching the relation is the check)
    except RepProfile.DoesNotExist:
        return False
    return True


def _day_tasks(rep_ids: list[int], start: dt.datetime, end: dt.datetime) -> Q:
    """The tasks that belong in these reps' day from ``start`` to ``end``: those pending
    and due before its end (overdue ones roll in), and those done during it. Callers add
    ``mode="manual"`` beside it, where the partial indexes' planner proof sees it."""
    pending = Q(rep_id__in=rep_ids, status=Task.Status.PENDING, due_at__lt=end)
    done = Q(
        rep_id__in=rep_ids,
        status__in=QUEUE_STATUSES_SHOWN_DONE,
        completed_at__gte=start,
        completed_at__lt=end,
    )
    return pending | done


def queue_for_rep(
    *, rep: AbstractBaseUser, now: dt.datetime, day: dt.date | None = None
) -> dict[str, object]:
    """The queue JSON of CONTRACT.md section 5 for one rep and rep-local date.

    One query of tuples (the API serves this on every ``GET /api/queue/``): a rep's day
    holds hundreds of tasks, most of them rolled over, so no dict per row is made, and
    only the items kept are written out.
    """
    when = rep_day(rep, day, now)
    rows = {row[0]: row for row in _queue_rows(when)}
    assembled = scheduling.assemble_queue(
        (_queue_candidate(row) for row in rows.values()),
        day_start=when.start,
        call_capacity=when.call_capacity,
        email_capacity=when.email_capacity,
    )
    return {
        "rep": rep.get_username(),
        "date": when.day.isoformat(),
        "rolled_over": dict(assembled.rolled_over),
        "calls": [_queue_item(e, rows[e.candidate.task_id]) for e in assembled.calls],
        "emails": [_queue_item(e, rows[e.candidate.task_id]) for e in assembled.emails],
        "other": [_queue_item(e, rows[e.candidate.task_id]) for e in assembled.other],
    }


# The columns of a queue row, in the order _queue_candidate and _queue_item read them.
QUEUE_COLUMNS = (
    "id",
    "channel",
    "kind",
    "step__position",
    "due_at",
    "status",
    "lead_id",
    "lead__email",
    "lead__first_name",
    "lead__last_name",
    "cadence_name",
)


def _queue_rows(day: RepDay) -> list[tuple]:
    """The rep-day's tasks, one tuple each in ``QUEUE_COLUMNS`` order: one query, compiled
    once and prepared on PostgreSQL (the API runs it on every ``GET /api/queue/``)."""
    return _QUEUE_ROWS.rows(day.rep_id, day.start, day.end)


def _queue_rows_query(rep_id: int, start: dt.datetime, end: dt.datetime) -> QuerySet:
    tasks = Task.objects.filter(_day_tasks([rep_id], start, end), mode="manual")
    return tasks.annotate(cadence_name=_CADENCE_NAME).values_list(*QUEUE_COLUMNS).order_by()


_QUEUE_ROWS = HotQuery(_queue_rows_query, (int, dt.datetime, dt.datetime))


# A step task's cadence is its step's (the enrolment's, which made it from its own
# steps), read from the small step table instead of one enrolment row per task; a task
# without a step asks its enrolment, if it has one (callbacks and hot calls have none).
_CADENCE_NAME = Coalesce(
    F("step__cadence__name"),
    Subquery(
        Enrolment.objects.filter(id=OuterRef("enrolment_id")).order_by().values("cadence__name")[:1]
    ),
)


def _queue_candidate(row: tuple) -> scheduling.QueueCandidate:
    task_id, channel, kind, position, due_at, status = row[:6]
    return scheduling.QueueCandidate(
        task_id=task_id,
        channel=channel,
        kind=kind,
        step_position=position,
        due_at=due_at,
        status=status,
    )


def _queue_item(entry: scheduling.QueueEntry, row: tuple) -> dict[str, object]:
    task_id, channel, _, position, due_at, status, lead_id, email, first, last, cadence = row
    return {
        "task_id": task_id,
        "lead_id": lead_id,
        "lead_email": email,
        "lead_name": f"{first} {last}".strip(),
        "channel": channel,
        "cadence": cadence,
        "step": position,
        "reason": entry.reason,
        "due_at": due_at.astimezone(dt.UTC).isoformat(),
        "status": status,
    }


# --- materialising: the tick's part ------------------------------------------------------

# Reps per batch of the morning: each batch is one counting query and one write, so the
# worker holds a batch's counts, never every rep's tasks.
QUEUE_BATCH = 100
COUNT_FIELDS = (
    "calls_total",
    "calls_done",
    "emails_total",
    "emails_done",
    "other_total",
    "other_done",
    "rolled_over_calls",
    "rolled_over_emails",
)
REP_FIELDS = (
    "id",
    "rep_profile__timezone",
    "rep_profile__call_capacity",
    "rep_profile__email_capacity",
)


@dataclass
class Tally:
    """How many of a rep's tasks for the day are in each section, pending or finished."""

    pending: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    finished: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, *, channel: str, status: str, count: int) -> None:
        section = scheduling.section_for_channel(channel)
        bucket = self.pending if status == Task.Status.PENDING else self.finished
        bucket[section] += count


def capped(*, finished: int, pending: int, capacity: int) -> tuple[int, int]:
    """(items kept, pending rolled over) of a capped section, as ``scheduling.assemble_queue``
    caps it: every finished task stays, pending ones fill the room left. Which ones are kept
    depends on the queue's order; how many does not, so the counts need no ordering."""
    kept = min(pending, max(capacity - finished, 0))
    return finished + kept, pending - kept


def queue_counts(day: RepDay, tally: Tally) -> dict[str, int]:
    """The ``DailyQueue`` totals of one rep-day, from the day's tally."""
    calls, rolled_calls = capped(
        finished=tally.finished["calls"],
        pending=tally.pending["calls"],
        capacity=day.call_capacity,
    )
    emails, rolled_emails = capped(
        finished=tally.finished["emails"],
        pending=tally.pending["emails"],
        capacity=day.email_capacity,
    )
    return {
        "calls_total": calls,
        "calls_done": tally.finished["calls"],
        "emails_total": emails,
        "emails_done": tally.finished["emails"],
        "other_total": tally.pending["other"] + tally.finished["other"],
        "other_done": tally.finished["other"],
        "rolled_over_calls": rolled_calls,
        "rolled_over_emails": rolled_emails,
    }


def queues_refresh(
    *, now: dt.datetime, since: dt.datetime | None, batch_size: int = QUEUE_BATCH
) -> int:
    """Assemble the queue of every rep whose local day has begun; refresh changed ones.

    A queue is (re)assembled when it does not exist yet for the rep's today, or when
    one of the rep's tasks was created or finished since the previous tick; with no
    ``since``, every rep's queue is. An idle tick finds nothing to do in two small
    queries, whatever the number of reps.
    """
    reps = active_reps()
    if since is not None:
        reps = reps.filter(_without_queue_today(now) | Q(id__in=_reps_changed_since(since)))
    # Reps sharing a day's bounds side by side: each batch's query has few arms.
    days = sorted(_rep_days(reps.values(*REP_FIELDS), now), key=lambda d: (d.start, d.rep_id))
    for start in range(0, len(days), batch_size):
        _queues_write(days[start : start + batch_size], now=now)
    return len(days)


def _rep_days(rows: Iterable[dict], now: dt.datetime) -> list[RepDay]:
    """Each rep's day, as ``rep_day`` makes it, from narrow rows: one day per time zone."""
    zones: dict[str, tuple[dt.date, dt.datetime, dt.datetime]] = {}
    days = []
    for row in rows:
        tz = row["rep_profile__timezone"] or settings.TIME_ZONE
        if tz not in zones:
            day = scheduling.local_date(now, tz)
            zones[tz] = (day, *scheduling.local_day_bounds(day, tz))
        day, start, end = zones[tz]
        call_capacity, email_capacity = (
            row["rep_profile__call_capacity"],
            row["rep_profile__email_capacity"],
        )
        days.append(
            RepDay(
                rep_id=row["id"],
                day=day,
                tz=tz,
                start=start,
                end=end,
                call_capacity=50 if call_capacity is None else call_capacity,
                email_capacity=50 if email_capacity is None else email_capacity,
            )
        )
    return days


def _without_queue_today(now: dt.datetime) -> Q:
    """Reps with no ``DailyQueue`` for their local today. The zones in use share two or
    three local dates at any moment: one arm per date, not one per zone."""
    default = settings.TIME_ZONE
    in_use = RepProfile.objects.order_by().values_list("timezone", flat=True).distinct()
    zones_on: dict[dt.date, list[str]] = defaultdict(list)
    for tz in sorted({tz or default for tz in in_use} | {default}):
        zones_on[scheduling.local_date(now, tz)].append(tz)
    arms = []
    for today, zones in zones_on.items():
        in_zones = Q(rep_profile__timezone__in=zones)
        if default in zones:
            in_zones |= Q(rep_profile__timezone="") | Q(rep_profile__isnull=True)
        # NOT IN, not NOT EXISTS: one pass over the day's queues, hashed, not a probe a rep.
        queued = DailyQueue.objects.filter(date=today).values("rep_id")
        arms.append(in_zones & ~Q(pk__in=queued))
    return reduce(operator.or_, arms)


def _reps_changed_since(since: dt.datetime) -> QuerySet:
    """Reps with a task created or finished since ``since`` (indexes ``task_created`` and
    ``task_completed``; without them every tick read the whole task table)."""
    touched = Task.objects.filter(Q(created_at__gt=since) | Q(completed_at__gt=since))
    return touched.values("rep_id")


def _queues_write(days: list[RepDay], *, now: dt.datetime) -> None:
    """Count and write one batch of rep-days: one query to count, one to write."""
    tallies = _tallies(days)
    queues = [
        DailyQueue(
            rep_id=day.rep_id,
            date=day.day,
            assembled_at=now,
            refreshed_at=now,
            **queue_counts(day, tallies[day.rep_id]),
        )
        for day in days
    ]
    # An existing queue keeps its assembled_at and takes the new counts; two overlapping
    # ticks may both write the same queue, and the unique (rep, date) makes that one row.
    DailyQueue.objects.bulk_create(
        queues,
        update_conflicts=True,
        unique_fields=["rep", "date"],
        update_fields=[*COUNT_FIELDS, "refreshed_at"],
    )


def _tallies(days: list[RepDay]) -> dict[int, Tally]:
    """The tasks of these rep-days counted per rep, channel and status, in one query.

    The same tasks as a rep's queue (``_day_tasks``), each rep within its own day: one
    pair of arms per day's bounds (reps in one time zone share them), each arm an index
    range scan.
    """
    tallies: dict[int, Tally] = defaultdict(Tally)
    by_bounds: dict[tuple[dt.datetime, dt.datetime], list[int]] = defaultdict(list)
    for day in days:
        by_bounds[(day.start, day.end)].append(day.rep_id)
    if not by_bounds:
        return tallies
    arms = [_day_tasks(ids, start, end) for (start, end), ids in by_bounds.items()]
    counted = (
        Task.objects.filter(reduce(operator.or_, arms), mode="manual")
        .values_list("rep_id", "channel", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    for rep_id, channel, status, count in counted:
        tallies[rep_id].add(channel=channel, status=status, count=count)
    return tallies
