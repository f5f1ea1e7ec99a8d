from __future__ import annotations

import json
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandParser

from cadences.tick import tick
from followup.clock import add_now_argument, parse_now


class Command(BaseCommand):
    help = "Run one scheduler tick (what the worker runs every minute) as of --now."

    def add_arguments(self, parser: CommandParser) -> None:
        add_now_argument(parser)

    def handle(self, *args: object, **options: object) -> None:
        report = tick(now=parse_now(options["now"]))
        self.stdout.write(json.dumps(asdict(report)))
