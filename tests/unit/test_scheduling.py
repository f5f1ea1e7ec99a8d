"""Hand-computed cases for the scheduling rules (CONTRACT.md section 5). No database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cadences.scheduling import (
    MOVE_HOLIDAY,
    MOVE_MIN_GAP,
    MOVE_WEEKEND,
    MOVE_WINDOW,
    Calendar,
    DueTime,
    QueueCandidate,
    StepTiming,
    assemble_queue,
    earliest_after_gap,
    into_window,
    local_date,
    local_day_bounds,
    queue_reason,
    section_for_channel,
    step_due_at,
    validate_holiday_country,
    validate_timezone,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"
US_BUSINESS = Calendar(business_days_only=True, holiday_country="US")
EVERY_DAY = Calendar(business_days_only=False)
ALL_DAY = StepTiming(window_start=time(0, 0), window_end=time(23, 59))


def at(tz: str, *parts: int, fold: int = 0) -> datetime:
    """A local wall time in `tz`, as the UTC instant the database would hold."""
    return datetime(*parts, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- step_due_at ------------------------------------------------------------------------------

DUE_CASES = [
    pytest.param(
        NY,
        at(NY, 2027, 3, 5, 14, 30),
        StepTiming(wait_days=1),
        US_BUSINESS,
        at(NY, 2027, 3, 8, 14, 30),
        (),
        id="friday_afternoon_enrolment_one_business_day_is_monday_same_time",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 3, 5, 18, 0),
        StepTiming(),
        US_BUSINESS,
        at(NY, 2027, 3, 8, 9, 0),
        (MOVE_WINDOW,),
        id="friday_after_window_moves_to_monday_window_start",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 3, 5, 15, 0),
        StepTiming(wait_hours=3),
        US_BUSINESS,
        at(NY, 2027, 3, 8, 9, 0),
        (MOVE_WINDOW,),
        id="wait_hours_past_friday_window_end_is_a_window_move_not_a_weekend_move",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 3, 1, 15, 0),
        StepTiming(wait_hours=3),
        US_BUSINESS,
        at(NY, 2027, 3, 2, 9, 0),
        (MOVE_WINDOW,),
        id="wait_hours_past_window_end_moves_to_next_morning",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 3, 1, 6, 0),
        StepTiming(),
        US_BUSINESS,
        at(NY, 2027, 3, 1, 9, 0),
        (MOVE_WINDOW,),
        id="before_window_moves_to_same_day_window_start",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 3, 1, 17, 0),
        StepTiming(),
        US_BUSINESS,
        at(NY, 2027, 3, 2, 9, 0),
        (MOVE_WINDOW,),
        id="window_end_is_exclusive",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 9, 3, 10, 0),
        StepTiming(wait_days=1),
        US_BUSINESS,
        at(NY, 2027, 9, 7, 10, 0),
        (),
        id="labor_day_is_not_counted_as_a_business_day_wait",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 9, 3, 10, 0),
        StepTiming(wait_hours=72),
        US_BUSINESS,
        at(NY, 2027, 9, 7, 9, 0),
        (MOVE_HOLIDAY,),
        id="landing_on_labor_day_moves_to_tuesday_by_holiday",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 5, 31, 12, 0),
        StepTiming(),
        US_BUSINESS,
        at(NY, 2027, 6, 1, 9, 0),
        (MOVE_HOLIDAY,),
        id="enrolled_on_memorial_day_moves_to_tuesday_by_holiday",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 5, 29, 12, 0),
        StepTiming(),
        US_BUSINESS,
        at(NY, 2027, 6, 1, 9, 0),
        (MOVE_WEEKEND,),
        id="saturday_before_memorial_day_is_one_weekend_move_to_tuesday",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 5, 31, 12, 0),
        StepTiming(),
        Calendar(holiday_country=None),
        at(NY, 2027, 5, 31, 12, 0),
        (),
        id="memorial_day_is_a_business_day_without_a_holiday_country",
    ),
    pytest.param(
        NY,
        at(NY, 2027, 12, 30, 11, 0),
        StepTiming(wait_days=2),
        US_BUSINESS,
        # Thu 30 Dec + 2: Fri 31 Dec is New Year's Day (observed, 1 Jan 2028 is a
        # Saturday), then the weekend, so Mon 3 Jan is the 1st and Tue 4 Jan the 2nd.
        at(NY, 2028, 1, 4, 11, 0),
        (),
        id="wait_across_new_year_skips_observed_holiday_and_weekend",
    ),
    pytest.param(
        BERLIN,
        at(BERLIN, 2027, 3, 1, 8, 0),
        StepTiming(),
        Calendar(holiday_country="DE"),
        at(BERLIN, 2027, 3, 1, 9, 0),
        (MOVE_WINDOW,),
        id="berlin_lead_window_is_berlin_local",
    ),
    pytest.param(
        BERLIN,
        at(BERLIN, 2027, 3, 1, 17, 30),
        StepTiming(),
        Calendar(holiday_country="DE"),
        at(BERLIN, 2027, 3, 2, 9, 0),
        (MOVE_WINDOW,),
        id="berlin_lead_after_window_moves_to_next_berlin_morning",
    ),
    pytest.param(
        BERLIN,
        at(BERLIN, 2027, 3, 25, 12, 0),
        StepTiming(wait_days=1),
        Calendar(holiday_country="DE"),
        # Good Friday 26 Mar and Easter Monday 29 Mar 2027 are German public holidays.
        at(BERLIN, 2027, 3, 30, 12, 0),
        (),
        id="berlin_easter_holidays_are_skipped_by_the_wait",
    ),
]


@pytest.mark.parametrize(("tz", "done_at", "timing", "calendar", "expected", "reasons"), DUE_CASES)
def test_step_due_at(
    tz: str,
    done_at: datetime,
    timing: StepTiming,
    calendar: Calendar,
    expected: datetime,
    reasons: tuple[str, ...],
) -> None:
    due = step_due_at(done_at, timing, tz, calendar)
    assert (due.at, due.reasons) == (expected, reasons)
    assert due.at.tzinfo is UTC


def test_same_instant_is_read_in_the_lead_zone_not_the_owner_zone() -> None:
    done_at = utc(2027, 3, 1, 7, 0)  # 08:00 in Berlin, 02:00 in New York
    berlin = step_due_at(done_at, StepTiming(), BERLIN, Calendar())
    new_york = step_due_at(done_at, StepTiming(), NY, Calendar())
    assert berlin.at == utc(2027, 3, 1, 8, 0)  # 09:00 CET
    assert new_york.at == utc(2027, 3, 1, 14, 0)  # 09:00 EST


# --- DST: waits keep the wall-clock time, wait_hours are elapsed time --------------------------

DST_CASES = [
    # New York springs forward on Sun 14 Mar 2027 (a 23-hour day)...
    pytest.param(NY, at(NY, 2027, 3, 13, 10, 0), utc(2027, 3, 14, 14, 0), id="ny_spring"),
    # ...and falls back on Sun 7 Nov 2027 (a 25-hour day).
    pytest.param(NY, at(NY, 2027, 11, 6, 10, 0), utc(2027, 11, 7, 15, 0), id="ny_fall"),
    pytest.param(
        BERLIN, at(BERLIN, 2027, 3, 27, 10, 0), utc(2027, 3, 28, 8, 0), id="berlin_spring"
    ),
    pytest.param(
        BERLIN, at(BERLIN, 2027, 10, 30, 10, 0), utc(2027, 10, 31, 9, 0), id="berlin_fall"
    ),
]


@pytest.mark.parametrize(("tz", "done_at", "expected"), DST_CASES)
def test_day_wait_across_dst_sunday_keeps_wall_clock_time(
    tz: str, done_at: datetime, expected: datetime
) -> None:
    due = step_due_at(done_at, StepTiming(wait_days=1, **_all_day()), tz, EVERY_DAY)
    assert (due.at, due.reasons) == (expected, ())
    assert due.at.astimezone(ZoneInfo(tz)).time() == time(10, 0)


def _all_day() -> dict[str, time]:
    return {"window_start": ALL_DAY.window_start, "window_end": ALL_DAY.window_end}


@pytest.mark.parametrize(
    ("tz", "done_at", "wall"),
    [
        pytest.param(NY, at(NY, 2027, 3, 13, 10, 0), time(11, 0), id="ny_spring_23h_day"),
        pytest.param(NY, at(NY, 2027, 11, 6, 10, 0), time(9, 0), id="ny_fall_25h_day"),
        pytest.param(BERLIN, at(BERLIN, 2027, 3, 27, 10, 0), time(11, 0), id="berlin_spring"),
        pytest.param(BERLIN, at(BERLIN, 2027, 10, 30, 10, 0), time(9, 0), id="berlin_fall"),
    ],
)
def test_wait_hours_across_dst_are_elapsed_hours(tz: str, done_at: datetime, wall: time) -> None:
    due = step_due_at(done_at, StepTiming(wait_hours=24, **_all_day()), tz, EVERY_DAY)
    assert due.at == done_at + timedelta(hours=24)
    assert due.at.astimezone(ZoneInfo(tz)).time() == wall


def test_wall_time_skipped_by_spring_forward_resolves_past_the_jump() -> None:
    # 02:30 does not exist on 14 Mar 2027 in New York; zoneinfo reads it as 03:30 EDT.
    due = step_due_at(at(NY, 2027, 3, 13, 2, 30), StepTiming(wait_days=1), NY, EVERY_DAY)
    assert due.naive_at == at(NY, 2027, 3, 14, 3, 30)


def test_wall_time_repeated_by_fall_back_resolves_to_its_first_occurrence() -> None:
    due = step_due_at(
        at(NY, 2027, 11, 6, 1, 30), StepTiming(wait_days=1, **_all_day()), NY, EVERY_DAY
    )
    assert due.at == utc(2027, 11, 7, 5, 30)  # 01:30 EDT, not 01:30 EST an hour later


def test_done_in_the_repeated_hour_with_no_wait_is_due_at_once_not_an_hour_earlier() -> None:
    done_at = at(NY, 2027, 11, 7, 1, 30, fold=1)  # 01:30 EST, the second 01:30
    due = step_due_at(done_at, StepTiming(**_all_day()), NY, EVERY_DAY)
    assert (due.at, due.reasons) == (done_at, ())


# --- into_window at DST edges -----------------------------------------------------------------


def test_window_opening_skipped_by_spring_forward_opens_past_the_jump() -> None:
    timing = StepTiming(window_start=time(2, 30), window_end=time(4, 0))
    moved, reasons = into_window(at(NY, 2027, 3, 14, 1, 0), timing, NY, EVERY_DAY)
    assert (moved, reasons) == (at(NY, 2027, 3, 14, 3, 30), (MOVE_WINDOW,))


def test_window_swallowed_by_spring_forward_opens_the_next_day() -> None:
    timing = StepTiming(window_start=time(2, 15), window_end=time(2, 45))
    moved, reasons = into_window(at(NY, 2027, 3, 14, 1, 0), timing, NY, EVERY_DAY)
    assert (moved, reasons) == (at(NY, 2027, 3, 15, 2, 15), (MOVE_WINDOW,))


def test_window_opening_in_the_repeated_hour_never_moves_backwards() -> None:
    timing = StepTiming(window_start=time(1, 15), window_end=time(1, 45))
    candidate = at(NY, 2027, 11, 7, 1, 10, fold=1)  # 01:10 EST, after the first 01:15 EDT
    moved, reasons = into_window(candidate, timing, NY, EVERY_DAY)
    assert (moved, reasons) == (at(NY, 2027, 11, 7, 1, 15, fold=1), (MOVE_WINDOW,))


def test_window_start_is_local_wall_time_on_both_sides_of_dst() -> None:
    before = into_window(at(NY, 2027, 3, 12, 7, 0), StepTiming(), NY, US_BUSINESS)[0]
    after = into_window(at(NY, 2027, 3, 15, 7, 0), StepTiming(), NY, US_BUSINESS)[0]
    assert (before, after) == (utc(2027, 3, 12, 14, 0), utc(2027, 3, 15, 13, 0))


# --- min gap ----------------------------------------------------------------------------------


def test_min_gap_pushes_into_next_day_then_into_window() -> None:
    due = step_due_at(
        at(NY, 2027, 3, 1, 10, 0),
        StepTiming(),
        NY,
        US_BUSINESS,
        last_outbound_at=at(NY, 2027, 3, 1, 9, 0),
        min_gap_hours=20,
    )
    # The gap ends Tue 05:00, before the window: Tue 09:00.
    assert (due.at, due.reasons) == (at(NY, 2027, 3, 2, 9, 0), (MOVE_MIN_GAP, MOVE_WINDOW))


def test_min_gap_ending_inside_the_window_is_kept_to_the_minute() -> None:
    due = step_due_at(
        at(NY, 2027, 3, 1, 10, 0),
        StepTiming(),
        NY,
        US_BUSINESS,
        last_outbound_at=at(NY, 2027, 3, 1, 9, 45),
        min_gap_hours=24,
    )
    assert (due.at, due.reasons) == (at(NY, 2027, 3, 2, 9, 45), (MOVE_MIN_GAP,))


def test_min_gap_ending_on_saturday_moves_to_monday() -> None:
    due = step_due_at(
        at(NY, 2027, 3, 5, 10, 0),
        StepTiming(),
        NY,
        US_BUSINESS,
        last_outbound_at=at(NY, 2027, 3, 5, 9, 0),
        min_gap_hours=20,
    )
    assert (due.at, due.reasons) == (at(NY, 2027, 3, 8, 9, 0), (MOVE_MIN_GAP, MOVE_WEEKEND))


def test_reasons_have_no_duplicates_when_window_applies_twice() -> None:
    due = step_due_at(
        at(NY, 2027, 3, 1, 6, 0),
        StepTiming(),
        NY,
        US_BUSINESS,
        last_outbound_at=at(NY, 2027, 3, 1, 8, 0),
        min_gap_hours=20,
    )
    assert (due.at, due.reasons) == (at(NY, 2027, 3, 2, 9, 0), (MOVE_WINDOW, MOVE_MIN_GAP))
    assert due.naive_at == at(NY, 2027, 3, 1, 6, 0)


def test_exempt_from_gap_ignores_the_gap() -> None:
    due = step_due_at(
        at(NY, 2027, 3, 1, 10, 0),
        StepTiming(),
        NY,
        US_BUSINESS,
        last_outbound_at=at(NY, 2027, 3, 1, 9, 0),
        min_gap_hours=20,
        exempt_from_gap=True,
    )
    assert (due.at, due.reasons) == (at(NY, 2027, 3, 1, 10, 0), ())


def test_gap_already_over_changes_nothing() -> None:
    due = step_due_at(
        at(NY, 2027, 3, 3, 10, 0),
        StepTiming(),
        NY,
        US_BUSINESS,
        last_outbound_at=at(NY, 2027, 3, 1, 9, 0),
        min_gap_hours=20,
    )
    assert (due.at, due.reasons) == (at(NY, 2027, 3, 3, 10, 0), ())


def test_earliest_after_gap() -> None:
    assert earliest_after_gap(None, 20) is None
    last = datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo(NY))
    assert earliest_after_gap(last, 20) == utc(2027, 3, 2, 10, 0)
    assert earliest_after_gap(last, 20).tzinfo is UTC
    with pytest.raises(ValueError, match="min_gap_hours"):
        earliest_after_gap(last, -1)


# --- calendar ---------------------------------------------------------------------------------


def test_calendar_days() -> None:
    assert US_BUSINESS.holiday_name(date(2027, 12, 31)) == "New Year's Day (observed)"
    assert US_BUSINESS.is_holiday(date(2027, 9, 6))
    assert not Calendar().is_holiday(date(2027, 9, 6))
    assert not US_BUSINESS.is_business_day(date(2027, 3, 6))
    assert EVERY_DAY.is_business_day(date(2027, 3, 6))
    assert US_BUSINESS.next_business_day(date(2027, 9, 3)) == date(2027, 9, 7)
    assert US_BUSINESS.add_business_days(date(2027, 3, 6), 0) == date(2027, 3, 6)
    assert US_BUSINESS.add_business_days(date(2027, 3, 6), 1) == date(2027, 3, 8)
    assert EVERY_DAY.add_business_days(date(2027, 3, 5), 3) == date(2027, 3, 8)


def test_unknown_holiday_country_is_a_value_error() -> None:
    assert validate_holiday_country("GB") == "GB"
    with pytest.raises(ValueError, match="unknown holiday country 'XX'"):
        Calendar(holiday_country="XX").is_holiday(date(2027, 1, 1))


def test_step_timing_refuses_empty_or_overnight_windows() -> None:
    with pytest.raises(ValueError, match="before its end"):
        StepTiming(window_start=time(17, 0), window_end=time(9, 0))
    with pytest.raises(ValueError, match=">= 0"):
        StepTiming(wait_days=-1)


# --- time zones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "start", "hours"),
    [
        pytest.param(NY, date(2027, 3, 14), utc(2027, 3, 14, 5), 23, id="ny_spring"),
        pytest.param(NY, date(2027, 11, 7), utc(2027, 11, 7, 4), 25, id="ny_fall"),
        pytest.param(BERLIN, date(2027, 3, 28), utc(2027, 3, 27, 23), 23, id="berlin_spring"),
        pytest.param(BERLIN, date(2027, 10, 31), utc(2027, 10, 30, 22), 25, id="berlin_fall"),
        pytest.param(NY, date(2027, 3, 15), utc(2027, 3, 15, 4), 24, id="ny_ordinary"),
        pytest.param("Asia/Kolkata", date(2027, 1, 1), utc(2026, 12, 31, 18, 30), 24, id="kolkata"),
    ],
)
def test_local_day_bounds(tz: str, day: date, start: datetime, hours: int) -> None:
    assert local_day_bounds(day, tz) == (start, start + timedelta(hours=hours))


def test_local_date_reads_the_instant_in_the_zone() -> None:
    assert local_date(utc(2027, 3, 1, 3, 0), NY) == date(2027, 2, 28)
    assert local_date(utc(2027, 3, 1, 3, 0), BERLIN) == date(2027, 3, 1)


def test_validate_timezone() -> None:
    assert validate_timezone(BERLIN) == BERLIN
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ValueError) as refused:
            validate_timezone(bad)
        assert str(refused.value) == f"unknown time zone {bad!r}"
    with pytest.raises(ValueError, match="unknown time zone"):
        step_due_at(utc(2027, 3, 1), StepTiming(), "Europe/Nowhere", Calendar())


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        step_due_at(datetime(2027, 3, 1, 10, 0), StepTiming(), NY, Calendar())


# --- explanations -----------------------------------------------------------------------------


def test_explain_a_moved_time() -> None:
    due = step_due_at(at(NY, 2026, 2, 28, 14, 0), StepTiming(), NY, US_BUSINESS)
    expected = "Mon 2 Mar 09:00 (lead-local) — moved from Sat 28 Feb 14:00 by weekend"
    assert due.explain(NY) == expected


def test_explain_an_unmoved_time() -> None:
    due = step_due_at(at(NY, 2026, 3, 2, 14, 0), StepTiming(), NY, US_BUSINESS)
    assert due.explain(NY) == "Mon 2 Mar 14:00 (lead-local)"


def test_explain_lists_every_move_in_order() -> None:
    due = DueTime(
        at=at(NY, 2027, 3, 8, 9, 0),
        reasons=(MOVE_MIN_GAP, MOVE_WEEKEND),
        naive_at=at(NY, 2027, 3, 5, 10, 0),
    )
    expected = "Mon 8 Mar 09:00 (lead-local) — moved from Fri 5 Mar 10:00 by min_gap, weekend"
    assert due.explain(NY) == expected


# --- daily queue ------------------------------------------------------------------------------

DAY_START = utc(2027, 3, 2, 14, 0)


def task(
    task_id: int,
    channel: str = "call",
    *,
    kind: str = "step",
    step: int | None = 2,
    due_hour: int = 15,
    status: str = "pending",
) -> QueueCandidate:
    due_at = DAY_START + timedelta(hours=due_hour - 14)
    return QueueCandidate(task_id, channel, kind, step, due_at, status)


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        pytest.param(task(1, kind="hot", step=None), "hot", id="hot"),
        pytest.param(task(1, kind="callback", step=None, due_hour=9), "callback", id="callback"),
        pytest.param(task(1, step=1, due_hour=9), "new_lead", id="step_one_even_if_overdue"),
        pytest.param(task(1, due_hour=13), "overdue", id="due_before_the_day"),
        pytest.param(task(1, due_hour=14), "due", id="due_at_day_start"),
        pytest.param(task(1, step=None, due_hour=20), "due", id="outside_a_cadence"),
    ],
)
def test_queue_reason(candidate: QueueCandidate, reason: str) -> None:
    assert queue_reason(candidate, DAY_START) == reason


def test_section_for_channel() -> None:
    assert [section_for_channel(c) for c in ("call", "email", "mail", "sms", "social", "task")] == [
        "calls",
        "emails",
        "other",
        "other",
        "other",
        "other",
    ]


def ids(entries: tuple) -> list[int]:
    return [e.candidate.task_id for e in entries]


def test_assemble_queue_orders_by_reason_then_due_time_then_task_id() -> None:
    queue = assemble_queue(
        [
            task(1, due_hour=16),
            task(2, due_hour=15),
            task(3, due_hour=10),  # overdue
            task(4, step=1, due_hour=18),  # new lead
            task(5, kind="callback", step=None, due_hour=17),
            task(6, kind="hot", step=None, due_hour=19),
            task(7, due_hour=15),  # ties with 2 on due time: task id decides
            task(8, "email", due_hour=15),
            task(9, "mail", due_hour=16),
            task(10, "sms", due_hour=15),
        ],
        day_start=DAY_START,
        call_capacity=50,
        email_capacity=50,
    )
    assert ids(queue.calls) == [6, 5, 4, 3, 2, 7, 1]
    assert [e.reason for e in queue.calls] == [
        "hot",
        "callback",
        "new_lead",
        "overdue",
        "due",
        "due",
        "due",
    ]
    assert ids(queue.emails) == [8]
    assert ids(queue.other) == [10, 9]
    assert queue.rolled_over == {"call": 0, "email": 0}


def test_assemble_queue_caps_calls_and_emails_and_counts_the_rest() -> None:
    calls = [task(i, due_hour=15 + i) for i in range(1, 6)]
    emails = [task(i, "email") for i in range(11, 14)]
    other = [task(i, "task") for i in range(21, 25)]
    queue = assemble_queue(
        [*calls, *emails, *other], day_start=DAY_START, call_capacity=3, email_capacity=1
    )
    assert ids(queue.calls) == [1, 2, 3]
    assert ids(queue.emails) == [11]
    assert ids(queue.other) == [21, 22, 23, 24]  # no cap on other
    assert queue.rolled_over == {"call": 2, "email": 2}


def test_assemble_queue_keeps_finished_entries_and_fills_the_rest_with_pending() -> None:
    queue = assemble_queue(
        [
            task(1, due_hour=15),
            task(2, due_hour=16, status="done"),
            task(3, due_hour=17),
            task(4, due_hour=18, status="skipped"),
            task(5, due_hour=19),
        ],
        day_start=DAY_START,
        call_capacity=3,
        email_capacity=3,
    )
    # Two finished entries count toward the capacity of 3, so one pending call fits.
    assert ids(queue.calls) == [1, 2, 4]
    assert queue.rolled_over == {"call": 2, "email": 0}


def test_assemble_queue_never_drops_finished_entries_beyond_capacity() -> None:
    queue = assemble_queue(
        [task(1, status="done"), task(2, status="done"), task(3), task(4, "email", status="sent")],
        day_start=DAY_START,
        call_capacity=1,
        email_capacity=0,
    )
    assert ids(queue.calls) == [1, 2]
    assert ids(queue.emails) == [4]
    assert queue.rolled_over == {"call": 1, "email": 0}
