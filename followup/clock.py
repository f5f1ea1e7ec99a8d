"""The `--now` of every command that acts in time (CONTRACT.md section 2)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, datetime

from django.core.management.base import CommandError
from django.utils import timezone

NOW_EXAMPLE = "2027-03-02T09:00:00Z"


def add_now_argument(parser: ArgumentParser) -> None:
    # Parsed in handle(), not with type=: an error raised while argparse runs escapes
    # BaseCommand's CommandError handling and would print a traceback, not one line.
    parser.add_argument(
        "--now",
        metavar="ISO8601",
        default=None,
        help=f"act as of this instant instead of the clock, with an offset or Z ({NOW_EXAMPLE})",
    )


def parse_now(value: str | None) -> datetime:
    """The instant a command acts at, in UTC: `value` when given, else the clock."""
    if value is None:
        return timezone.now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    # A naive time would be read in the server's zone: refuse it rather than guess.
    if moment is None or moment.utcoffset() is None:
        raise CommandError(
            f"--now: {value!r} is not an ISO 8601 time with an offset, e.g. {NOW_EXAMPLE}"
        )
    return moment.astimezone(UTC)
