"""The hot queries, captured from the code that runs them, and their plans.

The SQL is taken from the real functions (``CaptureQueriesContext``), never copied by
hand, so the plans shown by ``bench/run.py --explain`` and checked by
``tests/integration/test_query_plans.py`` follow the code as it changes. Capturing runs
the functions, some of which write, so it happens in a transaction rolled back after.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext


@dataclass(frozen=True)
class HotQuery:
    name: str
    indexes: tuple[str, ...]  # the indexes its plan must use; none: shown, not checked
    sql: str


def _captured(work: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        work()
    return [query["sql"] for query in captured.captured_queries]


def _first(queries: list[str], *needles: str) -> str:
    for sql in queries:
        if all(needle.lower() in sql.lower() for needle in needles):
            return sql
    raise LookupError(f"no captured query contains {needles}")


def engine_queries(
    *, now: dt.datetime, rep: object, reps: list, emails_due_at: dt.datetime | None = None
) -> list[HotQuery]:
    """The worker's and the queue's hot queries, as of ``now``; the due-email query as of
    ``emails_due_at`` (a moment when emails are due), if given."""
    from cadences import outbox, queues, selectors, tick
    from leads import services

    day = queues.rep_day(rep, None, now)
    days = [queues.rep_day(r, None, now) for r in reps]
    due_at = emails_due_at or now
    wanted = (
        ("a rep's queue: tasks of one rep-day (cadences.queues._queue_rows)",
         ("task_pending_manual_rep_due",), lambda: queues._queue_rows(day), "cadences_task"),
        ("the morning: tasks of a batch of rep-days counted (cadences.queues._tallies)",
         ("task_pending_manual_rep_due",), lambda: queues._tallies(days[: queues.QUEUE_BATCH]),
         "cadences_task"),
        ("due auto emails (cadences.outbox.due_auto_tasks)", ("task_pending_auto_due",),
         lambda: list(outbox.due_auto_tasks(due_at, 500)), "cadences_task"),
        ("the next ready email, locked (cadences.outbox.claim_one)", ("outbox_ready",),
         lambda: outbox.claim_one(now=now), "for update"),
        ("a block of ready emails, held (cadences.outbox.hold_block)", ("outbox_ready",),
         lambda: outbox.hold_block(now=now), "for update"),
        ("emails whose sender died mid-send (cadences.outbox.release_expired_leases)",
         ("outbox_sending_lease",), lambda: outbox.release_expired_leases(now=now), "update"),
        ("sent emails not yet recorded (cadences.outbox.record_sent_emails)",
         ("outbox_sent_unrecorded",), outbox.record_sent_emails, "cadences_outboundemail"),
        ("reps whose tasks changed since the last tick (cadences.queues.queues_refresh)",
         ("task_created", "task_completed"), lambda: queues.queues_refresh(now=now, since=now),
         "cadences_task"),
        ("is an automated email due (cadences.tick.auto_email_due)", ("task_pending_auto_due",),
         lambda: tick.auto_email_due(now), "cadences_task"),
        ("a lead by email, for every API post (leads.services.lead_find_by_email)",
         ("lead_email_upper",), lambda: services.lead_find_by_email("Ann.Lee@Example.com"),
         "leads_lead"),
        ("the team rotation's next rep, for every routed lead (leads.services.next_owner)",
         ("repprofile_rotation",), lambda: services.next_owner(now=now), "leads_repprofile"),
        ("an account by name, for every lead with a company (leads.services.account_for)",
         ("account_name_upper",), lambda: services.account_for("Acme Ltd", now=now),
         "leads_account"),
        ("the Today page's automated emails still due (cadences.selectors.upcoming_auto_emails)",
         ("task_pending_auto_email_rep_due",),
         lambda: selectors.upcoming_auto_emails(rep=rep, before=day.end), "cadences_task"),
        ("the Today page's interrupted sends (cadences.outbox.emails_to_check)",
         ("outbox_unknown_task",), lambda: outbox.emails_to_check(rep=rep),
         "cadences_outboundemail"),
    )  # fmt: skip
    with transaction.atomic():
        found = [
            HotQuery(name, indexes, _first(_captured(work), needle))
            for name, indexes, work, needle in wanted
        ]
        transaction.set_rollback(True)
    return found


def report_queries(*, now: dt.datetime, days: int = 90) -> Iterator[HotQuery]:
    """Every query of every report over the last ``days`` days, for the whole team."""
    try:
        from cadences.reports import REPORTS, report_json
    except ImportError:
        return
    date_to = now.date()
    date_from = date_to - dt.timedelta(days=days)
    for name in REPORTS:
        with transaction.atomic():
            queries = _captured(lambda n=name: report_json(n, date_from, date_to, None, now=now))
            transaction.set_rollback(True)
        for i, sql in enumerate(queries, start=1):
            yield HotQuery(f"report {name}, query {i} of {len(queries)}", (), sql)


def explain_text(sql: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS): runs the query, in a transaction rolled back."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("explain (analyze, buffers) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return "\n".join(lines)


def plan_indexes(sql: str) -> set[str]:
    """Names of the indexes in the planner's chosen plan (EXPLAIN without running it)."""
    with connection.cursor() as cursor:
        cursor.execute("explain (format json) " + sql)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return set(_index_names(plan[0]["Plan"]))


def _index_names(node: dict) -> Iterator[str]:
    if "Index Name" in node:
        yield node["Index Name"]
    for child in node.get("Plans", []):
        yield from _index_names(child)
