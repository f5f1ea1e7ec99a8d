"""The reports that look at now and ahead: the load forecast and today at a glance.

Both work per rep, in each rep's own time zone (a rep's day is the day of their queue),
and run a fixed number of queries: reps, then grouped tasks, then what those need.

The whole team's load forecast takes seconds at full scale (1M pending tasks grouped,
then projected in Python), so the worker keeps a snapshot of it, ``ForecastDay``, rebuilt
hourly by ``forecast_days_refresh``; the team's report reads it while it is usable.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Min, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest, NullIf, TruncHour

from cadences import scheduling
from cadences.models import Cadence, DailyQueue, ForecastDay, ReportSummary, Step, Task
from cadences.report_summaries import SNAPSHOT_MAX_AGE, snapshot_replacing
from cadences.services import cadence_calendar, rep_timezone, step_timing
from followup.roles import active_reps
from leads.models import RepProfile

if TYPE_CHECKING:
    from cadences.reports import Period

HORIZON_DAYS = 28
DEFAULT_CAPACITY = 50
HOT_LEADS_LISTED = 50
FORECAST_DAYS = "forecast-days"  # the snapshot's ``ReportSummary`` name
GROUP_FIELDS = (
    "rep_id",
    "kind",
    "channel",
    "mode",
    "step__cadence_id",
    "step__position",
    "basis_tz",
)


def _reps(rep: AbstractBaseUser | None) -> list[AbstractBaseUser]:
    """The reps a report covers, with their settings: one query."""
    users = active_reps() if rep is None else get_user_model().objects.filter(id=rep.id)
    return list(users.select_related("rep_profile").order_by("username"))


def _profile(rep: AbstractBaseUser) -> RepProfile | None:
    try:
        return rep.rep_profile  # type: ignore[attr-defined]
    except RepProfile.DoesNotExist:
        return None


def _capacity(rep: AbstractBaseUser, channel: str) -> int:
    profile = _profile(rep)
    if profile is None:
        return DEFAULT_CAPACITY
    return profile.call_capacity if channel == "call" else profile.email_capacity


def _tz(rep: AbstractBaseUser) -> str:
    return rep_timezone(rep)


# --- 7. load forecast ---------------------------------------------------------------------


@dataclass
class _Load:
    """Counts per rep-local day for one rep."""

    calls: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    emails: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    auto_emails: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    other: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, day: dt.date, channel: str, mode: str, n: int) -> None:
        if channel == "call":
            self.calls[day] += n
        elif channel == "email" and mode == Step.Mode.AUTO:
            self.auto_emails[day] += n
        elif channel == "email":
            self.emails[day] += n
        else:
            self.other[day] += n


def _pending_groups(rep_ids: list[int], *, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Pending tasks due before ``end``, grouped so each group projects the same way.

    Overdue tasks are moved to ``start`` (they are in the queue at once), so the groups
    stay bounded by reps, cadence steps, lead time zones and hours of the horizon, not
    by the number of leads.
    """
    basis_tz = Coalesce(
        NullIf("lead__timezone", Value("")),
        NullIf("lead__owner__rep_profile__timezone", Value("")),
        Value(settings.TIME_ZONE),
    )
    hour = TruncHour(Greatest("due_at", Value(start)), tzinfo=dt.UTC)
    tasks = Task.objects.filter(status=Task.Status.PENDING, due_at__lt=end, rep_id__in=rep_ids)
    return list(
        tasks.annotate(basis_tz=basis_tz, hour=hour)
        .order_by()
        .values(*GROUP_FIELDS, "hour")
        .annotate(n=Count("pk"), first_due=Min("due_at"))
        # Grouped by the hour but not reading it back (nothing uses it): converting
        # 400,000 more timestamps took a quarter of this at full scale.
        .values(*GROUP_FIELDS, "n", "first_due")
    )


def _cadences(groups: list[dict]) -> dict[int, Cadence]:
    """The cadences whose later steps are projected, with their live steps: two queries."""
    ids = {g["step__cadence_id"] for g in groups if g["kind"] == Task.Kind.STEP}
    live = Step.objects.filter(removed_at__isnull=True).order_by("position")
    found = Cadence.objects.filter(id__in=ids).prefetch_related(Prefetch("steps", queryset=live))
    return {cadence.id: cadence for cadence in found}


def _later_steps(
    cadence: Cadence, position: int, *, done_at: dt.datetime, tz: str, end: dt.datetime
) -> list[tuple[dt.datetime, Step]]:
    """When each later step of the cadence falls due, if each is done on its due time.

    Bounded by the cadence's steps and the horizon. Time off and steps skipped for
    do-not-call or bounces are not foreseen.
    """
    calendar = cadence_calendar(cadence)
    due_times = []
    for step in cadence.steps.all():
        if step.position <= position:
            continue
        due = scheduling.step_due_at(
            done_at,
            step_timing(step),
            tz,
            calendar,
            last_outbound_at=done_at,
            min_gap_hours=cadence.min_gap_hours,
        ).at
        if due >= end:
            break
        due_times.append((due, step))
        done_at = due
    return due_times


Projected = tuple[tuple[dt.date, str, str], ...]


class _Projector:
    """The later steps' days (in each rep's zone) for each group's due time, computed as
    few times as needed.

    From due times on one local day (in the lead's zone), a later ``done_at`` never gives
    an earlier due time: the same day plus the same business days, then windows and the
    min gap only move forward, and every later step starts from a business day in its
    window. The horizon only cuts steps off. So for one cadence step, lead zone and local
    day, when two due times project onto the same days in every rep zone concerned, every
    due time between them does too. The due times are sorted and halved until each
    stretch's ends agree: a few projections per day instead of one per group (410,000
    at full scale). A day whose clock changes (DST) repeats or skips local times, so its
    groups are each projected on their own. Each step's due time from a given moment is
    computed once, so chains that meet share the rest.
    """

    def __init__(self, cadences: dict[int, Cadence], *, end: dt.datetime) -> None:
        self.end = end
        self.plans = {cadence_id: _Plan.of(cadence) for cadence_id, cadence in cadences.items()}
        self.dues: dict[tuple, set[dt.datetime]] = defaultdict(set)
        self.zones: dict[tuple, set[str]] = defaultdict(set)
        self.found: dict[tuple, dict[dt.datetime, dict[str, Projected]]] = {}
        self.chains: dict[tuple, tuple[tuple[dt.datetime, Step], ...]] = {}

    def note(self, key: tuple, due: dt.datetime, rep_tz: str) -> None:
        self.dues[key].add(due)
        self.zones[key].add(rep_tz)

    def days(self, key: tuple, due: dt.datetime, rep_tz: str) -> Projected:
        if key not in self.found:
            self.found[key] = self._resolve(key, sorted(self.dues[key]))
        return self.found[key][due][rep_tz]

    def _resolve(self, key: tuple, dues: list[dt.datetime]) -> dict:
        if _clock_changes(key[-1], key[2]):
            return {due: self._exactly(key, due) for due in dues}
        found = {}
        stretches = [(0, len(dues) - 1)]
        while stretches:
            low, high = stretches.pop()
            first, last = self._exactly(key, dues[low]), self._exactly(key, dues[high])
            if first == last:
                found.update((due, first) for due in dues[low : high + 1])
            elif high - low <= 1:
                found[dues[low]], found[dues[high]] = first, last
            else:
                middle = (low + high) // 2
                stretches += [(low, middle), (middle, high)]
        return found

    def _exactly(self, key: tuple, due: dt.datetime) -> dict[str, Projected]:
        cadence_id, position, basis_tz, _day = key
        plan = self.plans[cadence_id]
        later = self._chain(plan, plan.after(position), due, basis_tz)
        return {
            zone: tuple((_local_date(at, zone), step.channel, step.mode) for at, step in later)
            for zone in self.zones[key]
        }

    def _chain(
        self, plan: _Plan, index: int, done_at: dt.datetime, tz: str
    ) -> tuple[tuple[dt.datetime, Step], ...]:
        """``_later_steps`` from the plan's step ``index`` on, one step at a time, each
        (step, moment) computed once."""
        if index >= len(plan.steps):
            return ()
        memo = (plan.cadence.id, index, done_at, tz)
        found = self.chains.get(memo)
        if found is None:
            step, timing = plan.steps[index], plan.timings[index]
            due = scheduling.step_due_at(
                done_at,
                timing,
                tz,
                plan.calendar,
                last_outbound_at=done_at,
                min_gap_hours=plan.cadence.min_gap_hours,
            ).at
            found = () if due >= self.end else ((due, step), *self._chain(plan, index + 1, due, tz))
            self.chains[memo] = found
        return found


@dataclass
class _Plan:
    """A cadence's live steps in order, their timings and its calendar, read once."""

    cadence: Cadence
    steps: list[Step]
    timings: list[scheduling.StepTiming]
    calendar: scheduling.Calendar

    @classmethod
    def of(cls, cadence: Cadence) -> _Plan:
        steps = list(cadence.steps.all())
        timings = [step_timing(step) for step in steps]
        return cls(cadence, steps, timings, cadence_calendar(cadence))

    def after(self, position: int) -> int:
        """The index of the first step past ``position``."""
        return next((i for i, s in enumerate(self.steps) if s.position > position), len(self.steps))


_ZONES: dict[str, ZoneInfo] = {}
_HOUR = dt.timedelta(hours=1)
_OFFSETS: dict[tuple[str, dt.datetime], dt.timedelta | None] = {}


def _local_date(moment: dt.datetime, tz: str) -> dt.date:
    """``scheduling.local_date`` for hundreds of thousands of UTC moments: the zone's
    offset is looked up once per hour (and the zone checked once), not per moment."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    offset = _OFFSETS.get((tz, hour), _HOUR)
    if offset is _HOUR:
        zone = _zone(tz)
        at_start, at_end = hour.astimezone(zone), (hour + _HOUR).astimezone(zone)
        # An hour in which the clock changes is converted moment by moment.
        same = at_start.utcoffset() == at_end.utcoffset()
        offset = _OFFSETS[(tz, hour)] = at_start.utcoffset() if same else None
    if offset is None or moment.tzinfo is not dt.UTC:
        return moment.astimezone(_zone(tz)).date()
    return (moment + offset).date()


def _zone(tz: str) -> ZoneInfo:
    zone = _ZONES.get(tz)
    if zone is None:
        scheduling.validate_timezone(tz)
        zone = _ZONES.setdefault(tz, ZoneInfo(tz))
    return zone


def _clock_changes(day: dt.date, tz: str) -> bool:
    start, end = scheduling.local_day_bounds(day, tz)
    return end - start != dt.timedelta(days=1)


def _project(
    groups: list[dict],
    cadences: dict[int, Cadence],
    reps: dict[int, AbstractBaseUser],
    *,
    start: dt.datetime,
    end: dt.datetime,
) -> dict[int, _Load]:
    zones = {rep_id: _tz(rep) for rep_id, rep in reps.items()}
    projector = _Projector(cadences, end=end)
    # Summed per rep and day (or per rep and projection) first: far fewer than the groups.
    due_now: dict[tuple, int] = defaultdict(int)
    projected = []
    for group in groups:
        rep_id, n = group["rep_id"], group["n"]
        rep_tz = zones[rep_id]
        due = max(group["first_due"], start)
        due_now[(rep_id, _local_date(due, rep_tz), group["channel"], group["mode"])] += n
        if group["kind"] != Task.Kind.STEP or group["step__cadence_id"] not in cadences:
            continue
        key = (
            group["step__cadence_id"],
            group["step__position"],
            group["basis_tz"],
            _local_date(due, group["basis_tz"]),
        )
        projector.note(key, due, rep_tz)
        projected.append((key, due, rep_id, rep_tz, n))
    later: dict[tuple, int] = defaultdict(int)
    for key, due, rep_id, rep_tz, n in projected:
        later[(rep_id, projector.days(key, due, rep_tz))] += n
    loads: dict[int, _Load] = {rep_id: _Load() for rep_id in reps}
    for (rep_id, day, channel, mode), n in due_now.items():
        loads[rep_id].add(day, channel, mode, n)
    for (rep_id, days), n in later.items():
        for day, channel, mode in days:
            loads[rep_id].add(day, channel, mode, n)
    return loads


DayCounts = tuple[int, int, int, int]  # calls, manual emails, auto emails, other
NO_LOAD: DayCounts = (0, 0, 0, 0)


def _day_counts(load: _Load, days: list[dt.date]) -> list[DayCounts]:
    """The load's counts on each day; work due before the first day is still to do, so
    it lands on the first day. Days past the last are left out."""
    first = days[0]

    def on(counts: dict[dt.date, int], day: dt.date) -> int:
        if day == first:
            return sum(n for d, n in counts.items() if d <= first)
        return counts.get(day, 0)

    kinds = (load.calls, load.emails, load.auto_emails, load.other)
    return [tuple(on(counts, day) for counts in kinds) for day in days]  # type: ignore[misc]


def _rep_days(rep: AbstractBaseUser, load: _Load, days: list[dt.date]) -> dict[str, object]:
    return _rep_row(rep, _day_counts(load, days), days)


def _rep_row(
    rep: AbstractBaseUser, counts: list[DayCounts], days: list[dt.date]
) -> dict[str, object]:
    """One rep's days, measured against their capacities as they are now."""
    call_cap, email_cap = _capacity(rep, "call"), _capacity(rep, "email")
    rows = [
        {
            "date": day.isoformat(),
            "calls": calls,
            "emails": emails,
            "auto_emails": auto_emails,
            "other": other,
            "over_calls": calls > call_cap,
            "over_emails": emails > email_cap,
        }
        for day, (calls, emails, auto_emails, other) in zip(days, counts, strict=True)
    ]
    return {
        "rep": rep.get_username(),
        "call_capacity": call_cap,
        "email_capacity": email_cap,
        "days": rows,
    }


def _horizon(first_day: dt.date) -> list[dt.date]:
    return [first_day + dt.timedelta(days=i) for i in range(HORIZON_DAYS)]


def _live_counts(
    reps: dict[int, AbstractBaseUser], days: list[dt.date]
) -> dict[int, list[DayCounts]]:
    """Each rep's counts on each day, computed from the pending tasks: three queries."""
    start = min((_day_start(days[0], _tz(r)) for r in reps.values()), default=None)
    end = max(
        (_day_start(days[-1] + dt.timedelta(days=1), _tz(r)) for r in reps.values()), default=None
    )
    groups = _pending_groups(list(reps), start=start, end=end) if reps else []
    loads = _project(groups, _cadences(groups), reps, start=start, end=end) if groups else {}
    return {rep_id: _day_counts(loads.get(rep_id) or _Load(), days) for rep_id in reps}


@dataclass
class _Snapshot:
    """The counts of the last refresh, per rep and day, and when it ran."""

    counts: dict[int, dict[dt.date, DayCounts]]
    refreshed_at: dt.datetime


def _snapshot(first_day: dt.date, now: dt.datetime) -> _Snapshot | None:
    """The snapshot's rows when it is usable for a forecast from ``first_day``: made for
    that day in this ``TIME_ZONE`` at most ``SNAPSHOT_MAX_AGE`` before ``now``. One
    query, so the rows and the refresh time always come from the same refresh."""
    usable = ReportSummary.objects.filter(
        name=FORECAST_DAYS,
        time_zone=settings.TIME_ZONE,
        as_of_day=first_day,
        refreshed_at__gte=now - SNAPSHOT_MAX_AGE,
    )
    rows = (
        ForecastDay.objects.annotate(refreshed_at=Subquery(usable.values("refreshed_at")[:1]))
        .filter(refreshed_at__isnull=False)
        .order_by()
        .values_list("rep_id", "day", "calls", "emails", "auto_emails", "other", "refreshed_at")
    )
    found = list(rows)
    if not found:
        return None
    counts: dict[int, dict[dt.date, DayCounts]] = defaultdict(dict)
    for rep_id, day, calls, emails, auto_emails, other, _at in found:
        counts[rep_id][day] = (calls, emails, auto_emails, other)
    return _Snapshot(counts, refreshed_at=found[0][-1])


def load_forecast(*, period: Period, rep: AbstractBaseUser | None, now: dt.datetime) -> dict:
    """Per rep and day, for 4 weeks: calls and emails due from pending tasks and projections.

    The forecast starts on the period's ``to`` date, or today when that has passed.
    Pending tasks count on their due day (overdue ones on the first day); each active
    enrolment's later steps are projected as if every step were done on its due time
    (waits, windows, business days, holidays and min gap applied; time off and skips
    not foreseen). Manual calls and emails are measured against each rep's daily
    capacity; auto emails are the worker's, shown apart.

    One rep's forecast is computed live (four queries). The whole team's is read from
    the worker's snapshot when it is usable (see ``_snapshot``; two queries), its time
    in ``summary_refreshed_at``; otherwise live (five queries) with that null. Reps,
    capacities and overloads are always as of now: an active rep the snapshot does not
    have (new, or back, since the refresh) shows no load until the next refresh and is
    named in ``reps_not_in_summary``.
    """
    today = scheduling.local_date(now, settings.TIME_ZONE)
    first_day = max(period.date_to, today)
    days = _horizon(first_day)
    reps = {r.id: r for r in _reps(rep)}
    snapshot = _snapshot(first_day, now) if rep is None else None
    if snapshot is None:
        counts = _live_counts(reps, days)
    else:
        counts = {i: [snapshot.counts[i].get(d, NO_LOAD) for d in days] for i in snapshot.counts}
    per_rep = [_rep_row(r, counts.get(r.id) or [NO_LOAD] * len(days), days) for r in reps.values()]
    return {
        "start": first_day.isoformat(),
        "end": days[-1].isoformat(),
        "days": [d.isoformat() for d in days],
        "reps": per_rep,
        "overloads": _overloads(per_rep),
        "summary_refreshed_at": snapshot.refreshed_at.isoformat() if snapshot else None,
        "reps_not_in_summary": [r.get_username() for i, r in reps.items() if i not in counts],
    }


def forecast_days_refresh(*, now: dt.datetime) -> int:
    """Rebuild the team's load-forecast snapshot from scratch: every active rep's days
    from today (``TIME_ZONE``), computed by the live code, replacing the previous ones in
    one transaction, with the summary row locked (so two refreshes at once run one
    after the other). Returns how many rows it wrote."""
    days = _horizon(scheduling.local_date(now, settings.TIME_ZONE))
    with snapshot_replacing(FORECAST_DAYS, ForecastDay, now=now) as state:
        counts = _live_counts({r.id: r for r in _reps(None)}, days)
        rows = [
            (rep_id, day, *day_counts)
            for rep_id, per_day in counts.items()
            for day, day_counts in zip(days, per_day, strict=True)
        ]
        _forecast_days_insert(rows)
        state.as_of_day = days[0]
    return len(rows)


_FORECAST_COLUMNS = ("rep_id", "day", "calls", "emails", "auto_emails", "other")
# One statement for every row: 28,000 at full scale, a third of bulk_create's time.
_POSTGRES_FORECAST_INSERT = f"""
insert into cadences_forecastday ({", ".join(_FORECAST_COLUMNS)})
select * from unnest(%s::int[], %s::date[], %s::int[], %s::int[], %s::int[], %s::int[])
"""


def _forecast_days_insert(rows: list[tuple]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        columns = [list(column) for column in zip(*rows, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(_POSTGRES_FORECAST_INSERT, columns)
        return
    made = [ForecastDay(**dict(zip(_FORECAST_COLUMNS, row, strict=True))) for row in rows]
    ForecastDay.objects.bulk_create(made, batch_size=2000)


def _day_start(day: dt.date, tz: str) -> dt.datetime:
    return scheduling.local_day_bounds(day, tz)[0]


def _overloads(per_rep: list[dict]) -> list[dict[str, object]]:
    return [
        {
            "rep": rep["rep"],
            "date": day["date"],
            "calls": day["calls"],
            "call_capacity": rep["call_capacity"],
            "emails": day["emails"],
            "email_capacity": rep["email_capacity"],
        }
        for rep in per_rep
        for day in rep["days"]
        if day["over_calls"] or day["over_emails"]
    ]


# --- 8. today at a glance -----------------------------------------------------------------


def _days_by_zone(
    reps: list[AbstractBaseUser], now: dt.datetime
) -> dict[str, tuple[dt.date, dt.datetime, list[int]]]:
    """Each time zone of the team: its today, when that began, and its reps."""
    zones: dict[str, tuple[dt.date, dt.datetime, list[int]]] = {}
    for rep in reps:
        tz = _tz(rep)
        if tz not in zones:
            day = scheduling.local_date(now, tz)
            zones[tz] = (day, _day_start(day, tz), [])
        zones[tz][2].append(rep.id)
    return zones


def _any_of(conditions: list[Q]) -> Q:
    combined = Q(pk__in=[])
    for condition in conditions:
        combined |= condition
    return combined


def _task_counts(rep_ids: list[int], zones: dict) -> dict[int, dict[str, int]]:
    overdue = _any_of([Q(rep_id__in=ids, due_at__lt=start) for _day, start, ids in zones.values()])
    rows = (
        Task.objects.filter(status=Task.Status.PENDING, mode=Step.Mode.MANUAL, rep_id__in=rep_ids)
        .order_by()
        .values("rep_id")
        .annotate(
            overdue=Count("pk", filter=overdue),
            hot=Count("pk", filter=Q(kind=Task.Kind.HOT)),
        )
    )
    return {row["rep_id"]: row for row in rows}


def _queues(zones: dict) -> dict[int, DailyQueue]:
    todays = _any_of([Q(rep_id__in=ids, date=day) for day, _start, ids in zones.values()])
    return {queue.rep_id: queue for queue in DailyQueue.objects.filter(todays)}


def _queue_progress(queue: DailyQueue | None) -> dict[str, int] | None:
    if queue is None:
        return None  # the rep's day has not begun, or the tick has not assembled it yet
    names = ("calls", "emails", "other")
    progress = {
        f"{n}_{part}": getattr(queue, f"{n}_{part}") for n in names for part in ("done", "total")
    }
    done = queue.calls_done + queue.emails_done + queue.other_done
    total = queue.calls_total + queue.emails_total + queue.other_total
    return {**progress, "done": done, "total": total}


def _hot_leads(rep_ids: list[int]) -> QuerySet:
    fields = ("id", "lead_id", "lead__first_name", "lead__last_name", "lead__email")
    return (
        Task.objects.filter(status=Task.Status.PENDING, kind=Task.Kind.HOT, rep_id__in=rep_ids)
        .order_by("due_at", "id")
        .values(*fields, "rep__username", "due_at", "title")[:HOT_LEADS_LISTED]
    )


def _hot_row(row: dict) -> dict[str, object]:
    name = f"{row['lead__first_name']} {row['lead__last_name']}".strip()
    return {
        "task_id": row["id"],
        "lead_id": row["lead_id"],
        "lead": name or row["lead__email"],
        "rep": row["rep__username"],
        "since": row["due_at"].astimezone(dt.UTC).isoformat(),
        "why": row["title"],
    }


def today(*, period: Period, rep: AbstractBaseUser | None, now: dt.datetime) -> dict:
    """Now, per rep: overdue manual tasks, today's queue progress, hot leads not yet called.

    "Today" is each rep's own date; the period does not apply. Overdue means due before
    the rep's today began, as in the queue. Four queries.
    """
    reps = _reps(rep)
    rep_ids = [r.id for r in reps]
    zones = _days_by_zone(reps, now)
    counts = _task_counts(rep_ids, zones) if reps else {}
    queues = _queues(zones) if reps else {}
    rows = []
    for r in reps:
        found = counts.get(r.id, {})
        rows.append(
            {
                "rep": r.get_username(),
                "date": scheduling.local_date(now, _tz(r)).isoformat(),
                "overdue": found.get("overdue", 0),
                "hot_pending": found.get("hot", 0),
                "queue": _queue_progress(queues.get(r.id)),
            }
        )
    hot = [_hot_row(row) for row in _hot_leads(rep_ids)] if reps else []
    return {
        "now": now.astimezone(dt.UTC).isoformat(),
        "reps": rows,
        "overdue": sum(row["overdue"] for row in rows),
        "hot_pending": sum(row["hot_pending"] for row in rows),
        "hot_leads": hot,
    }
