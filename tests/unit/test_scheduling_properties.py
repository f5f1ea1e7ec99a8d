"""Properties of step_due_at that must hold for every zone, calendar and window. No database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cadences.scheduling import (
    MOVE_HOLIDAY,
    MOVE_MIN_GAP,
    MOVE_WEEKEND,
    MOVE_WINDOW,
    Calendar,
    DueTime,
    StepTiming,
    into_window,
    step_due_at,
)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Pacific/Auckland",
]
COUNTRIES = [None, "US", "DE", "GB", "FR"]
FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2029, 12, 31)


def _dst_change_days() -> list[date]:
    """Every local date in the range on which one of ZONES changes its UTC offset."""
    days: set[date] = set()
    for name in ZONES:
        zone = ZoneInfo(name)
        day = FIRST_DAY
        while day < LAST_DAY:
            morning = datetime.combine(day, time(0), tzinfo=zone)
            evening = datetime.combine(day, time(23, 59), tzinfo=zone)
            if morning.utcoffset() != evening.utcoffset():
                days.add(day)
            day += timedelta(days=1)
    return sorted(days)


# DST Sundays and year ends are where the rules break if they break at all.
SPECIAL_DAYS = _dst_change_days() + [date(year, 12, 31) for year in range(2025, 2030)]

anywhere = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)
)
near_special_day = st.builds(
    lambda day, minutes: datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=minutes),
    st.sampled_from(SPECIAL_DAYS),
    st.integers(min_value=-3 * 24 * 60, max_value=4 * 24 * 60),
)
done_ats = st.one_of(anywhere, near_special_day)


@st.composite
def timings(draw: st.DrawFn) -> StepTiming:
    # Minute resolution, any start < end: includes windows inside a DST gap.
    start = draw(st.integers(min_value=0, max_value=23 * 60 + 58))
    end = draw(st.integers(min_value=start + 1, max_value=23 * 60 + 59))
    return StepTiming(
        wait_days=draw(st.integers(min_value=0, max_value=15)),
        wait_hours=draw(st.integers(min_value=0, max_value=48)),
        window_start=time(*divmod(start, 60)),
        window_end=time(*divmod(end, 60)),
    )


calendars = st.builds(
    Calendar, business_days_only=st.booleans(), holiday_country=st.sampled_from(COUNTRIES)
)


@dataclass(frozen=True)
class Case:
    done_at: datetime
    timing: StepTiming
    tz: str
    calendar: Calendar
    last_outbound_at: datetime | None
    min_gap_hours: int
    exempt_from_gap: bool

    def due(self) -> DueTime:
        return step_due_at(
            self.done_at,
            self.timing,
            self.tz,
            self.calendar,
            last_outbound_at=self.last_outbound_at,
            min_gap_hours=self.min_gap_hours,
            exempt_from_gap=self.exempt_from_gap,
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    done_at = draw(done_ats)
    # The previous touch is usually just before done_at, sometimes after (a rep's own call).
    offset = draw(st.none() | st.integers(min_value=-96 * 60, max_value=48 * 60))
    return Case(
        done_at=done_at,
        timing=draw(timings()),
        tz=draw(st.sampled_from(ZONES)),
        calendar=draw(calendars),
        last_outbound_at=None if offset is None else done_at + timedelta(minutes=offset),
        min_gap_hours=draw(st.integers(min_value=0, max_value=72)),
        exempt_from_gap=draw(st.booleans()),
    )


checked = settings(max_examples=300, deadline=None)


@checked
@given(cases())
def test_due_is_never_before_done(case: Case) -> None:
    assert case.due().at >= case.done_at


@checked
@given(cases())
def test_due_is_inside_the_window_on_a_business_day(case: Case) -> None:
    local = case.due().at.astimezone(ZoneInfo(case.tz))
    assert case.timing.window_start <= local.time() < case.timing.window_end
    assert case.calendar.is_business_day(local.date())


@checked
@given(cases())
def test_due_respects_the_min_gap_unless_exempt(case: Case) -> None:
    if case.exempt_from_gap or case.last_outbound_at is None:
        return
    assert case.due().at >= case.last_outbound_at + timedelta(hours=case.min_gap_hours)


@checked
@given(cases())
def test_due_is_deterministic(case: Case) -> None:
    assert case.due() == case.due()


@checked
@given(cases())
def test_due_is_utc(case: Case) -> None:
    due = case.due()
    assert due.at.tzinfo is UTC
    assert due.naive_at.tzinfo is UTC


@checked
@given(cases())
def test_business_days_only_never_lands_on_a_weekend_or_holiday(case: Case) -> None:
    if not case.calendar.business_days_only:
        return
    day = case.due().at.astimezone(ZoneInfo(case.tz)).date()
    assert day.weekday() < 5
    assert not case.calendar.is_holiday(day)


@checked
@given(cases())
def test_reasons_explain_every_move_and_only_moves(case: Case) -> None:
    due = case.due()
    assert set(due.reasons) <= {MOVE_WINDOW, MOVE_WEEKEND, MOVE_HOLIDAY, MOVE_MIN_GAP}
    assert len(set(due.reasons)) == len(due.reasons)
    assert (due.at == due.naive_at) == (not due.reasons)
    assert due.naive_at >= case.done_at


@checked
@given(cases())
def test_a_due_time_is_already_in_its_window(case: Case) -> None:
    due = case.due()
    assert into_window(due.at, case.timing, case.tz, case.calendar) == (due.at, ())
