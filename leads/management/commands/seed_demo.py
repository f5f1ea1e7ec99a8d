from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from followup.clock import add_now_argument, parse_now
from leads.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load the demo: reps, a manager, leads, cadences and history. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        add_now_argument(parser)

    def handle(self, *args: object, **options: object) -> None:
        result = seed_demo(now=parse_now(options["now"]))
        if result.created:
            self.stdout.write("Demo data loaded.")
        else:
            self.stdout.write("Demo data already loaded; nothing changed.")
        logins = ", ".join(result.users)
        self.stdout.write(f"Logins: {logins} (password: {DEMO_PASSWORD}); maria is the manager.")
