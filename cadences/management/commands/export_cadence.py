from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cadences.cadence_format import dumps_cadence
from cadences.models import Cadence
from followup import audit


class Command(BaseCommand):
    help = "Print a cadence as JSON in the format import_cadence reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the cadence's name, exactly")

    def handle(self, *args: object, name: str, **options: object) -> None:
        cadence = Cadence.objects.filter(name=name).first()
        if cadence is None:
            raise CommandError(f"no cadence named {name!r}")
        text = dumps_cadence(cadence)
        audit.audit_record(
            action=audit.DATA_EXPORT,
            target=cadence,
            before=None,
            after={"cadence": cadence.name},
            via=f"manage.py export_cadence {name}",
        )
        self.stdout.write(text, ending="")
