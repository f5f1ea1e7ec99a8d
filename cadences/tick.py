"""One scheduler tick: what the worker's schedule runs every minute.

Brings every active enrolment up to date as of ``now``: due auto emails are rendered
into the outbox and sent, abandoned sends become ``unknown``, and each rep whose
local day has begun gets a fresh queue. Every part is safe to run twice at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from cadences import outbox
from cadences.models import Heartbeat, Step, Task
from cadences.queues import queues_refresh

TICK = "tick"


@dataclass
class TickReport:
    now: str
    unknown: int = 0
    queued: int = 0
    emails_handled: int = 0
    recorded: int = 0
    queues: int = 0


def previous_tick_at() -> dt.datetime | None:
    return Heartbeat.objects.filter(name=TICK).values_list("at", flat=True).first()


def tick(*, now: dt.datetime, email_limit: int | None = None) -> TickReport:
    report = TickReport(now=now.isoformat())
    since = previous_tick_at()
    report.unknown = outbox.release_expired_leases(now=now)
    report.queued = outbox.outbox_fill(now=now) if auto_email_due(now) else 0
    report.emails_handled = outbox.deliver_due_emails(now=now, limit=email_limit)
    report.recorded = outbox.record_sent_emails()
    # A simulated clock may go back (tests, --now); then rebuild every queue.
    report.queues = queues_refresh(now=now, since=since if since and since <= now else None)
    _beat(now=now, detail=asdict(report))
    return report


def auto_email_due(now: dt.datetime) -> bool:
    """Whether any automated email is due: one probe of the partial index
    ``task_pending_auto_due``. Most minutes nothing is, and the outbox's render query
    (seven joins) is then planned as a scan of every pending task at a million leads,
    because the planner cannot see that pending tasks are the ones due later."""
    due = Task.objects.filter(status=Task.Status.PENDING, mode=Step.Mode.AUTO, due_at__lte=now)
    # Ordered by due_at so the plan walks that index from its start and stops at once.
    return due.order_by("due_at").values_list("id", flat=True).first() is not None


def _beat(*, now: dt.datetime, detail: dict) -> None:
    # One upsert: two ticks finishing at once both write the one row, neither fails.
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=TICK, at=now, detail=detail)],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["at", "detail"],
    )
