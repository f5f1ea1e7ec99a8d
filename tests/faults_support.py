"""Helpers for the fault tests: a real ``qcluster`` to start and kill, bounded waits,
and the census of the outbox against what the SMTP sink received.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
TEST_SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll a condition with a deadline: waiting for an event, not sleeping for luck."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def database_url() -> str:
    """The URL of the database this test runs on (the test database, not the real one)."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def worker_env(*, database: str, smtp_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "Q_WORKERS": "1",
        "SECRET_KEY": TEST_SECRET_KEY,
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "tests.faults_settings",
        "PYTHONUNBUFFERED": "1",  # its log survives a SIGKILL
        **extra,
    }


@dataclass
class Worker:
    """One ``manage.py qcluster`` in its own process group, so a kill takes its children."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        assert self.process is None, "the worker is already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL the cluster and every process it forked (its own group), and reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it exited: still reaped below
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)
        self.process = None

    def stop(self, grace_seconds: float = 10) -> None:
        """SIGTERM, as docker does, then SIGKILL after the grace period (as docker does)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace_seconds)
        self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def senders_per_tick() -> int:
    """How many messages one tick may have on the wire at once: one per sender thread.
    A kill or a crash leaves at most that many uncertain (``sending``, then ``unknown``)."""
    from django.conf import settings

    from cadences import outbox

    return int(settings.FOLLOWUP.get("EMAIL_SENDERS", getattr(outbox, "SENDERS", 1)))


def enqueue_tick() -> str:
    """Queue one tick for the worker, as its every-minute schedule does."""
    from django_q.tasks import async_task

    return async_task("cadences.tasks.tick")


def tick_finished(task_id: str) -> bool:
    """django-q saves each finished task (a success, or a failure with ack_failures)."""
    from django_q.models import Task as QTask

    return QTask.objects.filter(id=task_id).exists()


@dataclass
class Census:
    """Outbox rows against the messages the sink received, by Message-ID."""

    statuses: Counter = field(default_factory=Counter)
    received: Counter = field(default_factory=Counter)  # Message-ID -> copies
    sent_ids: set[str] = field(default_factory=set)
    unknown_ids: set[str] = field(default_factory=set)
    all_ids: set[str] = field(default_factory=set)

    @property
    def doubled(self) -> list[str]:
        return [mid for mid, copies in self.received.items() if copies > 1]

    @property
    def sent_not_received(self) -> set[str]:
        return {mid for mid in self.sent_ids if not self.received[mid]}

    @property
    def strangers(self) -> set[str]:
        return set(self.received) - self.all_ids

    @property
    def unknown_received(self) -> int:
        return sum(1 for mid in self.unknown_ids if self.received[mid])

    def figures(self) -> dict[str, int]:
        return {
            "rows": len(self.all_ids),
            **{status: self.statuses[status] for status in sorted(self.statuses)},
            "received": sum(self.received.values()),
            "unknown_received": self.unknown_received,
            "doubled": len(self.doubled),
            "lost": len(self.sent_not_received),
        }


def outbox_census(sink) -> Census:
    from cadences.models import OutboundEmail

    return outbox_census_from_rows(sink, OutboundEmail.objects.values_list("message_id", "status"))


def outbox_census_from_rows(sink, rows: Iterable[tuple[str, str]]) -> Census:
    """The census from (Message-ID, status) rows, however they were read."""
    census = Census()
    with sink.lock:
        census.received = Counter(str(m["Message-ID"]) for m in sink.messages)
    for message_id, status in rows:
        census.statuses[status] += 1
        census.all_ids.add(message_id)
        if status == "sent":
            census.sent_ids.add(message_id)
        elif status == "unknown":
            census.unknown_ids.add(message_id)
    return census


def assert_sent_once_or_unknown(census: Census, *, due: int) -> None:
    """Every due email sent exactly once or ``unknown`` for review; none sent twice."""
    assert census.doubled == [], f"sent twice: {census.doubled[:5]}"
    assert census.strangers == set(), "the sink got a message no outbox row sent"
    assert set(census.statuses) <= {"sent", "unknown"}, f"left over: {census.statuses}"
    assert census.statuses["sent"] + census.statuses["unknown"] == due
    assert census.sent_not_received == set(), "a row marked sent never reached the sink"
    assert all(census.received[mid] == 1 for mid in census.sent_ids)


def assert_no_enrolment_stuck() -> dict[str, int]:
    """Each email task once; each active enrolment has exactly one pending step task;
    each sent email has its Touch and its cadence moved on."""
    from django.db.models import Count, Q

    from cadences.models import Enrolment, OutboundEmail, Task
    from leads.models import Touch

    pending = Q(tasks__status=Task.Status.PENDING, tasks__kind=Task.Kind.STEP)
    active = Enrolment.objects.filter(status=Enrolment.Status.ACTIVE).annotate(
        pending=Count("tasks", filter=pending)
    )
    stuck = [e.id for e in active if e.pending != 1]
    assert stuck == [], f"enrolments without exactly one pending step: {stuck[:5]}"
    per_step = (
        Task.objects.values("enrolment_id", "step_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not per_step.exists(), "a step has two tasks in one enrolment"
    sent = OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT)
    assert not sent.filter(recorded=False).exists(), "a sent email was never recorded"
    assert Touch.objects.filter(automated=True).count() == sent.count()
    assert not OutboundEmail.objects.filter(status=OutboundEmail.Status.SENDING).exists()
    return {"active_enrolments": len(active), "tasks": Task.objects.count()}


def tick_until(condition: Callable[[], object], timeout: float, what: str) -> int:
    """Queue ticks one after another, as the every-minute schedule would but without the
    minute between them, until ``condition`` holds; how many ticks were queued."""
    deadline, ticks = time.monotonic() + timeout, 0
    while not condition():
        left = deadline - time.monotonic()
        assert left > 0, f"timed out after {timeout}s waiting for {what}"
        task_id = enqueue_tick()
        ticks += 1
        wait_for(lambda t=task_id: tick_finished(t) or condition(), left, what)
    return ticks


def enrol_for_auto_email(rep, count: int, name: str) -> list:
    """``count`` leads of ``rep`` enrolled where an automatic email is due at once."""
    import datetime as dt

    from django.utils import timezone

    from cadences.services import enrolment_start_many
    from leads.models import Lead
    from tests.factories import LeadFactory
    from tests.integration.engine_helpers import AUTO_EMAIL_THEN_CALL, make_cadence

    cadence = make_cadence(name, AUTO_EMAIL_THEN_CALL, business_days_only=False, min_gap_hours=0)
    # One INSERT for all the leads: a thousand factory saves cost the test half a minute.
    leads = Lead.objects.bulk_create(LeadFactory.build_batch(count, owner=rep, timezone="UTC"))
    started, refused = enrolment_start_many(
        leads=leads, cadence=cadence, now=timezone.now() - dt.timedelta(minutes=5)
    )
    assert (len(started), refused) == (count, [])
    return started


# --- a throwaway PostgreSQL cluster, to stop and start under a running tick -------------


def pg_bin_dir() -> Path | None:
    """Where the server binaries are (Debian keeps them off PATH), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts)
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


@dataclass
class ThrowawayCluster:
    """``scripts/pg_test_cluster.sh`` on its own port and directory, never the shared one.

    The script makes and deletes the cluster; stopping and starting it in between is
    done with ``pg_ctl`` on the same data directory, since the script's ``start`` would
    make a fresh, empty cluster.
    """

    port: int
    bin_dir: Path

    @property
    def directory(self) -> Path:
        return Path(f"/tmp/followup-faults-pg-{self.port}")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/followup"

    def _script(self, command: str) -> None:
        env = {**os.environ, "PG_TEST_PORT": str(self.port), "PG_TEST_DIR": str(self.directory)}
        subprocess.run(
            ["scripts/pg_test_cluster.sh", command], cwd=ROOT, env=env, check=True, timeout=180
        )

    def _pg_ctl(self, *args: str) -> None:
        owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*owner, str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "data")]
        subprocess.run([*command, *args], check=True, timeout=120, capture_output=True)

    def create(self) -> None:
        """Make the cluster, then restart it committing as production does (below)."""
        self._script("start")
        self._pg_ctl("stop", "--mode=fast", "--wait")
        self.start_again()

    def destroy(self) -> None:
        self._script("stop")

    def stop_now(self) -> None:
        """Stop the server at once, as a crash or a kill would: connections just drop."""
        self._pg_ctl("stop", "--mode=immediate", "--wait")

    def start_again(self) -> None:
        """Start the same data again; after ``stop_now`` crash recovery runs first.

        Commits are synchronous, as in production (the script turns that off for speed):
        an asynchronous commit may be lost when the server stops at once, and a test of
        a crash would then count the database's loss as the outbox's double send.
        fsync stays off: it guards against a crash of the machine, not of PostgreSQL.
        """
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.directory}"
            " -c fsync=off -c synchronous_commit=on -c full_page_writes=off"
        )
        log = str(self.directory / "server.log")
        self._pg_ctl("start", "--wait", "--timeout=60", "-l", log, "-o", options)


def manage(database: str, *args: str, timeout: float = 300, **env: str) -> str:
    """Run ``manage.py`` against ``database`` and return its output; fail with its stderr."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**worker_env(database=database, smtp_port=0), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout
