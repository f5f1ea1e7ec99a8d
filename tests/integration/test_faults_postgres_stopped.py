"""Fault test: PostgreSQL stopped mid-tick and started again.

On a throwaway cluster of its own (``scripts/pg_test_cluster.sh`` on a free port, never
the shared test database): a ``followup_tick`` process is sending due emails when the
server stops at once. The tick must fail loudly; after the restart the data is
consistent and the next tick finishes the work: every email sent exactly once or
``unknown`` for review, never twice. The counts are printed.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import free_port
from tests.faults_support import (
    ROOT,
    ThrowawayCluster,
    manage,
    outbox_census_from_rows,
    pg_bin_dir,
    senders_per_tick,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.postgres

EMAILS = 300
SEED = (
    "from tests.factories import RepFactory;"
    " from tests.faults_support import enrol_for_auto_email;"
    f" enrol_for_auto_email(RepFactory(username='alice'), {EMAILS}, 'Through a restart')"
)


@pytest.fixture
def cluster(postgres_only) -> Iterator[ThrowawayCluster]:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl)")
    cluster = ThrowawayCluster(port=free_port(), bin_dir=bin_dir)
    cluster.create()
    try:
        manage(cluster.url, "migrate", "--noinput")
        yield cluster
    finally:
        cluster.destroy()


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return conn.execute(sql).fetchall()


def tick_process(url: str, smtp_port: int) -> subprocess.Popen:
    env = worker_env(database=url, smtp_port=smtp_port)
    return subprocess.Popen(
        [sys.executable, "manage.py", "followup_tick"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sink(smtp_sink) -> dict[str, str]:
    return {"EMAIL_URL": f"smtp://127.0.0.1:{smtp_sink.port}"}


def assert_consistent(url: str) -> dict[str, int]:
    """What must hold at any moment, even right after a crash: no task twice, no row
    sent twice, each sent-and-recorded email with its one Touch."""
    twice = rows(
        url,
        "SELECT enrolment_id, step_id FROM cadences_task WHERE kind = 'step'"
        " GROUP BY 1, 2 HAVING count(*) > 1",
    )
    assert twice == [], f"a step has two tasks: {twice[:5]}"
    outbox_per_task = rows(
        url, "SELECT task_id FROM cadences_outboundemail GROUP BY 1 HAVING count(*) > 1"
    )
    assert outbox_per_task == []
    [(recorded, touches)] = rows(
        url,
        "SELECT (SELECT count(*) FROM cadences_outboundemail WHERE recorded),"
        " (SELECT count(*) FROM leads_touch WHERE automated)",
    )
    assert recorded == touches, "a recorded email without its Touch, or the reverse"
    return dict(rows(url, "SELECT status, count(*) FROM cadences_outboundemail GROUP BY 1"))


def test_postgresql_stopped_mid_tick_fails_the_tick_loudly_and_the_next_tick_finishes_once(
    cluster, smtp_sink
):
    manage(cluster.url, "shell", "-c", SEED)
    smtp_sink.delay_seconds = 0.02  # a tick of 300 emails takes several seconds
    tick = tick_process(cluster.url, smtp_sink.port)
    try:
        wait_for(lambda: len(smtp_sink.messages) >= 30, 120, "the tick to be sending")
        cluster.stop_now()
        _, stderr = tick.communicate(timeout=60)
    finally:
        tick.kill()
    sent_before_stop = len(smtp_sink.messages)
    assert tick.returncode != 0, "the tick carried on as if the database were there"
    assert "OperationalError" in stderr, stderr[-2000:]
    assert sent_before_stop < EMAILS, "the stop came too late to prove anything"

    cluster.start_again()
    at_restart = assert_consistent(cluster.url)
    in_flight = at_restart.get("sending", 0)
    assert in_flight <= senders_per_tick()  # at most the ones on the wire at the stop
    # The next tick, past the send lease, as the every-minute schedule would run it.
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
    report = json.loads(manage(cluster.url, "followup_tick", "--now", later, **sink(smtp_sink)))
    again = json.loads(manage(cluster.url, "followup_tick", "--now", later, **sink(smtp_sink)))

    census = outbox_census_from_rows(
        smtp_sink, rows(cluster.url, "SELECT message_id, status FROM cadences_outboundemail")
    )
    final = assert_consistent(cluster.url)
    stuck = rows(
        cluster.url,
        "SELECT e.id FROM cadences_enrolment e WHERE e.status = 'active' AND (SELECT count(*)"
        " FROM cadences_task t WHERE t.enrolment_id = e.id AND t.status = 'pending'"
        " AND t.kind = 'step') <> 1",
    )
    print(
        f"\nPostgreSQL stopped mid-tick after {sent_before_stop} of {EMAILS} emails; at"
        f" restart {at_restart}; next tick {report}; then {again['emails_handled']} more;"
        f" final {census.figures()}"
    )
    assert census.doubled == [] and census.strangers == set()
    assert set(final) <= {"sent", "unknown"} and sum(final.values()) == EMAILS
    assert final.get("unknown", 0) == in_flight  # those, and only those, are for review
    assert all(census.received[mid] == 1 for mid in census.sent_ids)
    assert stuck == [], f"enrolments without exactly one pending step: {stuck[:5]}"
    assert again["emails_handled"] == 0  # the work was finished once, by the first tick
