"""Parallel senders on PostgreSQL: a burst is shared by sender threads, each email once.

Threads have their own connections and see only committed rows, so these tests
commit (``transaction=True``); test_worker_faults adds concurrent ticks and a kill.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from cadences import outbox
from cadences.models import OutboundEmail, Task
from cadences.services import enrolment_start
from leads.models import Lead, Touch
from tests.factories import LeadFactory
from tests.integration.engine_helpers import AUTO_EMAIL_THEN_CALL, make_cadence

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2027, 3, 1, 10, tzinfo=dt.UTC)
STEPS = AUTO_EMAIL_THEN_CALL


@pytest.fixture(autouse=True)
def _postgres(postgres_only) -> None:
    """SQLite sends from one thread: its writers queue behind one lock anyway."""


def due(rep, count: int) -> None:
    cadence = make_cadence("Burst", STEPS, business_days_only=False, min_gap_hours=0)
    for _ in range(count):
        enrolment_start(lead=LeadFactory(owner=rep, timezone="UTC"), cadence=cadence, now=NOW)
    outbox.outbox_fill(now=NOW)


def test_a_burst_is_shared_by_sender_threads_and_each_email_goes_once(rep, smtp_sink):
    due(rep, 130)
    sessions: Counter = Counter()
    handle = smtp_sink.handle_DATA

    async def count_sessions(server, session, envelope):
        sessions[id(session)] += 1
        return await handle(server, session, envelope)

    smtp_sink.handle_DATA = count_sessions
    assert outbox.deliver_due_emails(now=NOW, batch=10, senders=3) == 130
    assert len(sessions) >= 2, "the burst was sent by one sender"
    assert sum(sessions.values()) == len(smtp_sink.messages) == 130
    recipients = Counter(rcpt for _, rcpts in smtp_sink.envelopes for rcpt in rcpts)
    assert len(recipients) == 130 and max(recipients.values()) == 1
    assert Counter(OutboundEmail.objects.values_list("status", flat=True)) == {"sent": 130}


def test_a_small_batch_is_sent_without_threads(rep, smtp_sink):
    due(rep, 5)
    sessions: set[int] = set()
    handle = smtp_sink.handle_DATA

    async def count_sessions(server, session, envelope):
        sessions.add(id(session))
        return await handle(server, session, envelope)

    smtp_sink.handle_DATA = count_sessions
    assert outbox.deliver_due_emails(now=NOW, senders=3) == 5
    assert len(sessions) == 1


def test_recording_a_burst_counts_every_touch_once_on_its_lead(rep, smtp_sink):
    due(rep, 120)
    outbox.deliver_due_emails(now=NOW, batch=10, senders=3)
    assert outbox.record_sent_emails(limit=1000) == 120
    assert outbox.record_sent_emails(limit=1000) == 0
    assert Touch.objects.filter(automated=True).count() == 120
    assert Task.objects.filter(status="sent").count() == 120
    assert Task.objects.filter(step__position=2, status="pending").count() == 120
    assert set(Lead.objects.values_list("touch_count", flat=True)) == {1}
