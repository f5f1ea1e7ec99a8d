"""Mail batches: a rep's handwritten notes and letters due today, as one print run.

The rep's pending ``mail`` tasks due by the end of their local today become a batch:
a CSV of names and postal addresses (for a mail-merge or a label printer) and a page
of address labels. Leads without a postal address are set apart ("needs an address")
rather than printed with a blank label. Marking the batch posted logs a ``mail`` touch
with outcome ``sent`` for each task in one transaction, which completes the task and
moves the lead's cadence on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from cadences import scheduling
from cadences.models import Task
from cadences.services import rep_timezone
from leads.models import Lead
from leads.touches import touch_log

CSV_HEADER = [
    "name",
    "company",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "note",
]


@dataclass
class MailBatch:
    rep: AbstractBaseUser
    day: dt.date
    ready: list[Task] = field(default_factory=list)
    needs_address: list[Task] = field(default_factory=list)


def has_postal_address(lead: Lead) -> bool:
    return bool(lead.address_line1.strip() and (lead.city.strip() or lead.postal_code.strip()))


def note_title(task: Task) -> str:
    return task.title or (task.step.title if task.step else "") or "Mailed note"


def due_mail_tasks(*, rep: AbstractBaseUser, now: dt.datetime):
    """The rep's pending manual mail tasks due before their local today ends."""
    tz = rep_timezone(rep)
    _, day_end = scheduling.local_day_bounds(scheduling.local_date(now, tz), tz)
    return (
        Task.objects.filter(
            rep=rep, channel="mail", status=Task.Status.PENDING, mode="manual", due_at__lt=day_end
        )
        .select_related("lead__account", "step")
        .order_by("due_at", "id")
    )


def mail_batch(*, rep: AbstractBaseUser, now: dt.datetime) -> MailBatch:
    tz = rep_timezone(rep)
    batch = MailBatch(rep=rep, day=scheduling.local_date(now, tz))
    for task in due_mail_tasks(rep=rep, now=now):
        task.note = note_title(task)  # for the templates
        (batch.ready if has_postal_address(task.lead) else batch.needs_address).append(task)
    return batch


def batch_rows(batch: MailBatch) -> Iterator[list[str]]:
    """One CSV row per printable note, in the order of ``CSV_HEADER``."""
    for task in batch.ready:
        lead = task.lead
        yield [
            lead.name,
            lead.account.name if lead.account else "",
            lead.address_line1,
            lead.address_line2,
            lead.city,
            lead.region,
            lead.postal_code,
            lead.country,
            note_title(task),
        ]


def mail_batch_post(*, rep: AbstractBaseUser, task_ids: list[int], now: dt.datetime) -> list[Task]:
    """Mark the notes posted: each task of the batch among ``task_ids`` gets a mail touch.

    Only tasks still pending in the rep's batch, with an address, are taken, so a task
    due after the page was printed, or posted twice (a double click, two tabs), is not.
    """
    with transaction.atomic():
        tasks = due_mail_tasks(rep=rep, now=now).filter(id__in=task_ids)
        if connection.vendor == "postgresql":  # two submits at once: the second waits
            tasks = tasks.select_for_update(of=("self",))
        posted = [task for task in tasks if has_postal_address(task.lead)]
        for task in posted:
            touch_log(
                lead=task.lead,
                rep=rep,
                channel="mail",
                outcome="sent",
                task=task,
                occurred_at=now,
                now=now,
                notes=f"Posted: {note_title(task)}",
            )
    return posted
