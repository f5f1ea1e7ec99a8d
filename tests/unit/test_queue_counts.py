"""The tick's queue totals, counted without ordering, equal those of the assembled queue.

``cadences.queues.queue_counts`` writes each ``DailyQueue`` from counts per section and
status; ``scheduling.assemble_queue`` orders and caps every item. No database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cadences import scheduling
from cadences.queues import RepDay, Tally, queue_counts

DAY_START = datetime(2027, 3, 2, 5, tzinfo=UTC)
CHANNELS = ("call", "email", "mail", "sms", "social", "task", "meeting")

candidates = st.lists(
    st.builds(
        lambda channel, kind, position, hours, status: (channel, kind, position, hours, status),
        st.sampled_from(CHANNELS),
        st.sampled_from(("step", "callback", "hot")),
        st.one_of(st.none(), st.integers(1, 8)),
        st.integers(-72, 23),
        st.sampled_from(("pending", "pending", "done", "skipped")),
    ),
    max_size=120,
)


def _assembled_counts(queue: scheduling.AssembledQueue) -> dict[str, int]:
    def finished(entries: tuple[scheduling.QueueEntry, ...]) -> int:
        return sum(not e.candidate.is_pending for e in entries)

    return {
        "calls_total": len(queue.calls),
        "calls_done": finished(queue.calls),
        "emails_total": len(queue.emails),
        "emails_done": finished(queue.emails),
        "other_total": len(queue.other),
        "other_done": finished(queue.other),
        "rolled_over_calls": queue.rolled_over["call"],
        "rolled_over_emails": queue.rolled_over["email"],
    }


@settings(max_examples=300, deadline=None)
@given(candidates, st.integers(0, 60), st.integers(0, 60))
def test_counted_totals_equal_the_assembled_queues_for_any_tasks_and_capacity(
    specs, call_capacity, email_capacity
):
    tasks = [
        scheduling.QueueCandidate(
            task_id=i,
            channel=channel,
            kind=kind,
            step_position=position,
            due_at=DAY_START + timedelta(hours=hours),
            status=status,
        )
        for i, (channel, kind, position, hours, status) in enumerate(specs, start=1)
    ]
    assembled = scheduling.assemble_queue(
        tasks, day_start=DAY_START, call_capacity=call_capacity, email_capacity=email_capacity
    )
    tally = Tally()
    for task in tasks:
        tally.add(channel=task.channel, status=task.status, count=1)
    day = RepDay(
        rep_id=1,
        day=DAY_START.date(),
        tz="UTC",
        start=DAY_START,
        end=DAY_START + timedelta(days=1),
        call_capacity=call_capacity,
        email_capacity=email_capacity,
    )
    assert queue_counts(day, tally) == _assembled_counts(assembled)
