"""Fault test on PostgreSQL: the real worker against an SMTP peer that refuses, then stops
answering (at EHLO, then after taking a message's DATA), then recovers.

After it recovers every email has gone out exactly once, none is lost, and an email whose
DATA the peer took without answering in time is ``unknown`` for review (it may have gone
out, and here it did), never resent blindly. The counts are printed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from cadences.models import OutboundEmail
from tests.faults_support import (
    Worker,
    assert_no_enrolment_stuck,
    assert_sent_once_or_unknown,
    database_url,
    enrol_for_auto_email,
    outbox_census,
    tick_until,
    worker_env,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

EMAILS = 20
TIMEOUT_SECONDS = 0.5  # the worker's SMTP timeout (20 s in production)
STALL_SECONDS = 2.0  # how long the peer keeps silent: longer than the timeout


@pytest.fixture(autouse=True)
def _postgres(postgres_only) -> None:
    """The real worker on the real database, as in production."""


def attempts() -> Counter:
    return Counter(dict(OutboundEmail.objects.values_list("message_id", "attempts")))


def settled() -> bool:
    return not OutboundEmail.objects.exclude(status__in=["sent", "unknown"]).exists() and (
        not OutboundEmail.objects.filter(status="sent", recorded=False).exists()
    )


def run_outage(rep, sink, tmp_path, *, stall_in_data: bool) -> tuple[int, set[str]]:
    """Refused, then silent at EHLO, then (if asked) silent after DATA, then recovered:
    the real worker ticks through each phase. Returns the recovery's ticks and the
    Message-IDs whose DATA the peer took without answering."""
    enrol_for_auto_email(rep, EMAILS, "Through an outage")
    env = worker_env(
        database=database_url(),
        smtp_port=sink.port,
        FAULTS_EMAIL_TIMEOUT=str(TIMEOUT_SECONDS),
        FAULTS_RETRY_BACKOFF_SECONDS="1,1,1,1,1,1,1,1",
    )
    worker = Worker(env=env, log_path=tmp_path / "qcluster.log")
    worker.start()
    try:
        # 1. The peer refuses every message (451): each is tried, none goes out.
        sink.refuse_with = (451, "4.3.2 try again later")
        retrying = OutboundEmail.objects.filter(status="retry")
        tick_until(lambda: retrying.count() == EMAILS, 120, "every email to be refused")
        # 2. It accepts connections, then never answers EHLO in time: nothing is sent.
        sink.refuse_with = None
        sink.stall_in, sink.stall_seconds = "EHLO", STALL_SECONDS
        tried = sum(attempts().values())
        tick_until(lambda: sum(attempts().values()) >= tried + 3, 120, "3 EHLO timeouts")
        assert sink.messages == []  # nothing got through yet
        # 3. It takes a message's DATA, then stays silent past the timeout.
        if stall_in_data:
            sink.stall_in = "DATA"
            tick_until(lambda: len(sink.stalled) >= 3, 120, "three sends to stall in DATA")
        # 4. It recovers.
        sink.stall_seconds = 0
        ticks = tick_until(settled, 180, "every email to be settled after the recovery")
    except BaseException:
        print(worker.log_tail())
        raise
    finally:
        worker.stop()
    return ticks, {str(message["Message-ID"]) for message in sink.stalled}


def test_an_smtp_peer_that_refuses_then_times_out_then_recovers_gets_each_email_once(
    rep, smtp_sink, tmp_path
):
    ticks, _ = run_outage(rep, smtp_sink, tmp_path, stall_in_data=False)

    census = outbox_census(smtp_sink)
    print(
        f"\nSMTP outage (refused, then silent at EHLO): {EMAILS} emails; recovered in"
        f" {ticks} tick(s): {census.figures()}"
    )
    assert_sent_once_or_unknown(census, due=EMAILS)
    assert census.statuses["sent"] == EMAILS  # nothing left the machine before: all resent
    assert_no_enrolment_stuck()


def test_an_email_whose_data_the_peer_took_without_answering_is_unknown_never_resent(
    rep, smtp_sink, tmp_path
):
    ticks, stalled_ids = run_outage(rep, smtp_sink, tmp_path, stall_in_data=True)

    census = outbox_census(smtp_sink)
    print(
        f"\nSMTP outage (refused, silent at EHLO, silent after DATA): {EMAILS} emails;"
        f" stalled in DATA {len(stalled_ids)}; recovered in {ticks} tick(s): {census.figures()}"
    )
    assert_sent_once_or_unknown(census, due=EMAILS)
    assert census.unknown_ids == stalled_ids  # it may have gone out (here it did): ask
    assert all(census.received[mid] == 1 for mid in stalled_ids)
    assert census.statuses["sent"] == EMAILS - len(stalled_ids)
    assert_no_enrolment_stuck()
