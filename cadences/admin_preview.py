"""The timeline preview and the value check of a cadence, for its admin page.

Given a cadence's steps (saved, or just edited and not yet saved) and a sample start,
it asks the engine's own scheduling rules when each step would fall due if every step
before it were done exactly on time, and says why each one moved. Nothing is written:
a manager can try an edit and see its effect before saving it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings

from cadences import scheduling
from cadences.copy import empty_phrases, step_value_warnings
from cadences.models import Step, StepVariant
from cadences.services import lead_timezone, step_timing
from leads.models import Lead

# Seeds: 2% of sales close on the 1st touch ... 81% after the 5th.
SEED_MIN_TOUCHES = 5
CHANNEL_ORDER = ("call", "email", "mail", "sms", "social", "task")
CHANNEL_NOUNS = {
    "call": ("call", "calls"),
    "email": ("email", "emails"),
    "mail": ("letter", "letters"),
    "sms": ("text message", "text messages"),
    "social": ("social touch", "social touches"),
    "task": ("task", "tasks"),
}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
START_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


@dataclass(frozen=True)
class SampleStart:
    """Where the preview starts: a moment, the zone it is read in, and maybe a real lead."""

    at: dt.datetime
    tz: str
    basis: str  # shown to the manager: "now", "chosen date", "lead Ann Lee"
    lead: Lead | None = None

    @property
    def last_outbound_at(self) -> dt.datetime | None:
        return self.lead.last_outbound_at if self.lead else None

    @property
    def local_text(self) -> str:
        local = self.at.astimezone(ZoneInfo(self.tz))
        return f"{date_text(local.date())} {local:%H:%M}"


@dataclass(frozen=True)
class TimelineRow:
    position: int
    channel: str
    mode: str
    label: str
    due_at: dt.datetime  # UTC
    local: dt.datetime  # in the sample's zone
    day_number: int  # the first touch's day is day 1
    moves: tuple[str, ...]

    @property
    def date_text(self) -> str:
        return date_text(self.local.date())

    @property
    def time_text(self) -> str:
        return f"{self.local:%H:%M}"


@dataclass(frozen=True)
class ValueFinding:
    position: int
    channel: str
    label: str
    message: str


@dataclass(frozen=True)
class Timeline:
    start: SampleStart
    rows: tuple[TimelineRow, ...]
    summary: str
    warnings: tuple[str, ...]
    problems: tuple[str, ...] = ()
    value_findings: tuple[ValueFinding, ...] = field(default=())


def date_text(day: dt.date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def step_label(step: Step) -> str:
    return step.title or step.subject or step.get_channel_display()


# --- the sample start -------------------------------------------------------------------


def sample_start(
    *, start: str = "", tz: str = "", lead: str = "", now: dt.datetime
) -> tuple[SampleStart, list[str]]:
    """Read the preview's start from what the manager typed; unusable input is named.

    A lead gives its basis time zone (and its last touch, for the min gap); a typed
    zone wins over it. A start without a date and time is now.
    """
    problems: list[str] = []
    chosen = _lead(lead, problems)
    zone = tz.strip() or (lead_timezone(chosen) if chosen else settings.TIME_ZONE)
    try:
        scheduling.validate_timezone(zone)
    except ValueError:
        problems.append(f"Time zone: '{zone}' is not an IANA time zone (e.g. America/New_York).")
        zone = settings.TIME_ZONE
    at = _start_moment(start, zone, problems) or now
    basis = f"lead {chosen}" if chosen else ("chosen date" if at != now else "now")
    return SampleStart(at=at, tz=zone, basis=basis, lead=chosen), problems


def _lead(text: str, problems: list[str]) -> Lead | None:
    text = text.strip()
    if not text:
        return None
    leads = Lead.objects.select_related("owner__rep_profile")
    found = (
        leads.filter(pk=int(text)).first()
        if text.isdigit()
        else leads.filter(email__iexact=text).first()
    )
    if found is None:
        problems.append(f"Lead: no lead with id or email '{text}'.")
    return found


def _start_moment(text: str, zone: str, problems: list[str]) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    for pattern in START_FORMATS:
        try:
            local = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        aware = local.replace(tzinfo=ZoneInfo(zone))
        return aware.astimezone(dt.UTC)
    problems.append(f"Start: '{text}' is not a date and time as YYYY-MM-DD HH:MM.")
    return None


# --- the timeline -----------------------------------------------------------------------


def cadence_timeline(
    steps: Sequence[Step],
    *,
    calendar: scheduling.Calendar,
    min_gap_hours: int,
    start: SampleStart,
    variants: Mapping[int, Sequence[StepVariant]] | None = None,
) -> Timeline:
    """Every live step's due time, each counted from the previous one done on time."""
    rows: list[TimelineRow] = []
    problems: list[str] = []
    done_at, last_touch = start.at, start.last_outbound_at
    first_day: dt.date | None = None
    for step in sorted(steps, key=lambda s: s.position):
        try:
            timing = step_timing(step)
        except ValueError as error:
            problems.append(f"Step {step.position}: {error}; left out of the preview.")
            continue
        due = scheduling.step_due_at(
            done_at,
            timing,
            start.tz,
            calendar,
            last_outbound_at=last_touch,
            min_gap_hours=min_gap_hours,
        )
        local = due.at.astimezone(ZoneInfo(start.tz))
        first_day = first_day or local.date()
        moves = _moves(due, step, done_at=done_at, tz=start.tz, calendar=calendar)
        rows.append(
            TimelineRow(
                position=step.position,
                channel=step.channel,
                mode=step.mode,
                label=step_label(step),
                due_at=due.at,
                local=local,
                day_number=(local.date() - first_day).days + 1,
                moves=moves,
            )
        )
        done_at = last_touch = due.at
    return Timeline(
        start=start,
        rows=tuple(rows),
        summary=timeline_summary(rows),
        warnings=tuple(timeline_warnings(rows)),
        problems=tuple(problems),
        value_findings=tuple(value_check(steps, variants=variants)),
    )


def _moves(
    due: scheduling.DueTime,
    step: Step,
    *,
    done_at: dt.datetime,
    tz: str,
    calendar: scheduling.Calendar,
) -> tuple[str, ...]:
    """Why the step is not at its plain waits, in words: the rule and the day it avoided."""
    naive_day = scheduling.local_date(due.naive_at, tz)
    due_day = scheduling.local_date(due.at, tz)
    moves: list[str] = []
    for reason in due.reasons:
        if reason == scheduling.MOVE_WEEKEND:
            moves.append(f"weekend: {date_text(naive_day)} is not a working day")
        elif reason == scheduling.MOVE_WINDOW:
            moves.append(f"window: into {step.window_start:%H:%M} to {step.window_end:%H:%M}")
        elif reason == scheduling.MOVE_MIN_GAP:
            moves.append("min gap after the previous touch")
        elif reason != scheduling.MOVE_HOLIDAY:
            moves.append(reason)
    for day, name in _holidays(calendar, naive_day, due_day):
        moves.append(f"holiday: {name} ({date_text(day)})")
    counted_past = _holidays(calendar, scheduling.local_date(done_at, tz), naive_day)
    if step.wait_days and calendar.business_days_only:
        for day, name in counted_past:
            if day != scheduling.local_date(done_at, tz):
                moves.append(f"wait counted past {name} ({date_text(day)})")
    return tuple(moves)


def _holidays(
    calendar: scheduling.Calendar, first: dt.date, until: dt.date
) -> list[tuple[dt.date, str]]:
    """The public holidays from `first` up to, not including, `until`."""
    found = []
    day = first
    while day < until:
        name = calendar.holiday_name(day)
        if name:
            found.append((day, name))
        day += dt.timedelta(days=1)
    return found


def timeline_summary(rows: Sequence[TimelineRow]) -> str:
    """E.g. "8 touches over 31 days: 3 calls, 4 emails, 1 letter"."""
    if not rows:
        return "No live steps: an enrolment would do nothing."
    counts = {channel: 0 for channel in CHANNEL_ORDER}
    for row in rows:
        counts[row.channel] = counts.get(row.channel, 0) + 1
    parts = [_count(n, channel) for channel, n in counts.items() if n]
    span = rows[-1].day_number
    touches = _plural(len(rows), "touch", "touches")
    return f"{touches} over {_plural(span, 'day', 'days')}: {', '.join(parts)}"


def _count(n: int, channel: str) -> str:
    one, many = CHANNEL_NOUNS.get(channel, (channel, channel))
    return _plural(n, one, many)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def timeline_warnings(rows: Sequence[TimelineRow]) -> list[str]:
    warnings = []
    if rows and len(rows) < SEED_MIN_TOUCHES:
        warnings.append(
            f"Only {_plural(len(rows), 'touch', 'touches')}: most sales close after the "
            f"fifth touch (81% in the seeds' figures), so plan at least {SEED_MIN_TOUCHES}."
        )
    by_day: dict[dt.date, list[int]] = {}
    for row in rows:
        by_day.setdefault(row.local.date(), []).append(row.position)
    for day, positions in by_day.items():
        if len(positions) > 1:
            listed = ", ".join(str(p) for p in positions[:-1]) + f" and {positions[-1]}"
            warnings.append(
                f"Steps {listed} fall on the same day ({date_text(day)}): "
                "two touches in one day crowd the lead; space them out."
            )
    return warnings


# --- value check ---------------------------------------------------------------------------


def value_check(
    steps: Sequence[Step], *, variants: Mapping[int, Sequence[StepVariant]] | None = None
) -> list[ValueFinding]:
    """Each step's empty phrases and steps that carry nothing new; warnings, never errors.

    An A/B variant is copy a lead receives too, so its phrases are checked as well.
    """
    findings = []
    for step in sorted(steps, key=lambda s: s.position):
        label = step_label(step)
        for warning in step_value_warnings(step):
            findings.append(ValueFinding(step.position, step.channel, label, warning.message))
        for variant in (variants or {}).get(step.pk, ()) if step.pk else ():
            for phrase in empty_phrases(f"{variant.subject} {variant.body}"):
                findings.append(
                    ValueFinding(
                        step.position,
                        step.channel,
                        f"{label}, variant {variant.label}",
                        f'says "{phrase}": say what is new instead',
                    )
                )
    return findings
