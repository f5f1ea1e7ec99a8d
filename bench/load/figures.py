"""The load run's figures: latency percentiles per page, throughput, errors, and tables."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass

# What each page answers when all is well; any other status is an error.
EXPECTED_STATUS = {
    "login_form": 200,
    "login": 302,
    "today": 200,
    "work": 200,
    "lead": 200,
    "log_outcome": 302,
}
PAGE_ORDER = tuple(EXPECTED_STATUS)
LOGIN_PAGES = ("login_form", "login")


@dataclass(frozen=True)
class PageFigures:
    page: str
    requests: int
    errors: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def is_error(sample: dict) -> bool:
    return bool(sample["error"]) or sample["status"] != EXPECTED_STATUS.get(sample["page"])


def page_figures(samples: list[dict], *, login_seconds: float, work_seconds: float) -> list:
    """One row per page, then ``all work``: every request of the work phase together.

    Requests per second are over the phase a page belongs to: the logins over the
    login phase, the rest over the work phase (all reps in, working their queues).
    """
    by_page: dict[str, list[dict]] = defaultdict(list)
    for sample in samples:
        by_page[sample["page"]].append(sample)
    names = [name for name in PAGE_ORDER if name in by_page]
    names += sorted(set(by_page) - set(names))
    rows = [
        _figures(name, by_page[name], login_seconds if name in LOGIN_PAGES else work_seconds)
        for name in names
    ]
    work = [sample for sample in samples if sample["page"] not in LOGIN_PAGES]
    return [*rows, _figures("all work", work, work_seconds)]


def _figures(page: str, samples: list[dict], seconds: float) -> PageFigures:
    ms = sorted(sample["ms"] for sample in samples)
    return PageFigures(
        page=page,
        requests=len(samples),
        errors=sum(is_error(sample) for sample in samples),
        per_second=len(samples) / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1] if ms else 0.0,
    )


def error_lines(samples: list[dict], limit: int = 20) -> list[str]:
    wrong = [sample for sample in samples if is_error(sample)]
    lines = [
        f"{s['at']:7.1f}s {s['rep']} {s['method']} {s['page']}: "
        f"{s['error'] or s['status']} ({s['ms']:.0f} ms)"
        for s in wrong[:limit]
    ]
    if len(wrong) > limit:
        lines.append(f"… and {len(wrong) - limit} more")
    return lines


def latency_table(rows: list[PageFigures]) -> str:
    header = f"{'page':<12} {'requests':>8} {'errors':>6} {'req/s':>7} "
    header += f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.page:<12} {row.requests:>8} {row.errors:>6} {row.per_second:>7.1f} "
            f"{row.p50_ms:>8.0f} {row.p95_ms:>8.0f} {row.p99_ms:>8.0f} {row.max_ms:>8.0f}"
        )
    return "\n".join(lines)


def checks_table(checks: list) -> str:
    width = max(len(check.name) for check in checks)
    header = f"{'check':<{width}} {'expected':>8} {'found':>8}  "
    lines = [header, "-" * len(header)]
    for check in checks:
        mark = "ok" if check.ok else "FAILED"
        lines.append(f"{check.name:<{width}} {check.expected:>8} {check.found:>8}  {mark}")
    return "\n".join(lines)


def as_dicts(rows: list[PageFigures]) -> list[dict]:
    return [{key: _round(value) for key, value in asdict(row).items()} for row in rows]


def _round(value: object) -> object:
    return round(value, 1) if isinstance(value, float) else value
