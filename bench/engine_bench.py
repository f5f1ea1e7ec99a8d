"""The worker's benchmarks: the idle tick, the morning queues, sending and recording
emails, and the worker's peak memory.

Each repetition runs in a transaction that is rolled back (outside the timed part), so
every repetition starts from the same data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings

from bench import floors
from bench.harness import Result, Target, counting_queries, plural
from bench.scales import Scale

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    scale: Scale
    now: dt.datetime
    url: str  # the run's database
    repetitions: int


def in_rollback(work: Callable[[], object]) -> tuple[float, object]:
    """Time ``work`` inside a transaction, then undo it (the undo is not timed)."""
    with transaction.atomic():
        started = time.perf_counter()
        value = work()
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed, value


BUDGET_SECONDS = 120  # timed repetitions of one benchmark stop after about this long


def affordable(repetitions: int, warmup_seconds: float) -> int:
    """Fewer repetitions (at least one) for what takes long: the spread shows how many."""
    return max(1, min(repetitions, int(BUDGET_SECONDS / max(warmup_seconds, 1e-9))))


def repeat_in_rollback(
    work: Callable[[], object], *, repetitions: int, warmups: int = 1
) -> tuple[list[float], object, int]:
    """Timings of the repetitions, the last value, and the queries of the warm-up run."""
    with counting_queries() as counted:
        elapsed, value = in_rollback(work)
    for _ in range(warmups - 1):
        elapsed, value = in_rollback(work)
    samples = []
    for _ in range(affordable(repetitions, elapsed)):
        elapsed, value = in_rollback(work)
        samples.append(elapsed)
    return samples, value, counted.value


# --- the morning tick and its floor ------------------------------------------------------


def morning_tick(ctx: Context) -> Result:
    from cadences.queues import QUEUE_BATCH, queues_refresh

    result = Result(
        "morning tick: queues_refresh, every rep's queue",
        target=Target(10, "max", "< 10 s"),
        floor_ratio_limit=3,
    )

    def ours() -> list[tuple]:
        queues_refresh(now=ctx.now, since=None)
        return _snapshot()

    def floor() -> list[tuple]:
        with connection.cursor() as cursor:
            floors.morning_queues(cursor, now=ctx.now, default_tz=settings.TIME_ZONE)
        return _snapshot()

    result.samples, built, queries = repeat_in_rollback(ours, repetitions=ctx.repetitions)
    result.floor, by_floor, _ = repeat_in_rollback(floor, repetitions=ctx.repetitions)
    items = sum(q[2] + q[4] + q[6] for q in built)
    result.notes.append(
        f"{len(built):,} queues, {items:,} queue items, {plural(queries, 'query')} "
        f"(batches of {QUEUE_BATCH} reps)"
    )
    same = built == by_floor
    result.extra_checks.append(("the floor writes the same queues", same))
    if not same:
        result.notes.append("the floor's queues differ from ours: check bench/floors.py")
    return result


def _snapshot() -> list[tuple]:
    with connection.cursor() as cursor:
        return floors.queue_snapshot(cursor)


def commit_morning_state(ctx: Context) -> None:
    """The day has begun: queues assembled and a tick recorded at NOW."""
    from cadences.models import Heartbeat
    from cadences.queues import queues_refresh
    from cadences.tick import TICK

    queues_refresh(now=ctx.now, since=None)
    Heartbeat.objects.update_or_create(name=TICK, defaults={"at": ctx.now, "detail": {}})


def idle_tick(ctx: Context) -> Result:
    from cadences.tick import tick

    result = Result("tick, nothing due (idle)", target=Target(0.2, "max", "< 0.2 s"))
    later = ctx.now + dt.timedelta(minutes=1)
    samples, report, queries = repeat_in_rollback(
        lambda: tick(now=later), repetitions=5 * ctx.repetitions
    )
    result.samples = samples
    busy = {k: v for k, v in vars(report).items() if k != "now" and v}
    result.notes.append(plural(queries, "query"))
    if busy:
        result.notes.append(f"not idle: {busy}")
        result.extra_checks.append(("nothing to do", False))
    return result


# --- worker memory -------------------------------------------------------------------


def worker_rss(ctx: Context) -> Result:
    """Peak RSS (VmHWM) of a fresh worker process running the morning tick."""
    result = Result(
        "worker peak RSS during the morning tick", unit="MB", target=Target(500, "max", "< 500 MB")
    )
    env = {**os.environ, "DATABASE_URL": ctx.url}
    probe = ROOT / "bench" / "rss_probe.py"
    baselines = []
    for _ in range(max(1, min(ctx.repetitions, 3))):
        done = subprocess.run(
            [sys.executable, str(probe), ctx.now.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        result.samples.append(figures["peak_kb"] / 1024)
        baselines.append(figures["baseline_kb"] / 1024)
    result.notes.append(f"{statistics.median(baselines):.0f} MB after start-up")
    return result


# --- automated email -----------------------------------------------------------------


class SinkProcess:
    """``bench/smtp_sink.py`` in its own process: what it received, by Message-ID."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def message_ids(self) -> list[str]:
        return self.log.read_bytes().decode().splitlines()

    @property
    def count(self) -> int:
        return len(self.message_ids())


@contextmanager
def smtp_sink() -> Iterator[SinkProcess]:
    """An SMTP server on 127.0.0.1 in a process of its own (as a mail server is never
    inside the worker), and Django's SMTP backend pointed at it."""
    with tempfile.TemporaryDirectory(prefix="bench-smtp-") as folder:
        log = Path(folder) / "received.log"
        log.touch()
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            ready = server.stdout.readline().split()
            if len(ready) != 2 or ready[0] != "ready":
                raise RuntimeError(f"the SMTP sink did not start: {ready}")
            with override_settings(
                EMAIL_BACKEND="followup.mail.SMTPBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=int(ready[1]),
                EMAIL_USE_TLS=False,
                EMAIL_USE_SSL=False,
                EMAIL_HOST_USER="",
                EMAIL_HOST_PASSWORD="",
                EMAIL_TIMEOUT=30,
            ):
                yield SinkProcess(log)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def due_cutoffs(ctx: Context, blocks: int) -> list[dt.datetime]:
    """Moments when 1, 2, … ``blocks`` times ``emails`` automated emails have fallen due
    after NOW: each repetition sends the next block, as successive morning bursts do."""
    from cadences.models import Task

    due = (
        Task.objects.filter(status="pending", mode="auto", due_at__gt=ctx.now)
        .order_by("due_at", "id")
        .values_list("due_at", flat=True)
    )
    n = ctx.scale.emails
    cutoffs = []
    for block in range(1, blocks + 1):
        found = list(due[block * n - 1 : block * n])
        if not found:
            break
        cutoffs.append(found[0])
    return cutoffs


def due_cutoff(ctx: Context) -> dt.datetime | None:
    """The moment when exactly ``emails`` automated emails have fallen due after NOW."""
    found = due_cutoffs(ctx, 1)
    return found[0] if found else None


def emails(ctx: Context) -> list[Result]:
    from cadences.outbox import deliver_due_emails, outbox_fill, record_sent_emails

    n = ctx.scale.emails
    sending = Result(
        f"send {n:,} due auto emails to an SMTP sink (outbox_fill + deliver_due_emails)",
        unit="emails/s",
        target=Target(200, "min", "≥ 200 /s"),
    )
    recording = Result("record_sent_emails: Touch + next step per sent email", unit="emails/s")
    cutoffs = due_cutoffs(ctx, 1 + ctx.repetitions)
    if len(cutoffs) < 2:
        sending.status = recording.status = "skipped"
        sending.notes.append(f"fewer than {2 * n} automated emails pending in the dataset")
        return [sending, recording]
    work = (outbox_fill, deliver_due_emails, record_sent_emails)
    with smtp_sink() as sink:
        # The warm-up counts queries and is undone; the timed runs commit as the worker
        # does (each commit waits for the WAL to reach the disk), one block each.
        figures = _send_once(cutoffs[0], sink, *work, count_queries=True, keep=False)
        _email_notes(sending, recording, figures)
        took = figures["fill_s"] + figures["deliver_s"] + figures["record_s"]
        for cutoff in cutoffs[1 : 1 + affordable(ctx.repetitions, took)]:
            figures = _send_once(cutoff, sink, *work, count_queries=False, keep=True)
            if not figures["exactly_once"]:
                sending.extra_checks.append(("a timed run's emails reached the sink once", False))
            sending.samples.append(figures["sent"] / (figures["fill_s"] + figures["deliver_s"]))
            recording.samples.append(figures["recorded"] / figures["record_s"])
        sending.notes.append(
            f"of which rendering {figures['filled'] / figures['fill_s']:,.0f}/s, "
            f"sending {figures['sent'] / figures['deliver_s']:,.0f}/s"
        )
    return [sending, recording]


def _send_once(cutoff, sink, fill, deliver, record, *, count_queries: bool, keep: bool) -> dict:
    from cadences.models import OutboundEmail

    figures: dict[str, float] = {}
    before = sink.count
    with transaction.atomic() if not keep else _nothing():
        for step, work in (("fill", fill), ("deliver", deliver), ("record", record)):
            with counting_queries() if count_queries else _nothing() as counted:
                started = time.perf_counter()
                value = work(limit=10**9) if step == "record" else work(now=cutoff)
                figures[f"{step}_s"] = time.perf_counter() - started
            figures[f"{step}_queries"] = counted.value if counted is not None else 0
            figures[{"fill": "filled", "deliver": "handled", "record": "recorded"}[step]] = value
        # Exactly once: the sink received each row sent in this run once, and nothing else.
        received = sink.message_ids()[before:]
        sent = OutboundEmail.objects.filter(created_at=cutoff, status="sent")
        expected = sorted(sent.values_list("message_id", flat=True))
        figures["exactly_once"] = sorted(received) == expected
        if not keep:
            transaction.set_rollback(True)
    figures["sent"] = len(received)
    return figures


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _email_notes(sending: Result, recording: Result, figures: dict) -> None:
    sent = max(figures["sent"], 1)
    sending.notes.append(
        f"{figures['sent']:,} received by the sink; per email: "
        f"{figures['fill_queries'] / sent:.1f} queries to render, "
        f"{figures['deliver_queries'] / sent:.1f} to send"
    )
    recording.notes.append(f"{figures['record_queries'] / sent:.1f} queries per email")
    if not figures["exactly_once"]:
        sending.notes.append("the sink's Message-IDs differ from the rows sent")
    sending.extra_checks.append(("every sent email reached the sink once", figures["exactly_once"]))
    if figures["sent"] != figures["filled"]:
        sending.notes.append(f"{figures['filled']:,} rendered but {figures['sent']:,} sent")
        sending.extra_checks.append(("every rendered email reached the sink", False))
