"""Two snapshot rebuilds at once on PostgreSQL (two workers' hourly runs overlapping):
they take turns on the summary row's lock, and the snapshot holds each row once.

Threads have their own connections and see only committed rows, so this test commits
(``transaction=True``).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from cadences import report_summaries
from cadences.models import DecidedLeadDay, ReportSummary, StepResultDay
from cadences.reports import report_json
from tests.integration.test_report_snapshots import NOW, PERIODS, SNAPSHOTS, history

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres(postgres_only) -> None:
    """SQLite's writers queue behind one database lock: no overlap to test."""


def rebuild_at_once(workers: int) -> list[BaseException]:
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            report_summaries.step_result_days_rebuild(now=NOW)
            report_summaries.decided_lead_days_rebuild(now=NOW)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_two_rebuilds_at_once_leave_each_row_once_and_the_live_figures():
    history(21)
    live = {name: report_json(name, *PERIODS[2], None, now=NOW) for name in SNAPSHOTS}

    assert rebuild_at_once(2) == []

    assert ReportSummary.objects.filter(name__in=["step-results", "decided-leads"]).count() == 2
    for name in SNAPSHOTS:
        snapshot = report_json(name, *PERIODS[2], None, now=NOW + dt.timedelta(minutes=1))
        assert snapshot.pop("summary_refreshed_at") == NOW.isoformat()
        assert live[name].pop("summary_refreshed_at") is None
        assert snapshot == live[name]
    assert StepResultDay.objects.exists() and DecidedLeadDay.objects.exists()
