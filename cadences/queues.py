"""Daily queues: whom each rep calls and emails today, and why (CONTRACT.md section 5).

A queue is read live from the task table with the pure ``scheduling.assemble_queue``,
so the Today page, the API and ``manage.py queue`` always agree. The tick also
materialises a ``DailyQueue`` row per rep and day (assembled when the rep's day
begins, refreshed when their tasks change) with the day's totals, for progress and
for managers' reports.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from cadences import scheduling
from cadences.models import DailyQueue, Task
from cadences.services import rep_timezone
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


def _rows_for(days: Iterable[RepDay]) -> list[dict]:
    """Every task that belongs in these rep-days: one query, whatever the count of reps."""
    days = list(days)
    if not days:
        return []
    latest_end = max(d.end for d in days)
    earliest_start = min(d.start for d in days)
    rep_ids = [d.rep_id for d in days]
    pending = Q(status=Task.Status.PENDING, mode="manual", due_at__lt=latest_end)
    finished = Q(
        status__in=QUEUE_STATUSES_SHOWN_DONE,
        mode="manual",
        completed_at__gte=earliest_start,
        completed_at__lt=latest_end,
    )
    return list(
        Task.objects.filter(pending | finished, rep_id__in=rep_ids).values(*TASK_FIELDS).order_by()
    )


def _belongs(row: dict, day: RepDay) -> bool:
    if row["status"] == Task.Status.PENDING:
        return row["due_at"] < day.end
    return day.start <= row["completed_at"] < day.end


def _candidate(row: dict) -> scheduling.QueueCandidate:
    return scheduling.QueueCandidate(
        task_id=row["id"],
        channel=row["channel"],
        kind=row["kind"],
        step_position=row["step__position"],
        due_at=row["due_at"],
        status=row["status"],
    )


def assemble(day: RepDay, rows: Iterable[dict]) -> tuple[scheduling.AssembledQueue, dict]:
    """Assemble one rep's day from that rep's rows (see ``group_by_rep``)."""
    mine = {row["id"]: row for row in rows if _belongs(row, day)}
    assembled = scheduling.assemble_queue(
        (_candidate(row) for row in mine.values()),
        day_start=day.start,
        call_capacity=day.call_capacity,
        email_capacity=day.email_capacity,
    )
    return assembled, mine


def _item(entry: scheduling.QueueEntry, row: dict) -> dict[str, object]:
    name = f"{row['lead__first_name']} {row['lead__last_name']}".strip()
    return {
        "task_id": row["id"],
        "lead_id": row["lead_id"],
        "lead_email": row["lead__email"],
        "lead_name": name,
        "channel": row["channel"],
        "cadence": row["enrolment__cadence__name"],
        "step": row["step__position"],
        "reason": entry.reason,
        "due_at": row["due_at"].astimezone(dt.UTC).isoformat(),
        "status": row["status"],
    }


def queue_for_rep(
    *, rep: AbstractBaseUser, now: dt.datetime, day: dt.date | None = None
) -> dict[str, object]:
    """The queue JSON of CONTRACT.md section 5 for one rep and rep-local date."""
    when = rep_day(rep, day, now)
    assembled, rows = assemble(when, _rows_for([when]))
    return {
        "rep": rep.get_username(),
        "date": when.day.isoformat(),
        "rolled_over": dict(assembled.rolled_over),
        "calls": [_item(e, rows[e.candidate.task_id]) for e in assembled.calls],
        "emails": [_item(e, rows[e.candidate.task_id]) for e in assembled.emails],
        "other": [_item(e, rows[e.candidate.task_id]) for e in assembled.other],
    }


# --- materialising: the tick's part ------------------------------------------------------


def _counts(assembled: scheduling.AssembledQueue) -> dict[str, int]:
    def done(entries: tuple[scheduling.QueueEntry, ...]) -> int:
        return sum(1 for e in entries if e.candidate.status != Task.Status.PENDING)

    return {
        "calls_total": len(assembled.calls),
        "calls_done": done(assembled.calls),
        "emails_total": len(assembled.emails),
        "emails_done": done(assembled.emails),
        "other_total": len(assembled.other),
        "other_done": done(assembled.other),
        "rolled_over_calls": assembled.rolled_over.get("call", 0),
        "rolled_over_emails": assembled.rolled_over.get("email", 0),
    }


def queues_refresh(*, now: dt.datetime, since: dt.datetime | None) -> int:
    """Assemble the queue of every rep whose local day has begun; refresh changed ones.

    A queue is (re)assembled when it does not exist yet for the rep's today, or when
    one of the rep's tasks was created or finished since the previous tick.
    """
    reps = list(active_reps().select_related("rep_profile"))
    days = {rep.id: rep_day(rep, None, now) for rep in reps}
    existing = {
        q.rep_id: q
        for q in DailyQueue.objects.filter(rep_id__in=days, date__in={d.day for d in days.values()})
        if q.date == days[q.rep_id].day
    }
    changed = _reps_changed_since(since) if since else set(days)
    due = [d for rep_id, d in days.items() if rep_id not in existing or rep_id in changed]
    if not due:
        return 0
    rows = group_by_rep(_rows_for(due))
    fresh, stale = [], []
    for day in due:
        counts = _counts(assemble(day, rows.get(day.rep_id, []))[0])
        queue = existing.get(day.rep_id)
        if queue is None:
            fresh.append(
                DailyQueue(
                    rep_id=day.rep_id, date=day.day, assembled_at=now, refreshed_at=now, **counts
                )
            )
        else:
            for field, value in counts.items():
                setattr(queue, field, value)
            queue.refreshed_at = now
            stale.append(queue)
    # ignore_conflicts: two overlapping ticks may both assemble the same morning queue.
    DailyQueue.objects.bulk_create(fresh, ignore_conflicts=True)
    DailyQueue.objects.bulk_update(stale, [*_counts_fields(), "refreshed_at"], batch_size=500)
    return len(due)


def _counts_fields() -> list[str]:
    return [
        "calls_total",
        "calls_done",
        "emails_total",
        "emails_done",
        "other_total",
        "other_done",
        "rolled_over_calls",
        "rolled_over_emails",
    ]


def _reps_changed_since(since: dt.datetime) -> set[int]:
    touched = Task.objects.filter(Q(created_at__gt=since) | Q(completed_at__gt=since))
    return set(touched.values_list("rep_id", flat=True).distinct())


def group_by_rep(rows: Iterable[dict]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["rep_id"]].append(row)
    return grouped
