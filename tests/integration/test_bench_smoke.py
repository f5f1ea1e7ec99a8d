"""``bench/run.py`` runs end to end at the tiny scale and prints every row, so the
benchmark harness cannot rot while the code it measures changes.

It runs in a subprocess against the test PostgreSQL server, in databases of its own
(``<test database>_bench`` and its ``_run`` clone; both dropped afterwards). The
figures at this scale mean nothing; only the table's shape is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The start of each row's name: one or more rows each, whatever is built yet.
ROWS = (
    "morning tick",
    "worker peak RSS",
    "tick, nothing due",
    "send ",
    "record_sent_emails",
    "Today page",
    "lead page",
    "report",
    "CSV import",
    "POST /api/leads/",
    "GET /api/queue/",
)

pytestmark = pytest.mark.postgres


def _bench_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{where}/{db['NAME']}_bench"


def _drop(url: str) -> None:
    server, _, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        for database in (name, f"{name}_run"):
            admin.execute(f'drop database if exists "{database}" with (force)')


def _table_rows(output: str) -> list[str]:
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return lines[1:]  # after the header row (the separator starts with "| ---")


def test_the_benchmark_table_has_every_row_at_the_tiny_scale(postgres_only):
    url = _bench_url()
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "x" * 50)}
    try:
        done = subprocess.run(
            [sys.executable, "bench/run.py", "--scale", "tiny", "--database-url", url],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        _drop(url)
    assert done.returncode == 0, done.stderr[-4000:]
    rows = [row for row in _table_rows(done.stdout) if not row.startswith("| ---")]
    for name in ROWS:
        assert any(row.startswith(f"| {name}") for row in rows), f"no row for {name!r}"
    broken = [row for row in rows if "| error |" in row]
    assert not broken, "\n".join(broken) + "\n" + done.stderr[-4000:]
