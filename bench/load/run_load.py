"""The load run: N simulated reps work their queues against gunicorn while the tick runs.

    bench/load/run_load.py --reps 200 --seconds 300     # the full run (README.md)
    bench/load/run_load.py --reps 20 --seconds 20       # the short run CI makes

On loopback only. It creates a PostgreSQL database for the run on the server of
``--database-url`` (else ``LOAD_DATABASE_URL``, else ``DATABASE_URL``), migrates it,
creates the reps and their queues of due calls, starts gunicorn (DEBUG off) on a free
127.0.0.1 port and the tick loop, runs the reps (``bench/load/reps.py``, a process of
its own), stops everything, checks the database against what the reps saw, prints
the tables, and drops the database. Exit status 0 when there was no error and every
check holds, 1 otherwise, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: bench.load, followup… from the checkout

from bench.load import figures  # noqa: E402 (needs the path above)

CLUSTER_HINT = (
    "start a throwaway one with `PG_TEST_PORT=54333 scripts/pg_test_cluster.sh start` and pass "
    "--database-url $(PG_TEST_PORT=54333 scripts/pg_test_cluster.sh url)"
)


def login_allowance(reps: int) -> float:
    """How long the login phase may take: each login is a PBKDF2 hash, about a second
    of a busy CPU, and the reps log in a few at a time."""
    return 60 + 2 * reps


class CannotRun(Exception):
    """The run could not start; ``str()`` says why and what to do."""


@dataclass(frozen=True)
class Plan:
    reps: int
    seconds: float
    think: float
    leads_per_rep: int
    web_workers: int
    tick_every: float
    double_click: float
    seed: int


# --- the database -------------------------------------------------------------------


def server_url(explicit: str | None) -> str:
    url = explicit or os.environ.get("LOAD_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise CannotRun(f"the load run needs PostgreSQL: {CLUSTER_HINT}")
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise CannotRun(f"the load run stays on loopback; {host!r} is not (use 127.0.0.1)")
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def _admin(server: str) -> object:
    import psycopg  # imported late: --help and the argument checks need no driver

    return psycopg.connect(with_database(server, "postgres"), autocommit=True)


def create_database(server: str, name: str) -> None:
    from psycopg import sql

    try:
        with _admin(server) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    except Exception as exc:  # refused, no such server, no rights: say which, then stop
        raise CannotRun(f"cannot create database {name!r}: {exc}; {CLUSTER_HINT}") from exc


def drop_database(server: str, name: str) -> None:
    from psycopg import sql

    with _admin(server) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


# --- setting up -------------------------------------------------------------------------


def django_env(database_url: str, workdir: Path) -> dict[str, str]:
    """What the web server, the tick and this process share: production-like settings."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.load.settings",
        "LOAD_STATIC_ROOT": str(workdir / "static"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_URL": "dummymail://",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def prepare(plan: Plan, workdir: Path) -> dict:
    """Migrate, collect static files, build the reps and their queues (in this process)."""
    import django
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    django.setup()
    from bench.load import dataset

    timings = {}
    with _timed(timings, "migrate"):
        call_command("migrate", interactive=False, verbosity=0)
    with _timed(timings, "collectstatic"):
        call_command("collectstatic", interactive=False, verbosity=0)
    with _timed(timings, "data"):
        people = dataset.build(
            reps=plan.reps,
            leads_per_rep=plan.leads_per_rep,
            now=timezone.now(),
            # Emails fall due from now to the run's likely end, so most are sent mid-run.
            email_seconds=plan.reps * 0.5 + plan.seconds + 30,
            seed=plan.seed,
        )
    connections.close_all()
    (workdir / "people.json").write_text(
        json.dumps({"usernames": people.usernames, "password": people.password})
    )
    print("run_load: set up in " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return {"cadence_id": people.cadence_id, "setup_seconds": timings}


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    began = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - began, 1)


# --- the processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # A session of its own: stopping it reaches its children (gunicorn's workers) too.
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM to the process's own group, SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_web(plan: Plan, env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "followup.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(plan.web_workers),
        "--graceful-timeout", "30",
    ]  # fmt: skip
    web = start(command, env, workdir / "web.log")
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(web, f"{base}/healthz", workdir / "web.log")
    return web, base


def _wait_healthy(web: subprocess.Popen, url: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise CannotRun(f"gunicorn exited with {web.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise CannotRun(f"gunicorn did not answer {url} within {seconds:.0f} s")


def run_processes(plan: Plan, env: dict[str, str], workdir: Path) -> dict:
    """gunicorn, the tick loop and the reps; the reps' and the tick's reports."""
    with ExitStack() as cleanup:
        booting = time.perf_counter()
        web, base = start_web(plan, env, workdir)
        cleanup.callback(stop, web)
        boot_seconds = time.perf_counter() - booting
        until = time.time() + plan.seconds + login_allowance(plan.reps) + 60
        ticks = start(
            [sys.executable, "-m", "bench.load.tick_loop", "--every", str(plan.tick_every),
             "--until", str(until), "--out", str(workdir / "ticks.json")],
            env, workdir / "tick.log",
        )  # fmt: skip
        cleanup.callback(stop, ticks, 120)
        load_before = os.getloadavg()
        reps = start(_reps_command(plan, base, workdir), {"PYTHONPATH": env["PYTHONPATH"]},
                     workdir / "reps.log")  # fmt: skip
        cleanup.callback(stop, reps, 5)
        try:
            reps.wait(timeout=plan.seconds + login_allowance(plan.reps) + 60)
        except subprocess.TimeoutExpired:
            raise CannotRun("the simulated reps did not stop in time") from None
        load_after = os.getloadavg()
        if reps.returncode != 0:
            raise CannotRun(f"the reps' process failed:\n{(workdir / 'reps.log').read_text()}")
    return {
        "reps": json.loads((workdir / "reps.json").read_text()),
        "ticks": _read_json(workdir / "ticks.json"),
        "load_average": {"before": load_before, "after": load_after},
        "web_boot_seconds": round(boot_seconds, 1),
    }


def _reps_command(plan: Plan, base: str, workdir: Path) -> list[str]:
    return [
        sys.executable, "-m", "bench.load.reps",
        "--base-url", base,
        "--people", str(workdir / "people.json"),
        "--seconds", str(plan.seconds),
        "--think", str(plan.think),
        "--double-click", str(plan.double_click),
        "--logins-at-once", str(plan.web_workers),
        "--seed", str(plan.seed),
        "--out", str(workdir / "reps.json"),
    ]  # fmt: skip


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"ticks": 0, "failures": ["none"]}


def server_tracebacks(workdir: Path, limit: int = 3) -> list[str]:
    """What went wrong in gunicorn's log: the tracebacks Django logs for each 500 (DEBUG
    off), and the workers gunicorn killed for taking longer than its timeout."""
    text = (workdir / "web.log").read_text(errors="replace")
    chunks = text.split("Traceback (most recent call last):")[1:]
    found = [("Traceback (most recent call last):" + chunk)[:4000] for chunk in chunks[:limit]]
    return found + [line for line in text.splitlines() if "WORKER TIMEOUT" in line][:limit]


# --- judging and reporting --------------------------------------------------------------


def judge(plan: Plan, ran: dict, cadence_id: int, workdir: Path) -> dict:
    """The figures and the checks; ``passed`` only when every one holds."""
    from bench.load.checks import miscounted_leads, run_checks, worker_figures

    reps = ran["reps"]
    rows = figures.page_figures(
        reps["samples"], login_seconds=reps["login_seconds"], work_seconds=reps["work_seconds"]
    )
    checks, mismatched = run_checks(reps["reps"], cadence_id=cadence_id)
    anomalies = [line for rep in reps["reps"] for line in rep["anomalies"]]
    tick_failures = [failure for failure in ran["ticks"]["failures"] if failure]
    tracebacks = server_tracebacks(workdir)
    errors = rows[-1].errors
    return {
        "plan": asdict(plan),
        "login_seconds": round(reps["login_seconds"], 1),
        "work_seconds": round(reps["work_seconds"], 1),
        "pages": figures.as_dicts(rows),
        "errors": errors,
        "error_lines": figures.error_lines(reps["samples"]),
        "anomalies": _by_count(anomalies),
        "checks": [{**asdict(check), "ok": check.ok} for check in checks],
        "mismatched_reps": mismatched,
        "miscounted_leads": miscounted_leads(),
        "outcomes": _outcome_totals(reps["reps"]),
        "queues_emptied": sum(rep["queue_emptied"] for rep in reps["reps"]),
        "worker": worker_figures(),
        "ticks": {
            "count": ran["ticks"]["ticks"],
            "failures": len(tick_failures),
            "max_seconds": round(max(ran["ticks"].get("seconds") or [0]), 2),
            "first_failure": tick_failures[0] if tick_failures else "",
        },
        "server_tracebacks": tracebacks,
        "load_average": ran["load_average"],
        "web_boot_seconds": ran["web_boot_seconds"],
        "passed": not (errors or anomalies or tick_failures or tracebacks)
        and all(check.ok for check in checks),
        "_tables": (figures.latency_table(rows), figures.checks_table(checks)),
    }


def _by_count(lines: list[str], limit: int = 20) -> list[str]:
    """The same complaint from many reps, said once with its count."""
    counted = Counter(lines).most_common(limit)
    return [f"{n} x {line}" if n > 1 else line for line, n in counted]


def _outcome_totals(reps: list[dict]) -> dict[str, int]:
    totals = {"logged": 0, "closed": 0, "double_clicks": 0}
    for rep in reps:
        totals["logged"] += len(rep["logged"])
        totals["closed"] += rep["closed"]
        totals["double_clicks"] += rep["double_clicks"]
        for outcome, n in rep["outcomes"].items():
            totals[outcome] = totals.get(outcome, 0) + n
    return totals


def print_report(result: dict) -> None:
    latency, checks = result["_tables"]
    plan, ticks, load = result["plan"], result["ticks"], result["load_average"]
    print(
        f"\nLoad run: {plan['reps']} reps logged in over {result['login_seconds']} s, "
        f"then worked {result['work_seconds']} s; "
        f"{plan['web_workers']} gunicorn workers, think {plan['think']} s, "
        f"tick every {plan['tick_every']} s ({ticks['count']} ticks, "
        f"{ticks['failures']} failed, slowest {ticks['max_seconds']} s)"
    )
    print("load average before/after (1, 5, 15 min): "
          f"{_loads(load['before'])} / {_loads(load['after'])}\n")  # fmt: skip
    print(latency, "\n")
    totals = result["outcomes"]
    print(
        f"outcomes logged: {totals['logged']} (connected {totals.get('connected', 0)}, "
        f"no answer {totals.get('no_answer', 0)}, voicemail {totals.get('voicemail', 0)}); "
        f"double clicks {totals['double_clicks']}, answered 'already worked' {totals['closed']}; "
        f"reps who emptied their queue {result['queues_emptied']}\n"
    )
    worker = result["worker"]
    print(
        f"meanwhile the tick sent {worker['emails_sent']} automated emails to the same leads "
        f"({worker['email_touches']} touches; {worker['emails_other']} still queued or other)\n"
    )
    print(checks)
    for title, lines in (
        ("reps whose touches differ", result["mismatched_reps"]),
        ("leads whose touch count is off", result["miscounted_leads"]),
        ("requests that failed", result["error_lines"]),
        ("what the reps did not expect (how many times)", result["anomalies"]),
        ("server tracebacks", result["server_tracebacks"]),
    ):
        if lines:
            print(f"\n{title}:")
            print("\n".join(f"  {line}" for line in lines))
    if ticks["first_failure"]:
        print(f"\nfirst tick failure:\n{ticks['first_failure']}")
    verdict = "PASSED" if result["passed"] else "FAILED"
    boot = result["web_boot_seconds"]
    print(f"\n{verdict} in {result['total_seconds']} s (gunicorn answered after {boot} s)")


def _loads(values: list[float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


# --- the command ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Plan]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument(
        "--think", type=float, help="mean pause between a rep's requests (default: reps / 20 s)"
    )
    parser.add_argument("--leads-per-rep", type=int, help="default: more than a rep can work")
    parser.add_argument("--web-workers", type=int, default=4, choices=range(1, 9))
    parser.add_argument("--tick-every", type=float, default=3.0)
    parser.add_argument("--double-click", type=float, default=0.05, help="share of outcomes")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--database-url", help="postgres://… on 127.0.0.1 (its server is used)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args(argv)
    if not (1 <= args.reps <= 1000 and 1 <= args.seconds <= 3600):
        parser.error("--reps is 1 to 1000 and --seconds 1 to 3600: the run must stay bounded")
    # The default pace offers about 20 requests/s whatever the count of reps (README.md).
    think = args.think if args.think is not None else max(1.0, args.reps / 20)
    # A lead takes four pauses of at least think/2: no rep can work more than this.
    leads = args.leads_per_rep or math.ceil(args.seconds / (4 * 0.5 * think)) + 5
    plan = Plan(
        reps=args.reps,
        seconds=args.seconds,
        think=think,
        leads_per_rep=leads,
        web_workers=args.web_workers,
        tick_every=args.tick_every,
        double_click=args.double_click,
        seed=args.seed,
    )
    return args, plan


def main(argv: list[str] | None = None) -> int:
    args, plan = parse_args(argv)
    try:
        server = server_url(args.database_url)
    except CannotRun as exc:
        print(f"run_load: {exc}", file=sys.stderr)
        return 2
    name = f"followup_load_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
    try:
        create_database(server, name)
    except CannotRun as exc:
        print(f"run_load: {exc}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="followup-load-"))
    try:
        return _run(args, plan, server, name, workdir)
    except CannotRun as exc:
        print(f"run_load: {exc}", file=sys.stderr)
        return 2
    finally:
        _clean_up(args, server, name, workdir)


def _run(args: argparse.Namespace, plan: Plan, server: str, name: str, workdir: Path) -> int:
    began = time.perf_counter()
    env = django_env(with_database(server, name), workdir)
    os.environ.update(env)
    print(f"run_load: database {name}, {plan.reps} reps x {plan.leads_per_rep} due calls")
    setup = prepare(plan, workdir)
    ran = run_processes(plan, env, workdir)
    result = judge(plan, ran, setup["cadence_id"], workdir)
    result |= {"database": name, "setup_seconds": setup["setup_seconds"]}
    result["total_seconds"] = round(time.perf_counter() - began, 1)
    print_report(result)
    if args.json:
        tables = result.pop("_tables")
        args.json.write_text(json.dumps(result | {"tables": tables}, indent=2))
    return 0 if result["passed"] else 1


def _clean_up(args: argparse.Namespace, server: str, name: str, workdir: Path) -> None:
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()
    if args.keep:
        print(f"run_load: kept database {name} and {workdir}")
        return
    drop_database(server, name)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
