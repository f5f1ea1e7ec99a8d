from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cadences.cadence_format import (
    CadenceFormatError,
    cadence_apply,
    cadence_export,
    load_cadence_file,
)
from cadences.models import Cadence
from followup import audit
from followup.clock import add_now_argument, parse_now


class Command(BaseCommand):
    help = (
        "Create or update a cadence from a JSON file (CONTRACT.md section 3). "
        "An invalid file changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the cadence file")
        parser.add_argument(
            "--activate",
            action="store_true",
            help="make the cadence active (otherwise a new one starts inactive)",
        )
        add_now_argument(parser)

    def handle(
        self, *args: object, path: str, activate: bool, now: str | None, **options: object
    ) -> None:
        moment = parse_now(now)
        try:
            spec = load_cadence_file(path)
            existing = Cadence.objects.filter(name=spec.name).first()
            before = cadence_export(existing) if existing else None
            cadence, created = cadence_apply(spec=spec, activate=activate, now=moment)
        except CadenceFormatError as error:
            raise CommandError(str(error)) from None
        audit.audit_record(
            action=audit.CADENCE_IMPORT,
            target=cadence,
            before=before,
            after=cadence_export(cadence),
            at=moment,
            via=f"manage.py import_cadence {path}",
        )
        count = len(spec.steps)
        steps = "step" if count == 1 else "steps"
        outcome = "created" if created else "updated"
        self.stdout.write(f"{cadence.name}: {count} {steps} ({outcome})")
