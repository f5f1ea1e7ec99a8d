"""Fault test on PostgreSQL: the real worker SIGKILLed at random moments while it sends
1,000 due emails, twenty times over, then left to finish.

Every due email must end sent exactly once (counted by Message-ID at a real SMTP sink)
or ``unknown`` for review, never twice; every task exists once; no enrolment is stuck.
The seed is printed (``FAULTS_SEED`` replays a run) and so are the counts.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from cadences.models import OutboundEmail
from tests.faults_support import (
    Worker,
    assert_no_enrolment_stuck,
    assert_sent_once_or_unknown,
    database_url,
    enqueue_tick,
    enrol_for_auto_email,
    outbox_census,
    senders_per_tick,
    tick_finished,
    tick_until,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

EMAILS = 1000
ROUNDS = 20
LEASE_SECONDS = 5  # a killed sender's row becomes ``unknown`` this long after its claim


@pytest.fixture(autouse=True)
def _postgres(postgres_only) -> None:
    """SIGKILL mid-transaction and row locks: what PostgreSQL in production lives through."""


def taken_ticks() -> int:
    """Queued tasks a worker has taken: django-q's ORM broker moves a task's lock into
    the future (by its retry time) when a worker takes it, and deletes it once done; a
    task whose worker was killed stays locked until then."""
    from django.utils import timezone
    from django_q.models import OrmQ

    return OrmQ.objects.filter(lock__gt=timezone.now()).count()


def kill_at_random_moment(worker: Worker, sink, rng: random.Random, number: int) -> str:
    """Start the worker, queue a tick, SIGKILL it at a moment the seed chooses.

    Most rounds kill just after the sink took the N-th new message, so the kill lands
    while the next one is on the wire; others kill at a random time after the tick is
    taken, which may land in the outbox fill, a send or the bookkeeping.
    """
    before, taken = len(sink.messages), taken_ticks()
    worker.start()
    task_id = enqueue_tick()
    if rng.random() < 0.75:
        target = before + rng.randint(1, 40)
        moment = f"after message {target}"
        wait_for(
            lambda: len(sink.messages) >= target or tick_finished(task_id),
            120,
            f"round {number}: the worker to send up to message {target}",
        )
    else:
        delay = rng.uniform(0.0, 1.5)
        moment = f"{delay:.2f}s after the worker took the tick"
        wait_for(
            lambda: taken_ticks() > taken or tick_finished(task_id),
            120,
            f"round {number}: the worker to take the tick",
        )
        time.sleep(delay)  # the random moment itself, not a wait for an event
    worker.kill()
    return moment


def all_done() -> bool:
    ready = OutboundEmail.objects.exclude(status__in=["sent", "unknown"]).exists()
    unrecorded = OutboundEmail.objects.filter(status="sent", recorded=False).exists()
    made = OutboundEmail.objects.count() == EMAILS
    return made and not ready and not unrecorded


def finish(worker: Worker, deadline_seconds: float) -> int:
    """Restart the worker and tick until every email is settled: the leases run out."""
    worker.start()
    try:
        return tick_until(all_done, deadline_seconds, "every email to be settled")
    finally:
        worker.stop()


def test_a_worker_sigkilled_twenty_times_while_sending_a_thousand_emails_loses_and_doubles_none(
    rep, smtp_sink, tmp_path
):
    seed = int(os.environ.get("FAULTS_SEED", "20261122"))
    rng = random.Random(seed)
    print(f"\nSIGKILL rounds: seed {seed} (FAULTS_SEED={seed} replays it)")
    enrol_for_auto_email(rep, EMAILS, "Killed mid-send")
    smtp_sink.delay_seconds = 0.01  # each message spends a moment on the wire
    env = worker_env(
        database=database_url(),
        smtp_port=smtp_sink.port,
        FAULTS_SEND_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    worker = Worker(env=env, log_path=tmp_path / "qcluster.log")
    try:
        for number in range(1, ROUNDS + 1):
            moment = kill_at_random_moment(worker, smtp_sink, rng, number)
            census = outbox_census(smtp_sink)
            assert census.doubled == [], f"round {number}: sent twice {census.doubled[:3]}"
            print(f"round {number:2}: SIGKILL {moment}; {census.figures()}")
        killed_with_work_left = OutboundEmail.objects.exclude(status="sent").count()
        ticks = finish(worker, deadline_seconds=420)  # ~2 min on an idle 2-core box
    except BaseException:
        print(worker.log_tail())
        raise
    finally:
        worker.kill()

    census = outbox_census(smtp_sink)
    assert_sent_once_or_unknown(census, due=EMAILS)
    settled = assert_no_enrolment_stuck()
    # Each kill leaves at most the messages that were on the wire uncertain.
    assert census.statuses["unknown"] <= ROUNDS * senders_per_tick()
    assert killed_with_work_left > 0, "the kills came too late to prove anything"
    print(
        f"SIGKILL rounds survived: {ROUNDS}; finished in {ticks} tick(s); emails due {EMAILS}:"
        f" sent {census.statuses['sent']}, unknown {census.statuses['unknown']}"
        f" (of which the sink got {census.unknown_received}), lost {len(census.sent_not_received)},"
        f" doubled {len(census.doubled)}; {settled}"
    )
