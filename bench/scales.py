"""The dataset's sizes and the fixed instant it is built around.

Every figure in the generated data is a function of the seed, the scale and ``NOW``,
so two runs of ``bench/generate.py`` at one scale load identical rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

SEED = 20261006
# A Tuesday away from DST changes and US holidays: "now" for every benchmark.
NOW = dt.datetime(2026, 10, 6, 14, 0, tzinfo=dt.UTC)
# Bump when the generator's output changes, so run.py rebuilds a stale dataset.
GENERATOR_VERSION = 3


@dataclass(frozen=True)
class Scale:
    name: str
    reps: int
    leads: int
    touches: int  # total touch rows to aim for (the loader prints the exact count)
    import_rows: int  # rows in the CSV import benchmark
    emails: int  # due automated emails sent per repetition
    http_seconds: float  # length of one load-test run per endpoint
    repetitions: int  # timed repetitions of the slow benchmarks (fast ones do more)


SCALES: dict[str, Scale] = {
    # For the smoke test: every benchmark runs, none of the figures mean much.
    "tiny": Scale("tiny", reps=5, leads=200, touches=2_000, import_rows=300, emails=20,
                  http_seconds=1, repetitions=1),
    # About 1% of full with the same density per rep: CI-sized.
    "small": Scale("small", reps=10, leads=10_000, touches=100_000, import_rows=10_000,
                   emails=200, http_seconds=4, repetitions=3),
    # 10%: a quicker look at how the figures grow, same density per rep.
    "medium": Scale("medium", reps=100, leads=100_000, touches=1_000_000, import_rows=100_000,
                    emails=500, http_seconds=8, repetitions=3),
    # Issue 7: 1,000 reps, 1,000,000 leads and active enrolments, 10,000,000 touches.
    "full": Scale("full", reps=1_000, leads=1_000_000, touches=10_000_000,
                  import_rows=100_000, emails=1_000, http_seconds=10, repetitions=3),
}  # fmt: skip
