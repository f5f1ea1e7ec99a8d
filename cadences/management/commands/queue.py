from __future__ import annotations

import datetime as dt
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cadences.queues import queue_for_rep
from followup.clock import add_now_argument, parse_now
from followup.roles import is_rep


class Command(BaseCommand):
    help = "Print a rep's daily queue for a rep-local date (default: the rep's today)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rep", required=True, metavar="USERNAME")
        parser.add_argument("--date", metavar="YYYY-MM-DD")
        parser.add_argument("--json", action="store_true", help="print JSON (the only format)")
        add_now_argument(parser)

    def handle(self, *args: object, **options: object) -> None:
        now = parse_now(options["now"])
        rep = get_user_model().objects.filter(username=options["rep"]).first()
        if rep is None:
            raise CommandError(f"--rep: no user named '{options['rep']}'")
        if not is_rep(rep):
            raise CommandError(f"--rep: '{options['rep']}' is not an active rep")
        day = _parse_date(options["date"])
        payload = queue_for_rep(rep=rep, now=now, day=day)
        self.stdout.write(json.dumps(payload, indent=2 if not options["json"] else None))


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date: '{value}' is not a date like 2027-03-02") from None
