#!/usr/bin/env python
"""Build the benchmark dataset: ``bench/generate.py --scale small|full [--database-url URL]``.

(Re)creates the dataset database (``followup_bench_<scale>`` beside DATABASE_URL's, or
the one --database-url names; a database with tables is only dropped when it is a bench
dataset), migrates it, makes reps, tags, assets and the three demo cadences, then loads
the leads and their histories with COPY and prints how long each table took.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench import catalog, checks, loader, pgdb  # noqa: E402
from bench.scales import GENERATOR_VERSION, NOW, SCALES, SEED, Scale  # noqa: E402
from bench.story import (  # noqa: E402
    COLUMNS,
    CadenceInfo,
    Emitters,
    RepInfo,
    StepInfo,
    Story,
    World,
)

TEST_SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
CADENCE_FILES = ("long-term-nurture.json", "inbound-demo-request.json", "outbound-8-touch.json")
CADENCE_KEYS = {
    "Long-term nurture": "nurture",
    "Inbound demo request": "inbound",
    "Outbound 8-touch": "outbound",
}
STORY_TABLES = {
    "account": "leads_account",
    "lead": "leads_lead",
    "lead_tag": "leads_lead_tags",
    "enrolment": "cadences_enrolment",
    "task": "cadences_task",
    "touch": "leads_touch",
    "event": "cadences_enrolmentevent",
    "outbox": "cadences_outboundemail",
    "signal": "leads_signal",
}
PEOPLE_COLUMNS = {
    "user": (
        "auth_user",
        ("id", "password", "last_login", "is_superuser", "username", "first_name",
         "last_name", "email", "is_staff", "is_active", "date_joined"),
    ),
    "membership": ("auth_user_groups", ("id", "user_id", "group_id")),
    "profile": (
        "leads_repprofile",
        ("id", "timezone", "call_capacity", "email_capacity", "holiday_country", "signature",
         "booking_url", "calendar_token", "user_id", "last_assigned_at"),
    ),
    "tag": ("leads_tag", ("id", "name")),
    "asset": (
        "leads_asset",
        ("id", "title", "kind", "url", "summary", "for_awareness", "for_consideration",
         "for_decision", "is_active"),
    ),
}  # fmt: skip
MANAGER_USERNAME = "bench-manager"
PASSWORD = "bench-password-0"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", TEST_SECRET_KEY)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "followup.settings")
    import django

    django.setup()


def migration_leaves() -> list[str]:
    """The latest migration of each app: a dataset built before one is out of date."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(f"{app}.{name}" for app, name in loader.graph.leaf_nodes())


def _model_for(table: str):
    from django.apps import apps

    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table == table:
            return model
    raise LookupError(table)


def table_load(table: str, columns: tuple[str, ...]) -> loader.TableLoad:
    """A table's load; columns the generator does not know (added by a later migration)
    get their model default, so the generator keeps working as models grow."""
    from django.db import connection

    extras = []
    for field in _model_for(table)._meta.concrete_fields:
        if field.column not in columns:
            value = field.get_db_prep_save(field.get_default(), connection)
            extras.append((field.column, value))
    return loader.TableLoad(table, columns, tuple(extras))


# --- the small things made first: people, tags, assets, cadences --------------------


def _zone_slots() -> list[tuple[str, str]]:
    return [(zone, country) for zone, country, share in catalog.REP_ZONES for _ in range(share)]


def rep_rows(scale: Scale) -> list[dict]:
    slots = _zone_slots()
    reps = []
    for n in range(1, scale.reps + 1):
        zone, country = slots[(n * 37) % len(slots)]
        reps.append(
            {
                "id": n,
                "username": f"rep{n:04d}",
                "first_name": catalog.FIRST_NAMES[n % len(catalog.FIRST_NAMES)],
                "last_name": catalog.LAST_NAMES[(n * 7) % len(catalog.LAST_NAMES)],
                "tz": zone,
                "country": country,
                "capacity": 50 if n % 10 else 40,
            }
        )
    return reps


def load_people(url: str, scale: Scale) -> list[dict]:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    password = make_password(PASSWORD)  # one hash for everyone: hashing is slow on purpose
    groups = dict(Group.objects.values_list("name", "id"))
    reps = rep_rows(scale)
    loads = {key: table_load(table, cols) for key, (table, cols) in PEOPLE_COLUMNS.items()}
    joined = NOW - dt.timedelta(days=400)
    with loader.CopyStreams(url, loads) as streams:
        user, member = streams.writer("user"), streams.writer("membership")
        profile = streams.writer("profile")
        for rep in reps:
            n = rep["id"]
            user(
                (
                    n,
                    password,
                    None,
                    False,
                    rep["username"],
                    rep["first_name"],
                    rep["last_name"],
                    f"{rep['username']}@bench.example",
                    False,
                    True,
                    joined,
                )
            )
            member((n, n, groups["reps"]))
            profile((n, rep["tz"], rep["capacity"], rep["capacity"], rep["country"],
                     f"{rep['first_name']} {rep['last_name']}", "", "", n, None))  # fmt: skip
        manager = len(reps) + 1
        user((manager, password, None, False, MANAGER_USERNAME, "Maria", "Manager",
              "manager@bench.example", True, True, joined))  # fmt: skip
        member((manager, manager, groups["managers"]))
        tag = streams.writer("tag")
        for n, name in enumerate(catalog.TAGS, start=1):
            tag((n, name))
        asset = streams.writer("asset")
        for n, (title, kind, stage) in enumerate(catalog.ASSETS, start=1):
            asset((n, title, kind, f"https://example.com/assets/{n}", "", stage == "awareness",
                   stage == "consideration", stage == "decision", True))  # fmt: skip
    loader.finish_tables(url, loads)
    return reps


def load_cadences() -> dict[str, CadenceInfo]:
    from cadences.cadence_format import cadence_apply, load_cadence_file
    from cadences.models import Cadence

    folder = ROOT / "cadences" / "fixtures" / "cadences"
    for name in CADENCE_FILES:
        cadence_apply(spec=load_cadence_file(folder / name), activate=True, now=NOW)
    infos = {}
    for cadence in Cadence.objects.prefetch_related("steps__variants"):
        steps = tuple(
            StepInfo(
                id=s.id,
                position=s.position,
                channel=s.channel,
                mode=s.mode,
                wait_days=s.wait_days,
                wait_hours=s.wait_hours,
                window_start=s.window_start,
                window_end=s.window_end,
                title=s.title,
                subject=s.subject,
                variant_ids=tuple(v.id for v in s.variants.all()),
                auto=s.mode == "auto",
                wait_seconds=s.wait_days * 1.4 * 86_400 + s.wait_hours * 3_600,
            )
            for s in sorted(cadence.steps.all(), key=lambda s: s.position)
            if s.removed_at is None
        )
        infos[CADENCE_KEYS[cadence.name]] = CadenceInfo(cadence.id, cadence.name, steps)
    return infos


def rep_info(rep: dict) -> RepInfo:
    zone = ZoneInfo(rep["tz"])
    day = NOW.astimezone(zone).date()
    start = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + dt.timedelta(days=1)  # the wall-clock day: no DST change near NOW
    return RepInfo(
        id=rep["id"],
        first_name=rep["first_name"],
        last_name=rep["last_name"],
        email=f"{rep['username']}@bench.example",
        tz=rep["tz"],
        zone=zone,
        day=day,
        day_start=start.astimezone(dt.UTC),
        day_end=end.astimezone(dt.UTC),
    )


def world_for(scale: Scale, reps: list[dict], cadences: dict[str, CadenceInfo]) -> World:
    stages: dict[str, list[int]] = {"awareness": [], "consideration": [], "decision": []}
    for n, (_, _, stage) in enumerate(catalog.ASSETS, start=1):
        stages[stage].append(n)
    return World(
        now=NOW,
        seed=SEED,
        leads=scale.leads,
        touches=scale.touches,
        reps=tuple(rep_info(rep) for rep in reps),
        cadences=cadences,
        tag_ids=tuple(range(1, len(catalog.TAGS) + 1)),
        assets_by_stage={stage: tuple(ids) for stage, ids in stages.items()},
    )


# --- the big pass -------------------------------------------------------------------


def load_story(url: str, world: World) -> tuple[dict[str, loader.TableLoad], float]:
    loads = {key: table_load(table, COLUMNS[key]) for key, table in STORY_TABLES.items()}
    saved = loader.drop_secondary_indexes(url, STORY_TABLES.values())
    started = time.perf_counter()
    with loader.CopyStreams(url, loads) as streams:
        emit = Emitters(**{key: streams.writer(key) for key in STORY_TABLES})
        Story(world, emit).run()
    pass_seconds = time.perf_counter() - started
    fill_report_summaries()  # before the indexes: the update of every lead skips them
    loader.create_indexes(url, saved, loads)
    loader.finish_tables(url, loads)
    return loads, pass_seconds


def fill_report_summaries() -> None:
    """What ``touch_log`` and the worker keep for the reports, for the rows COPY loaded:
    each lead's first attempt and connect, the touch-day summary (set-based, seconds)."""
    from cadences import report_summaries

    report_summaries.leads_first_times_fill()
    report_summaries.touch_days_refresh(now=NOW, rebuild=True)


def report(loads: dict[str, loader.TableLoad], seconds: dict[str, float]) -> str:
    lines = [
        "| table | rows | COPY s | indexes s | vacuum+analyze s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for load in loads.values():
        lines.append(
            f"| {load.table} | {load.rows:,} | {load.copy_seconds:.1f} | "
            f"{load.index_seconds:.1f} | {load.vacuum_seconds:.1f} |"
        )
    lines.append("")
    lines += [f"- {name}: {value:.1f} s" for name, value in seconds.items()]
    return "\n".join(lines)


def generate(scale: Scale, url: str, *, check_references: bool = False) -> dict:
    import psycopg
    from django.core.management import call_command

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    pgdb.recreate(url)
    call_command("migrate", verbosity=0)
    seconds["create and migrate"] = time.perf_counter() - started
    mark = time.perf_counter()
    reps = load_people(url, scale)
    world = world_for(scale, reps, load_cadences())
    seconds["reps, tags, assets, cadences"] = time.perf_counter() - mark
    loads, pass_seconds = load_story(url, world)
    copy_total = sum(load.copy_seconds for load in loads.values())
    seconds["one pass over the leads (Python generating + COPY)"] = pass_seconds
    seconds["  of which Python generating rows"] = max(pass_seconds - copy_total, 0.0)
    seconds["indexes"] = sum(load.index_seconds for load in loads.values())
    seconds["vacuum + analyze"] = sum(load.vacuum_seconds for load in loads.values())
    mark = time.perf_counter()
    problems = checks.dataset_problems(url, NOW)
    if check_references:
        problems += loader.check_foreign_keys(url, STORY_TABLES.values())
    seconds["consistency checks"] = time.perf_counter() - mark
    if problems:
        raise SystemExit("bench: the generated dataset is inconsistent:\n" + "\n".join(problems))
    seconds["total"] = time.perf_counter() - started
    info = {
        "state": "ready",
        "migrations": migration_leaves(),
        "scale": scale.name,
        "seed": SEED,
        "version": GENERATOR_VERSION,
        "now": NOW.isoformat(),
        "rows": {load.table: load.rows for load in loads.values()},
        "seconds": {name.strip(): round(value, 1) for name, value in seconds.items()},
        "report": report(loads, seconds),
    }
    with psycopg.connect(url) as conn:
        pgdb.write_marker(conn, info)
    return info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument(
        "--database-url",
        help="the database to (re)build; default: followup_bench_<scale> on the server of "
        "BENCH_DATABASE_URL or DATABASE_URL",
    )
    parser.add_argument(
        "--check", action="store_true", help="also prove every foreign key resolves (slow)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale = SCALES[args.scale]
    url = pgdb.dataset_url(args.database_url, scale.name)
    setup_django(url)
    print(f"bench: generating the {scale.name} dataset into {pgdb.database_name(url)}", flush=True)
    info = generate(scale, url, check_references=args.check)
    print(info["report"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
