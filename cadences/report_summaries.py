"""Pre-aggregated report tables and how they are kept up to date.

``Lead.first_attempt_at`` and ``first_connect_at`` are kept by ``touch_log``;
``leads_first_times_fill`` sets them set-based for rows loaded without it (the bench).

``TouchDay`` counts touches per day, channel, direction and outcome, up to the touch
id its ``ReportSummary`` row names. A refresh adds the touches logged since, set-based
(one ``INSERT ... SELECT ... ON CONFLICT``), so it costs what was logged since the last
one; the worker runs it every hour (schedule ``followup-report-summaries``). Readers
add the touches above ``through_id`` live, so a report is never behind: the summary
only decides how much of the period is read from 10M touches.

Touches are never updated or deleted by the app (``Touch.lead`` and ``Touch.rep`` are
PROTECT, no service edits one). An admin deleting a touch by hand, or a change of
``TIME_ZONE``, is covered by ``rebuild=True`` (and by readers ignoring a summary made
in another time zone).

Snapshots (``StepResultDay``, ``DecidedLeadDay``) are rebuilt whole instead: their rows
depend on later changes to old rows (a task done, a lead won), so there is no high-water
mark to add from. A rebuild is one ``DELETE`` and one ``INSERT ... SELECT`` in one
transaction, stamped on its ``ReportSummary`` row, so it is exact as of that time. The
whole team's report reads a snapshot made in this ``TIME_ZONE`` at most
``SNAPSHOT_MAX_AGE`` ago, and computes live otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Model, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate

from cadences.models import DecidedLeadDay, ReportSummary, StepResultDay, TouchDay
from leads.models import CONNECT_OUTCOMES, Lead, Touch

TOUCH_DAYS = "touch-days"
STEP_RESULTS = "step-results"
DECIDED_LEADS = "decided-leads"
# Twice the worker's hourly schedule: one missed run still leaves the snapshot in use.
SNAPSHOT_MAX_AGE = dt.timedelta(hours=2)


SQL = tuple[str, tuple]  # a statement and its parameters


@dataclass(frozen=True)
class Freshness:
    """What a report read from a summary: rows up to ``through_id``, as of ``refreshed_at``."""

    through_id: int
    refreshed_at: dt.datetime | None


def touch_days_state() -> Freshness:
    """How far ``TouchDay`` goes in this time zone; through 0 when it cannot be used. One query."""
    found = ReportSummary.objects.filter(name=TOUCH_DAYS, time_zone=settings.TIME_ZONE).first()
    if found is None:
        return Freshness(through_id=0, refreshed_at=None)
    return Freshness(through_id=found.through_id, refreshed_at=found.refreshed_at)


def _touches_high_water() -> int:
    """The highest touch id such that every lower one is committed.

    On PostgreSQL a touch's id is drawn inside its insert, which holds ROW EXCLUSIVE on
    the table until commit: taking SHARE waits for those writers, so no touch below the
    answer can commit later (which would leave it out of the summary for good). The
    lock is held for that one statement's transaction only.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Behind an anti-wraparound vacuum, give up: the next refresh tries again.
                cursor.execute("SET LOCAL lock_timeout = '10s'")
                cursor.execute("LOCK TABLE leads_touch IN SHARE MODE")
        return Touch.objects.aggregate(top=Max("id"))["top"] or 0


def _add_touches(after: int, through: int) -> None:
    """Count touches ``after < id <= through`` into ``TouchDay``: one statement."""
    zone = ZoneInfo(settings.TIME_ZONE)
    fresh = (
        Touch.objects.filter(id__gt=after, id__lte=through)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .order_by()
        .values("day", "channel", "direction", "outcome")
        .annotate(n=Count("pk"))
    )
    select, params = fresh.query.sql_with_params()
    table = TouchDay._meta.db_table
    # ``WHERE true``: SQLite needs it to parse ON CONFLICT after INSERT ... SELECT.
    sql = (
        f"INSERT INTO {table} (day, channel, direction, outcome, n) "
        f"SELECT * FROM ({select}) fresh WHERE true "
        "ON CONFLICT (day, channel, direction, outcome) "
        f"DO UPDATE SET n = {table}.n + excluded.n"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def touch_days_refresh(*, now: dt.datetime, rebuild: bool = False) -> Freshness:
    """Bring ``TouchDay`` up to the last committed touch; from scratch when asked or when
    ``TIME_ZONE`` changed. Two short transactions; safe to run twice at once."""
    through = _touches_high_water()
    with transaction.atomic():
        ReportSummary.objects.get_or_create(name=TOUCH_DAYS)
        state = ReportSummary.objects.select_for_update().get(name=TOUCH_DAYS)
        if rebuild or state.time_zone != settings.TIME_ZONE:
            TouchDay.objects.all().delete()
            state.through_id, state.time_zone = 0, settings.TIME_ZONE
        if through > state.through_id:
            _add_touches(state.through_id, through)
            state.through_id = through
        state.refreshed_at = now
        state.save()
    return Freshness(through_id=state.through_id, refreshed_at=state.refreshed_at)


# One pass over the touches, one update of the leads (the migration's backfill).
_POSTGRES_FIRST_TIMES = """
update leads_lead l
set first_attempt_at = f.attempt_at, first_connect_at = f.connect_at
from (
    select t.lead_id,
           min(t.occurred_at) filter (where t.direction = 'outbound') as attempt_at,
           min(t.occurred_at) filter (where t.outcome = any(%s)) as connect_at
    from leads_touch t join leads_lead c on c.id = t.lead_id
    where t.occurred_at >= c.created_at
    group by t.lead_id
) f
where l.id = f.lead_id
"""


def leads_first_times_fill() -> None:
    """Set every lead's first attempt and first connect from its touches, set-based.

    For rows loaded without them (``bench/generate.py`` loads by COPY); ``touch_log``
    keeps them from then on. On SQLite, one correlated update.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_POSTGRES_FIRST_TIMES, [list(CONNECT_OUTCOMES)])
        return

    def first(condition: Q) -> Subquery:
        touches = Touch.objects.filter(
            condition, lead=OuterRef("pk"), occurred_at__gte=OuterRef("created_at")
        )
        return Subquery(touches.values("lead").annotate(at=Min("occurred_at")).values("at"))

    Lead.objects.update(
        first_attempt_at=first(Q(direction=Touch.Direction.OUTBOUND)),
        first_connect_at=first(Q(outcome__in=CONNECT_OUTCOMES)),
    )


def snapshot_refreshed_at(name: str, *, now: dt.datetime) -> dt.datetime | None:
    """When snapshot ``name`` was rebuilt, if a report at ``now`` may read it (made in this
    ``TIME_ZONE`` at most ``SNAPSHOT_MAX_AGE`` before ``now``); None: compute live. One query.
    """
    usable = ReportSummary.objects.filter(
        name=name, time_zone=settings.TIME_ZONE, refreshed_at__gte=now - SNAPSHOT_MAX_AGE
    )
    return usable.values_list("refreshed_at", flat=True).first()


def jit_off() -> None:
    """Turn PostgreSQL's JIT off until the transaction ends (reports and rebuilds).

    The planner's cost estimates for these large aggregates switch JIT on, and
    compiling the plan took 4-8 s of a report that reads millions of rows in a few
    seconds: interpreted execution is faster here.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true)")


@contextmanager
def snapshot_replacing(
    name: str, model: type[Model], *, now: dt.datetime
) -> Iterator[ReportSummary]:
    """One transaction that empties ``model`` for the block to fill anew, then stamps
    snapshot ``name`` (``time_zone``, ``refreshed_at``, and what the block set on it).

    The summary row's lock makes two rebuilds at once take turns; readers keep seeing
    the previous rows until the commit.
    """
    with transaction.atomic():
        ReportSummary.objects.get_or_create(name=name)
        state = ReportSummary.objects.select_for_update().get(name=name)
        jit_off()
        model.objects.all().delete()
        yield state
        state.time_zone, state.refreshed_at = settings.TIME_ZONE, now
        state.save()


def _snapshot_rebuild(
    name: str, model: type[Model], picked: dict[str, str], select: SQL, *, now: dt.datetime
) -> None:
    """Replace ``model``'s rows with ``select``'s and stamp snapshot ``name``.

    ``picked`` maps each column to fill to its expression over ``select``'s columns.
    """
    sql, params = select
    insert = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(picked)}) "
        f"SELECT {', '.join(picked.values())} FROM ({sql}) rebuilt"
    )
    with snapshot_replacing(name, model, now=now), connection.cursor() as cursor:
        cursor.execute(insert, params)


def step_result_days_rebuild(*, now: dt.datetime) -> None:
    """Rebuild ``StepResultDay`` from every step task (the step-results report's counts)."""
    from cadences.reports import step_result_days  # reports reads this module's snapshots

    columns = ("day", "step_id", "variant_id", "reached", "on_time", "responded", "exited")
    select = step_result_days().query.sql_with_params()
    _snapshot_rebuild(STEP_RESULTS, StepResultDay, {c: c for c in columns}, select, now=now)


def decided_lead_days_rebuild(*, now: dt.datetime) -> None:
    """Rebuild ``DecidedLeadDay`` from every decided lead's touches (best-count's shapes)."""
    from cadences.reports import GAP_LIMITS_DAYS, decided_shapes_sql

    columns = ("day", "touches", *(f"under_{d}d" for d in GAP_LIMITS_DAYS), "leads")
    # ``won`` is 0 or 1 in the shapes; PostgreSQL wants a boolean for the column.
    picked = {**{c: c for c in columns}, "won": "won = 1"}
    select = decided_shapes_sql(by_day=True)
    _snapshot_rebuild(DECIDED_LEADS, DecidedLeadDay, picked, select, now=now)


def refresh_all(now: dt.datetime | None = None) -> None:
    """The worker's entry point (a django-q2 schedule): every report summary."""
    from django.utils.timezone import now as clock_now

    from cadences.report_workload import forecast_days_refresh  # it reads SNAPSHOT_MAX_AGE

    now = now or clock_now()
    touch_days_refresh(now=now)
    step_result_days_rebuild(now=now)
    decided_lead_days_rebuild(now=now)
    forecast_days_refresh(now=now)
