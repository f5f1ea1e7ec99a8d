"""Two load-forecast snapshot refreshes at once on PostgreSQL (two workers' hourly runs
overlapping): they take turns on the summary row's lock, and the snapshot holds each
rep's day once, with the live figures.

Threads have their own connections and see only committed rows, so this test commits
(``transaction=True``).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from cadences import report_workload
from cadences.models import ForecastDay, ReportSummary
from cadences.reports import report_json
from tests.integration.test_report_fast_paths import FORECAST_NOW, varied_pending_steps

pytestmark = pytest.mark.django_db(transaction=True)

PERIOD = (FORECAST_NOW.date().replace(day=1), FORECAST_NOW.date())


@pytest.fixture(autouse=True)
def _postgres(postgres_only) -> None:
    """SQLite's writers queue behind one database lock: no overlap to test."""


def refresh_at_once(workers: int) -> list[BaseException]:
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            report_workload.forecast_days_refresh(now=FORECAST_NOW)
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


def test_two_refreshes_at_once_leave_each_reps_day_once_and_the_live_figures():
    varied_pending_steps(31, tasks=80)
    live = report_json("load-forecast", *PERIOD, None, now=FORECAST_NOW)

    assert refresh_at_once(2) == []

    assert ReportSummary.objects.filter(name=report_workload.FORECAST_DAYS).count() == 1
    reps = len(live["reps"])
    assert ForecastDay.objects.count() == reps * report_workload.HORIZON_DAYS
    snapshot = report_json("load-forecast", *PERIOD, None, now=FORECAST_NOW)
    assert snapshot.pop("summary_refreshed_at") == FORECAST_NOW.isoformat()
    assert live.pop("summary_refreshed_at") is None
    assert snapshot == live
