"""The reports' fast paths agree with a straightforward computation from the touches.

Speed to lead reads times kept on the lead; the team's channel mix reads a daily
summary plus the touches logged since its refresh. On a varied history, logged through
``touch_log`` as the app logs touches, both must give what a plain Python pass over
every touch gives, before and after a refresh and after more touches. Runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from cadences import report_summaries, report_tables, report_workload, scheduling
from cadences.models import ReportSummary, TouchDay
from cadences.reports import CONNECTED, percentile, report_json
from leads.models import CONNECT_OUTCOMES, Lead, Touch
from leads.touches import touch_log
from tests.factories import (
    CadenceFactory,
    EnrolmentFactory,
    LeadFactory,
    RepFactory,
    StepFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PERIOD = (dt.date(2027, 3, 1), dt.date(2027, 3, 31))
NOW = dt.datetime(2027, 4, 2, 12, tzinfo=UTC)
CHANNELS = ("call", "email", "social", "sms")
OUTCOMES = ("", "no_answer", "voicemail", "connected", "meeting_booked", "sent", "replied")
SOURCES = ("web", "event", "")


def varied_history(seed: int, leads: int = 40) -> list[Lead]:
    """Leads created around March, each with 0-8 touches of every kind, some before the
    lead existed, some on the period's edges (read in TIME_ZONE)."""
    chance = random.Random(seed)
    reps = [RepFactory(username=f"rep{seed}_{i}") for i in range(3)]
    start = dt.datetime(2027, 2, 20, tzinfo=UTC)
    made = []
    for _ in range(leads):
        created = start + dt.timedelta(minutes=chance.randrange(0, 45 * 24 * 60))
        lead = LeadFactory(
            owner=chance.choice(reps), source=chance.choice(SOURCES), created_at=created
        )
        for _ in range(chance.randrange(0, 9)):
            log(lead, created + dt.timedelta(minutes=chance.randrange(-3000, 20000)), chance)
        made.append(lead)
    return made


def log(lead: Lead, when: dt.datetime, chance: random.Random) -> None:
    touch_log(
        lead=lead,
        rep=lead.owner,
        channel=chance.choice(CHANNELS),
        outcome=chance.choice(OUTCOMES),
        occurred_at=when,
        now=NOW,
    )


# --- the straightforward computations ---------------------------------------------------


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def in_period(moment: dt.datetime) -> bool:
    return PERIOD[0] <= local_day(moment) <= PERIOD[1]


def plain_channel_mix() -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for t in Touch.objects.all():
        if not in_period(t.occurred_at):
            continue
        row = counts.setdefault(t.channel, {"touches": 0, "connects": 0, "replies": 0})
        outbound = t.direction == Touch.Direction.OUTBOUND
        row["touches"] += outbound
        row["connects"] += outbound and t.outcome in CONNECTED
        row["replies"] += t.direction == Touch.Direction.INBOUND and t.outcome == "replied"
    return dict(sorted(counts.items()))


def fast_channel_mix() -> dict[str, dict[str, int]]:
    report = report_json("channel-mix", *PERIOD, None, now=NOW)
    return {
        name: {k: row[k] for k in ("touches", "connects", "replies")}
        for name, row in report["channels"].items()
    }


def plain_speed_to_lead() -> dict[str, object]:
    attempts, connects, leads = [], [], 0
    for lead in Lead.objects.all():
        if not in_period(lead.created_at):
            continue
        leads += 1
        after = [t for t in lead.touches.all() if t.occurred_at >= lead.created_at]
        tried = [t.occurred_at for t in after if t.direction == Touch.Direction.OUTBOUND]
        reached = [t.occurred_at for t in after if t.outcome in CONNECT_OUTCOMES]
        if tried:
            attempts.append((min(tried) - lead.created_at).total_seconds())
        if reached:
            connects.append((min(reached) - lead.created_at).total_seconds())

    def summary(values: list[float]) -> dict[str, float | None]:
        return {
            q: None if not values else round(percentile(values, f), 1)
            for q, f in (("median", 0.5), ("p90", 0.9))
        }

    return {
        "leads": leads,
        "attempted": len(attempts),
        "connected": len(connects),
        "first_attempt_seconds": summary(attempts),
        "first_connect_seconds": summary(connects),
    }


def fast_speed_to_lead() -> dict[str, object]:
    report = report_json("speed-to-lead", *PERIOD, None, now=NOW)
    keys = ("leads", "attempted", "connected", "first_attempt_seconds", "first_connect_seconds")
    return {k: report[k] for k in keys}


# --- speed to lead ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_speed_to_lead_from_the_leads_times_matches_a_pass_over_every_touch(seed):
    varied_history(seed)
    assert fast_speed_to_lead() == plain_speed_to_lead()


def test_an_earlier_touch_logged_later_moves_the_first_attempt_back():
    lead = LeadFactory(created_at=dt.datetime(2027, 3, 10, 9, tzinfo=UTC))
    at = dt.datetime(2027, 3, 10, 12, tzinfo=UTC)
    touch_log(lead=lead, rep=lead.owner, channel="call", outcome="no_answer", occurred_at=at,
              now=NOW)  # fmt: skip
    earlier = at - dt.timedelta(hours=2)
    touch_log(lead=lead, rep=lead.owner, channel="email", outcome="replied", occurred_at=earlier,
              now=NOW)  # fmt: skip
    lead.refresh_from_db()
    # The reply is inbound: a connect, not an attempt.
    assert (lead.first_attempt_at, lead.first_connect_at) == (at, earlier)


# --- channel mix ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [4, 5])
def test_the_team_channel_mix_matches_a_pass_over_every_touch_before_and_after_a_refresh(seed):
    leads = varied_history(seed)
    assert fast_channel_mix() == plain_channel_mix()  # nothing summarised yet: all live

    report_summaries.touch_days_refresh(now=NOW)
    assert TouchDay.objects.exists()
    assert fast_channel_mix() == plain_channel_mix()

    chance = random.Random(seed)
    for lead in leads[:10]:  # logged after the refresh, some inside the period
        log(
            lead,
            dt.datetime(2027, 3, 1, 3, tzinfo=UTC) + dt.timedelta(days=chance.random()),
            chance,
        )
    assert fast_channel_mix() == plain_channel_mix()

    report_summaries.touch_days_refresh(now=NOW)
    assert fast_channel_mix() == plain_channel_mix()


def test_a_refresh_counts_each_touch_once_and_says_when_it_ran():
    varied_history(6, leads=10)
    first = report_summaries.touch_days_refresh(now=NOW)
    again = report_summaries.touch_days_refresh(now=NOW + dt.timedelta(hours=1))
    assert sum(TouchDay.objects.values_list("n", flat=True)) == Touch.objects.count()
    assert again.through_id == first.through_id == Touch.objects.latest("id").id
    report = report_json("channel-mix", *PERIOD, None, now=NOW)
    assert report["summary_refreshed_at"] == (NOW + dt.timedelta(hours=1)).isoformat()


def test_a_summary_made_in_another_time_zone_is_not_used(settings):
    lead = LeadFactory()
    # 02:00 UTC on 1 March is still 28 February in New York.
    touch_log(lead=lead, rep=lead.owner, channel="call", outcome="no_answer",
              occurred_at=dt.datetime(2027, 3, 1, 2, tzinfo=UTC), now=NOW)  # fmt: skip
    settings.TIME_ZONE = "UTC"
    report_summaries.touch_days_refresh(now=NOW)
    assert (
        fast_channel_mix()
        == plain_channel_mix()
        == {"call": {"touches": 1, "connects": 0, "replies": 0}}
    )

    settings.TIME_ZONE = "America/New_York"
    assert fast_channel_mix() == plain_channel_mix() == {}
    report_summaries.touch_days_refresh(now=NOW)  # rebuilt in the new zone
    assert ReportSummary.objects.get().time_zone == "America/New_York"
    assert fast_channel_mix() == plain_channel_mix() == {}


# --- best count ------------------------------------------------------------------------------

GAP_LIMITS = {"<1d": 1, "1-2d": 2, "2-4d": 4, "4-7d": 7}


def decide_some(leads: list[Lead], seed: int) -> None:
    """Win, lose or give up on most leads at times around the period; a few get a second
    touch at the very instant of another (ties have no gap between them)."""
    chance = random.Random(seed)
    for lead in leads:
        touched = list(lead.touches.filter(direction="outbound"))
        if touched and chance.random() < 0.3:
            twin = chance.choice(touched)
            log_at = twin.occurred_at
            touch_log(lead=lead, rep=lead.owner, channel="call", outcome="no_answer",
                      occurred_at=log_at, now=NOW)  # fmt: skip
        status = chance.choice(["won", "won", "lost", "unresponsive", "working"])
        at = dt.datetime(2027, 2, 25, tzinfo=UTC) + dt.timedelta(hours=chance.randrange(0, 900))
        won_at = at if status == "won" else None
        Lead.objects.filter(pk=lead.pk).update(status=status, won_at=won_at, status_changed_at=at)


def plain_best_count() -> dict[str, object]:
    by_count: dict[str, list[int]] = {}
    by_gap: dict[str, list[int]] = {}
    decided = won_total = single = 0
    for lead in Lead.objects.filter(status__in=["won", "lost", "unresponsive"]):
        decided_at = lead.won_at or lead.status_changed_at
        times = sorted(
            t.occurred_at
            for t in lead.touches.filter(direction="outbound")
            if t.occurred_at < decided_at
        )
        if not in_period(decided_at) or not times:
            continue
        won = lead.status == "won"
        decided, won_total, single = decided + 1, won_total + won, single + (len(times) == 1)
        count = str(len(times)) if len(times) <= 10 else "11+"
        by_count.setdefault(count, [0, 0])
        by_count[count][0] += 1
        by_count[count][1] += won
        gaps = len(times) - 1
        if not gaps:
            continue
        previous = [max((p for p in times if p < t), default=None) for t in times]
        bucket = "7d+"
        for name, days in GAP_LIMITS.items():
            under = sum(
                1
                for t, p in zip(times, previous, strict=True)
                if p and t - p < dt.timedelta(days=days)
            )
            if 2 * under >= gaps:
                bucket = name
                break
        by_gap.setdefault(bucket, [0, 0])
        by_gap[bucket][0] += 1
        by_gap[bucket][1] += won
    return {
        "decided": decided,
        "won": won_total,
        "single_touch": single,
        "by_count": {k: tuple(v) for k, v in sorted(by_count.items())},
        "by_gap": {k: tuple(v) for k, v in sorted(by_gap.items())},
    }


def fast_best_count() -> dict[str, object]:
    report = report_json("best-count", *PERIOD, None, now=NOW)

    def seen(rates: dict) -> dict:
        return {k: (r["leads"], r["won"]) for k, r in sorted(rates.items()) if r["leads"]}

    return {
        "decided": report["decided"],
        "won": report["won"],
        "single_touch": report["single_touch"],
        "by_count": seen(report["by_count"]),
        "by_gap": seen(report["by_gap"]),
    }


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_best_count_matches_a_pass_over_each_decided_leads_touches(seed):
    leads = varied_history(seed, leads=60)
    decide_some(leads, seed)
    plain = plain_best_count()
    assert plain["decided"] > 5
    assert fast_best_count() == plain


def test_the_channel_mix_section_says_when_its_summary_was_refreshed():
    varied_history(10, leads=5)
    ReportSummary.objects.all().delete()  # PostgreSQL's migration made an empty one
    assert not any("summary" in n for n in report_tables.channel_mix(fast_report()).notes)
    report_summaries.touch_days_refresh(now=dt.datetime(2027, 4, 2, 13, 5, tzinfo=UTC))
    notes = report_tables.channel_mix(fast_report()).notes
    assert any("last refreshed 02 Apr 13:05 UTC" in note for note in notes)


def fast_report() -> dict:
    return report_json("channel-mix", *PERIOD, None, now=NOW)


# --- load forecast ------------------------------------------------------------------------

FORECAST_NOW = dt.datetime(2027, 3, 8, 15, tzinfo=UTC)
LEAD_ZONES = ("", "Asia/Kolkata")


def varied_pending_steps(seed: int, tasks: int = 300) -> None:
    """Pending step tasks at any minute from a week overdue to three weeks ahead (the US
    clock change of 14 March included), for reps and leads in whole- and half-hour zones,
    on a cadence with business days, a holiday calendar, hour waits and a min gap."""
    chance = random.Random(seed)
    reps = [
        RepFactory(username=f"fc{seed}_{i}", profile={"timezone": tz})
        for i, tz in enumerate(("America/New_York", "Asia/Kolkata"))
    ]
    cadence = CadenceFactory(
        name=f"Varied {seed}", business_days_only=True, holiday_country="US", min_gap_hours=20
    )
    timings = [
        {"channel": "call"},
        {"channel": "email", "wait_hours": 3},
        {"channel": "call", "wait_days": 1, "window_start": dt.time(8), "window_end": dt.time(12)},
        {"channel": "email", "mode": "auto", "wait_days": 2, "subject": "s", "body": "b"},
        {"channel": "call", "wait_days": 3, "wait_hours": 5},
        {"channel": "sms", "wait_days": 6},
    ]
    steps = [
        StepFactory(cadence=cadence, position=i + 1, **timing) for i, timing in enumerate(timings)
    ]
    start = FORECAST_NOW - dt.timedelta(days=7)
    for _ in range(tasks):
        lead = LeadFactory(owner=chance.choice(reps), timezone=chance.choice(LEAD_ZONES))
        enrolment = EnrolmentFactory(lead=lead, cadence=cadence)
        step = chance.choice(steps[:4])
        TaskFactory(
            lead=lead,
            enrolment=enrolment,
            step=step,
            channel=step.channel,
            mode=step.mode,
            due_at=start + dt.timedelta(minutes=chance.randrange(0, 28 * 24 * 60)),
        )


def plain_load_forecast(date_from: dt.date, date_to: dt.date) -> dict[int, dict]:
    """Every group's later steps projected on their own, as the report did before."""
    report = report_json("load-forecast", date_from, date_to, None, now=FORECAST_NOW)
    first_day = dt.date.fromisoformat(report["start"])
    days = [first_day + dt.timedelta(days=i) for i in range(report_workload.HORIZON_DAYS)]
    reps = {r.id: r for r in report_workload._reps(None)}
    zones = {rep_id: report_workload._tz(r) for rep_id, r in reps.items()}
    start = min(report_workload._day_start(first_day, tz) for tz in zones.values())
    end = max(
        report_workload._day_start(days[-1] + dt.timedelta(days=1), tz) for tz in zones.values()
    )
    groups = report_workload._pending_groups(list(reps), start=start, end=end)
    cadences = report_workload._cadences(groups)
    loads = {rep_id: report_workload._Load() for rep_id in reps}
    for group in groups:
        rep_tz, load = zones[group["rep_id"]], loads[group["rep_id"]]
        due = max(group["first_due"], start)
        load.add(scheduling.local_date(due, rep_tz), group["channel"], group["mode"], group["n"])
        cadence = cadences.get(group["step__cadence_id"])
        if group["kind"] != "step" or cadence is None:
            continue
        later = report_workload._later_steps(
            cadence, group["step__position"], done_at=due, tz=group["basis_tz"], end=end
        )
        for at, step in later:
            load.add(scheduling.local_date(at, rep_tz), step.channel, step.mode, group["n"])
    per_rep = [report_workload._rep_days(reps[i], loads[i], days) for i in reps]
    return {"reps": sorted(per_rep, key=lambda r: r["rep"])}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_load_forecast_shares_projections_and_matches_projecting_every_group(seed):
    varied_pending_steps(seed)
    for date_to in (dt.date(2027, 3, 8), dt.date(2027, 3, 12)):
        fast = report_json("load-forecast", dt.date(2027, 3, 1), date_to, None, now=FORECAST_NOW)
        plain = plain_load_forecast(dt.date(2027, 3, 1), date_to)
        assert sum(d["calls"] + d["emails"] for r in fast["reps"] for d in r["days"]) > 100
        assert fast["reps"] == plain["reps"]
