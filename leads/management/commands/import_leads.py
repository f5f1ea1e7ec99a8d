from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cadences.models import Cadence
from followup.clock import add_now_argument, parse_now
from leads.importing import ImportFailed, ImportOptions, OwnerCache, import_leads


class Command(BaseCommand):
    help = (
        "Import leads from a CSV file (CONTRACT.md section 4). Prints 'created N, updated N, "
        "skipped N', then one line per bad row; notes (ignored columns, enrolment refusals) "
        "go to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the CSV file (UTF-8, comma or semicolon separated)")
        parser.add_argument("--owner", required=True, help="username owning rows without one")
        parser.add_argument("--cadence", help="enrol the imported leads in this cadence (name)")
        parser.add_argument(
            "--strict", action="store_true", help="import nothing if any row is bad"
        )
        add_now_argument(parser)

    def handle(self, *args: object, **options: object) -> None:
        now = parse_now(options["now"])
        path = Path(str(options["path"]))
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        settings = ImportOptions(
            now=now,
            owner=_owner(str(options["owner"])),
            cadence=_cadence(options["cadence"]),
            strict=bool(options["strict"]),
        )
        try:
            report = import_leads(open_file=lambda: path.open("rb"), options=settings)
        except ImportFailed as exc:
            raise CommandError(f"{path.name}: {exc}") from None
        self.stdout.write(report.summary)
        for line in report.bad_lines:
            self.stdout.write(line)
        for note in report.notes + [f"line {n}: {why}" for n, why in report.refusals]:
            self.stderr.write(f"note: {note}")
        if report.refused:
            bad = len(report.bad_rows)
            rows = "row" if bad == 1 else "rows"
            raise CommandError(f"--strict: {bad} bad {rows}, nothing imported")


def _owner(username: str) -> object:
    owner = OwnerCache()(username)
    if owner is None:
        raise CommandError(f"--owner: '{username}' is not an active rep")
    return owner


def _cadence(name: object) -> Cadence | None:
    if not name:
        return None
    cadence = Cadence.objects.filter(name=str(name)).first()
    if cadence is None:
        raise CommandError(f"--cadence: no cadence named '{name}'")
    return cadence
