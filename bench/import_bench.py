"""CSV import of new and known leads (``manage.py import_leads``) against a COPY floor."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

from django.core.management import call_command, get_commands
from django.db import connection

from bench import catalog, floors
from bench.engine_bench import Context, repeat_in_rollback
from bench.harness import NOT_BUILT, Result, Target, plural

KNOWN_SHARE = 5  # one row in 5 is a lead we already have, its email in other case
HEADER = ("email", "first_name", "last_name", "phone", "company", "title", "timezone",
          "source", "tags")  # fmt: skip
SUMMARY = re.compile(r"created (\d+), updated (\d+), skipped (\d+)")


def write_csv(path: Path, rows: int, leads: int) -> int:
    """The trade-show file: mostly new people, one in five already a lead (its email in
    upper case). Returns how many rows match a lead and should update, not create."""
    from leads.models import Lead

    known_ids = [1 + (i * 7919) % leads for i in range(0, rows, KNOWN_SHARE)]
    emails = dict(Lead.objects.filter(id__in=known_ids).values_list("id", "email"))
    first, last = catalog.FIRST_NAMES, catalog.LAST_NAMES
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(rows):
            if i % KNOWN_SHARE == 0:
                email = emails[1 + (i * 7919) % leads].upper()
            else:
                email = f"visitor.{i}@expo{i % 700}.example"
            company = f"Expo Company {i % 5000}" if i % 3 else ""
            out.writerow((email, first[i % len(first)], last[(i * 3) % len(last)],
                          f"+49 30 {i:07d}", company, catalog.TITLES[i % len(catalog.TITLES)],
                          "Europe/Berlin" if i % 2 else "", "trade_show",
                          "trade-show-berlin;evaluating" if i % 4 else ""))  # fmt: skip
    return len(range(0, rows, KNOWN_SHARE))


def import_leads(ctx: Context) -> Result:
    rows = ctx.scale.import_rows
    result = Result(
        f"CSV import of {rows:,} rows, 1 in {KNOWN_SHARE} already a lead",
        target=Target(60, "max", "< 60 s"),
        floor_ratio_limit=3,
    )
    if "import_leads" not in get_commands():
        result.status = NOT_BUILT
        result.notes.append("no import_leads command yet")
        return result
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get(username="rep0001")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        path = Path(folder) / "trade-show.csv"
        known = write_csv(path, rows, ctx.scale.leads)

        def ours() -> str:
            out = io.StringIO()
            call_command("import_leads", str(path), owner=owner.username,
                         now=ctx.now.isoformat(), stdout=out, stderr=io.StringIO())  # fmt: skip
            return out.getvalue()

        def floor() -> None:
            with connection.cursor() as cursor:
                floors.import_csv(cursor.cursor, path=path, now=ctx.now, owner_id=owner.id)

        result.samples, output, queries = repeat_in_rollback(ours, repetitions=ctx.repetitions)
        result.floor, _, _ = repeat_in_rollback(floor, repetitions=ctx.repetitions)
    found = SUMMARY.search(output or "")
    expected = (rows - known, known, 0)
    counts = tuple(int(n) for n in found.groups()) if found else None
    printed = found.group(0) if found else output
    result.notes.append(f"{plural(queries, 'query')}; printed: {printed!r}")
    result.extra_checks.append(("created and updated as expected", counts == expected))
    if counts != expected:
        result.notes.append(f"expected created {expected[0]}, updated {expected[1]}")
    return result
