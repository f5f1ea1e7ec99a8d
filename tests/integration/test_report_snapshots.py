"""The whole team's step-results and best-count read the worker's snapshots while fresh.

``StepResultDay`` and ``DecidedLeadDay`` are rebuilt whole by ``refresh_all``. Right
after a refresh, reading them gives exactly what computing live gives; later, until the
next refresh, they keep the refresh-time figures and say so; a snapshot older than
``SNAPSHOT_MAX_AGE``, made in another time zone, or absent is ignored. Runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection

from cadences import report_summaries, report_tables
from cadences.models import (
    DecidedLeadDay,
    Enrolment,
    ReportSummary,
    Step,
    StepResultDay,
    StepVariant,
    Task,
)
from cadences.reports import report_json
from leads.models import Lead, Touch
from tests.factories import (
    CadenceFactory,
    EnrolmentFactory,
    LeadFactory,
    RepFactory,
    StepFactory,
)
from tests.integration.test_report_fast_paths import decide_some, varied_history

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2027, 4, 2, 12, tzinfo=UTC)
# March, one day on its edge, and everything the histories hold.
PERIODS = [
    (dt.date(2027, 3, 1), dt.date(2027, 3, 31)),
    (dt.date(2027, 3, 10), dt.date(2027, 3, 10)),
    (dt.date(2027, 2, 1), dt.date(2027, 5, 31)),
]
SNAPSHOTS = ("step-results", "best-count")
STATUSES = ("pending", "done", "done", "sent", "skipped", "failed", "cancelled")
EXITS = ("replied", "meeting_booked", "connected", "lost", "unsubscribed")
OUTCOMES = ("no_answer", "voicemail", "connected", "replied", "meeting_booked", "sent")


# --- a varied history ------------------------------------------------------------------------


def cadences_with_variants() -> list:
    """Two cadences of four steps; each email step has an A/B variant."""
    steps = []
    for name in ("Inbound", "Outbound"):
        cadence = CadenceFactory(name=name)
        for position, channel in enumerate(("call", "email", "call", "email"), start=1):
            step = StepFactory(cadence=cadence, position=position, channel=channel)
            if channel == "email":
                StepVariant.objects.create(step=step, label="B", subject="s", body="b")
            steps.append(step)
    return steps


def step_history(seed: int, steps: list, tasks: int = 80) -> None:
    """Step tasks created around March at any hour (local days' edges included), in
    every status, on time or late, some with an answering touch, in enrolments that
    ran, completed or exited for every reason at every position."""
    chance = random.Random(seed)
    reps = [RepFactory(username=f"snap{seed}_{i}") for i in range(3)]
    start = dt.datetime(2027, 2, 22, tzinfo=UTC)
    for _ in range(tasks):
        step = chance.choice(steps)
        lead = LeadFactory(owner=chance.choice(reps))
        status = chance.choice(["active", "completed", "exited", "exited"])
        enrolment = EnrolmentFactory(
            lead=lead,
            cadence=step.cadence,
            status=status,
            exit_reason=chance.choice(EXITS) if status == "exited" else "",
            position=chance.randrange(1, 5),
        )
        created = start + dt.timedelta(minutes=chance.randrange(0, 40 * 24 * 60))
        step_task(chance, enrolment, step, created)


def step_task(chance: random.Random, enrolment: Enrolment, step, created: dt.datetime) -> Task:
    due = created + dt.timedelta(hours=chance.randrange(0, 72))
    status = chance.choice(STATUSES)
    done = None if status == "pending" else due + dt.timedelta(hours=chance.randrange(-5, 40))
    touch = None
    if done and chance.random() < 0.4:
        touch = Touch.objects.create(
            lead=enrolment.lead,
            rep=enrolment.owner,
            channel=step.channel,
            outcome=chance.choice(OUTCOMES),
            occurred_at=done,
        )
    variants = list(step.variants.all())
    return Task.objects.create(
        lead=enrolment.lead,
        rep=enrolment.owner,
        enrolment=enrolment,
        step=step,
        variant=chance.choice([None, *variants]) if variants else None,
        kind=Task.Kind.STEP,
        channel=step.channel,
        due_at=due,
        status=status,
        completed_at=done,
        touch=touch,
        created_at=created,
    )


def decided_history(seed: int) -> None:
    decide_some(varied_history(seed, leads=50), seed)


def history(seed: int) -> None:
    step_history(seed, cadences_with_variants())
    decided_history(seed)


def report(name: str, period: tuple[dt.date, dt.date], *, now: dt.datetime = NOW, rep=None):
    return report_json(name, *period, rep, now=now)


def figures(body: dict) -> dict:
    """The report without the line saying where its figures come from."""
    return {k: v for k, v in body.items() if k != "summary_refreshed_at"}


def more_activity(seed: int) -> None:
    """What happens after a refresh: new step tasks and newly decided leads."""
    step_history(seed + 100, list(Step.objects.all()), tasks=30)
    decided_history(seed + 100)


# --- the snapshot agrees with the live computation ------------------------------------------


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("seed", [1, 2])
def test_right_after_a_refresh_the_snapshots_give_exactly_the_live_figures(seed, zone, settings):
    settings.TIME_ZONE = zone
    history(seed)
    live = {(name, p): report(name, p) for name in SNAPSHOTS for p in PERIODS}
    assert all(body["summary_refreshed_at"] is None for body in live.values())

    report_summaries.refresh_all(now=NOW)

    for (name, period), body in live.items():
        snapshot = report(name, period)
        assert snapshot["summary_refreshed_at"] == NOW.isoformat()
        assert figures(snapshot) == figures(body), (name, period)
    march = live[("step-results", PERIODS[0])]
    assert len(march["steps"]) > 8 and {s["variant"] for s in march["steps"]} == {"", "A", "B"}
    assert live[("best-count", PERIODS[0])]["decided"] > 5


def test_after_more_activity_the_snapshot_keeps_the_refresh_time_figures_and_says_so():
    history(3)
    report_summaries.refresh_all(now=NOW)
    then = {name: report(name, PERIODS[0]) for name in SNAPSHOTS}

    more_activity(3)
    an_hour_later = NOW + dt.timedelta(hours=1)

    for name in SNAPSHOTS:
        later = report(name, PERIODS[0], now=an_hour_later)
        assert later == then[name]
        assert later["summary_refreshed_at"] == NOW.isoformat()
    report_summaries.refresh_all(now=an_hour_later)
    for name in SNAPSHOTS:
        refreshed = report(name, PERIODS[0], now=an_hour_later)
        assert refreshed["summary_refreshed_at"] == an_hour_later.isoformat()
        assert figures(refreshed) != figures(then[name])


def test_a_snapshot_more_than_two_hours_old_is_ignored():
    history(4)
    report_summaries.refresh_all(now=NOW)
    more_activity(4)
    for name in SNAPSHOTS:
        at_the_limit = report(name, PERIODS[0], now=NOW + dt.timedelta(hours=2))
        stale = report(name, PERIODS[0], now=NOW + dt.timedelta(hours=2, seconds=1))
        assert at_the_limit["summary_refreshed_at"] == NOW.isoformat()
        assert stale["summary_refreshed_at"] is None
        assert figures(stale) != figures(at_the_limit)


def test_a_snapshot_made_in_another_time_zone_is_ignored(settings):
    settings.TIME_ZONE = "UTC"
    history(5)
    report_summaries.refresh_all(now=NOW)
    settings.TIME_ZONE = "America/New_York"
    for name in SNAPSHOTS:
        assert report(name, PERIODS[0])["summary_refreshed_at"] is None
    report_summaries.refresh_all(now=NOW)  # rebuilt in the new zone
    for name in SNAPSHOTS:
        assert report(name, PERIODS[0])["summary_refreshed_at"] == NOW.isoformat()


def test_without_a_snapshot_the_team_report_is_computed_live():
    history(6)
    report_summaries.refresh_all(now=NOW)
    live = {name: report(name, PERIODS[0], now=NOW + dt.timedelta(days=1)) for name in SNAPSHOTS}
    ReportSummary.objects.all().delete()
    StepResultDay.objects.all().delete()
    DecidedLeadDay.objects.all().delete()
    for name in SNAPSHOTS:
        assert report(name, PERIODS[0]) == live[name]
        assert live[name]["summary_refreshed_at"] is None


def test_one_reps_report_is_always_computed_live():
    history(7)
    reps = {
        "step-results": Task.objects.filter(kind="step").first().rep,
        "best-count": Lead.objects.filter(status="won").first().owner,
    }
    report_summaries.refresh_all(now=NOW)
    then = {name: report(name, PERIODS[2], rep=rep) for name, rep in reps.items()}
    Lead.objects.filter(owner=reps["best-count"], status="won").update(status="lost")
    Task.objects.filter(rep=reps["step-results"], kind="step").update(status="cancelled")
    for name, rep in reps.items():
        now = report(name, PERIODS[2], rep=rep)
        assert now["summary_refreshed_at"] is None
        assert figures(now) != figures(then[name])


# --- the rebuild -----------------------------------------------------------------------------


def test_a_second_refresh_replaces_the_rows_rather_than_adding_to_them():
    history(8)
    report_summaries.refresh_all(now=NOW)
    first = (list(StepResultDay.objects.values()), list(DecidedLeadDay.objects.values()))
    report_summaries.refresh_all(now=NOW + dt.timedelta(minutes=5))
    second = (list(StepResultDay.objects.values()), list(DecidedLeadDay.objects.values()))

    def rows(table: list[dict]) -> list[tuple]:
        return sorted((tuple(v for k, v in r.items() if k != "id") for r in table), key=str)

    assert [rows(t) for t in second] == [rows(t) for t in first]
    summaries = ReportSummary.objects.filter(name__in=["step-results", "decided-leads"])
    assert {(s.time_zone, s.refreshed_at) for s in summaries} == {
        ("UTC", NOW + dt.timedelta(minutes=5))
    }


# PostgreSQL: one more, turning JIT off for the report's transaction.
JIT_OFF = 1 if connection.vendor == "postgresql" else 0


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_each_path_runs_a_fixed_number_of_queries_whatever_the_history(
    name, django_assert_num_queries
):
    rep = RepFactory()
    for seed in (10, 11):
        history(seed)
        # Whether the snapshot is usable, then the snapshot's days summed.
        report_summaries.refresh_all(now=NOW)
        with django_assert_num_queries(2 + JIT_OFF):
            report(name, PERIODS[0])
        # Whether the snapshot is usable (it is too old), then the live computation.
        with django_assert_num_queries(2 + JIT_OFF):
            report(name, PERIODS[0], now=NOW + dt.timedelta(days=1))
        # One rep: the live computation alone.
        with django_assert_num_queries(1 + JIT_OFF):
            report(name, PERIODS[0], rep=rep)


def test_the_sections_say_when_their_figures_come_from_the_snapshot():
    history(12)
    sections = {"step-results": report_tables.step_results, "best-count": report_tables.best_count}
    for name, section in sections.items():
        assert not any("as of" in n for n in section(report(name, PERIODS[0])).notes)
    report_summaries.refresh_all(now=NOW)
    for name, section in sections.items():
        notes = section(report(name, PERIODS[0])).notes
        assert "Figures as of 02 Apr 12:00 UTC (the worker refreshes them every hour)." in notes
