"""The load run's people and work: N reps, each with a queue of due calls.

Every lead is also in a one-step cadence whose automated email falls due at some
moment of the run, so the tick sends and records emails (each a Touch, each a write to
the lead) for the very leads the reps are logging calls for, at the same time.

Built in bulk (a few ``bulk_create`` calls, whatever N is) in the state that
``cadences.services.enrolment_start`` leaves: an active enrolment at position 0 and
the pending task of its first step. Due times are set directly, a few minutes to a
few hours ago, so every call is in today's queue whatever the hour of the run;
through ``enrolment_start`` a run started at night would find them all due tomorrow
at 9:00, the step's window.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from cadences.cadence_format import cadence_apply, parse_cadence
from cadences.models import Cadence, Enrolment, Step, Task
from followup.roles import REPS
from leads.models import Lead, RepProfile

USERNAME = "loadrep{:03d}"
CALLS = {
    "name": "Load run: call until connected",
    "description": "Three calls; each outcome schedules the next for a later day.",
    "min_gap_hours": 20,
    "steps": [
        {"channel": "call", "wait_days": 0, "title": "First call"},
        {"channel": "call", "wait_days": 1, "title": "Second call"},
        {"channel": "call", "wait_days": 2, "title": "Last call"},
    ],
}
EMAILS = {
    "name": "Load run: welcome email",
    "description": "One automated email, sent by the tick while the reps call.",
    "steps": [
        {
            "channel": "email",
            "mode": "auto",
            "wait_days": 0,
            "subject": "Following up, {{ lead.first_name }}",
            "body": "Hi {{ lead.first_name }},\n\nA short note from {{ rep.first_name }}.",
        }
    ],
}
# Reps work in different zones, so the queue's rep-local day is exercised. A task due
# in the past is before the end of the rep's today in any zone, so all are in the queue.
REP_ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York")


@dataclass(frozen=True)
class LoadPeople:
    password: str
    usernames: list[str]
    leads_per_rep: int
    cadence_id: int  # the calls' cadence


def build(
    *, reps: int, leads_per_rep: int, now: dt.datetime, email_seconds: float, seed: int = 2027
) -> LoadPeople:
    """Create the reps (one password), the two cadences, every rep's leads, their due
    calls, and their automated emails, due over the next ``email_seconds``."""
    rng = random.Random(seed)
    password = f"load-{rng.getrandbits(64):016x}"
    users = _reps(reps, password)
    calls, emails = _cadence(CALLS, now), _cadence(EMAILS, now)
    leads = _leads(users, leads_per_rep, now)

    def overdue() -> dt.datetime:
        return now - dt.timedelta(minutes=rng.randint(5, 8 * 60))

    def during_run() -> dt.datetime:
        return now + dt.timedelta(seconds=rng.uniform(0, email_seconds))

    _first_steps(_enrolments(leads, calls, now, rng), calls.steps.get(position=1), overdue)
    _first_steps(_enrolments(leads, emails, now, rng), emails.steps.get(position=1), during_run)
    return LoadPeople(
        password=password,
        usernames=[user.username for user in users],
        leads_per_rep=leads_per_rep,
        cadence_id=calls.id,
    )


def _reps(count: int, password: str) -> list:
    User = get_user_model()
    # One hash for everyone: PBKDF2 costs ~0.3 s of CPU per call, and set-up is not
    # what is measured. Each login still checks it in full on the server.
    hashed = make_password(password)
    users = User.objects.bulk_create(
        User(
            username=USERNAME.format(n),
            first_name="Rep",
            last_name=f"{n:03d}",
            email=f"{USERNAME.format(n)}@load.example",
            password=hashed,
        )
        for n in range(count)
    )
    group, _ = Group.objects.get_or_create(name=REPS)
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=user.id, group_id=group.id) for user in users
    )
    RepProfile.objects.bulk_create(
        RepProfile(
            user=user,
            timezone=REP_ZONES[n % len(REP_ZONES)],
            call_capacity=10_000,  # the whole pile is today's work: no rollover mid-run
        )
        for n, user in enumerate(users)
    )
    return users


def _cadence(document: dict, now: dt.datetime) -> Cadence:
    cadence, _ = cadence_apply(spec=parse_cadence(document), activate=True, now=now)
    return cadence


def _leads(users: list, per_rep: int, now: dt.datetime) -> list[Lead]:
    return Lead.objects.bulk_create(
        (
            Lead(
                first_name=f"Lead{n}",
                last_name=f"Of{user.username}",
                email=f"lead{n}.{user.username}@prospect.example",
                phone=f"+1 555 {user.id:04d} {n:04d}",
                owner=user,
                timezone="America/Chicago" if n % 2 else "",
                source="load run",
                created_at=now - dt.timedelta(days=1),
            )
            for user in users
            for n in range(per_rep)
        ),
        batch_size=2_000,
    )


def _enrolments(
    leads: list[Lead], cadence: Cadence, now: dt.datetime, rng: random.Random
) -> list[Enrolment]:
    return Enrolment.objects.bulk_create(
        (
            Enrolment(
                lead=lead,
                cadence=cadence,
                owner_id=lead.owner_id,
                started_at=now - dt.timedelta(hours=9),
                variant_seed=rng.randrange(1_000_000),
            )
            for lead in leads
        ),
        batch_size=2_000,
    )


def _first_steps(enrolments: list[Enrolment], step: Step, due: Callable[[], dt.datetime]) -> None:
    Task.objects.bulk_create(
        (
            Task(
                lead_id=enrolment.lead_id,
                rep_id=enrolment.owner_id,
                enrolment=enrolment,
                step=step,
                kind=Task.Kind.STEP,
                channel=step.channel,
                mode=step.mode,
                title=step.title,
                due_at=(at := due()),
                unmoved_due_at=at,
                due_reasons=[],
                created_at=enrolment.started_at,
            )
            for enrolment in enrolments
        ),
        batch_size=2_000,
    )
