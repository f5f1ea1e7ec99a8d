"""Timing, targets and the one results table that ``bench/run.py`` prints."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

OK, NOT_BUILT, SKIPPED, ERROR = "ok", "not built", "skipped", "error"


@dataclass
class Target:
    """``value < limit`` (kind "max") or ``value >= limit`` (kind "min")."""

    limit: float
    kind: str = "max"
    text: str = ""

    def met(self, value: float) -> bool:
        return value < self.limit if self.kind == "max" else value >= self.limit


@dataclass
class Result:
    name: str
    unit: str = "s"
    samples: list[float] = field(default_factory=list)
    target: Target | None = None
    floor: list[float] = field(default_factory=list)  # the hand-written SQL's timings
    floor_ratio_limit: float | None = None
    extra_checks: list[tuple[str, bool]] = field(default_factory=list)  # (what, met)
    notes: list[str] = field(default_factory=list)
    status: str = OK

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def ratio(self) -> float | None:
        if not self.floor or not self.samples:
            return None
        return self.median / statistics.median(self.floor)

    @property
    def passed(self) -> bool | None:
        if self.status != OK or self.median is None:
            return None
        verdicts = [met for _, met in self.extra_checks]
        if self.target:
            verdicts.append(self.target.met(self.median))
        if self.floor_ratio_limit and self.ratio is not None:
            verdicts.append(self.ratio <= self.floor_ratio_limit)
        return all(verdicts) if verdicts else None


class QueryCount:
    value = 0


@contextmanager
def counting_queries() -> Iterator[QueryCount]:
    """Count the SQL statements run (savepoints included), keeping none of them: Django's
    query log stops at 9,000, and recording every statement costs time."""
    from django.db import connection

    count = QueryCount()

    def counted(execute, sql, params, many, context):
        count.value += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        yield count


def plural(count: int, noun: str) -> str:
    """``1 query``, ``3 queries``."""
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} " + (noun[:-1] + "ies" if noun.endswith("y") else noun + "s")


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit in ("/s", "req/s", "emails/s"):
        return f"{value:,.0f} {unit}"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _result_text(result: Result) -> str:
    if result.status != OK:
        return result.status
    verdict = result.passed
    return "—" if verdict is None else ("pass" if verdict else "**FAIL**")


def row(result: Result) -> str:
    if result.status != OK or result.median is None:
        cells = [result.name, "—", "—", result.target.text if result.target else "—", "—"]
    else:
        low, high = min(result.samples), max(result.samples)
        spread = f"{_number(low, result.unit)} – {_number(high, result.unit)}"  # noqa: RUF001
        ratio = f"{result.ratio:.2f}x" if result.ratio is not None else "—"
        if result.ratio is not None and result.floor_ratio_limit:
            ratio += f" (≤ {result.floor_ratio_limit:g}x)"
        target = result.target.text if result.target else "—"
        cells = [result.name, _number(result.median, result.unit), spread, target, ratio]
    cells += [_result_text(result), "; ".join(result.notes).replace("|", "/")]
    return "| " + " | ".join(cells) + " |"


def table(results: list[Result], heading: str) -> str:
    lines = [
        heading,
        "",
        "| benchmark | median | spread (min – max) | target | ours / floor | result | notes |",  # noqa: RUF001
        "| --- | ---: | ---: | --- | ---: | --- | --- |",
    ]
    lines += [row(result) for result in results]
    return "\n".join(lines)
