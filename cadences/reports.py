"""Managers' reports: is follow-up happening, and is it working (CONTRACT.md section 6).

Each report is one function ``(*, period, rep, now) -> dict`` that aggregates in the
database (annotations, conditional counts, subqueries) and returns a small dict that
is the report's JSON. Whatever the data size, each runs a fixed number of queries.

Conventions shared by every report:
- A period is ``[from, to]``, whole days read in ``settings.TIME_ZONE``.
- ``rep`` narrows a report to one rep's book: the leads the rep owns (touches-to-close,
  follow-up-stops, speed-to-lead, channel-mix, best-count) or the tasks assigned to
  the rep (step-results, load-forecast, today). ``None`` is the whole team.
- Percentages are of the report's own total, rounded to one decimal; an empty total
  gives 0, never a division by zero.

``load-forecast`` and ``today`` look at now and ahead; they live in
``cadences.report_workload`` and are registered here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import ValueRange, WindowFrameExclusion
from django.db.models.functions import Coalesce, Least, TruncDate
from django.db.models.lookups import LessThanOrEqual
from django.utils.timezone import now as clock_now

from cadences import report_summaries, report_workload, scheduling
from cadences.models import DecidedLeadDay, Enrolment, StepResultDay, Task, TouchDay
from leads.models import CONNECT_OUTCOMES, Lead, LeadStatus, Touch

OUTBOUND = Touch.Direction.OUTBOUND
INBOUND = Touch.Direction.INBOUND
TOUCH_BUCKETS = ("1", "2", "3", "4", "5+")
# The seeds' published figures (DESIGN.md): share of sales closed at each touch, and
# share of reps who stop following up after each touch.
CLOSE_BENCHMARK_PCT = {"1": 2, "2": 3, "3": 4, "4": 10, "5+": 81}
STOP_BENCHMARK_PCT = {"1": 48, "2": 24, "3": 12, "4": 6, "5+": 10}
QUIET_DAYS = 14
NO_OWNER = "(no owner)"
NO_SOURCE = "(no source)"
MAX_PERIOD_DAYS = 3660


# --- the period ---------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days ``[date_from, date_to]`` and their UTC bounds ``[start, end)``."""

    date_from: dt.date
    date_to: dt.date
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, date_from: dt.date, date_to: dt.date) -> Period:
        _check_period(date_from, date_to)
        tz = settings.TIME_ZONE
        start = scheduling.local_day_bounds(date_from, tz)[0]
        end = scheduling.local_day_bounds(date_to, tz)[1]
        return cls(date_from=date_from, date_to=date_to, start=start, end=end)

    def contains(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})


def _check_period(date_from: object, date_to: object) -> None:
    # A datetime is a date too, but its time would be silently dropped.
    for value in (date_from, date_to):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ValueError("from and to must be dates (YYYY-MM-DD)")
    if date_from > date_to:
        raise ValueError("from is after to")
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise ValueError(f"the period is longer than {MAX_PERIOD_DAYS} days")


def pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _username(value: str | None) -> str:
    return value or NO_OWNER


# --- touch-count buckets ---------------------------------------------------------------


def _bucket_pct(buckets: dict[str, int]) -> dict[str, float]:
    whole = sum(buckets.values())
    return {bucket: pct(n, whole) for bucket, n in buckets.items()}


def _outbound_count(before: str | None = None) -> Coalesce:
    """Per lead (outer row): how many outbound touches, optionally before a lead field."""
    touches = Touch.objects.filter(lead=OuterRef("pk"), direction=OUTBOUND)
    if before:
        touches = touches.filter(occurred_at__lt=OuterRef(before))
    counted = touches.order_by().values("lead").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _owned_by(leads: QuerySet[Lead], rep: AbstractBaseUser | None) -> QuerySet[Lead]:
    return leads if rep is None else leads.filter(owner=rep)


def _distribution(leads: QuerySet[Lead]) -> dict[str, dict[str, int]]:
    """Leads per owner and touch bucket (counts of 5 and more together), one grouped query."""
    rows = (
        leads.annotate(bucket=Least("outbound_touches", Value(5)))
        .order_by()
        .values("owner__username", "bucket")
        .annotate(leads=Count("pk"))
    )
    by_rep: dict[str, dict[str, int]] = {}
    for row in rows:
        buckets = by_rep.setdefault(_username(row["owner__username"]), _empty_buckets())
        buckets[_bucket_of(row["bucket"])] += row["leads"]
    return dict(sorted(by_rep.items()))


def _empty_buckets() -> dict[str, int]:
    return {"0": 0, **dict.fromkeys(TOUCH_BUCKETS, 0)}


def _bucket_of(touches: int) -> str:
    return "5+" if touches >= 5 else str(touches)


def _team_buckets(by_rep: dict[str, dict[str, int]]) -> dict[str, int]:
    team = _empty_buckets()
    for buckets in by_rep.values():
        for name, n in buckets.items():
            team[name] += n
    return team


def _bucket_report(by_rep: dict[str, dict[str, int]], benchmark: dict[str, int]) -> dict:
    """Team buckets (summed over reps), their shares, the benchmark, and each rep's buckets."""
    team = _team_buckets(by_rep)
    buckets = {name: team[name] for name in TOUCH_BUCKETS}
    return {
        "buckets": buckets,
        "pct": _bucket_pct(buckets),
        "benchmark_pct": dict(benchmark),
        "by_rep": {rep: {b: counts[b] for b in TOUCH_BUCKETS} for rep, counts in by_rep.items()},
    }


# --- 1. touches to close -------------------------------------------------------------------


def touches_to_close(
    *, period: Period, rep: AbstractBaseUser | None, now: dt.datetime
) -> dict[str, object]:
    """Won leads by how many outbound touches (any channel, automated too) came first.

    ``total`` counts every lead won in the period; one won without any outbound touch
    (it came in and bought) is counted in ``no_touch``, not in a bucket, and ``pct``
    is of the touched wins so it compares with the benchmark. One query.
    """
    won = _owned_by(Lead.objects.filter(period.contains("won_at")), rep).annotate(
        outbound_touches=_outbound_count(before="won_at")
    )
    by_rep = _distribution(won)
    no_touch = sum(buckets["0"] for buckets in by_rep.values())
    report = _bucket_report(by_rep, CLOSE_BENCHMARK_PCT)
    total = no_touch + sum(report["buckets"].values())
    return {"total": total, **report, "no_touch": no_touch}


# --- 2. where follow-up stops ---------------------------------------------------------------


def stopped_leads(*, period: Period, rep: AbstractBaseUser | None) -> QuerySet[Lead]:
    """Leads whose follow-up stopped in the period (CONTRACT.md section 6).

    Neither won nor at a meeting, no running enrolment (a paused one is waiting to
    resume, so it counts as running), no pending task of any kind, and their last
    outbound touch ever fell in the period at least ``QUIET_DAYS`` before its end.
    Annotated with ``outbound_touches`` (their count) and ``last_outbound``.
    """
    cutoff = period.end - dt.timedelta(days=QUIET_DAYS)
    outbound = Touch.objects.filter(direction=OUTBOUND)
    running = Enrolment.objects.filter(
        lead=OuterRef("pk"), status__in=[Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED]
    )
    pending = Task.objects.filter(lead=OuterRef("pk"), status=Task.Status.PENDING)
    touched_then = outbound.filter(occurred_at__gte=period.start, occurred_at__lte=cutoff)
    last = outbound.filter(lead=OuterRef("pk")).order_by("-occurred_at").values("occurred_at")
    leads = (
        Lead.objects.filter(id__in=touched_then.values("lead_id"))
        .exclude(status__in=[LeadStatus.WON, LeadStatus.MEETING])
        .exclude(Exists(outbound.filter(lead=OuterRef("pk"), occurred_at__gt=cutoff)))
        .exclude(Exists(running))
        .exclude(Exists(pending))
    )
    return _owned_by(leads, rep).annotate(
        outbound_touches=_outbound_count(), last_outbound=Subquery(last[:1])
    )


def follow_up_stops(
    *, period: Period, rep: AbstractBaseUser | None, now: dt.datetime
) -> dict[str, object]:
    """After how many outbound touches follow-up stopped, team and per rep. One query."""
    report = _bucket_report(
        _distribution(stopped_leads(period=period, rep=rep)), STOP_BENCHMARK_PCT
    )
    return {"total": sum(report["buckets"].values()), **report, "quiet_days": QUIET_DAYS}


# --- 3. speed to lead -------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    """The same interpolation as SQL's ``percentile_cont``, for databases without it."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _new_leads(period: Period, rep: AbstractBaseUser | None) -> QuerySet[Lead]:
    """Leads created in the period, with the seconds to their first attempt and connect.

    Both times are kept on the lead as touches are logged (``leads.touches``), so this
    reads the leads created in the period and never their touches.
    """
    leads = _owned_by(Lead.objects.filter(period.contains("created_at")), rep)
    return leads.annotate(
        attempt_at=F("first_attempt_at"), connect_at=F("first_connect_at")
    ).annotate(attempt=F("attempt_at") - F("created_at"), connect=F("connect_at") - F("created_at"))


def _seconds(value: dt.timedelta | float | None) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return round(seconds, 1)


def _speed_summary(leads: int, attempts: list[float], connects: list[float]) -> dict[str, object]:
    return {
        "leads": leads,
        "attempted": len(attempts),
        "connected": len(connects),
        "first_attempt_seconds": {
            "median": _seconds(percentile(attempts, 0.5)),
            "p90": _seconds(percentile(attempts, 0.9)),
        },
        "first_connect_seconds": {
            "median": _seconds(percentile(connects, 0.5)),
            "p90": _seconds(percentile(connects, 0.9)),
        },
    }


def _speed_groups_in_python(leads: QuerySet[Lead]) -> dict[str, dict]:
    """SQLite has no percentile aggregate: fetch one row of numbers per new lead, once."""
    rows = leads.order_by().values_list("source", "owner__username", "attempt", "connect")
    groups: dict[tuple[str, str], tuple[list, list, list]] = {}
    for source, owner, attempt, connect in rows:
        for key in (("team", ""), ("source", source or NO_SOURCE), ("rep", _username(owner))):
            counted, attempts, connects = groups.setdefault(key, ([], [], []))
            counted.append(1)
            if attempt is not None:
                attempts.append(attempt.total_seconds())
            if connect is not None:
                connects.append(connect.total_seconds())
    summaries = {key: _speed_summary(len(c), a, k) for key, (c, a, k) in groups.items()}
    return _split_speed_groups(summaries)


_SPEED_SQL = """
SELECT by_source, by_owner, source, users.{username}, leads, attempted, connected,
       attempts, connects
FROM (
    SELECT GROUPING(source) AS by_source, GROUPING(owner) AS by_owner, source, owner,
           COUNT(*) AS leads, COUNT(attempt) AS attempted, COUNT(connect) AS connected,
           PERCENTILE_CONT(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY attempt) AS attempts,
           PERCENTILE_CONT(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY connect) AS connects
    FROM (
        SELECT source, owner, EXTRACT(EPOCH FROM attempt) AS attempt,
               EXTRACT(EPOCH FROM connect) AS connect
        FROM ({new_leads}) AS new_leads (source, owner, attempt, connect)
    ) AS seconds
    GROUP BY GROUPING SETS ((), (source), (owner))
) AS groups
LEFT JOIN {users} AS users ON users.id = groups.owner
"""


def _speed_from_row(row: tuple) -> dict[str, object]:
    leads, attempted, connected, attempts, connects = row
    attempt_median, attempt_p90 = attempts or (None, None)
    connect_median, connect_p90 = connects or (None, None)
    return {
        "leads": leads,
        "attempted": attempted,
        "connected": connected,
        "first_attempt_seconds": {
            "median": _seconds(attempt_median),
            "p90": _seconds(attempt_p90),
        },
        "first_connect_seconds": {
            "median": _seconds(connect_median),
            "p90": _seconds(connect_p90),
        },
    }


def _speed_groups_in_sql(leads: QuerySet[Lead]) -> dict[str, dict]:
    """PostgreSQL computes the percentiles itself, team, per source and per rep in one
    pass over the new leads (``GROUPING SETS``), median and p90 from one sort each
    (an array of fractions): one query."""
    # Grouped by owner id; the 1,000 names are joined to the groups, not to every lead.
    columns = leads.order_by().values_list("source", "owner_id", "attempt", "connect")
    new_leads, params = columns.query.sql_with_params()
    users = get_user_model()
    sql = _SPEED_SQL.format(
        new_leads=new_leads,
        users=connection.ops.quote_name(users._meta.db_table),
        username=connection.ops.quote_name(users.USERNAME_FIELD),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    summaries = {}
    for by_source, by_owner, source, owner, *figures in rows:
        if by_source and by_owner:
            key = ("team", "")
        elif not by_source:
            key = ("source", source or NO_SOURCE)
        else:
            key = ("rep", _username(owner))
        summaries[key] = _speed_from_row(tuple(figures))
    return _split_speed_groups(summaries)


def _split_speed_groups(summaries: dict[tuple[str, str], dict]) -> dict[str, dict]:
    def named(kind: str) -> dict[str, dict]:
        return {name: summaries[(k, name)] for k, name in sorted(summaries) if k == kind}

    return {"team": summaries.get(("team", "")), "source": named("source"), "rep": named("rep")}


def speed_to_lead(
    *, period: Period, rep: AbstractBaseUser | None, now: dt.datetime
) -> dict[str, object]:
    """Time from a lead's creation to the first outbound touch and the first connection.

    A connection is the first touch, either way, with outcome connected, replied or
    meeting booked. Medians and 90th percentiles interpolate as ``percentile_cont``;
    null where no lead has one.
    """
    leads = _new_leads(period, rep)
    if connection.vendor == "postgresql":
        groups = _speed_groups_in_sql(leads)
    else:
        groups = _speed_groups_in_python(leads)
    team = groups["team"] or _speed_summary(0, [], [])
    return {**team, "by_source": groups["source"], "by_rep": groups["rep"]}


# --- 4. channel mix ---------------------------------------------------------------------------


CONNECTED = ("connected", "meeting_booked")


def _channel_counts(count: Callable[[Q], Aggregate]) -> dict[str, Aggregate]:
    outbound = Q(direction=OUTBOUND)
    return {
        "touches": count(outbound),
        "connects": count(outbound & Q(outcome__in=CONNECTED)),
        "meetings": count(Q(outcome="meeting_booked")),
        "replies": count(Q(direction=INBOUND, outcome="replied")),
    }


def _live_channel_rows(touches: QuerySet[Touch]) -> QuerySet:
    counts = _channel_counts(lambda q: Count("pk", filter=q))
    return touches.order_by().values("channel").annotate(**counts)


def _team_channel_rows(period: Period) -> tuple[list[dict], report_summaries.Freshness]:
    """The summary's days of the period plus the touches logged since it was refreshed:
    two queries, whatever the number of touches."""
    state = report_summaries.touch_days_state()
    summed = TouchDay.objects.filter(day__gte=period.date_from, day__lte=period.date_to)
    if not state.through_id:  # none, or made in another time zone: read everything live
        summed = summed.none()
    summary = (
        summed.order_by()
        .values("channel")
        .annotate(**_channel_counts(lambda q: Coalesce(Sum("n", filter=q), 0)))
    )
    since = Touch.objects.filter(period.contains("occurred_at"), id__gt=state.through_id)
    rows = list(summary.union(_live_channel_rows(since), all=True))
    return rows, state


def _merged_by_channel(rows: list[dict]) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = merged.setdefault(row["channel"], dict.fromkeys(_CHANNEL_COUNTS, 0))
        for name in _CHANNEL_COUNTS:
            counts[name] += row[name]
    return dict(sorted(merged.items()))


_CHANNEL_COUNTS = ("touches", "connects", "meetings", "replies")


def channel_mix(
    *, period: Period, rep: AbstractBaseUser | None, now: dt.datetime
) -> dict[str, object]:
    """Share of outbound touches by channel, and how often each connects or gets a reply.

    A connect is an outbound touch whose outcome is connected or meeting booked; a reply
    is an inbound touch with outcome replied on that channel in the period. Rates are of
    the channel's outbound touches. The whole team's figures come from the daily summary
    (``TouchDay``) plus every touch logged since its refresh, read live (two queries);
    ``summary_refreshed_at`` says when that was. One rep's come from their leads'
    touches (one query).
    """
    refreshed_at = None
    if rep is None:
        rows, state = _team_channel_rows(period)
        refreshed_at = state.refreshed_at.isoformat() if state.refreshed_at else None
    else:
        touches = Touch.objects.filter(period.contains("occurred_at"), lead__owner=rep)
        rows = list(_live_channel_rows(touches))
    by_channel = _merged_by_channel(rows)
    total = sum(row["touches"] for row in by_channel.values())
    channels = {
        name: {
            "touches": row["touches"],
            "share_pct": pct(row["touches"], total),
            "connects": row["connects"],
            "connect_pct": pct(row["connects"], row["touches"]),
            "replies": row["replies"],
            "reply_pct": pct(row["replies"], row["touches"]),
            "meetings": row["meetings"],
        }
        for name, row in by_channel.items()
    }
    return {"total": total, "channels": channels, "summary_refreshed_at": refreshed_at}


# --- 5. step results --------------------------------------------------------------------------

RESPONSE_EXITS = ("replied", "meeting_booked", "connected")


def _step_result_counts() -> dict[str, Count]:
    zone = ZoneInfo(settings.TIME_ZONE)
    on_time = Q(status__in=[Task.Status.DONE, Task.Status.SENT]) & LessThanOrEqual(
        TruncDate("completed_at", tzinfo=zone), TruncDate("due_at", tzinfo=zone)
    )
    # A reply or meeting ends the enrolment; it answers the last step done before it.
    answered_after = Q(
        enrolment__exit_reason__in=RESPONSE_EXITS,
        enrolment__position=F("step__position"),
        status__in=Task.FINISHED,
    )
    return {
        "reached": Count("pk"),
        "on_time": Count("pk", filter=on_time),
        "responded": Count("pk", filter=Q(touch__outcome__in=CONNECT_OUTCOMES) | answered_after),
        "exited": Count(
            "pk",
            filter=Q(status=Task.Status.CANCELLED, enrolment__status=Enrolment.Status.EXITED),
        ),
    }


STEP_FIELDS = ("step__cadence__name", "step__position", "step__channel", "step__title")


def _step_order() -> tuple:
    # Channel and title only break ties between same-named cadences, on both paths alike.
    return (*STEP_FIELDS[:2], F("variant__label").asc(nulls_first=True), *STEP_FIELDS[2:])


def step_result_days() -> QuerySet[Task]:
    """Every step task counted per day created (in TIME_ZONE), step and variant: the rows
    of the ``StepResultDay`` snapshot, by the same rules as the live report."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return (
        Task.objects.filter(kind=Task.Kind.STEP)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .order_by()
        .values("day", "step_id", "variant_id")
        .annotate(**_step_result_counts())
    )


def _live_step_rows(period: Period, rep: AbstractBaseUser | None) -> list[dict]:
    tasks = Task.objects.filter(period.contains("created_at"), kind=Task.Kind.STEP)
    if rep is not None:
        tasks = tasks.filter(rep=rep)
    rows = tasks.order_by(*_step_order()).values(*STEP_FIELDS, "variant__label")
    return list(rows.annotate(**_step_result_counts()))


def _snapshot_step_rows(period: Period) -> list[dict]:
    """The period's days of the snapshot summed per step and variant: the live rows' shape."""
    days = StepResultDay.objects.filter(day__gte=period.date_from, day__lte=period.date_to)
    sums = {name: Sum(name) for name in ("reached", "on_time", "responded", "exited")}
    rows = days.order_by(*_step_order()).values(*STEP_FIELDS, "variant__label")
    return list(rows.annotate(**{f"{name}_sum": total for name, total in sums.items()}))


def _team_snapshot(name: str, rep: AbstractBaseUser | None, now: dt.datetime) -> dt.datetime | None:
    """When snapshot ``name`` was made, if the whole team's report may read it at ``now``;
    None for one rep's report, always computed live."""
    return None if rep is not None else report_summaries.snapshot_refreshed_at(name, now=now)


def step_results(
    *, period: Period, rep: AbstractBaseUser | None, now: dt.datetime
) -> dict[str, object]:
    """Per cadence, step and variant: the steps that fell due in the period, and how they went.

    The cohort is the step tasks created in the period (the enrolments that reached the
    step). Of them: done or sent by the end of their due day (read in TIME_ZONE);
    connected or replied (the step's own touch, or a reply/meeting/connect that ended
    the enrolment right after it); and exited there (the enrolment ended while this
    step was next, its task cancelled). One rep's: one query, live. The whole team's:
    two queries, from the ``StepResultDay`` snapshot while it is fresh (its time is
    ``summary_refreshed_at``), else live (``summary_refreshed_at`` null).
    """
    refreshed_at = _team_snapshot(report_summaries.STEP_RESULTS, rep, now)
    if refreshed_at is not None:
        rows = [_unsummed(row) for row in _snapshot_step_rows(period)]
    else:
        rows = _live_step_rows(period, rep)
    with_variants = {
        (r["step__cadence__name"], r["step__position"]) for r in rows if r["variant__label"]
    }
    return {
        "steps": [_step_row(row, with_variants) for row in rows],
        "summary_refreshed_at": refreshed_at.isoformat() if refreshed_at else None,
    }


def _unsummed(row: dict) -> dict:
    return {name.removesuffix("_sum"): value for name, value in row.items()}


def _step_row(row: dict, with_variants: set[tuple[str, int]]) -> dict[str, object]:
    key = (row["step__cadence__name"], row["step__position"])
    # The base copy of a step that has A/B variants is variant "A".
    variant = row["variant__label"] or ("A" if key in with_variants else "")
    return {
        "cadence": key[0],
        "step": key[1],
        "channel": row["step__channel"],
        "title": row["step__title"],
        "variant": variant,
        "reached": row["reached"],
        "done_on_time": row["on_time"],
        "on_time_pct": pct(row["on_time"], row["reached"]),
        "connected_or_replied": row["responded"],
        "response_pct": pct(row["responded"], row["reached"]),
        "exited": row["exited"],
        "exit_pct": pct(row["exited"], row["reached"]),
    }


# --- 6. best count and cadence -------------------------------------------------------------

COUNT_BUCKETS = (*(str(n) for n in range(1, 11)), "11+")
GAP_BUCKETS = ("<1d", "1-2d", "2-4d", "4-7d", "7d+")
GAP_LIMITS_DAYS = (1, 2, 4, 7)
MIN_SAMPLE = 3
DECIDED = (LeadStatus.WON, LeadStatus.LOST, LeadStatus.UNRESPONSIVE)


def _decided_touches(
    period: Period | None, rep: AbstractBaseUser | None, *, by_day: bool = False
) -> QuerySet[Touch]:
    """Outbound touches of leads decided in the period (any time if None), made before
    the decision; with the lead's decided ``day`` (in TIME_ZONE) if ``by_day``.

    A lead is decided when won (at ``won_at``), lost or unresponsive (at
    ``status_changed_at``). Each touch is flagged with whether the lead's previous
    outbound touch (the latest at a strictly earlier time) came less than 1, 2, 4 and 7
    days before it: a window over the lead's touches, read once, not a subquery per touch.
    """
    touches = (
        Touch.objects.filter(direction=OUTBOUND, lead__status__in=DECIDED)
        .alias(decided_at=Coalesce("lead__won_at", "lead__status_changed_at"))
        .filter(occurred_at__lt=F("decided_at"))
    )
    if period is not None:
        touches = touches.filter(period.contains("decided_at"))
    if rep is not None:
        touches = touches.filter(lead__owner=rep)
    # EXCLUDE GROUP leaves out the touch itself and any made at the same instant.
    previous_at = Window(
        Max("occurred_at"),
        partition_by=[F("lead_id")],
        order_by=F("occurred_at").asc(),
        frame=ValueRange(start=None, end=0, exclusion=WindowFrameExclusion.GROUP),
    )
    flags = {
        f"under_{days}d": Case(
            When(Q(previous__gt=F("occurred_at") - dt.timedelta(days=days)), then=1), default=0
        )
        for days in GAP_LIMITS_DAYS
    }
    won = Case(When(lead__status=LeadStatus.WON, then=1), default=0)
    day = {"day": TruncDate("decided_at", tzinfo=ZoneInfo(settings.TIME_ZONE))} if by_day else {}
    return (
        touches.annotate(previous=previous_at)
        .annotate(won=won, **day, **flags)
        .order_by()
        .values("lead_id", *day, "won", *flags)
    )


def decided_shapes_sql(*, by_day: bool) -> tuple[str, tuple]:
    """Every decided lead counted by (day if ``by_day``, touches, gaps under each limit,
    won): the rows of the ``DecidedLeadDay`` snapshot, by the same rules as the report."""
    return _shapes_sql(_decided_touches(None, None, by_day=by_day), by_day=by_day)


def _shapes_sql(touches: QuerySet[Touch], *, by_day: bool) -> tuple[str, tuple]:
    """Window values cannot be aggregated at their own level, so the per-touch flags are a
    derived table, summed per lead, then leads of the same shape counted together (a
    few hundred rows per day whatever the number of leads). Plain SQL on both databases.
    """
    inner, params = touches.query.sql_with_params()
    unders = ", ".join(f"under_{d}d" for d in GAP_LIMITS_DAYS)
    sums = ", ".join(f"SUM(under_{d}d) AS under_{d}d" for d in GAP_LIMITS_DAYS)
    day = "day, " if by_day else ""
    sql = (
        f"SELECT {day}n AS touches, {unders}, won, COUNT(*) AS leads FROM ("
        f"SELECT {day}lead_id, COUNT(*) AS n, {sums}, MAX(won) AS won FROM ({inner}) flagged "
        f"GROUP BY {day}lead_id) per_lead GROUP BY {day}n, {unders}, won"
    )
    return sql, params


def _per_lead_shapes(touches: QuerySet[Touch]) -> list[tuple[int, ...]]:
    """Decided leads counted by (touches, gaps under each limit, won): one query."""
    sql, params = _shapes_sql(touches, by_day=False)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _snapshot_shapes(period: Period) -> list[tuple[int, ...]]:
    """The period's days of the snapshot, leads of the same shape summed: one query."""
    shape = ("touches", *(f"under_{d}d" for d in GAP_LIMITS_DAYS), "won")
    days = DecidedLeadDay.objects.filter(day__gte=period.date_from, day__lte=period.date_to)
    summed = days.order_by().values(*shape).annotate(decided=Sum("leads"))
    return list(summed.values_list(*shape, "decided"))


def _gap_bucket(gaps: int, unders: tuple[int, ...]) -> str | None:
    """The median gap's bucket from counts alone: median < limit ⇔ 2·count(gaps < limit) ≥ gaps.

    That is exact for the lower median (the middle gap, or the smaller of the two
    middle ones when the count of gaps is even). None for a single touch (no gap).
    """
    if not gaps:
        return None
    for name, under in zip(GAP_BUCKETS, unders, strict=False):
        if 2 * under >= gaps:
            return name
    return GAP_BUCKETS[-1]


def _tally(shapes: list[tuple[int, ...]]) -> dict[str, object]:
    empty = {"leads": 0, "won": 0}
    by_count = {name: dict(empty) for name in COUNT_BUCKETS}
    by_gap = {name: dict(empty) for name in GAP_BUCKETS}
    totals = {"decided": 0, "won": 0, "single_touch": 0}
    for n, *unders, won, leads in shapes:
        totals["decided"] += leads
        totals["won"] += leads if won else 0
        totals["single_touch"] += leads if n == 1 else 0
        gap = _gap_bucket(n - 1, tuple(unders))
        buckets = [by_count[str(n) if n <= 10 else "11+"]] + ([by_gap[gap]] if gap else [])
        for bucket in buckets:
            bucket["leads"] += leads
            bucket["won"] += leads if won else 0
    return {**totals, "by_count": by_count, "by_gap": by_gap}


def _rates(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, object]]:
    return {
        name: {"leads": c["leads"], "won": c["won"], "win_rate_pct": pct(c["won"], c["leads"])}
        for name, c in counts.items()
    }


def _best(rates: dict[str, dict[str, object]]) -> dict[str, object] | None:
    """The bucket with the highest win rate among those with enough leads to mean something."""
    sampled = [(name, r) for name, r in rates.items() if r["leads"] >= MIN_SAMPLE and r["won"]]
    if not sampled:
        return None
    name, best = max(sampled, key=lambda item: (item[1]["win_rate_pct"], item[1]["won"]))
    return {"bucket": name, **best}


def best_count(
    *, period: Period, rep: AbstractBaseUser | None, now: dt.datetime
) -> dict[str, object]:
    """Win rate by outbound touch count and by the median gap between touches.

    Leads decided in the period (won, lost or unresponsive) and touched at least once
    before the decision. The best bucket has the highest win rate among buckets with at
    least ``MIN_SAMPLE`` leads; ties go to more wins. One rep's: live. The whole team's:
    two queries, from the ``DecidedLeadDay`` snapshot while it is fresh (its time is
    ``summary_refreshed_at``), else live (``summary_refreshed_at`` null).
    """
    refreshed_at = _team_snapshot(report_summaries.DECIDED_LEADS, rep, now)
    if refreshed_at is not None:
        shapes = _snapshot_shapes(period)
    else:
        shapes = _per_lead_shapes(_decided_touches(period, rep))
    totals = _tally(shapes)
    by_count = _rates(totals["by_count"])
    by_gap = _rates(totals["by_gap"])
    return {
        "decided": totals["decided"],
        "won": totals["won"],
        "win_rate_pct": pct(totals["won"], totals["decided"]),
        "single_touch": totals["single_touch"],
        "by_count": by_count,
        "by_gap": by_gap,
        "best_count": _best(by_count),
        "best_gap": _best(by_gap),
        "min_sample": MIN_SAMPLE,
        "summary_refreshed_at": refreshed_at.isoformat() if refreshed_at else None,
    }


# --- the registry ---------------------------------------------------------------------------

Report = Callable[..., dict[str, object]]

REPORTS: dict[str, Report] = {
    "touches-to-close": touches_to_close,
    "follow-up-stops": follow_up_stops,
    "speed-to-lead": speed_to_lead,
    "channel-mix": channel_mix,
    "step-results": step_results,
    "best-count": best_count,
    "load-forecast": report_workload.load_forecast,
    "today": report_workload.today,
}


def report_json(
    name: str,
    date_from: dt.date,
    date_to: dt.date,
    rep: AbstractBaseUser | None,
    *,
    now: dt.datetime | None = None,
) -> dict[str, object]:
    """The report's JSON with ``from``, ``to`` (ISO dates) and ``rep`` (username or null).

    Raises ``KeyError`` for an unknown name and ``ValueError`` for a bad period.
    """
    report = REPORTS[name]
    period = Period.of(date_from, date_to)
    # No savepoint: a report writes nothing, and a savepoint costs two more queries.
    with transaction.atomic(savepoint=False):
        report_summaries.jit_off()
        body = report(period=period, rep=rep, now=now or clock_now())
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "rep": rep.get_username() if rep is not None else None,
        **body,
    }
