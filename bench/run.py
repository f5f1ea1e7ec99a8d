#!/usr/bin/env python
"""Run the benchmarks: ``bench/run.py [--scale tiny|small|full] [--explain] [--only NAME]``.

Builds the dataset when it is missing or stale (``bench/generate.py``), clones it into
a fresh run database, runs every benchmark with warm-up and repetitions, and prints one
markdown table: median, spread, target, ours/floor and pass or fail. Pieces other
engineers have not built yet are "not built" rows. The run database is dropped after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench import pgdb  # noqa: E402
from bench.generate import TEST_SECRET_KEY, migration_leaves  # noqa: E402
from bench.harness import ERROR, Result, table  # noqa: E402
from bench.scales import GENERATOR_VERSION, NOW, SCALES, Scale  # noqa: E402

# (key for --only, the rows it prints): every row is always printed, so a missing one
# is a harness bug the smoke test catches.
BENCHMARKS = (
    ("morning-tick", ["morning tick: queues_refresh, every rep's queue"]),
    ("worker-rss", ["worker peak RSS during the morning tick"]),
    ("idle-tick", ["tick, nothing due (idle)"]),
    ("emails", ["send", "record_sent_emails"]),
    ("pages", ["Today page", "lead page"]),
    ("reports", ["report"]),
    ("import", ["CSV import"]),
    ("api", ["POST /api/leads/", "GET /api/queue/"]),
)


def _run_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]{1,20}", value):
        raise argparse.ArgumentTypeError(f"--run-name {value!r}: use 1-20 of a-z, 0-9 and _")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument(
        "--database-url",
        help="the dataset database (built if missing); default: followup_bench_<scale> on the "
        "server of BENCH_DATABASE_URL or DATABASE_URL. The run uses a clone, <name>_run.",
    )
    parser.add_argument("--explain", action="store_true", help="print the hot queries' plans")
    parser.add_argument(
        "--only", action="append", choices=[key for key, _ in BENCHMARKS], help="repeatable"
    )
    parser.add_argument("--regenerate", action="store_true", help="rebuild the dataset first")
    parser.add_argument("--keep", action="store_true", help="keep the run database afterwards")
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="run on the dataset itself, no clone: for a private copy only, writes that "
        "the benchmarks commit (the day's queues, API leads) stay in it",
    )
    parser.add_argument(
        "--run-name",
        default="run",
        type=_run_name,
        help="suffix of the clone, <dataset>_<run-name>, so two runs can share a dataset",
    )
    return parser.parse_args(argv)


def ensure_dataset(url: str, scale: Scale, regenerate: bool) -> dict:
    """The dataset at this scale, built if missing or made by another generator version,
    migrated if the project has migrations it lacks (new indexes, new columns)."""
    info = pgdb.dataset_info(url)
    fresh = (
        info is not None
        and info.get("state") == "ready"
        and info.get("scale") == scale.name
        and info.get("version") == GENERATOR_VERSION
    )
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", TEST_SECRET_KEY)}
    if not fresh or regenerate:
        command = [sys.executable, str(ROOT / "bench" / "generate.py"), "--scale", scale.name,
                   "--database-url", url]  # fmt: skip
        subprocess.run(command, env=env, check=True)
        return pgdb.dataset_info(url)
    print(f"bench: reusing the {scale.name} dataset in {pgdb.database_name(url)}", flush=True)
    leaves = migration_leaves()
    if info.get("migrations") != leaves:
        print("bench: migrating the dataset to the project's current migrations", flush=True)
        migrate = [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"]
        subprocess.run(migrate, env={**env, "DATABASE_URL": url}, check=True)
        info = {**info, "migrations": leaves}
        pgdb.analyze_and_mark(url, info)
    return info


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", TEST_SECRET_KEY)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "followup.settings")
    import django

    django.setup()


def _failed(rows: list[str], exc: BaseException) -> list[Result]:
    reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return [Result(name, status=ERROR, notes=[reason]) for name in rows]


def run_benchmarks(ctx, only: set[str] | None) -> list[Result]:
    from bench import engine_bench, http_bench, import_bench, pages_bench

    steps: list[tuple[str, Callable[[], list[Result] | Result]]] = [
        ("morning-tick", lambda: engine_bench.morning_tick(ctx)),
        ("worker-rss", lambda: engine_bench.worker_rss(ctx)),
        ("day-begun", lambda: engine_bench.commit_morning_state(ctx)),
        ("idle-tick", lambda: engine_bench.idle_tick(ctx)),
        ("emails", lambda: engine_bench.emails(ctx)),
        ("pages", lambda: pages_bench.pages(ctx)),
        ("reports", lambda: pages_bench.reports(ctx)),
        ("import", lambda: import_bench.import_leads(ctx)),
        ("api", lambda: http_bench.api_load(ctx)),  # last: it commits new leads
    ]
    rows = dict(BENCHMARKS)
    results: list[Result] = []
    for key, step in steps:
        if key != "day-begun" and only and key not in only:
            continue
        started = time.perf_counter()
        print(f"bench: {key} …", file=sys.stderr, flush=True)
        try:
            value = step()
        except Exception as exc:  # one broken benchmark is a row; the others still run
            traceback.print_exc()
            value = _failed(rows.get(key, [key]), exc)
        print(f"bench: {key} took {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if value is not None:
            results += value if isinstance(value, list) else [value]
    return results


def explain(ctx) -> str:
    from django.contrib.auth import get_user_model

    from bench import hot_queries
    from bench.engine_bench import due_cutoff

    reps = list(get_user_model().objects.filter(groups__name="reps").select_related("rep_profile"))
    out = ["## Plans of the hot queries (EXPLAIN (ANALYZE, BUFFERS))", ""]
    found = hot_queries.engine_queries(
        now=ctx.now, rep=reps[0], reps=reps, emails_due_at=due_cutoff(ctx)
    )
    found += list(hot_queries.report_queries(now=ctx.now))
    for query in found:
        wanted = f" — should use {', '.join(query.indexes)}" if query.indexes else ""
        plan = hot_queries.explain_text(query.sql)
        out += [f"### {query.name}{wanted}", "", "```sql", query.sql, "```", "", "```", plan]
        out += ["```", ""]
    return "\n".join(out)


def machine(url: str) -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = pgdb.server_facts(url)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    settings = ", ".join(f"{k} {v}" for k, v in facts.items() if k != "server_version")
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"PostgreSQL {facts['server_version']} ({settings}); load average at the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale = SCALES[args.scale]
    dataset = pgdb.dataset_url(args.database_url, scale.name)
    run = dataset if args.in_place else pgdb.run_url(dataset, args.run_name)
    started = time.perf_counter()
    setup_django(run)  # connects lazily: the run database is made below
    info = ensure_dataset(dataset, scale, args.regenerate)
    if not args.in_place:
        print(f"bench: cloning {pgdb.database_name(dataset)} into {pgdb.database_name(run)}")
        pgdb.clone(dataset, run)
    from bench.engine_bench import Context

    ctx = Context(scale=scale, now=NOW, url=run, repetitions=scale.repetitions)
    try:
        results = run_benchmarks(ctx, set(args.only) if args.only else None)
        plans = explain(ctx) if args.explain else ""
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep and not args.in_place:
            pgdb.drop(run)
    rows = ", ".join(f"{table_name} {n:,}" for table_name, n in info["rows"].items())
    heading = (
        f"## Results at scale `{scale.name}` ({scale.reps:,} reps, {scale.leads:,} leads; "
        f"rows: {rows}), {dt.date.today().isoformat()}, {time.perf_counter() - started:.0f} s\n\n"
        f"Machine: {machine(dataset)}"
    )
    print()
    print(table(results, heading))
    if plans:
        print()
        print(plans)
    return 0


if __name__ == "__main__":
    sys.exit(main())
