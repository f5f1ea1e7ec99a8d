"""One scheduler tick: what the worker's schedule runs every minute.

Brings every active enrolment up to date as of ``now``: due auto emails are rendered
into the outbox and sent, abandoned sends become ``unknown``, and each rep whose
local day has begun gets a fresh queue. Every part is safe to run twice at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from cadences import outbox
from cadences.models import Heartbeat
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
    beat = Heartbeat.objects.filter(name=TICK).first()
    return beat.at if beat else None


def tick(*, now: dt.datetime, email_limit: int | None = None) -> TickReport:
    report = TickReport(now=now.isoformat())
    since = previous_tick_at()
    report.unknown = outbox.release_expired_leases(now=now)
    report.queued = outbox.outbox_fill(now=now)
    report.emails_handled = outbox.deliver_due_emails(now=now, limit=email_limit)
    report.recorded = outbox.record_sent_emails()
    # A simulated clock may go back (tests, --now); then rebuild every queue.
    report.queues = queues_refresh(now=now, since=since if since and since <= now else None)
    Heartbeat.objects.update_or_create(name=TICK, defaults={"at": now, "detail": asdict(report)})
    return report
