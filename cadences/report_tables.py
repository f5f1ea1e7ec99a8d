"""How each report is shown: its charts, its table beside the benchmark, its empty state.

One ``Section`` per report, built from the report's JSON (``cadences.reports``), so
the page, the CSV download and the API show the same numbers. The CSV is the table,
or a longer per-row table where the page shows a summary (the load forecast).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.safestring import SafeString, mark_safe

from cadences import charts
from cadences.reports import COUNT_BUCKETS, GAP_BUCKETS, TOUCH_BUCKETS

Cell = str | int | float | None


@dataclass
class Section:
    name: str
    title: str
    question: str
    charts: list[SafeString] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    empty: str = ""  # set when the period holds nothing to show: said instead of the table
    wide: bool = False  # a table too wide to sit beside its chart goes beneath it
    notes: list[str] = field(default_factory=list)
    csv_headers: list[str] | None = None
    csv_rows: list[list[Cell]] | None = None

    def csv_table(self) -> tuple[list[str], list[list[Cell]]]:
        if self.csv_headers is not None and self.csv_rows is not None:
            return self.csv_headers, self.csv_rows
        return self.headers, self.rows


def duration(seconds: float | None) -> str:
    """Seconds as a manager reads them: 45s, 12m, 3h 20m, 2d 4h; a dash for none."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def _svg(markup: str) -> SafeString:
    # The chart functions escape every text they draw; the markup itself is ours.
    return mark_safe(markup)


# --- touches to close and where follow-up stops ------------------------------------------------


def _bucket_section(report: dict, *, name: str, title: str, question: str, series: str) -> Section:
    chart = charts.bar_chart(
        title=title,
        categories=[f"touch {b}" for b in TOUCH_BUCKETS],
        series=[
            (series, [report["pct"][b] for b in TOUCH_BUCKETS]),
            ("Benchmark", [report["benchmark_pct"][b] for b in TOUCH_BUCKETS]),
        ],
        fmt=charts.percent,
        benchmark_last=True,
    )
    headers = ["Touches", "Leads", "Share %", "Benchmark %", *report["by_rep"]]
    rows: list[list[Cell]] = [
        [
            b,
            report["buckets"][b],
            report["pct"][b],
            report["benchmark_pct"][b],
            *(counts[b] for counts in report["by_rep"].values()),
        ]
        for b in TOUCH_BUCKETS
    ]
    rows.append(["Total", sum(report["buckets"].values()), 100.0 if report["total"] else 0.0, 100])
    rows[-1] += [sum(c.values()) for c in report["by_rep"].values()]
    return Section(
        name=name, title=title, question=question, charts=[_svg(chart)], headers=headers, rows=rows
    )


def touches_to_close(report: dict) -> Section:
    section = _bucket_section(
        report,
        name="touches-to-close",
        title="Touches to close",
        question="Of the leads won, how many outbound touches came before the win?",
        series="Your wins",
    )
    if not report["total"]:
        section.empty = "No lead was won in this period."
    if report["no_touch"]:
        section.notes.append(
            f"{report['no_touch']} of {report['total']} won leads had no outbound touch before "
            "the win; they are left out of the shares."
        )
    section.notes.append("Benchmark: share of sales closed at each touch (the seeds).")
    return section


def follow_up_stops(report: dict) -> Section:
    section = _bucket_section(
        report,
        name="follow-up-stops",
        title="Where follow-up stops",
        question=(
            f"Leads not won, with nothing scheduled and untouched for {report['quiet_days']} "
            "days: after how many touches did follow-up stop?"
        ),
        series="Your team",
    )
    if not report["total"]:
        section.empty = (
            "No follow-up stopped in this period: every lead touched in it is won, at a "
            f"meeting, still scheduled, or was touched within {report['quiet_days']} days "
            "of its end."
        )
    section.notes.append("Benchmark: share of reps who stop after each touch (the seeds).")
    return section


# --- speed to lead ---------------------------------------------------------------------------


def _speed_row(label: str, summary: dict) -> list[Cell]:
    attempt, connect = summary["first_attempt_seconds"], summary["first_connect_seconds"]
    return [
        label,
        summary["leads"],
        summary["attempted"],
        duration(attempt["median"]),
        duration(attempt["p90"]),
        summary["connected"],
        duration(connect["median"]),
        duration(connect["p90"]),
    ]


def speed_to_lead(report: dict) -> Section:
    attempt, connect = report["first_attempt_seconds"], report["first_connect_seconds"]
    minutes = [
        ("Median", [_minutes(attempt["median"]), _minutes(connect["median"])]),
        ("90th percentile", [_minutes(attempt["p90"]), _minutes(connect["p90"])]),
    ]
    chart = charts.bar_chart(
        title="Speed to lead (minutes)",
        categories=["First attempt", "First connect"],
        series=minutes,
        fmt=lambda v: f"{charts.plain_number(v)} min",
    )
    rows = [_speed_row("Team", report)]
    rows += [_speed_row(f"Source: {name}", s) for name, s in report["by_source"].items()]
    rows += [_speed_row(f"Rep: {name}", s) for name, s in report["by_rep"].items()]
    section = Section(
        name="speed-to-lead",
        wide=True,
        title="Speed to lead",
        question="How soon is a new lead first called or emailed, and first reached?",
        charts=[_svg(chart)],
        headers=[
            "Group",
            "New leads",
            "Attempted",
            "Attempt median",
            "Attempt p90",
            "Connected",
            "Connect median",
            "Connect p90",
        ],
        rows=rows,
    )
    if not report["leads"]:
        section.empty = "No lead was created in this period."
    section.notes.append("A connect is a touch with outcome connected, replied or meeting booked.")
    return section


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


# --- channel mix -----------------------------------------------------------------------------


def channel_mix(report: dict) -> Section:
    channels = report["channels"]
    chart = charts.bar_chart(
        title="Channel mix",
        categories=list(channels),
        series=[
            ("Share of touches", [c["share_pct"] for c in channels.values()]),
            ("Connect rate", [c["connect_pct"] for c in channels.values()]),
            ("Reply rate", [c["reply_pct"] for c in channels.values()]),
        ],
        fmt=charts.percent,
    )
    rows = [
        [
            name,
            c["touches"],
            c["share_pct"],
            c["connects"],
            c["connect_pct"],
            c["replies"],
            c["reply_pct"],
            c["meetings"],
        ]
        for name, c in channels.items()
    ]
    section = Section(
        name="channel-mix",
        wide=True,
        title="Channel mix",
        question="Which channels does the team use, and which ones reach people?",
        charts=[_svg(chart)],
        headers=[
            "Channel",
            "Outbound touches",
            "Share %",
            "Connects",
            "Connect %",
            "Replies",
            "Reply %",
            "Meetings",
        ],
        rows=rows,
    )
    if not report["total"]:
        section.empty = "No outbound touch was made in this period."
    refreshed = report.get("summary_refreshed_at")
    if refreshed:
        at = dt.datetime.fromisoformat(refreshed).astimezone(dt.UTC).strftime("%d %b %H:%M UTC")
        section.notes.append(
            f"Counted from the hourly touch summary (last refreshed {at}) plus every touch "
            "logged since, read live: the figures are current."
        )
    return section


# --- step results ----------------------------------------------------------------------------


def _step_label(step: dict) -> str:
    variant = f" {step['variant']}" if step["variant"] else ""
    return f"{step['cadence']} · {step['step']}{variant}"


def step_results(report: dict) -> Section:
    steps = report["steps"]
    chart = charts.bar_chart(
        title="Step results",
        categories=[_step_label(s) for s in steps],
        series=[
            ("Done on time", [s["on_time_pct"] for s in steps]),
            ("Connected or replied", [s["response_pct"] for s in steps]),
            ("Exited there", [s["exit_pct"] for s in steps]),
        ],
        fmt=charts.percent,
    )
    rows = [
        [
            s["cadence"],
            s["step"],
            s["channel"],
            s["variant"],
            s["reached"],
            s["done_on_time"],
            s["on_time_pct"],
            s["connected_or_replied"],
            s["response_pct"],
            s["exited"],
            s["exit_pct"],
        ]
        for s in steps
    ]
    section = Section(
        name="step-results",
        wide=True,
        title="Step results",
        question="Per cadence step: how many reached it, were done on time, answered, left?",
        charts=[_svg(chart)],
        headers=[
            "Cadence",
            "Step",
            "Channel",
            "Variant",
            "Reached",
            "On time",
            "On time %",
            "Connected/replied",
            "Response %",
            "Exited there",
            "Exit %",
        ],
        rows=rows,
    )
    if not steps:
        section.empty = "No cadence step fell due in this period."
    section.notes.append(
        "Reached: step tasks created in the period. On time: done by the end of the due day."
    )
    section.notes.extend(_snapshot_note(report))
    return section


def _snapshot_note(report: dict) -> list[str]:
    """Whether the team's figures come from the worker's snapshot, and of when."""
    refreshed = report.get("summary_refreshed_at")
    if not refreshed:
        return []  # computed live: current
    at = dt.datetime.fromisoformat(refreshed).astimezone(dt.UTC).strftime("%d %b %H:%M UTC")
    return [f"Figures as of {at} (the worker refreshes them every hour)."]


# --- best count and cadence ------------------------------------------------------------------


def _rate_rows(kind: str, rates: dict[str, dict]) -> list[list[Cell]]:
    return [[kind, name, r["leads"], r["won"], r["win_rate_pct"]] for name, r in rates.items()]


def _best_note(what: str, best: dict | None, min_sample: int) -> str:
    if best is None:
        return f"Best {what}: not enough history yet (a bucket needs {min_sample} decided leads)."
    return (
        f"Best {what}: {best['bucket']} — {best['win_rate_pct']}% won "
        f"({best['won']} of {best['leads']})."
    )


def best_count(report: dict) -> Section:
    by_count, by_gap = report["by_count"], report["by_gap"]
    count_chart = charts.bar_chart(
        title="Win rate by touch count",
        categories=list(COUNT_BUCKETS),
        series=[("Win rate", [by_count[b]["win_rate_pct"] for b in COUNT_BUCKETS])],
        fmt=charts.percent,
    )
    gap_chart = charts.bar_chart(
        title="Win rate by median gap between touches",
        categories=list(GAP_BUCKETS),
        series=[("Win rate", [by_gap[b]["win_rate_pct"] for b in GAP_BUCKETS])],
        fmt=charts.percent,
    )
    section = Section(
        name="best-count",
        title="Best count and cadence",
        question="From your own history: how many touches, how far apart, win most often?",
        charts=[_svg(count_chart), _svg(gap_chart)],
        headers=["By", "Bucket", "Decided leads", "Won", "Win rate %"],
        rows=_rate_rows("touches", by_count) + _rate_rows("median gap", by_gap),
    )
    if not report["decided"]:
        section.empty = "No touched lead was won, lost or marked unresponsive in this period."
    section.notes += [
        _best_note("count", report["best_count"], report["min_sample"]),
        _best_note("spacing", report["best_gap"], report["min_sample"]),
        "Decided: won, lost or unresponsive in the period; touches counted up to the decision.",
        *_snapshot_note(report),
    ]
    return section


# --- load forecast ---------------------------------------------------------------------------


def _peak(days: list[dict], key: str) -> tuple[int, str]:
    busiest = max(days, key=lambda d: d[key], default=None)
    return (busiest[key], busiest["date"]) if busiest else (0, "")


def _forecast_csv_row(rep: dict, day: dict) -> list[Cell]:
    return [
        rep["rep"],
        day["date"],
        day["calls"],
        day["emails"],
        day["auto_emails"],
        day["other"],
        rep["call_capacity"],
        rep["email_capacity"],
        day["over_calls"] or day["over_emails"],
    ]


def load_forecast(report: dict) -> Section:
    days = report["days"]
    team_calls = [sum(r["days"][i]["calls"] for r in report["reps"]) for i in range(len(days))]
    team_emails = [sum(r["days"][i]["emails"] for r in report["reps"]) for i in range(len(days))]
    capacity = sum(r["call_capacity"] for r in report["reps"])
    chart = charts.line_chart(
        title="Load forecast, next 4 weeks",
        categories=[d[5:] for d in days],
        series=[("Calls", team_calls), ("Manual emails", team_emails)],
        limit=("Team call capacity", [capacity] * len(days)),
        label_every=7,
    )
    rows = []
    for rep in report["reps"]:
        peak_calls, on_calls = _peak(rep["days"], "calls")
        peak_emails, on_emails = _peak(rep["days"], "emails")
        over = sum(1 for d in rep["days"] if d["over_calls"] or d["over_emails"])
        emails_and_over = (rep["email_capacity"], peak_emails, on_emails, over)
        rows.append([rep["rep"], rep["call_capacity"], peak_calls, on_calls, *emails_and_over])
    section = Section(
        name="load-forecast",
        wide=True,
        title="Load forecast",
        question="Over the next 4 weeks, will any rep have more calls or emails than a day holds?",
        charts=[_svg(chart)],
        headers=[
            "Rep",
            "Call capacity",
            "Peak calls",
            "on",
            "Email capacity",
            "Peak emails",
            "on",
            "Overloaded days",
        ],
        rows=rows,
        csv_headers=[
            "rep",
            "date",
            "calls",
            "emails",
            "auto_emails",
            "other",
            "call_capacity",
            "email_capacity",
            "overloaded",
        ],
        csv_rows=[_forecast_csv_row(r, d) for r in report["reps"] for d in r["days"]],
    )
    if not report["reps"]:
        section.empty = "No active rep to forecast for."
    for over in report["overloads"][:20]:
        section.notes.append(
            f"Overload: {over['rep']} on {over['date']}: {over['calls']} calls "
            f"(capacity {over['call_capacity']}), {over['emails']} emails "
            f"(capacity {over['email_capacity']})."
        )
    section.notes.append(
        f"From {report['start']}: pending tasks on their due day (overdue ones on the first "
        "day), later steps projected as if each is done when due; time off not foreseen."
    )
    section.notes.extend(_forecast_snapshot_notes(report))
    return section


def _forecast_snapshot_notes(report: dict) -> list[str]:
    notes = _snapshot_note(report)
    if notes and report.get("reps_not_in_summary"):
        names = ", ".join(report["reps_not_in_summary"])
        notes.append(f"No figures yet for {names}: not active reps at that refresh.")
    return notes


# --- today at a glance -----------------------------------------------------------------------


def _progress(queue: dict | None) -> str:
    if queue is None:
        return "not assembled yet"
    return f"{queue['done']} of {queue['total']}"


def today(report: dict) -> Section:
    reps = report["reps"]
    chart = charts.bar_chart(
        title="Today at a glance",
        categories=[r["rep"] for r in reps],
        series=[
            ("Overdue tasks", [r["overdue"] for r in reps]),
            ("Hot leads not called", [r["hot_pending"] for r in reps]),
            ("Queue done", [r["queue"]["done"] if r["queue"] else None for r in reps]),
        ],
    )
    rows = [
        [r["rep"], r["date"], r["overdue"], r["hot_pending"], _progress(r["queue"])] for r in reps
    ]
    section = Section(
        name="today",
        title="Today at a glance",
        question="Right now: what is overdue, how far is each queue, which hot leads wait?",
        charts=[_svg(chart)],
        headers=["Rep", "Their today", "Overdue", "Hot, not called", "Queue done"],
        rows=rows,
    )
    if not reps:
        section.empty = "No active rep."
    for hot in report["hot_leads"]:
        since = dt.datetime.fromisoformat(hot["since"]).strftime("%d %b %H:%M UTC")
        section.notes.append(
            f"Hot, not called yet: {hot['lead']} ({hot['rep']}) since {since}: {hot['why']}"
        )
    return section


SECTIONS: dict[str, Callable[[dict], Section]] = {
    "touches-to-close": touches_to_close,
    "follow-up-stops": follow_up_stops,
    "speed-to-lead": speed_to_lead,
    "channel-mix": channel_mix,
    "step-results": step_results,
    "best-count": best_count,
    "load-forecast": load_forecast,
    "today": today,
}
