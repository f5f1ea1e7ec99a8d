"""Builders shared by the engine's integration tests."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

from django.core.management import call_command

from cadences.models import Cadence, Step

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


EIGHT_STEPS = [
    {"channel": "call", "wait_days": 0, "title": "Speed-to-lead call"},
    {
        "channel": "email",
        "mode": "auto",
        "wait_days": 1,
        "subject": "The guide, {{ lead.first_name }}",
        "body": "Hi {{ lead.first_name }}, here is the guide. What prompted your request?",
    },
    {"channel": "call", "wait_days": 2},
    {"channel": "mail", "wait_days": 3, "title": "Handwritten note"},
    {"channel": "email", "mode": "manual", "wait_days": 2, "asset_stage": "consideration"},
    {"channel": "social", "wait_days": 3},
    {"channel": "call", "wait_days": 4},
    {
        "channel": "email",
        "mode": "auto",
        "wait_days": 5,
        "breakup": True,
        "subject": "Should I close your file?",
        "body": "Hi {{ lead.first_name }}, shall I close it?",
    },
]


# An automatic email due at once, at any hour of any day, then a call: what the
# exactly-once tests send in bulk.
AUTO_EMAIL_THEN_CALL = [
    {
        "channel": "email",
        "mode": "auto",
        "subject": "Guide for {{ lead.first_name }}",
        "body": "Hello {{ lead.first_name }}",
        "window": ["00:00", "23:59"],
    },
    {"channel": "call", "wait_days": 1},
]


def make_cadence(name: str = "Outbound 8", steps: list[dict] | None = None, **fields) -> Cadence:
    cadence = Cadence.objects.create(name=name, is_active=True, **fields)
    for position, spec in enumerate(steps or EIGHT_STEPS, start=1):
        spec = dict(spec)
        window = spec.pop("window", None)
        if window:
            spec["window_start"] = dt.time.fromisoformat(window[0])
            spec["window_end"] = dt.time.fromisoformat(window[1])
        Step.objects.create(cadence=cadence, position=position, **spec)
    return cadence


def run_tick(now: str) -> dict:
    out = StringIO()
    call_command("followup_tick", "--now", now, stdout=out)
    return json.loads(out.getvalue())


def queue_json(rep: str, now: str, day: str | None = None) -> dict:
    out = StringIO()
    args = ["queue", "--rep", rep, "--now", now, "--json"]
    if day:
        args += ["--date", day]
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())
