"""Two snapshot rebuilds at once on PostgreSQL (two workers' hourly runs overlapping):
they take turns on the summary row's lock, and each snapshot holds each row once, with
the live figures (step results and best count; the load forecast's rep days).

Threads have their own connections and see only committed rows, so this test commits
(``transaction=True``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from cadences import report_summaries, report_workload
from cadences.models import DecidedLeadDay, ForecastDay, ReportSummary, StepResultDay
from cadences.reports import report_json
from tests.integration.test_report_fast_paths import FORECAST_NOW, varied_pending_steps
from tests.integration.test_report_snapshots import NOW, PERIODS, SNAPSHOTS, history

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres(postgres_only) -> None:
    """SQLite's writers queue behind one database lock: no overlap to test."""


def at_once(work: Callable[[], object], workers: int = 2) -> list[BaseException]:
    """Run ``work`` in ``workers`` threads released together; what they raised."""
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            work()
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

    def rebuild() -> None:
        report_summaries.step_result_days_rebuild(now=NOW)
        report_summaries.decided_lead_days_rebuild(now=NOW)

    assert at_once(rebuild) == []

    assert ReportSummary.objects.filter(name__in=["step-results", "decided-leads"]).count() == 2
    for name in SNAPSHOTS:
        snapshot = report_json(name, *PERIODS[2], None, now=NOW + dt.timedelta(minutes=1))
        assert snapshot.pop("summary_refreshed_at") == NOW.isoformat()
        assert live[name].pop("summary_refreshed_at") is None
        assert snapshot == live[name]
    assert StepResultDay.objects.exists() and DecidedLeadDay.objects.exists()


def test_two_forecast_refreshes_at_once_leave_each_reps_day_once_and_the_live_figures():
    varied_pending_steps(31, tasks=80)
    period = (FORECAST_NOW.date().replace(day=1), FORECAST_NOW.date())
    live = report_json("load-forecast", *period, None, now=FORECAST_NOW)

    assert at_once(lambda: report_workload.forecast_days_refresh(now=FORECAST_NOW)) == []

    assert ReportSummary.objects.filter(name=report_workload.FORECAST_DAYS).count() == 1
    reps = len(live["reps"])
    assert ForecastDay.objects.count() == reps * report_workload.HORIZON_DAYS
    snapshot = report_json("load-forecast", *period, None, now=FORECAST_NOW)
    assert snapshot.pop("summary_refreshed_at") == FORECAST_NOW.isoformat()
    assert live.pop("summary_refreshed_at") is None
    assert snapshot == live
