from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cadences.tick import previous_tick_at


def qcluster_running(proc_root: Path = Path("/proc")) -> bool:
    """A `manage.py qcluster` process runs on this host (this container)."""
    me = os.getpid()
    for proc in proc_root.glob("[0-9]*"):
        if int(proc.name) == me:
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # the process ended while we looked
        if b"qcluster" in argv and any(arg.endswith(b"manage.py") for arg in argv):
            return True
    return False


class Command(BaseCommand):
    help = "Exit 0 when a django-q2 cluster runs on this host (docker-compose healthcheck)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--proc", default="/proc", help="process table to read (tests)")
        parser.add_argument(
            "--max-tick-age",
            type=int,
            default=0,
            help="also require a tick younger than this many seconds (0: do not check)",
        )

    def handle(self, *args: object, max_tick_age: int, proc: str, **options: object) -> None:
        if not qcluster_running(Path(proc)):
            raise CommandError("no qcluster process is running on this host")
        if max_tick_age:
            last = previous_tick_at()
            if last is None or (timezone.now() - last).total_seconds() > max_tick_age:
                raise CommandError(f"the last tick is older than {max_tick_age}s ({last})")
        self.stdout.write("worker ok")
