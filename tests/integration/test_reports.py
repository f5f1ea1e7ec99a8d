"""The managers' reports on hand-built histories whose answers are known.

Every test runs on SQLite and on PostgreSQL; the answers are the same on both.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cadences.models import DailyQueue, Enrolment, StepVariant, Task
from cadences.reports import REPORTS, percentile, report_json, stopped_leads
from leads.models import Touch
from leads.touches import first_times_of
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
MARCH = (dt.date(2027, 3, 1), dt.date(2027, 3, 31))
AFTER_MARCH = dt.datetime(2027, 4, 2, 12, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def at(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def march(name: str, rep=None, now: dt.datetime = AFTER_MARCH) -> dict:
    return report_json(name, *MARCH, rep, now=now)


def touch(lead, when: dt.datetime, **fields) -> Touch:
    """A touch, with the lead's speed-to-lead times kept as ``touch_log`` keeps them."""
    fields = {"channel": "call", "outcome": "no_answer", **fields}
    made = Touch.objects.create(lead=lead, rep=lead.owner, occurred_at=when, **fields)
    lead.save(update_fields=first_times_of(lead, made))
    return made


def touches(lead, times: list[dt.datetime], **fields) -> None:
    for when in times:
        touch(lead, when, **fields)


def won_lead(owner, *, touched: int, won_at: dt.datetime, gap: dt.timedelta = DAY):
    lead = LeadFactory(
        owner=owner,
        status="won",
        won_at=won_at,
        status_changed_at=won_at,
        created_at=won_at - 90 * DAY,
    )
    touches(lead, [won_at - gap * (touched - i) for i in range(touched)])
    return lead


# --- the period and the registry ------------------------------------------------------------


def test_every_report_says_its_period_and_rep(rep):
    for name in REPORTS:
        report = march(name, rep)
        assert (report["from"], report["to"], report["rep"]) == (
            "2027-03-01",
            "2027-03-31",
            "alice",
        )
    assert march("touches-to-close")["rep"] is None


def test_an_unknown_report_is_a_key_error():
    with pytest.raises(KeyError):
        report_json("win-forecast", *MARCH, None)


def test_a_period_whose_start_is_after_its_end_is_refused():
    with pytest.raises(ValueError, match="from is after to"):
        report_json("touches-to-close", dt.date(2027, 3, 2), dt.date(2027, 3, 1), None)


def test_a_datetime_is_not_taken_for_a_date():
    with pytest.raises(ValueError, match="must be dates"):
        report_json("touches-to-close", at("2027-03-01T10:00"), dt.date(2027, 3, 2), None)


def test_a_single_day_is_a_valid_period(rep):
    won_lead(rep, touched=2, won_at=at("2027-03-05T10:00"))
    report = report_json("touches-to-close", dt.date(2027, 3, 5), dt.date(2027, 3, 5), None)
    assert report["total"] == 1


# --- touches to close -----------------------------------------------------------------------


def test_ten_wins_closed_at_known_touches_give_the_contract_buckets(rep):
    for n in (1, 5, 5, 6, 7, 2, 9, 5, 12, 3):
        won_lead(rep, touched=n, won_at=at("2027-03-20T15:00"))

    report = march("touches-to-close")

    assert report["total"] == 10
    assert report["buckets"] == {"1": 1, "2": 1, "3": 1, "4": 0, "5+": 7}
    assert report["pct"] == {"1": 10.0, "2": 10.0, "3": 10.0, "4": 0.0, "5+": 70.0}
    assert report["benchmark_pct"] == {"1": 2, "2": 3, "3": 4, "4": 10, "5+": 81}
    assert report["no_touch"] == 0


def test_only_outbound_touches_before_the_win_count_automated_emails_included(rep):
    lead = won_lead(rep, touched=2, won_at=at("2027-03-20T15:00"))
    touch(lead, at("2027-03-15T10:00"), channel="email", outcome="sent", automated=True)
    touch(lead, at("2027-03-16T10:00"), channel="email", outcome="replied", direction="inbound")
    touches(lead, [at("2027-03-20T15:00"), at("2027-03-25T10:00")])  # at and after the win

    assert march("touches-to-close")["buckets"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5+": 0}


def test_a_win_without_any_outbound_touch_is_counted_apart(rep):
    won_lead(rep, touched=0, won_at=at("2027-03-20T15:00"))
    won_lead(rep, touched=1, won_at=at("2027-03-21T15:00"))

    report = march("touches-to-close")

    assert (report["total"], report["no_touch"]) == (2, 1)
    assert report["buckets"]["1"] == 1
    assert report["pct"]["1"] == 100.0


def test_wins_are_placed_in_days_read_in_the_configured_time_zone(rep, settings):
    settings.TIME_ZONE = "America/New_York"
    won_lead(rep, touched=1, won_at=at("2027-03-01T03:00"))  # still 28 Feb in New York
    won_lead(rep, touched=2, won_at=at("2027-04-01T02:00"))  # still 31 Mar in New York

    assert march("touches-to-close")["buckets"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5+": 0}


def test_one_rep_sees_their_wins_and_the_team_sees_each_rep(rep, teammate):
    won_lead(rep, touched=1, won_at=at("2027-03-10T10:00"))
    won_lead(teammate, touched=6, won_at=at("2027-03-11T10:00"))
    won_lead(teammate, touched=6, won_at=at("2027-02-11T10:00"))  # before the period

    team, alice = march("touches-to-close"), march("touches-to-close", rep)

    assert team["total"] == 2
    assert team["by_rep"] == {
        "alice": {"1": 1, "2": 0, "3": 0, "4": 0, "5+": 0},
        "bob": {"1": 0, "2": 0, "3": 0, "4": 0, "5+": 1},
    }
    assert alice["total"] == 1
    assert list(alice["by_rep"]) == ["alice"]


def test_no_win_gives_zeros_not_a_division_by_zero(rep):
    report = march("touches-to-close", rep)
    assert report["total"] == 0
    assert report["pct"] == {"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0, "5+": 0.0}
    assert report["by_rep"] == {}


# --- where follow-up stops --------------------------------------------------------------------

# March ends at 1 April 00:00 UTC; 14 days before that is 18 March 00:00.
CUTOFF = at("2027-03-18T00:00")


def quiet_lead(owner, times: list[dt.datetime], **fields):
    lead = LeadFactory(owner=owner, status=fields.pop("status", "working"), **fields)
    touches(lead, times)
    return lead


def test_follow_up_stops_counts_quiet_leads_by_their_touches(rep, teammate):
    exactly = quiet_lead(rep, [at("2027-03-02T10:00"), at("2027-03-05T10:00"), CUTOFF])
    finished = quiet_lead(rep, [at("2027-03-04T10:00")], status="unresponsive")
    done = EnrolmentFactory(lead=finished, status=Enrolment.Status.COMPLETED)
    TaskFactory(lead=finished, enrolment=done, status=Task.Status.DONE)
    lost = quiet_lead(teammate, [at("2027-03-01T10:00") + i * DAY for i in range(6)], status="lost")
    replied = quiet_lead(teammate, [at("2027-03-05T10:00"), at("2027-03-06T10:00")])
    # The lead answered, nobody followed up: that is a stop too.
    touch(replied, at("2027-03-25T10:00"), channel="email", outcome="replied", direction="inbound")

    report = march("follow-up-stops")

    assert report["total"] == 4
    assert report["buckets"] == {"1": 1, "2": 1, "3": 1, "4": 0, "5+": 1}
    assert report["pct"] == {"1": 25.0, "2": 25.0, "3": 25.0, "4": 0.0, "5+": 25.0}
    assert report["benchmark_pct"] == {"1": 48, "2": 24, "3": 12, "4": 6, "5+": 10}
    assert report["by_rep"] == {
        "alice": {"1": 1, "2": 0, "3": 1, "4": 0, "5+": 0},
        "bob": {"1": 0, "2": 1, "3": 0, "4": 0, "5+": 1},
    }
    stopped = stopped_leads(period=_march_period(), rep=None)
    assert {lead.id for lead in stopped} == {exactly.id, finished.id, lost.id, replied.id}
    assert {lead.id: lead.outbound_touches for lead in stopped}[lost.id] == 6


def _march_period():
    from cadences.reports import Period

    return Period.of(*MARCH)


def test_a_last_touch_less_than_fourteen_days_before_the_end_is_not_a_stop(rep):
    quiet_lead(rep, [CUTOFF + dt.timedelta(seconds=1)])
    quiet_lead(rep, [at("2027-03-03T10:00"), at("2027-04-05T10:00")])  # touched again later
    quiet_lead(rep, [at("2027-02-20T10:00")])  # last touch before the period
    assert march("follow-up-stops")["total"] == 0


def test_a_running_enrolment_or_a_pending_task_means_follow_up_goes_on(rep):
    active = quiet_lead(rep, [at("2027-03-03T10:00")])
    EnrolmentFactory(lead=active, status=Enrolment.Status.ACTIVE)
    paused = quiet_lead(rep, [at("2027-03-03T10:00")])
    EnrolmentFactory(lead=paused, status=Enrolment.Status.PAUSED)
    callback = quiet_lead(rep, [at("2027-03-03T10:00")])
    TaskFactory(lead=callback, kind=Task.Kind.CALLBACK, due_at=at("2027-04-10T10:00"))
    assert march("follow-up-stops")["total"] == 0


def test_won_leads_and_leads_at_a_meeting_have_not_stopped(rep):
    quiet_lead(rep, [at("2027-03-03T10:00")], status="won")
    quiet_lead(rep, [at("2027-03-03T10:00")], status="meeting")
    assert march("follow-up-stops")["total"] == 0


def test_a_period_shorter_than_fourteen_days_has_no_stops(rep):
    quiet_lead(rep, [at("2027-03-20T10:00")])
    report = report_json("follow-up-stops", dt.date(2027, 3, 20), dt.date(2027, 3, 31), None)
    assert report["total"] == 0
    assert report["pct"]["1"] == 0.0


# --- speed to lead ---------------------------------------------------------------------------


def new_lead(owner, *, source: str, attempt_after: int | None, created: str = "2027-03-10T09:00"):
    lead = LeadFactory(owner=owner, source=source, created_at=at(created))
    if attempt_after is not None:
        touch(lead, lead.created_at + dt.timedelta(seconds=attempt_after))
    return lead


def test_speed_to_lead_gives_median_and_90th_percentile_of_known_durations(rep, teammate):
    first = new_lead(rep, source="web", attempt_after=60)
    touch(first, first.created_at + dt.timedelta(seconds=600), outcome="connected")
    second = new_lead(rep, source="web", attempt_after=120)
    reply_at = second.created_at + dt.timedelta(seconds=7200)
    touch(second, reply_at, channel="email", outcome="replied", direction="inbound")
    new_lead(rep, source="web", attempt_after=300)
    new_lead(teammate, source="event", attempt_after=600)
    early = new_lead(teammate, source="event", attempt_after=3600)
    touch(early, early.created_at - DAY)  # before the lead existed here: not an attempt
    new_lead(teammate, source="", attempt_after=None)
    new_lead(rep, source="web", attempt_after=5, created="2027-02-10T09:00")  # another month

    report = march("speed-to-lead")

    assert (report["leads"], report["attempted"], report["connected"]) == (6, 5, 2)
    assert report["first_attempt_seconds"] == {"median": 300.0, "p90": 2400.0}
    assert report["first_connect_seconds"] == {"median": 3900.0, "p90": 6540.0}
    assert set(report["by_source"]) == {"web", "event", "(no source)"}
    assert report["by_source"]["web"]["first_attempt_seconds"] == {"median": 120.0, "p90": 264.0}
    assert report["by_source"]["(no source)"]["first_attempt_seconds"] == {
        "median": None,
        "p90": None,
    }
    assert report["by_rep"]["bob"]["leads"] == 3
    assert report["by_rep"]["bob"]["first_attempt_seconds"] == {"median": 2100.0, "p90": 3300.0}
    assert report["by_rep"]["bob"]["first_connect_seconds"] == {"median": None, "p90": None}


def test_speed_to_lead_without_new_leads_is_empty_with_nulls(rep):
    report = march("speed-to-lead", rep)
    assert report["leads"] == 0
    assert report["first_attempt_seconds"] == {"median": None, "p90": None}
    assert report["first_connect_seconds"] == {"median": None, "p90": None}
    assert report["by_source"] == {}
    assert report["by_rep"] == {}


def test_percentile_interpolates_as_percentile_cont_does():
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([10.0], 0.9) == 10.0
    assert percentile([0.0, 100.0], 0.9) == 90.0
    assert percentile([], 0.5) is None


# --- channel mix -----------------------------------------------------------------------------


def test_channel_mix_shares_touches_and_rates_connects_and_replies(rep):
    lead = LeadFactory(owner=rep)
    when = at("2027-03-10T10:00")
    touches(lead, [when] * 3)
    touch(lead, when, outcome="connected")
    touches(lead, [when] * 4, channel="email", outcome="sent")
    touch(lead, when, channel="email", outcome="replied", direction="inbound")
    touches(lead, [when] * 2, channel="social", outcome="")
    touch(lead, at("2027-04-10T10:00"), outcome="connected")  # after the period

    report = march("channel-mix")

    assert report["total"] == 10
    assert report["channels"]["call"] == {
        "touches": 4,
        "share_pct": 40.0,
        "connects": 1,
        "connect_pct": 25.0,
        "replies": 0,
        "reply_pct": 0.0,
        "meetings": 0,
    }
    assert report["channels"]["email"]["replies"] == 1
    assert report["channels"]["email"]["reply_pct"] == 25.0
    assert report["channels"]["social"]["share_pct"] == 20.0


def test_channel_mix_without_touches_is_empty(rep):
    report = march("channel-mix", rep)
    assert (report["total"], report["channels"]) == (0, {})


# --- step results ----------------------------------------------------------------------------


def step_task(enrolment, step, *, due: str, status: str, done: str | None = None, **fields):
    return Task.objects.create(
        lead=enrolment.lead,
        rep=enrolment.owner,
        enrolment=enrolment,
        step=step,
        kind=Task.Kind.STEP,
        channel=step.channel,
        due_at=at(due),
        status=status,
        completed_at=at(done) if done else None,
        created_at=at(due) - DAY,
        **fields,
    )


def test_step_results_count_reached_on_time_answered_and_exited_per_variant(rep):
    cadence = CadenceFactory(name="Outbound")
    call = StepFactory(cadence=cadence, position=1, channel="call")
    email = StepFactory(cadence=cadence, position=2, channel="email")
    variant_b = StepVariant.objects.create(step=email, label="B", subject="s", body="b")
    first = EnrolmentFactory(lead=LeadFactory(owner=rep), cadence=cadence, position=2)
    replied = EnrolmentFactory(
        lead=LeadFactory(owner=rep),
        cadence=cadence,
        status="exited",
        exit_reason="replied",
        position=2,
    )
    lost = EnrolmentFactory(
        lead=LeadFactory(owner=rep), cadence=cadence, status="exited", exit_reason="lost"
    )
    connected = touch(first.lead, at("2027-03-02T15:00"), outcome="connected")
    step_task(
        first, call, due="2027-03-02T10:00", status="done", done="2027-03-02T15:00", touch=connected
    )
    step_task(first, email, due="2027-03-04T10:00", status="sent", done="2027-03-04T10:00")
    step_task(replied, call, due="2027-03-02T10:00", status="done", done="2027-03-03T09:00")
    step_task(
        replied,
        email,
        due="2027-03-05T10:00",
        status="sent",
        done="2027-03-05T10:00",
        variant=variant_b,
    )
    step_task(lost, call, due="2027-03-02T10:00", status="cancelled", done="2027-03-02T11:00")
    old = EnrolmentFactory(lead=LeadFactory(owner=rep), cadence=cadence)
    step_task(old, call, due="2027-02-20T10:00", status="done", done="2027-02-20T10:00")

    steps = march("step-results")["steps"]

    summary = [
        (
            s["step"],
            s["variant"],
            s["reached"],
            s["done_on_time"],
            s["connected_or_replied"],
            s["exited"],
        )
        for s in steps
    ]
    assert summary == [(1, "", 3, 1, 1, 1), (2, "A", 1, 1, 0, 0), (2, "B", 1, 1, 1, 0)]
    assert steps[0]["on_time_pct"] == 33.3
    assert steps[0]["exit_pct"] == 33.3
    assert (steps[0]["cadence"], steps[0]["channel"]) == ("Outbound", "call")


def test_step_results_for_a_rep_with_no_tasks_is_empty(rep):
    assert march("step-results", rep)["steps"] == []


# --- best count and cadence -----------------------------------------------------------------


def decided_lead(owner, status: str, times: list[dt.datetime], decided: dt.datetime):
    won_at = decided if status == "won" else None
    lead = LeadFactory(owner=owner, status=status, won_at=won_at, status_changed_at=decided)
    touches(lead, times)
    return lead


def spaced(start: dt.datetime, gaps_days: list[float]) -> list[dt.datetime]:
    times = [start]
    for gap in gaps_days:
        times.append(times[-1] + dt.timedelta(days=gap))
    return times


def test_best_count_finds_the_count_and_spacing_that_win_most_often(rep):
    decided = at("2027-03-25T12:00")
    start = at("2027-03-01T10:00")
    for _ in range(3):
        won = decided_lead(rep, "won", spaced(start, [2, 2, 2, 2]), decided)
    touch(won, decided + DAY)  # after the win: not counted
    decided_lead(rep, "lost", spaced(start, [0.5] * 4), decided)
    decided_lead(rep, "lost", [start], decided)
    decided_lead(rep, "lost", [start], decided)
    decided_lead(rep, "unresponsive", spaced(start, [10]), decided)
    decided_lead(rep, "won", spaced(start, [0.5, 3, 8]), decided)  # median gap 3 days
    decided_lead(rep, "lost", spaced(start, [0.5, 1.5, 5, 6]), decided)  # lower median 1.5
    decided_lead(rep, "won", spaced(start - 60 * DAY, [2]), decided - 40 * DAY)  # February
    decided_lead(rep, "working", spaced(start, [1, 1]), decided)

    report = march("best-count")

    assert (report["decided"], report["won"], report["single_touch"]) == (9, 4, 2)
    assert report["win_rate_pct"] == 44.4
    assert report["by_count"]["1"] == {"leads": 2, "won": 0, "win_rate_pct": 0.0}
    assert report["by_count"]["4"] == {"leads": 1, "won": 1, "win_rate_pct": 100.0}
    assert report["by_count"]["5"] == {"leads": 5, "won": 3, "win_rate_pct": 60.0}
    assert report["by_count"]["11+"]["leads"] == 0
    assert {name: r["leads"] for name, r in report["by_gap"].items()} == {
        "<1d": 1,
        "1-2d": 1,
        "2-4d": 4,
        "4-7d": 0,
        "7d+": 1,
    }
    assert report["by_gap"]["2-4d"]["win_rate_pct"] == 100.0
    assert report["best_count"] == {"bucket": "5", "leads": 5, "won": 3, "win_rate_pct": 60.0}
    assert report["best_gap"]["bucket"] == "2-4d"


def test_best_count_without_enough_history_names_no_best(rep):
    decided_lead(rep, "won", spaced(at("2027-03-01T10:00"), [2]), at("2027-03-10T10:00"))
    report = march("best-count")
    assert report["by_count"]["2"]["win_rate_pct"] == 100.0
    assert (report["best_count"], report["best_gap"]) == (None, None)
    empty = march("best-count", RepFactory(username="newbie"))
    assert (empty["decided"], empty["win_rate_pct"]) == (0, 0.0)


# --- load forecast ---------------------------------------------------------------------------


@pytest.fixture
def una(db):
    return RepFactory(username="una", profile={"timezone": "UTC", "call_capacity": 3})


def forecast_cadence():
    cadence = CadenceFactory(name="Forecast", business_days_only=False, min_gap_hours=0)
    steps = [
        StepFactory(cadence=cadence, position=1, channel="call"),
        StepFactory(cadence=cadence, position=2, channel="email", wait_days=2),
        StepFactory(
            cadence=cadence,
            position=3,
            channel="email",
            mode="auto",
            wait_days=1,
            subject="s",
            body="b",
        ),
        StepFactory(cadence=cadence, position=4, channel="call", wait_days=3),
        StepFactory(cadence=cadence, position=5, channel="call", wait_days=40),  # past 4 weeks
    ]
    return cadence, steps


def test_load_forecast_projects_later_steps_and_flags_an_overload(una):
    cadence, steps = forecast_cadence()
    for _ in range(3):
        enrolment = EnrolmentFactory(lead=LeadFactory(owner=una), cadence=cadence)
        TaskFactory(
            lead=enrolment.lead,
            rep=una,
            enrolment=enrolment,
            step=steps[0],
            due_at=at("2027-03-01T10:00"),
        )
    TaskFactory(lead=LeadFactory(owner=una), kind="callback", due_at=at("2027-03-02T15:00"))
    TaskFactory(lead=LeadFactory(owner=una), kind="callback", due_at=at("2027-02-25T15:00"))
    TaskFactory(lead=LeadFactory(owner=una), status="done", due_at=at("2027-03-01T15:00"))

    report = report_json(
        "load-forecast", dt.date(2027, 2, 1), dt.date(2027, 3, 1), una, now=at("2027-03-01T08:00")
    )

    (load,) = report["reps"]
    days = {d["date"]: d for d in load["days"]}
    assert (report["start"], report["end"], len(load["days"])) == ("2027-03-01", "2027-03-28", 28)
    assert days["2027-03-01"]["calls"] == 4  # three first steps and one overdue callback
    assert days["2027-03-02"]["calls"] == 1
    assert days["2027-03-03"]["emails"] == 3
    assert days["2027-03-04"]["auto_emails"] == 3
    assert days["2027-03-07"]["calls"] == 3
    assert sum(d["calls"] for d in load["days"]) == 8
    assert days["2027-03-01"]["over_calls"] and not days["2027-03-07"]["over_calls"]
    assert report["overloads"] == [
        {
            "rep": "una",
            "date": "2027-03-01",
            "calls": 4,
            "call_capacity": 3,
            "emails": 0,
            "email_capacity": 50,
        }
    ]


def test_load_forecast_starts_today_when_the_period_has_passed(una):
    report = report_json("load-forecast", *MARCH, None, now=at("2027-05-10T12:00"))
    assert report["start"] == "2027-05-10"
    assert [r["rep"] for r in report["reps"]] == ["una"]
    assert report["overloads"] == []
    assert all(d["calls"] == 0 for d in report["reps"][0]["days"])


def test_load_forecast_reads_each_reps_days_in_their_time_zone(rep):
    # 02:00 UTC on 3 March is still 2 March for alice in New York.
    TaskFactory(lead=LeadFactory(owner=rep), kind="callback", due_at=at("2027-03-03T02:00"))
    report = report_json(
        "load-forecast", dt.date(2027, 3, 1), dt.date(2027, 3, 1), rep, now=at("2027-03-01T12:00")
    )
    days = {d["date"]: d["calls"] for d in report["reps"][0]["days"]}
    assert (days["2027-03-02"], days["2027-03-03"]) == (1, 0)


# --- today at a glance -----------------------------------------------------------------------


def test_today_shows_overdue_queue_progress_and_hot_leads_per_rep(una, rep):
    now = at("2027-03-02T15:00")
    TaskFactory(lead=LeadFactory(owner=una), due_at=at("2027-03-01T10:00"))  # overdue
    TaskFactory(lead=LeadFactory(owner=una), channel="email", due_at=at("2027-03-02T09:00"))
    TaskFactory(
        lead=LeadFactory(owner=una), mode="auto", channel="email", due_at=at("2027-02-28T09:00")
    )
    TaskFactory(lead=LeadFactory(owner=una), status="done", due_at=at("2027-02-27T09:00"))
    hot_lead = LeadFactory(owner=una, first_name="Hana", last_name="Ito")
    TaskFactory(
        lead=hot_lead,
        kind="hot",
        due_at=at("2027-03-02T14:00"),
        hot_date=dt.date(2027, 3, 2),
        title="pricing page visit",
    )
    DailyQueue.objects.create(
        rep=una,
        date=dt.date(2027, 3, 2),
        assembled_at=now,
        refreshed_at=now,
        calls_total=5,
        calls_done=2,
        emails_total=3,
        emails_done=1,
    )
    # 03:00 UTC on 2 March was still 1 March for alice in New York: overdue for her.
    TaskFactory(lead=LeadFactory(owner=rep), due_at=at("2027-03-02T03:00"))
    DailyQueue.objects.create(rep=rep, date=dt.date(2027, 3, 1), assembled_at=now, refreshed_at=now)

    report = march("today", now=now)

    rows = {r["rep"]: r for r in report["reps"]}
    assert rows["una"]["overdue"] == 1
    assert rows["una"]["hot_pending"] == 1
    assert rows["una"]["queue"]["calls_done"] == 2
    assert (rows["una"]["queue"]["done"], rows["una"]["queue"]["total"]) == (3, 8)
    assert (rows["alice"]["date"], rows["alice"]["overdue"], rows["alice"]["queue"]) == (
        "2027-03-02",
        1,
        None,
    )
    assert (report["overdue"], report["hot_pending"]) == (2, 1)
    assert [(h["lead"], h["rep"], h["why"]) for h in report["hot_leads"]] == [
        ("Hana Ito", "una", "pricing page visit")
    ]


def test_today_for_a_rep_with_nothing_is_all_zero(rep):
    report = march("today", rep)
    assert report["reps"] == [
        {"rep": "alice", "date": "2027-04-02", "overdue": 0, "hot_pending": 0, "queue": None}
    ]
    assert report["hot_leads"] == []


# --- a fixed number of queries whatever the data size ---------------------------------------


def history(reps: list, count: int, cadence, step) -> None:
    """``count`` leads with a bit of everything every report reads."""
    for i in range(count):
        owner = reps[i % len(reps)]
        lead = LeadFactory(owner=owner, created_at=at("2027-03-02T09:00"), source=f"s{i % 3}")
        touches(lead, spaced(at("2027-03-02T10:00"), [1] * (i % 7)))
        if i % 2:
            lead.status, lead.won_at, lead.status_changed_at = (
                "won",
                at("2027-03-20T10:00"),
                at("2027-03-20T10:00"),
            )
            lead.save()
        else:
            enrolment = EnrolmentFactory(lead=lead, cadence=cadence)
            step_task(enrolment, step, due="2027-03-21T10:00", status="pending")
        DailyQueue.objects.get_or_create(
            rep=owner,
            date=dt.date(2027, 4, 2),
            defaults={"assembled_at": AFTER_MARCH, "refreshed_at": AFTER_MARCH},
        )


MAX_QUERIES = {
    "touches-to-close": 1,
    "follow-up-stops": 1,
    "speed-to-lead": 1,
    "channel-mix": 2,
    "step-results": 2,  # whether the snapshot is usable, then the counts
    "best-count": 2,  # whether the snapshot is usable, then the shapes
    "load-forecast": 5,  # the team's, live: its snapshot is looked for first
    "today": 4,
}


# PostgreSQL: one more, turning JIT off for the report's transaction.
JIT_OFF_QUERIES = 1 if connection.vendor == "postgresql" else 0


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_each_report_runs_a_fixed_number_of_queries_at_5_and_50_leads(
    name, rep, teammate, django_assert_max_num_queries
):
    cadence, steps = forecast_cadence()
    reps = [rep, teammate]
    counts = []
    for size in (5, 45):
        history(reps, size, cadence, steps[0])
        with (
            django_assert_max_num_queries(MAX_QUERIES[name] + JIT_OFF_QUERIES),
            CaptureQueriesContext(connection) as run,
        ):
            march(name)
        counts.append(len(run.captured_queries))
    assert counts[0] == counts[1]
