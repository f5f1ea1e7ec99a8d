"""Each lead's history, written as rows: the heart of the generated dataset.

One pass over the leads, one seeded random stream, so the rows are identical on every
run. Each lead gets a category (won, lost, in a cadence at some step, …) from its id,
so the shares are exact; its enrolments are laid out backwards from an anchor (the due
time of the pending step, or the day the enrolment ended), which puts most pending
steps in the future, about 50 per rep due today, and every past step before ``NOW``.

Every active enrolment gets exactly one pending step task, like the engine's; lead
counters (touch_count, first/last touched, last_outbound_at) are computed from the
touches written for that lead.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bench import catalog

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# Nothing in the history happens in the last minutes before NOW, so a tick at NOW
# finds no task created or finished since the previous tick: the idle case.
QUIET = 10 * MINUTE

# Shares out of 100 leads, exact per block of 100 ids. Active enrolments: 8 leads x 2
# + 84 x 1 = 100, so the count of active enrolments equals the count of leads.
CATEGORIES = (
    ["won"] * 2
    + ["lost"] * 2
    + ["meeting"]
    + ["paused"]
    + ["stopped"] * 2
    + ["two_active"] * 8
    + ["one_active"] * 84
)
TODAY_SHARE = 0.085  # of pending manual steps: about 50 per rep with 1,000 leads each
OVERDUE_SHARE = 0.01
HOT_SHARE = 0.003
CALLBACK_SHARE = 0.01
NO_PHONE_SHARE = 0.03
SKIP_SHARE = 0.02
DONE_TODAY_SHARE = 0.15  # of steps that would fall done earlier today: a queue in progress
OPEN_SHARE = 0.25
CLICK_SHARE = 0.04

Row = tuple
Emit = Callable[[Row], None]


@dataclass(frozen=True)
class RepInfo:
    id: int
    first_name: str
    last_name: str
    email: str
    tz: str
    zone: ZoneInfo
    day: dt.date  # the rep-local date at NOW
    day_start: dt.datetime  # UTC bounds of that date
    day_end: dt.datetime


@dataclass(frozen=True)
class StepInfo:
    id: int
    position: int
    channel: str
    mode: str
    wait_days: int
    wait_hours: int
    window_start: dt.time
    window_end: dt.time
    title: str
    subject: str
    variant_ids: tuple[int, ...]
    auto: bool = False  # an automated email, sent by the worker
    wait_seconds: float = 0.0  # wait_days (as calendar time) plus wait_hours


@dataclass(frozen=True)
class CadenceInfo:
    id: int
    name: str
    steps: tuple[StepInfo, ...]


@dataclass(frozen=True)
class World:
    """What the story needs from the database: made before the pass, by the ORM."""

    now: dt.datetime
    seed: int
    leads: int
    touches: int
    reps: tuple[RepInfo, ...]
    cadences: dict[str, CadenceInfo]  # "inbound", "outbound", "nurture"
    tag_ids: tuple[int, ...]
    assets_by_stage: dict[str, tuple[int, ...]]


@dataclass
class Emitters:
    """One callable per table; each takes a row in the column order of ``COLUMNS``."""

    account: Emit
    lead: Emit
    lead_tag: Emit
    enrolment: Emit
    task: Emit
    touch: Emit
    event: Emit
    outbox: Emit
    signal: Emit


COLUMNS = {
    "account": ("id", "name", "domain", "created_at"),
    "lead": (
        "id", "first_name", "last_name", "email", "phone", "title", "source", "status",
        "stage", "timezone", "address_line1", "address_line2", "city", "region",
        "postal_code", "country", "do_not_email", "do_not_call", "unsubscribed_at",
        "bounced_at", "created_at", "updated_at", "status_changed_at", "won_at",
        "first_touched_at", "last_touched_at", "last_outbound_at", "touch_count", "notes",
        "account_id", "owner_id",
    ),
    "lead_tag": ("id", "lead_id", "tag_id"),
    "enrolment": (
        "id", "status", "exit_reason", "position", "variant_seed", "started_at",
        "paused_at", "ended_at", "cadence_id", "lead_id", "owner_id",
    ),
    "task": (
        "id", "kind", "channel", "mode", "title", "due_at", "due_reasons", "unmoved_due_at",
        "hot_date", "status", "status_reason", "completed_at", "created_at", "enrolment_id",
        "lead_id", "rep_id", "step_id", "touch_id", "variant_id",
    ),
    "touch": (
        "id", "channel", "direction", "outcome", "occurred_at", "notes", "automated",
        "callback_at", "subject", "source", "created_at", "asset_id", "enrolment_id",
        "lead_id", "rep_id", "step_id", "task_id",
    ),
    "event": ("id", "occurred_at", "kind", "step_position", "message", "enrolment_id"),
    "outbox": (
        "id", "to_email", "from_email", "subject", "body_text", "message_id", "status",
        "attempts", "next_attempt_at", "lease_until", "last_error", "created_at", "sent_at",
        "lead_id", "touch_id", "task_id", "recorded",
    ),
    "signal": ("id", "lead_email", "kind", "occurred_at", "data", "created_at", "lead_id"),
}  # fmt: skip


@dataclass
class Plan:
    """One enrolment of the lead: how it stands at NOW."""

    kind: str  # active | completed | exited | paused
    cadence: CadenceInfo
    position: int  # steps done before the pending (or cancelled) one
    end: dt.datetime | None = None  # completed, exited or paused at
    reason: str = ""
    due: dt.datetime | None = None  # the pending step's due time (active)


@dataclass
class LeadState:
    """What is known about the lead while its rows are being written."""

    id: int
    rep: RepInfo
    email: str
    first_name: str
    zone: ZoneInfo
    phone: bool
    stage: str
    touches: list[Row] = field(default_factory=list)


def _weighted(pairs: tuple[tuple[str, int], ...]) -> list[str]:
    return [name for name, weight in pairs for _ in range(weight)]


SOURCE_POOL = _weighted(catalog.SOURCES)
CALL_OUTCOME_POOL = _weighted(catalog.CALL_OUTCOMES)
ACCOUNT_SIZES = [1] * 20 + [2] * 20 + [3] * 25 + [4] * 20 + [5] * 10 + [6] * 5
STAGES = ["awareness"] * 5 + ["consideration"] * 3 + ["decision"] * 2


class Story:
    """Writes every lead's rows through ``emit``; ``counts`` says how many of each."""

    def __init__(self, world: World, emit: Emitters) -> None:
        self.world = world
        self.emit = emit
        self.rng = random.Random(world.seed)
        self.now = world.now
        self.quiet_now = world.now - QUIET
        self.ids = {name: itertools.count(1) for name in COLUMNS}
        self.touches_made = 0
        self.account_id: int | None = None
        self.account_left = 0
        self.account_domain = ""
        self.account_rep: RepInfo | None = None
        self._handoff_time = world.now

    # --- ids and rows ----------------------------------------------------------------

    def _id(self, table: str) -> int:
        return next(self.ids[table])

    def _touch_id(self) -> int:
        self.touches_made += 1
        return next(self.ids["touch"])

    def run(self) -> None:
        for lead_id in range(1, self.world.leads + 1):
            self.lead(lead_id)
        self._unknown_signals()

    # --- accounts: buying committees of 1 to 6 people, one owner --------------------

    def _slot(self, lead_id: int) -> tuple[int | None, RepInfo, str]:
        rng, reps = self.rng, self.world.reps
        if self.account_left == 0:
            if rng.random() < 0.1:
                return None, reps[lead_id % len(reps)], f"mail{lead_id % 97}.example"
            self._new_account()
        self.account_left -= 1
        return self.account_id, self.account_rep, self.account_domain

    def _new_account(self) -> None:
        rng = self.rng
        account_id = self._id("account")
        words = catalog.COMPANY_WORDS
        name = f"{_pick(rng, words)} {_pick(rng, catalog.COMPANY_KINDS)} {account_id}"
        self.account_domain = f"c{account_id}.example"
        created = self.now - dt.timedelta(days=rng.uniform(30, 900))
        self.emit.account((account_id, name, self.account_domain, created))
        self.account_id = account_id
        self.account_left = _pick(rng, ACCOUNT_SIZES)
        reps = self.world.reps
        self.account_rep = reps[(account_id * 7) % len(reps)]

    # --- one lead ----------------------------------------------------------------

    def lead(self, lead_id: int) -> None:
        rng = self.rng
        account_id, rep, domain = self._slot(lead_id)
        first, last = _pick(rng, catalog.FIRST_NAMES), _pick(rng, catalog.LAST_NAMES)
        email = f"{first}.{last}.{lead_id}@{domain}".lower()
        tz = "" if rng.random() < 0.5 else rep.tz
        state = LeadState(
            id=lead_id,
            rep=rep,
            email=email,
            first_name=first,
            zone=ZoneInfo(tz) if tz else rep.zone,
            phone=rng.random() >= NO_PHONE_SHARE,
            stage=_pick(rng, STAGES),
        )
        source = _pick(rng, SOURCE_POOL)
        category = CATEGORIES[(lead_id * 7919) % 100]
        plans = self._plans(category, source, state)
        # Latest first: a completed cadence ends when the one it handed over to began.
        started = min([self._write_plan(plan, state) for plan in reversed(plans)])
        # Inbound leads are called within minutes to hours (speed to lead); bought lists
        # and trade-show contacts wait weeks to months before a cadence reaches them.
        if source in catalog.INBOUND_SOURCES:
            lag = rng.uniform(1, 120) * MINUTE
        else:
            lag = min(rng.expovariate(1 / 120), 700) * DAY
        created = started - lag
        self._extras(state, created, category)
        status, won_at, status_at = self._status(category, plans, state, created)
        self._write_lead(state, first, last, tz, source, account_id, created, status, won_at,
                         status_at)  # fmt: skip
        self._tags(lead_id)

    def _plans(self, category: str, source: str, state: LeadState) -> list[Plan]:
        rng, cadences = self.rng, self.world.cadences
        first = cadences["inbound" if source in catalog.INBOUND_SOURCES else "outbound"]
        nurture = cadences["nurture"]
        if category == "one_active":
            if rng.random() < 0.25:
                return self._nurtured(first, state)
            return [self._active(first, state)]
        if category == "two_active":
            return [*self._nurtured(first, state), self._active(cadences["inbound"], state)]
        if category == "stopped":
            end = self.now - rng.uniform(15, 200) * DAY
            return [Plan("completed", first, 0), Plan("completed", nurture, 0, end=end)]
        if category == "paused":
            end = self.quiet_now - rng.uniform(0, 20) * DAY
            return [Plan("paused", first, self._position(first, state), end=end,
                         reason="a colleague at the same account replied")]  # fmt: skip
        reason = {"won": "meeting_booked", "meeting": "meeting_booked", "lost": "lost"}[category]
        end = self.quiet_now - rng.uniform(0.5, 200) * DAY
        position = max(1, self._position(first, state))
        return [Plan("exited", first, position, end=end, reason=reason)]

    def _nurtured(self, first: CadenceInfo, state: LeadState) -> list[Plan]:
        """A lead that finished its first cadence and was handed to nurture."""
        return [Plan("completed", first, 0), self._active(self.world.cadences["nurture"], state)]

    def _position(self, cadence: CadenceInfo, state: LeadState) -> int:
        """Steps done so far: any step, except a call for a lead without a phone (the
        engine skips those, so such a lead never waits on one)."""
        allowed = [
            i for i, step in enumerate(cadence.steps) if state.phone or step.channel != "call"
        ]
        return _pick(self.rng, allowed)

    def _active(self, cadence: CadenceInfo, state: LeadState) -> Plan:
        position = self._position(cadence, state)
        step = cadence.steps[position]
        due = self._auto_due(step, state) if step.auto else self._manual_due(step, state)
        return Plan("active", cadence, position, due=due)

    # --- when the pending step is due --------------------------------------------

    def _manual_due(self, step: StepInfo, state: LeadState) -> dt.datetime:
        rng, rep = self.rng, state.rep
        bucket = rng.random()
        if bucket < TODAY_SHARE:
            return _local(rep.day, rng.uniform(8 * 60, 17 * 60), rep.zone)
        if bucket < TODAY_SHARE + OVERDUE_SHARE:
            return _local(rep.day - rng.randint(1, 3) * DAY, rng.uniform(600, 960), rep.zone)
        ahead = rng.randint(1, max(2, round(step.wait_days * 1.4) + 2))
        return _local(_business(rep.day + ahead * DAY), rng.uniform(540, 1020), rep.zone)

    def _auto_due(self, step: StepInfo, state: LeadState) -> dt.datetime:
        """Auto emails are all due after NOW, in their window: a tick at NOW sends none."""
        rng = self.rng
        start = step.window_start.hour * 60 + step.window_start.minute
        end = step.window_end.hour * 60 + step.window_end.minute
        today = self.now.astimezone(state.zone).date()
        ahead = rng.randint(0, max(1, step.wait_days))
        while True:
            due = _local(_business(today + ahead * DAY), rng.uniform(start, end), state.zone)
            if due > self.now + HOUR:
                return due
            ahead += 1

    # --- laying an enrolment out in time --------------------------------------------

    def _wait(self, step: StepInfo) -> dt.timedelta:
        # Business days as calendar time (x1.4 for weekends), then up to 3 h into a window.
        return dt.timedelta(seconds=step.wait_seconds + self.rng.random() * 10_800)

    def _lateness(self, step: StepInfo) -> dt.timedelta:
        if step.auto:
            return dt.timedelta(seconds=self.rng.random() * 300)
        return dt.timedelta(seconds=min(self.rng.expovariate(1 / 10_800), 172_800))

    def _times(
        self, plan: Plan, rep: RepInfo
    ) -> tuple[dt.datetime, list[tuple[dt.datetime, dt.datetime]]]:
        """(started_at, [(due, done) of each step done]) for the plan."""
        steps = plan.cadence.steps
        done_count = len(steps) if plan.kind == "completed" else plan.position
        if plan.kind == "active":
            counted = min(plan.due - self._wait(steps[plan.position]), self.quiet_now)
            if counted >= self.quiet_now:
                counted = self.quiet_now - self.rng.uniform(0, 4) * HOUR
            if counted >= rep.day_start and self.rng.random() >= DONE_TODAY_SHARE:
                # Most of the work before a pending step was done before today began.
                counted = rep.day_start - self.rng.uniform(0.5, 14) * HOUR
        elif plan.kind == "completed":
            counted = plan.end
        else:
            counted = plan.end - self.rng.uniform(0, 1) * self._wait(steps[plan.position])
        history: list[tuple[dt.datetime, dt.datetime]] = []
        for step in reversed(steps[:done_count]):
            due = counted - self._lateness(step)
            history.append((due, counted))
            counted = due - self._wait(step)
        history.reverse()
        return counted, history

    def _write_plan(self, plan: Plan, state: LeadState) -> dt.datetime:
        """Write one enrolment with its tasks, touches, events and emails; return its start."""
        if plan.kind == "completed" and plan.end is None:
            plan.end = self._handoff_time
        started, history = self._times(plan, state.rep)
        self._handoff_time = started  # the previous (completed) plan ended when this began
        enrolment_id = self._id("enrolment")
        status = {"active": "active", "completed": "completed", "exited": "exited",
                  "paused": "paused"}[plan.kind]  # fmt: skip
        ended = plan.end if plan.kind in ("completed", "exited") else None
        paused = plan.end if plan.kind == "paused" else None
        seed = self.rng.randrange(1_000_000)
        self.emit.enrolment((enrolment_id, status, plan.reason if plan.kind == "exited" else "",
                             len(history), seed, started, paused, ended, plan.cadence.id,
                             state.id, state.rep.id))  # fmt: skip
        self._event(enrolment_id, started, "enrolled", None, f"Enrolled in {plan.cadence.name}")
        counted = started
        for step, (due, done) in zip(plan.cadence.steps, history, strict=False):
            self._done_step(state, enrolment_id, seed, step, counted, due, done)
            counted = done
        if plan.kind != "completed":
            self._open_step(state, plan, enrolment_id, seed, counted)
        self._closing_events(plan, enrolment_id)
        return started

    def _closing_events(self, plan: Plan, enrolment_id: int) -> None:
        if plan.kind == "completed":
            self._event(enrolment_id, plan.end, "completed", None, f"Completed {plan.cadence.name}")
        elif plan.kind == "exited":
            self._event(enrolment_id, plan.end, "exited", None, f"Exited on {plan.reason}")
        elif plan.kind == "paused":
            self._event(enrolment_id, plan.end, "paused", None, f"Paused: {plan.reason}")

    def _variant(self, seed: int, step: StepInfo) -> int | None:
        if not step.variant_ids or step.channel != "email":
            return None
        choice = (seed + step.position) % (len(step.variant_ids) + 1)
        return None if choice == 0 else step.variant_ids[choice - 1]

    def _done_step(
        self,
        state: LeadState,
        enrolment_id: int,
        seed: int,
        step: StepInfo,
        counted: dt.datetime,
        due: dt.datetime,
        done: dt.datetime,
    ) -> None:
        rng = self.rng
        task_id = self._id("task")
        skip = ""
        if step.channel == "call" and not state.phone:
            skip = "no phone number"
        elif not step.auto and rng.random() < SKIP_SHARE:
            skip = "skipped by the rep: not the right contact this week"
        status = "skipped" if skip else ("sent" if step.auto else "done")
        touch_id = None if skip else self._step_touch(state, enrolment_id, step, task_id, done)
        variant = self._variant(seed, step)
        self.emit.task((task_id, "step", step.channel, step.mode, step.title, due, '["window"]',
                        due, None, status, skip, done, counted, enrolment_id, state.id,
                        state.rep.id, step.id, touch_id, variant))  # fmt: skip
        self._scheduled_event(enrolment_id, step, counted, due)
        detail = f": {skip}" if skip else ""
        where = f"Step {step.position} ({step.channel})"
        self._event(enrolment_id, done, status, step.position, f"{where} {status}{detail}")
        if step.auto and not skip:
            self._sent_email(state, step, task_id, touch_id, due, done)

    def _step_touch(
        self, state: LeadState, enrolment_id: int, step: StepInfo, task_id: int, at: dt.datetime
    ) -> int:
        rng = self.rng
        touch_id = self._touch_id()
        outcome, notes, subject, asset = "sent", "", "", None
        if step.channel == "call":
            outcome = _pick(rng, CALL_OUTCOME_POOL)
            notes = _pick(rng, catalog.CALL_NOTES)
        elif step.channel == "email":
            subject = step.subject or step.title
            stage_assets = self.world.assets_by_stage[state.stage]
            asset = stage_assets[(task_id + state.id) % len(stage_assets)]
        source = "cadence" if step.auto else "ui"
        state.touches.append((touch_id, step.channel, "outbound", outcome, at, notes, step.auto,
                              None, subject, source, at, asset, enrolment_id, state.id,
                              state.rep.id, step.id, task_id))  # fmt: skip
        return touch_id

    def _sent_email(
        self,
        state: LeadState,
        step: StepInfo,
        task_id: int,
        touch_id: int,
        due: dt.datetime,
        sent: dt.datetime,
    ) -> None:
        rng, rep = self.rng, state.rep
        outbox_id = self._id("outbox")
        subject = step.subject.replace("{{ lead.first_name }}", state.first_name) or step.title
        body = (
            f"Hi {state.first_name},\n\n{step.title}. Here is something useful whether or not "
            f"we ever talk: https://example.com/a/{task_id % 97}\n\n{rep.first_name}\n\n--\n"
            f"Not interested? Unsubscribe in one click: https://followup.example/u/{state.id}/"
        )
        sender = f"{rep.first_name} {rep.last_name} <{rep.email}>"
        self.emit.outbox((outbox_id, state.email, sender, subject[:300], body,
                          f"<bench.{outbox_id}@followup.localhost>", "sent", 1, due, None, "",
                          due, sent, state.id, touch_id, task_id, True))  # fmt: skip
        if rng.random() < OPEN_SHARE:
            self._signal(state, "email_opened", sent + rng.uniform(0.2, 30) * HOUR)
        if rng.random() < CLICK_SHARE:
            self._signal(state, "link_clicked", sent + rng.uniform(0.5, 40) * HOUR)

    def _open_step(
        self, state: LeadState, plan: Plan, enrolment_id: int, seed: int, counted: dt.datetime
    ) -> None:
        """The enrolment's one pending step (active), or the step it stopped at, cancelled."""
        step = plan.cadence.steps[plan.position]
        task_id = self._id("task")
        if plan.kind == "active":
            due, status, reason, closed = plan.due, "pending", "", None
        else:
            due = counted + self._wait(step)
            why = "exited" if plan.kind == "exited" else "paused"
            status, reason, closed = "cancelled", f"{why}: {plan.reason}", plan.end
        self.emit.task((task_id, "step", step.channel, step.mode, step.title, due, '["window"]',
                        due, None, status, reason, closed, counted, enrolment_id, state.id,
                        state.rep.id, step.id, None, self._variant(seed, step)))  # fmt: skip
        self._scheduled_event(enrolment_id, step, counted, due)

    def _scheduled_event(
        self, enrolment_id: int, step: StepInfo, at: dt.datetime, due: dt.datetime
    ) -> None:
        # The engine's message also names the due time; formatting 10M of them is slow.
        message = f"Step {step.position} ({step.channel}) scheduled"
        self._event(enrolment_id, at, "scheduled", step.position, message)

    def _event(
        self, enrolment_id: int, at: dt.datetime, kind: str, position: int | None, message: str
    ) -> None:
        self.emit.event((self._id("event"), at, kind, position, message, enrolment_id))

    def _signal(self, state: LeadState | None, kind: str, at: dt.datetime, **data: str) -> None:
        at = min(at, self.quiet_now)
        lead_id = state.id if state else None
        email = state.email if state else data.pop("email")
        self.emit.signal((self._id("signal"), email, kind, at, json.dumps(data), at, lead_id))

    # --- touches outside the cadences, hot leads and callbacks -------------------------

    def _extra_count(self, state: LeadState) -> int:
        """Touches logged outside the cadences: as many as keep the total on target."""
        left_leads = self.world.leads - state.id + 1
        left_touches = self.world.touches - self.touches_made
        wanted = max(0, left_touches / left_leads - len(state.touches))
        return self.rng.randint(0, round(2 * wanted))

    def _extras(self, state: LeadState, created: dt.datetime, category: str) -> None:
        rng = self.rng
        last = max([row[4] for row in state.touches], default=self.quiet_now)
        span = max((last - created).total_seconds(), 60.0)
        for _ in range(self._extra_count(state)):
            at = created + dt.timedelta(seconds=rng.uniform(0, span))
            if rng.random() < 0.6:
                self._touch(state, "call", _pick(rng, CALL_OUTCOME_POOL), at, source="api")
            else:
                self._touch(state, "email", "sent", at, subject="Following up with a resource")
        if category in ("one_active", "two_active"):
            self._hot_or_callback(state)

    def _touch(
        self,
        state: LeadState,
        channel: str,
        outcome: str,
        at: dt.datetime,
        *,
        source: str = "ui",
        subject: str = "",
        callback_at: dt.datetime | None = None,
    ) -> int:
        touch_id = self._touch_id()
        direction = "inbound" if outcome == "replied" else "outbound"
        state.touches.append((touch_id, channel, direction, outcome, at, "", False, callback_at,
                              subject, source, at, None, None, state.id, state.rep.id, None,
                              None))  # fmt: skip
        return touch_id

    def _hot_or_callback(self, state: LeadState) -> None:
        rng, rep = self.rng, state.rep
        chance = rng.random()
        if chance < HOT_SHARE and self.quiet_now > rep.day_start:
            at = rep.day_start + rng.uniform(0, 1) * (self.quiet_now - rep.day_start)
            self._signal(state, "pricing_page_visit", at, url="/pricing")
            self._manual_task(state, "hot", "pricing page visit", due=at, created=at, day=rep.day)
        elif chance < HOT_SHARE + CALLBACK_SHARE:
            at = self.quiet_now - rng.uniform(0, 72) * HOUR
            promised = at + rng.uniform(1, 120) * HOUR
            self._touch(state, "call", "voicemail", at, callback_at=promised)
            self._manual_task(state, "callback", "Call back as promised", due=promised, created=at)

    def _manual_task(
        self,
        state: LeadState,
        kind: str,
        title: str,
        *,
        due: dt.datetime,
        created: dt.datetime,
        day: dt.date | None = None,
    ) -> None:
        self.emit.task((self._id("task"), kind, "call", "manual", title, due, "[]", due, day,
                        "pending", "", None, created, None, state.id, state.rep.id, None, None,
                        None))  # fmt: skip

    # --- the lead row ----------------------------------------------------------------

    def _status(
        self, category: str, plans: list[Plan], state: LeadState, created: dt.datetime
    ) -> tuple[str, dt.datetime | None, dt.datetime | None]:
        rng = self.rng
        end = plans[-1].end
        if category in ("won", "meeting", "lost"):
            outcome = "connected" if category == "lost" else "meeting_booked"
            self._touch(state, "call", outcome, end - rng.uniform(0.5, 3) * HOUR)
            if category != "lost" and rng.random() < 0.5:
                replied = end - rng.uniform(4, 48) * HOUR
                self._touch(state, "email", "replied", replied)
                self._signal(state, "replied", replied)
        if category == "won":
            won = min(end + rng.uniform(3, 40) * DAY, self.quiet_now - rng.uniform(0, 2) * DAY)
            return "won", won, won
        if category in ("meeting", "lost"):
            return category, None, end
        if category == "stopped" or plans[0].kind == "completed":
            return "unresponsive", None, plans[0].end
        return (
            ("working" if state.touches else "new"),
            None,
            (min(row[4] for row in state.touches) if state.touches else created),
        )

    def _write_lead(
        self,
        state: LeadState,
        first: str,
        last: str,
        tz: str,
        source: str,
        account_id: int | None,
        created: dt.datetime,
        status: str,
        won_at: dt.datetime | None,
        status_at: dt.datetime | None,
    ) -> None:
        touches = state.touches
        outbound = [row[4] for row in touches if row[2] == "outbound"]
        any_at = [row[4] for row in touches]
        rng = self.rng
        street, city, postal, country = (
            (f"{state.id % 900 + 1} Market Street", "Springfield", f"{state.id % 90000 + 10000}",
             "US") if rng.random() < 0.5 else ("", "", "", "")
        )  # fmt: skip
        self.emit.lead((
            state.id, first, last, state.email,
            f"+1 555 {state.id:07d}" if state.phone else "",
            _pick(rng, catalog.TITLES), source, status, state.stage, tz,
            street, "", city, "", postal, country,
            False, False, None, None, created, max(any_at, default=created), status_at, won_at,
            min(outbound, default=None), max(any_at, default=None), max(outbound, default=None),
            len(outbound), "", account_id, state.rep.id,
        ))  # fmt: skip
        for row in touches:
            self.emit.touch(row)

    def _tags(self, lead_id: int) -> None:
        rng, tag_ids = self.rng, self.world.tag_ids
        for tag_id in rng.sample(tag_ids, _pick(rng, (0, 1, 1, 2, 2, 3))):
            self.emit.lead_tag((self._id("lead_tag"), lead_id, tag_id))

    def _unknown_signals(self) -> None:
        """Signals for people who are not leads (yet): kept, never an error."""
        rng = self.rng
        for n in range(max(1, self.world.leads // 500)):
            at = self.quiet_now - rng.uniform(0, 90) * DAY
            self._signal(None, "form_submitted", at, email=f"visitor{n}@unknown.example")


def _pick(rng: random.Random, options: list | tuple):
    """``rng.choice``, a little faster: it runs a few million times."""
    return options[int(rng.random() * len(options))]


def _local(day: dt.date, minutes: float, zone: ZoneInfo) -> dt.datetime:
    """UTC instant of ``minutes`` after local midnight on ``day``."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    return (midnight + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)


def _business(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += DAY
    return day
