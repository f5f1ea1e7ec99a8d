"""Each hot query of the worker, the queue and lead intake uses its index (EXPLAIN).

The SQL is captured from the functions that run it (``bench.hot_queries``), so a change
to a query is checked here as it is. A few thousand history rows are seeded so that
the pending and ready rows are the rare ones, as in production, and the tables are
ANALYZEd. Even so, on a table this small a sequential scan can cost the planner less
than any index, so each plan is read with ``enable_seqscan = off`` (SET LOCAL, this
test's transaction only): the question asked is "can this query use its index, and
does it pick that one among the others", not what the planner prefers at 50 rows.
``bench/run.py --explain`` shows the plans the planner chooses at full scale.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from bench import hot_queries
from cadences.models import OutboundEmail, Task
from tests.factories import LeadFactory

NOW = dt.datetime(2027, 3, 2, 15, 0, tzinfo=dt.UTC)
HISTORY = 3_000  # finished tasks per rep: the bulk a hot query must not read


def _history(rep, leads) -> None:
    """Finished steps over the past year, some of them sent emails; few open ones."""
    done = [
        Task(
            rep=rep,
            lead=leads[i % len(leads)],
            channel="email" if i % 3 == 0 else "call",
            mode="auto" if i % 3 == 0 else "manual",
            status="sent" if i % 3 == 0 else "done",
            due_at=NOW - dt.timedelta(hours=3 * i + 5),
            completed_at=NOW - dt.timedelta(hours=3 * i + 4),
            created_at=NOW - dt.timedelta(hours=3 * i + 30),
        )
        for i in range(HISTORY)
    ]
    pending = [
        Task(
            rep=rep,
            lead=leads[i % len(leads)],
            channel="email" if i % 4 == 0 else "call",
            mode="auto" if i % 4 == 0 else "manual",
            due_at=NOW + dt.timedelta(hours=i - 10),
            created_at=NOW - dt.timedelta(days=2),
        )
        for i in range(60)
    ]
    Task.objects.bulk_create(done + pending)
    sent = [task for task in done if task.status == "sent"]
    OutboundEmail.objects.bulk_create(
        OutboundEmail(
            task=task,
            lead=task.lead,
            to_email=task.lead.email,
            from_email="rep@example.com",
            subject="Hello",
            body_text="A useful read",
            message_id=f"<{task.id}@plans.test>",
            status="sent",
            recorded=True,
            attempts=1,
            next_attempt_at=task.due_at,
            sent_at=task.completed_at,
        )
        for task in sent
    )


@pytest.fixture
def plans(postgres_only, rep, teammate) -> dict[str, hot_queries.HotQuery]:
    for owner in (rep, teammate):
        _history(owner, LeadFactory.create_batch(10, owner=owner))
    with connection.cursor() as cursor:
        cursor.execute("analyze cadences_task, cadences_outboundemail, leads_lead, leads_account")
        cursor.execute("set local enable_seqscan = off")
    found = hot_queries.engine_queries(now=NOW, rep=rep, reps=[rep, teammate])
    return {query.name: query for query in found}


def _uses(plans: dict[str, hot_queries.HotQuery], starts: str, *indexes: str) -> None:
    query = next(q for name, q in plans.items() if name.startswith(starts))
    assert query.indexes == indexes  # the harness and this test agree on the indexes
    used = hot_queries.plan_indexes(query.sql)
    missing = set(indexes) - used
    assert not missing, f"{query.name} uses {sorted(used) or 'no index'}:\n{query.sql}"


def test_a_reps_queue_reads_pending_tasks_through_the_pending_manual_index(plans):
    _uses(plans, "a rep's queue", "task_pending_manual_rep_due")


def test_the_morning_queues_read_pending_tasks_through_the_pending_manual_index(plans):
    _uses(plans, "the morning", "task_pending_manual_rep_due")


def test_due_automated_emails_are_found_through_the_pending_auto_index(plans):
    _uses(plans, "due auto emails", "task_pending_auto_due")


def test_the_next_ready_email_is_claimed_through_the_outbox_ready_index(plans):
    _uses(plans, "the next ready email", "outbox_ready")


def test_a_block_of_ready_emails_is_held_through_the_outbox_ready_index(plans):
    _uses(plans, "a block of ready emails", "outbox_ready")


def test_emails_whose_sender_died_are_found_through_the_sending_lease_index(plans):
    _uses(plans, "emails whose sender died", "outbox_sending_lease")


def test_sent_emails_not_yet_recorded_are_found_through_their_partial_index(plans):
    _uses(plans, "sent emails not yet recorded", "outbox_sent_unrecorded")


def test_the_tick_finds_reps_with_changed_tasks_through_indexes_not_a_table_scan(plans):
    _uses(plans, "reps whose tasks changed", "task_created", "task_completed")


def test_a_lead_is_found_by_email_in_any_case_through_an_index(plans):
    _uses(plans, "a lead by email", "lead_email_upper")


def test_an_account_is_found_by_name_in_any_case_through_an_index(plans):
    _uses(plans, "an account by name", "account_name_upper")


def test_the_tick_looks_for_a_due_automated_email_through_the_pending_auto_index(plans):
    _uses(plans, "is an automated email due", "task_pending_auto_due")


def test_the_today_pages_due_automated_emails_are_read_through_the_rep_and_due_index(plans):
    _uses(plans, "the Today page's automated emails", "task_pending_auto_email_rep_due")


def test_the_today_pages_interrupted_sends_are_found_through_their_partial_index(plans):
    _uses(plans, "the Today page's interrupted sends", "outbox_unknown_task")
