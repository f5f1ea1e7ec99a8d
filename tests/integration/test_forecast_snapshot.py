"""The team's load forecast read from the worker's snapshot (``ForecastDay``).

Right after a refresh the snapshot gives exactly what the live computation gives; until
the next one it keeps the refresh's figures and says when they are from; a snapshot too
old, made in another time zone or for another first day, or absent, is ignored. One
rep's forecast is always live. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection

from cadences import report_summaries, report_tables, report_workload
from cadences.models import ForecastDay, ReportSummary, Task
from cadences.reports import report_json
from leads.models import RepProfile
from tests.factories import CadenceFactory, LeadFactory, RepFactory, StepFactory, TaskFactory
from tests.integration.test_report_fast_paths import FORECAST_NOW, varied_pending_steps

pytestmark = pytest.mark.django_db

UTC = dt.UTC
FROM, TO = dt.date(2027, 3, 1), dt.date(2027, 3, 8)  # the forecast starts today, 8 March
REFRESHED = FORECAST_NOW - dt.timedelta(minutes=40)
SNAPSHOT_FIELDS = ("summary_refreshed_at", "reps_not_in_summary")
JIT_OFF_QUERIES = 1 if connection.vendor == "postgresql" else 0


def team(now: dt.datetime = FORECAST_NOW, date_to: dt.date = TO) -> dict:
    return report_json("load-forecast", FROM, date_to, None, now=now)


def figures(report: dict) -> dict:
    """The report without what says where its figures come from."""
    return {k: v for k, v in report.items() if k not in SNAPSHOT_FIELDS}


def live(report: dict) -> dict:
    assert report["summary_refreshed_at"] is None
    assert report["reps_not_in_summary"] == []
    return figures(report)


def refresh(now: dt.datetime = REFRESHED) -> None:
    ReportSummary.objects.filter(name=report_workload.FORECAST_DAYS).delete()
    report_workload.forecast_days_refresh(now=now)


def more_activity(seed: int) -> None:
    """Tasks done, moved and added after the refresh, and a new rep with work."""
    chance = random.Random(seed)
    pending = list(Task.objects.filter(status=Task.Status.PENDING).order_by("id"))
    for task in chance.sample(pending, 40):
        task.status = Task.Status.DONE
        task.completed_at = FORECAST_NOW
        task.save()
    for task in chance.sample(pending, 20):
        task.due_at += dt.timedelta(days=chance.randrange(1, 5))
        task.save()
    newcomer = RepFactory(username=f"newcomer{seed}", profile={"timezone": "Europe/Paris"})
    for rep in (newcomer, pending[0].rep):
        for _ in range(15):
            lead = LeadFactory(owner=rep)
            due = FORECAST_NOW + dt.timedelta(hours=chance.randrange(0, 24 * 10))
            TaskFactory(lead=lead, rep=rep, channel="call", due_at=due)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_right_after_a_refresh_the_team_forecast_read_from_the_snapshot_is_the_live_one(seed):
    varied_pending_steps(seed)
    RepFactory(username=f"idle{seed}", profile={"timezone": "Pacific/Auckland"})
    before = live(team())
    refresh()
    from_snapshot = team()
    assert from_snapshot["summary_refreshed_at"] == REFRESHED.isoformat()
    assert from_snapshot["reps_not_in_summary"] == []
    assert figures(from_snapshot) == before
    assert sum(d["calls"] + d["emails"] for r in before["reps"] for d in r["days"]) > 100
    assert ForecastDay.objects.count() == len(before["reps"]) * report_workload.HORIZON_DAYS


@pytest.mark.parametrize("seed", [4, 5])
def test_until_the_next_refresh_the_snapshot_keeps_the_refresh_figures_and_says_so(seed):
    varied_pending_steps(seed)
    at_refresh = live(team())
    refresh()
    more_activity(seed)
    now_live = figures(team(now=REFRESHED + dt.timedelta(hours=3)))
    assert now_live != at_refresh

    report = team()
    assert report["summary_refreshed_at"] == REFRESHED.isoformat()
    assert report["reps_not_in_summary"] == [f"newcomer{seed}"]
    newcomer = next(r for r in report["reps"] if r["rep"] == f"newcomer{seed}")
    assert all(d["calls"] == d["emails"] == 0 for d in newcomer["days"])
    with_newcomer = sorted([*at_refresh["reps"], newcomer], key=lambda r: r["rep"])
    assert figures(report) == {**at_refresh, "reps": with_newcomer}

    report_workload.forecast_days_refresh(now=FORECAST_NOW)
    assert figures(team()) == live(team(now=FORECAST_NOW + dt.timedelta(hours=3)))


def test_one_reps_forecast_is_always_computed_live():
    varied_pending_steps(6)
    refresh()
    rep = Task.objects.filter(status=Task.Status.PENDING).first().rep
    TaskFactory(lead=LeadFactory(owner=rep), rep=rep, channel="call", due_at=FORECAST_NOW)
    mine = report_json("load-forecast", FROM, TO, rep, now=FORECAST_NOW)
    assert mine["summary_refreshed_at"] is None
    in_team = next(r for r in team()["reps"] if r["rep"] == rep.username)
    assert mine["reps"][0]["days"][0]["calls"] == in_team["days"][0]["calls"] + 1


def test_capacities_and_overloads_are_read_as_they_are_now():
    varied_pending_steps(7)
    refresh()
    assert team()["overloads"] == []
    RepProfile.objects.update(call_capacity=1, email_capacity=1)
    report = team()
    assert report["summary_refreshed_at"] is not None
    assert report["overloads"]
    assert all(r["call_capacity"] == 1 for r in report["reps"])
    assert figures(report) == live(team(now=FORECAST_NOW + dt.timedelta(hours=3)))


def test_a_snapshot_up_to_two_hours_old_is_read_and_an_older_one_is_ignored():
    varied_pending_steps(8)
    refresh()
    TaskFactory(rep=RepFactory(username="late"), channel="call", due_at=FORECAST_NOW)
    edge = REFRESHED + report_workload.SNAPSHOT_MAX_AGE
    assert team(now=edge)["summary_refreshed_at"] == REFRESHED.isoformat()
    assert team(now=edge + dt.timedelta(seconds=1))["summary_refreshed_at"] is None


def test_a_snapshot_made_in_another_time_zone_is_ignored(settings):
    varied_pending_steps(9)
    refresh()
    settings.TIME_ZONE = "America/New_York"
    assert team()["summary_refreshed_at"] is None


def test_a_snapshot_made_for_another_first_day_is_ignored():
    varied_pending_steps(10)
    refresh()
    assert team(date_to=dt.date(2027, 3, 9))["summary_refreshed_at"] is None
    # The next day (UTC) has begun: the snapshot was made for yesterday.
    assert team(now=dt.datetime(2027, 3, 9, 0, 10, tzinfo=UTC))["summary_refreshed_at"] is None
    assert team(date_to=dt.date(2027, 3, 5))["summary_refreshed_at"] is not None


def test_without_a_snapshot_the_forecast_is_computed_live():
    varied_pending_steps(11)
    refresh()
    ForecastDay.objects.all().delete()
    assert team()["summary_refreshed_at"] is None
    ReportSummary.objects.filter(name=report_workload.FORECAST_DAYS).delete()
    assert team()["summary_refreshed_at"] is None


def test_a_second_refresh_replaces_the_rows_and_the_worker_runs_it_hourly():
    varied_pending_steps(12, tasks=50)
    refresh()
    rows = ForecastDay.objects.count()
    report_summaries.refresh_all(now=FORECAST_NOW)
    assert ForecastDay.objects.count() == rows
    state = ReportSummary.objects.get(name=report_workload.FORECAST_DAYS)
    assert (state.refreshed_at, state.as_of_day, state.time_zone) == (
        FORECAST_NOW,
        dt.date(2027, 3, 8),
        "UTC",
    )


def test_the_team_forecast_runs_a_fixed_number_of_queries_from_the_snapshot_or_live(
    django_assert_num_queries,
):
    for tasks in (20, 200):
        varied_pending_steps(13 + tasks, tasks=tasks)
        ReportSummary.objects.filter(name=report_workload.FORECAST_DAYS).delete()
        with django_assert_num_queries(5 + JIT_OFF_QUERIES):
            team()
        refresh()
        with django_assert_num_queries(2 + JIT_OFF_QUERIES):
            team()


def test_the_forecast_section_says_when_its_figures_are_from():
    varied_pending_steps(14, tasks=30)
    assert not any("as of" in note for note in report_tables.load_forecast(team()).notes)
    refresh()
    RepFactory(username="zoe")
    notes = report_tables.load_forecast(team()).notes
    assert "Figures as of 08 Mar 14:20 UTC (the worker refreshes them every hour)." in notes
    assert "No figures yet for zoe: not active reps at that refresh." in notes


def test_tasks_of_one_step_due_on_different_days_each_count_on_their_own_day():
    rep = RepFactory(username="solo")
    step = StepFactory(cadence=CadenceFactory(), position=1, channel="call")
    for due in ("2027-03-09T10:00", "2027-03-12T10:00", "2027-03-12T16:30"):
        at = dt.datetime.fromisoformat(due).replace(tzinfo=UTC)
        TaskFactory(lead=LeadFactory(owner=rep), step=step, channel="call", due_at=at)
    days = {d["date"]: d["calls"] for d in team()["reps"][0]["days"] if d["calls"]}
    assert days == {"2027-03-09": 1, "2027-03-12": 2}
