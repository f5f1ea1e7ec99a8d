#!/usr/bin/env python
"""Run one morning tick in a fresh process and print its peak RSS as JSON.

``bench/run.py`` starts this with DATABASE_URL set to the run's database. The tick runs
as at the start of the day (no queue assembled yet, no previous tick) inside a
transaction that is rolled back, so the dataset is left as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_kb() -> int:
    """VmHWM: the most resident memory this process has held so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux


def main() -> None:
    now = dt.datetime.fromisoformat(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "followup.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from cadences.tick import tick

    baseline = peak_kb()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("delete from cadences_dailyqueue")
            cursor.execute("delete from cadences_heartbeat")
        report = tick(now=now)
        transaction.set_rollback(True)
    print(json.dumps({"baseline_kb": baseline, "peak_kb": peak_kb(), "queues": report.queues}))


if __name__ == "__main__":
    main()
