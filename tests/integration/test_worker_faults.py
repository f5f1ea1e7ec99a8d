"""Fault tests on PostgreSQL: concurrent ticks and a worker killed mid-send.

Every due email is sent exactly once or marked ``unknown`` for review, never twice;
every task exists once. Run against the real PostgreSQL (CI starts one).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from cadences import outbox
from cadences.models import Enrolment, OutboundEmail, Task
from cadences.services import enrolment_start
from cadences.tick import tick
from leads.models import Touch
from tests.factories import LeadFactory
from tests.integration.engine_helpers import AUTO_EMAIL_THEN_CALL, make_cadence

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
STEPS = AUTO_EMAIL_THEN_CALL


@pytest.fixture(autouse=True)
def _postgres(postgres_only) -> None:
    """Only PostgreSQL has row locks worth proving; SQLite serialises all writers."""


def enrol_many(rep, count: int, now: dt.datetime) -> list[Enrolment]:
    cadence = make_cadence("Concurrent", STEPS, business_days_only=False, min_gap_hours=0)
    leads = [LeadFactory(owner=rep, timezone="UTC") for _ in range(count)]
    return [enrolment_start(lead=lead, cadence=cadence, now=now) for lead in leads]


def assert_exactly_once(sink, enrolments: list[Enrolment]) -> None:
    recipients = Counter(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts)
    assert recipients and max(recipients.values()) == 1, "an email was sent twice"
    ids = [m["Message-ID"] for m in sink.messages]
    assert len(ids) == len(set(ids))
    for enrolment in enrolments:
        steps = Counter(enrolment.tasks.values_list("step__position", flat=True))
        assert steps == {1: 1, 2: 1}, f"enrolment {enrolment.id} has tasks {steps}"


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_ticks_send_every_due_email_exactly_once(rep, smtp_sink, workers):
    now = dt.datetime(2027, 3, 1, 10, tzinfo=dt.UTC)
    enrolments = enrol_many(rep, 120, now)
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            tick(now=now)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(smtp_sink.messages) == 120
    assert OutboundEmail.objects.filter(status="sent").count() == 120
    assert Task.objects.filter(status="sent").count() == 120
    assert_exactly_once(smtp_sink, enrolments)


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll a condition with a deadline: waiting for an event, not sleeping for luck."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(rep, smtp_sink):
    total = 150
    enrolments = enrol_many(rep, total, timezone.now() - dt.timedelta(minutes=5))
    smtp_sink.delay_seconds = 0.02  # slow enough that the kill lands mid-batch
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_sink.port}",
        "Q_WORKERS": "1",
        "SECRET_KEY": "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        from django_q.tasks import async_task

        async_task("cadences.tasks.tick")  # what the schedule enqueues every minute
        wait_for(lambda: len(smtp_sink.messages) >= 20, 90, "the worker to start sending")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    sent_before_kill = len(smtp_sink.messages)
    assert sent_before_kill < total, "the kill came too late to prove anything"

    # The next ticks, past the send lease: the row in flight becomes unknown, the rest go.
    later = timezone.now() + dt.timedelta(minutes=10)
    smtp_sink.delay_seconds = 0
    tick(now=later)
    tick(now=later + dt.timedelta(minutes=1))

    statuses = Counter(OutboundEmail.objects.values_list("status", flat=True))
    assert set(statuses) <= {"sent", "unknown"}
    # At most the messages that were on the wire: one per sender thread.
    assert statuses["unknown"] <= outbox.SENDERS
    assert statuses["sent"] + statuses["unknown"] == total
    # Each unknown one may or may not have reached the server before the kill.
    assert statuses["sent"] <= len(smtp_sink.messages) <= statuses["sent"] + statuses["unknown"]
    recipients = Counter(rcpt for _, rcpts in smtp_sink.envelopes for rcpt in rcpts)
    assert max(recipients.values()) == 1, "an email was sent twice"
    # Every sent email has its Touch, and its cadence moved on to the call.
    assert Touch.objects.filter(automated=True).count() == statuses["sent"]
    for enrolment in enrolments:
        assert enrolment.tasks.filter(step__position=1).count() == 1
    assert Task.objects.filter(step__position=2, status="pending").count() == statuses["sent"]
