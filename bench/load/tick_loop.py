"""The scheduler tick, every few seconds, for as long as the load run lasts.

It runs ``manage.py followup_tick`` (through ``call_command``, in one long-lived
process, so Django starts once rather than every few seconds) while the reps work:
the tick rebuilds the queues of the reps whose tasks changed, and it must neither
fail nor disturb their writes. Stops at ``--until`` or on SIGTERM, after the tick
in progress, and writes what it saw to ``--out``.

    python -m bench.load.tick_loop --every 3 --until EPOCH --out ticks.json
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import time
import traceback
from pathlib import Path

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=3.0, help="seconds between ticks")
    parser.add_argument("--until", type=float, required=True, help="stop at this epoch time")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    django.setup()
    stop = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(asked=True))
    durations, failures = [], []
    while not stop["asked"] and time.time() < args.until:
        began = time.perf_counter()
        failure = one_tick()
        durations.append(time.perf_counter() - began)
        if failure:
            failures.append(failure)
        _sleep_until(began + args.every, stop, args.until)
    report = {"ticks": len(durations), "seconds": durations, "failures": failures}
    args.out.write_text(json.dumps(report))


def one_tick() -> str:
    """Run the command once; the traceback when it fails, else an empty string."""
    from django.core.management import call_command
    from django.db import close_old_connections

    try:
        call_command("followup_tick", stdout=io.StringIO())
    except Exception:  # every failure is reported by the run, none may stop the loop
        return traceback.format_exc()
    finally:
        close_old_connections()
    return ""


def _sleep_until(moment: float, stop: dict[str, bool], until: float) -> None:
    while not stop["asked"] and time.perf_counter() < moment and time.time() < until:
        time.sleep(0.1)


if __name__ == "__main__":
    main()
