"""Server-rendered SVG charts for the reports: small pure functions that return markup.

No JavaScript and no CDN: each chart is an accessible ``<svg role="img">`` with a
``<title>`` and a ``<desc>`` that says what it shows, text labels on its axes and
values, and a legend, so it reads in a screen reader, in print and without styles.
Missing values (``None``) are drawn as gaps, never as zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from html import escape

# Bootstrap's palette; the benchmark or capacity series is drawn in grey on purpose.
PALETTE = ("#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#dc3545", "#20c997", "#6c757d")
GREY = "#adb5bd"
WIDTH, HEIGHT = 720, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 36, 56
FONT = 'font-family="system-ui, sans-serif" font-size="11"'

Series = tuple[str, Sequence[float | None]]
Formatter = Callable[[float], str]


def plain_number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def percent(value: float) -> str:
    return f"{plain_number(value)}%"


def nice_ceiling(value: float) -> float:
    """A round axis maximum at or above ``value``: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


def _ident(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return f"chart-{slug or 'untitled'}"


def _open(title: str, description: str, *, height: float = HEIGHT, before: float = 0) -> list[str]:
    """The SVG's start; ``before`` widens it to the left of x = 0 (slanted labels)."""
    ident = _ident(title)
    box = f"{-before:.0f} 0 {WIDTH + before:.0f} {height:.0f}"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{box}" '
        f'width="100%" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'class="report-chart" {FONT}>',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
        f'<text x="{MARGIN_LEFT}" y="18" font-size="13" font-weight="600">{escape(title)}</text>',
    ]


def _plot_box() -> tuple[float, float, float, float]:
    """Left, top, width and height of the plotting area."""
    return (
        MARGIN_LEFT,
        MARGIN_TOP,
        WIDTH - MARGIN_LEFT - MARGIN_RIGHT,
        HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
    )


def _y_axis(top_value: float, fmt: Formatter) -> list[str]:
    left, top, width, height = _plot_box()
    parts = []
    for i in range(5):
        value = top_value * i / 4
        y = top + height - height * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" '
            f'stroke="#dee2e6" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#495057">'
            f"{escape(fmt(value))}</text>"
        )
    return parts


def _legend(names: Sequence[str], colours: Sequence[str], *, height: float = HEIGHT) -> list[str]:
    parts, x = [], MARGIN_LEFT
    y = height - 14
    for name, colour in zip(names, colours, strict=True):
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return parts


def _colours(series: Sequence[Series], grey_last: bool) -> list[str]:
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    if grey_last and series:
        colours[-1] = GREY
    return colours


def _top(series: Sequence[Series], extra: Sequence[float] = ()) -> float:
    values = [v for _name, values in series for v in values if v is not None]
    return nice_ceiling(max([*values, *extra], default=0))


def _describe(categories: Sequence[str], series: Sequence[Series], fmt: Formatter) -> str:
    """The chart's numbers in words, for its ``<desc>``."""
    if not categories:
        return "No data."
    parts = []
    for name, values in series:
        shown = ", ".join(
            f"{c}: {fmt(v) if v is not None else 'none'}"
            for c, v in zip(categories, values, strict=False)
        )
        parts.append(f"{name} — {shown}")
    return "; ".join(parts) + "."


def empty_chart(title: str, message: str = "No data for this period.") -> str:
    parts = _open(title, message)
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#6c757d" '
        f'font-size="14">{escape(message)}</text>'
    )
    return "\n".join([*parts, "</svg>"])


def bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = plain_number,
    benchmark_last: bool = False,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series, values on top.

    ``benchmark_last`` draws the last series in grey, as the yardstick the others are
    read against.
    """
    if not categories or not series:
        return empty_chart(title)
    top_value = _top(series)
    left, top, width, height = _plot_box()
    colours = _colours(series, benchmark_last)
    group = width / len(categories)
    bar = min(group * 0.8 / len(series), 48)
    labels, below, before = _category_labels(categories, left, group, top + height + 16)
    svg = _open(title, _describe(categories, series, fmt), height=HEIGHT + below, before=before)
    parts = [*svg, *_y_axis(top_value, fmt)]
    # Figures over the bars for all or none: where the widest would hit its neighbour's,
    # the tooltips and the table beneath the chart give them.
    shown = [fmt(v) for _, values in series for v in values if v is not None]
    figures_fit = max(map(len, shown), default=0) * VALUE_CHARACTER_WIDTH <= bar + 2
    for i, category in enumerate(categories):
        start = left + group * i + (group - bar * len(series)) / 2
        for j, (_name, values) in enumerate(series):
            value = values[i] if i < len(values) else None
            if value is None:
                continue
            h = height * value / top_value
            x, y = start + bar * j, top + height - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                f'fill="{colours[j]}"><title>{escape(f"{category}, {_name}: {fmt(value)}")}'
                "</title></rect>"
            )
            if figures_fit:
                parts.append(
                    f'<text x="{x + (bar - 2) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                    f'font-size="10">{escape(fmt(value))}</text>'
                )
    parts += labels
    parts += _legend([name for name, _ in series], colours, height=HEIGHT + below)
    return "\n".join([*parts, "</svg>"])


# About the width of a character at the charts' font size (11 px system-ui), and of
# the 10 px figures over the bars.
CHARACTER_WIDTH = 6.2
VALUE_CHARACTER_WIDTH = 5.6
SLANT = math.sqrt(0.5)  # 45 degrees: as much across as down


def _category_labels(
    categories: Sequence[str], left: float, group: float, baseline: float
) -> tuple[list[str], float, float]:
    """Each category's name under its group: level when every name fits its group's
    width, else slanted at 45 degrees so long names (a cadence and its step) never run
    into each other. Returns the markup, how much taller the chart must be for slanted
    names, and how far they reach left of the chart."""
    widest = max(len(c) for c in categories) * CHARACTER_WIDTH
    centres = [left + group * (i + 0.5) for i in range(len(categories))]
    if widest <= group - 4:
        return (
            [
                f'<text x="{x:.1f}" y="{baseline}" text-anchor="middle">{escape(c)}</text>'
                for x, c in zip(centres, categories, strict=True)
            ],
            0,
            0,
        )
    labels = [
        f'<text x="{x:.1f}" y="{baseline}" text-anchor="end" '
        f'transform="rotate(-45 {x:.1f} {baseline})">{escape(c)}</text>'
        for x, c in zip(centres, categories, strict=True)
    ]
    reach = widest * SLANT
    below = max(0.0, baseline + reach + 24 - HEIGHT)  # room for the legend beneath
    before = max(0.0, reach - centres[0] + 4)
    return labels, below, before


def line_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = plain_number,
    limit: Series | None = None,
    label_every: int = 1,
) -> str:
    """Lines over categories (days), with an optional dashed grey ``limit`` (capacity)."""
    if not categories or not series:
        return empty_chart(title)
    limit_values = [v for v in (limit[1] if limit else ()) if v is not None]
    top_value = _top(series, limit_values)
    left, top, width, height = _plot_box()
    step = width / max(len(categories) - 1, 1)

    def point(i: int, value: float) -> str:
        return f"{left + step * i:.1f},{top + height - height * value / top_value:.1f}"

    everything = [*series, limit] if limit else list(series)
    colours = _colours(everything, grey_last=limit is not None)
    parts = [*_open(title, _describe(categories, everything, fmt)), *_y_axis(top_value, fmt)]
    for (name, values), colour in zip(everything, colours, strict=True):
        points = " ".join(point(i, v) for i, v in enumerate(values) if v is not None)
        dash = ' stroke-dasharray="6 4"' if limit and name == limit[0] else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{escape(name)}</title></polyline>"
        )
    for i, category in enumerate(categories):
        if i % max(label_every, 1) == 0:
            parts.append(
                f'<text x="{left + step * i:.1f}" y="{top + height + 16}" '
                f'text-anchor="middle">{escape(category)}</text>'
            )
    parts += _legend([name for name, _ in everything], colours)
    return "\n".join([*parts, "</svg>"])
