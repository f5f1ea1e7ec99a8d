"""When a cadence step falls due, and how a rep's daily queue is ordered.

Pure rules, no Django: aware datetimes and IANA zone names in, UTC out, so the
tick, the queue and the API explain the same answer and tests need no database.
Everything is read in the lead's basis time zone (CONTRACT.md section 5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

MOVE_WINDOW = "window"
MOVE_WEEKEND = "weekend"
MOVE_HOLIDAY = "holiday"
MOVE_MIN_GAP = "min_gap"

PENDING = "pending"
REASON_ORDER = ("hot", "callback", "new_lead", "overdue", "due")

# English names on purpose: strftime's %a/%b follow the process locale, and an
# explanation must read the same on every worker.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# A window always opens within a few days (weekends, holidays, one DST gap);
# the bound only turns an impossible calendar into an error instead of a hang.
_MAX_DAYS_SEARCHED = 366


# --- time zones ---------------------------------------------------------------


def validate_timezone(name: str) -> str:
    """Return `name` when it is a known IANA zone; ValueError otherwise."""
    _zone(name)
    return name


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # ZoneInfo raises ValueError/TypeError for malformed keys ("", "../x"), not only NotFound.
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _require_aware(moment: datetime, what: str) -> None:
    # A naive datetime would silently be read in the server's zone.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")


def _at_local(day: date, wall: time, zone: ZoneInfo, fold: int = 0) -> datetime:
    """The UTC instant of a local wall time; round-tripping through UTC makes it real.

    fold=0 resolves a wall time skipped by spring-forward to the same distance
    past the jump (02:30 -> 03:30) and a repeated one to its first occurrence.
    """
    return datetime.combine(day, wall.replace(tzinfo=None, fold=fold), tzinfo=zone).astimezone(UTC)


def local_date(moment: datetime, tz: str) -> date:
    _require_aware(moment, "moment")
    return moment.astimezone(_zone(tz)).date()


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC [start, end) of a local date: 23 or 25 hours long on DST days."""
    zone = _zone(tz)
    return _at_local(day, time(0), zone), _at_local(day + timedelta(days=1), time(0), zone)


# --- business days ------------------------------------------------------------


def validate_holiday_country(code: str) -> str:
    """Return `code` when the holidays package knows that country; ValueError otherwise."""
    _holidays_for(code, 2000)
    return code


@lru_cache(maxsize=512)
def _holidays_for(country: str, year: int) -> Mapping[date, str]:
    # The package builds a year's rules on first use; the tick asks the same
    # (country, year) thousands of times. A plain dict also stops the package
    # from growing its own cache as other years are looked up.
    try:
        # English names whatever the process locale, so explanations are stable.
        found = holidays.country_holidays(country.upper(), years=year, language="en_US")
    except NotImplementedError:
        raise ValueError(f"unknown holiday country {country!r}") from None
    return dict(found)


@dataclass(frozen=True)
class Calendar:
    """Which local dates are business days."""

    business_days_only: bool = True
    holiday_country: str | None = None  # ISO code for the `holidays` package: "US", "DE", "GB"

    def holiday_name(self, day: date) -> str | None:
        if not self.holiday_country:
            return None
        return _holidays_for(self.holiday_country, day.year).get(day)

    def is_holiday(self, day: date) -> bool:
        return self.holiday_name(day) is not None

    def is_business_day(self, day: date) -> bool:
        if not self.business_days_only:
            return True
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after `day`."""
        for _ in range(_MAX_DAYS_SEARCHED):
            day += timedelta(days=1)
            if self.is_business_day(day):
                return day
        raise ValueError(f"no business day within a year after {day}")

    def add_business_days(self, day: date, n: int) -> date:
        """The n-th business day after `day`; 0 keeps `day` even when it is not one."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        for _ in range(n):
            day = self.next_business_day(day)
        return day


# --- step timing --------------------------------------------------------------


@dataclass(frozen=True)
class StepTiming:
    """A step's waits and its daily window, in the lead's local wall-clock time."""

    wait_days: int = 0
    wait_hours: int = 0
    window_start: time = time(9, 0)
    window_end: time = time(17, 0)

    def __post_init__(self) -> None:
        # Overnight windows (22:00-06:00) are not part of the contract; refusing
        # them here keeps into_window's "same day or next business day" rule true.
        if self.window_start >= self.window_end:
            raise ValueError(f"window start {self.window_start} must be before its end")
        if self.wait_days < 0 or self.wait_hours < 0:
            raise ValueError("waits must be >= 0")


@dataclass(frozen=True)
class DueTime:
    at: datetime  # aware, UTC
    reasons: tuple[str, ...]  # MOVE_* constants, in the order applied, no duplicates
    naive_at: datetime  # aware, UTC: done_at plus the waits, before any move

    def explain(self, tz: str) -> str:
        """E.g. "Tue 3 Mar 09:00 (lead-local) — moved from Sat 28 Feb 14:00 by weekend"."""
        zone = _zone(tz)
        text = f"{_format_local(self.at.astimezone(zone))} (lead-local)"
        if not self.reasons:
            return text
        moved_from = _format_local(self.naive_at.astimezone(zone))
        return f"{text} — moved from {moved_from} by {', '.join(self.reasons)}"


def _format_local(moment: datetime) -> str:
    weekday, month = _WEEKDAYS[moment.weekday()], _MONTHS[moment.month - 1]
    return f"{weekday} {moment.day} {month} {moment:%H:%M}"


def into_window(
    candidate: datetime, timing: StepTiming, tz: str, calendar: Calendar
) -> tuple[datetime, tuple[str, ...]]:
    """Move `candidate` to the step's window on a business day; the reason says why."""
    _require_aware(candidate, "candidate")
    zone = _zone(tz)
    local = candidate.astimezone(zone)
    day = local.date()
    if not calendar.is_business_day(day):
        # Passing further weekends or holidays on the way is still one move.
        reason = MOVE_WEEKEND if day.weekday() >= 5 else MOVE_HOLIDAY
        next_day = calendar.next_business_day(day)
        return _window_opening(next_day, candidate, timing, zone, calendar), (reason,)
    if local.time() < timing.window_start:
        return _window_opening(day, candidate, timing, zone, calendar), (MOVE_WINDOW,)
    if local.time() >= timing.window_end:
        next_day = calendar.next_business_day(day)
        return _window_opening(next_day, candidate, timing, zone, calendar), (MOVE_WINDOW,)
    return candidate.astimezone(UTC), ()


def _window_opening(
    day: date, not_before: datetime, timing: StepTiming, zone: ZoneInfo, calendar: Calendar
) -> datetime:
    """The first window opening on business day `day` or later that is not before `not_before`.

    DST decides two edge cases, both only on days with a transition:
    - an opening skipped by spring-forward opens as far past the jump as it was
      into the gap (zoneinfo's fold=0: 02:30 -> 03:30); if that is already past
      the window's end, the jump swallowed the window and it does not open that day.
    - an opening repeated by fall-back opens at its first occurrence, or at the
      second when the candidate is already past the first (never move backwards).
    """
    for _ in range(_MAX_DAYS_SEARCHED):
        for fold in (0, 1):
            opening = _at_local(day, timing.window_start, zone, fold)
            if opening >= not_before and _opens_on(opening, day, timing, zone):
                return opening
        day = calendar.next_business_day(day)
    raise ValueError(f"window {timing.window_start}-{timing.window_end} never opens")


def _opens_on(opening: datetime, day: date, timing: StepTiming, zone: ZoneInfo) -> bool:
    local = opening.astimezone(zone)
    return local.date() == day and timing.window_start <= local.time() < timing.window_end


def earliest_after_gap(last_outbound_at: datetime | None, min_gap_hours: int) -> datetime | None:
    """The first instant a touch may reach the lead again; None when no touch yet."""
    if min_gap_hours < 0:
        raise ValueError(f"min_gap_hours must be >= 0, got {min_gap_hours}")
    if last_outbound_at is None:
        return None
    _require_aware(last_outbound_at, "last_outbound_at")
    return (last_outbound_at + timedelta(hours=min_gap_hours)).astimezone(UTC)


def step_due_at(
    done_at: datetime,
    timing: StepTiming,
    tz: str,
    calendar: Calendar,
    *,
    last_outbound_at: datetime | None = None,
    min_gap_hours: int = 0,
    exempt_from_gap: bool = False,
) -> DueTime:
    """When a step falls due, counted from the moment its predecessor was done."""
    naive_at = _after_waits(done_at, timing, _zone(tz), calendar)
    at, reasons = into_window(naive_at, timing, tz, calendar)
    earliest = None if exempt_from_gap else earliest_after_gap(last_outbound_at, min_gap_hours)
    if earliest is not None and at < earliest:
        # A touch logged by hand pushes the step back, and then into its window again.
        at, window_reasons = into_window(earliest, timing, tz, calendar)
        reasons = _unique((*reasons, MOVE_MIN_GAP, *window_reasons))
    return DueTime(at=at, reasons=reasons, naive_at=naive_at)


def _after_waits(
    done_at: datetime, timing: StepTiming, zone: ZoneInfo, calendar: Calendar
) -> datetime:
    _require_aware(done_at, "done_at")
    local = done_at.astimezone(zone)
    target = calendar.add_business_days(local.date(), timing.wait_days)
    # local.time() keeps `fold`, so with no day wait a moment in the repeated
    # fall-back hour maps back onto itself instead of an hour earlier.
    candidate = _at_local(target, local.time(), zone, local.fold)
    # wait_hours is elapsed time, not wall-clock: across a DST change, 24 hours
    # move the local clock by 23 or 25.
    return candidate + timedelta(hours=timing.wait_hours)


def _unique(reasons: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))


# --- daily queue --------------------------------------------------------------


@dataclass(frozen=True)
class QueueCandidate:
    task_id: int
    channel: str
    kind: str  # "step" | "callback" | "hot"
    step_position: int | None  # 1-based position in the cadence, None outside a cadence
    due_at: datetime
    status: str  # "pending" or a finished status ("done", "skipped", "sent", ...)

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING


@dataclass(frozen=True)
class QueueEntry:
    candidate: QueueCandidate
    reason: str


@dataclass(frozen=True)
class AssembledQueue:
    calls: tuple[QueueEntry, ...]
    emails: tuple[QueueEntry, ...]
    other: tuple[QueueEntry, ...]
    rolled_over: dict[str, int]  # {"call": n, "email": n}


def queue_reason(c: QueueCandidate, day_start: datetime) -> str:
    """Why a task is in the queue; `day_start` is the start of the queue's date (UTC)."""
    if c.kind in ("hot", "callback"):
        return c.kind
    if c.step_position == 1:
        return "new_lead"
    return "overdue" if c.due_at < day_start else "due"


def section_for_channel(channel: str) -> str:
    return {"call": "calls", "email": "emails"}.get(channel, "other")


def assemble_queue(
    candidates: Iterable[QueueCandidate],
    *,
    day_start: datetime,
    call_capacity: int,
    email_capacity: int,
) -> AssembledQueue:
    """Split, order and cap a rep's queue for one day."""
    sections: dict[str, list[QueueEntry]] = {"calls": [], "emails": [], "other": []}
    for c in candidates:
        sections[section_for_channel(c.channel)].append(QueueEntry(c, queue_reason(c, day_start)))
    ordered = {name: sorted(entries, key=_queue_order) for name, entries in sections.items()}
    calls, rolled_calls = _cap(ordered["calls"], call_capacity)
    emails, rolled_emails = _cap(ordered["emails"], email_capacity)
    return AssembledQueue(
        calls=calls,
        emails=emails,
        other=tuple(ordered["other"]),
        rolled_over={"call": rolled_calls, "email": rolled_emails},
    )


def _queue_order(entry: QueueEntry) -> tuple[int, datetime, int]:
    return REASON_ORDER.index(entry.reason), entry.candidate.due_at, entry.candidate.task_id


def _cap(entries: list[QueueEntry], capacity: int) -> tuple[tuple[QueueEntry, ...], int]:
    """Keep every finished entry, so progress shows; pending ones fill what capacity is left."""
    room = max(capacity - sum(not e.candidate.is_pending for e in entries), 0)
    kept: list[QueueEntry] = []
    rolled_over = 0
    for entry in entries:
        if not entry.candidate.is_pending:
            kept.append(entry)
        elif room > 0:
            kept.append(entry)
            room -= 1
        else:
            rolled_over += 1
    return tuple(kept), rolled_over
