from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cadences.cadence_format import dumps_cadence
from cadences.models import Cadence


class Command(BaseCommand):
    help = "Print a cadence as JSON in the format import_cadence reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the cadence's name, exactly")

    def handle(self, *args: object, name: str, **options: object) -> None:
        cadence = Cadence.objects.filter(name=name).first()
        if cadence is None:
            raise CommandError(f"no cadence named {name!r}")
        self.stdout.write(dumps_cadence(cadence), ending="")
