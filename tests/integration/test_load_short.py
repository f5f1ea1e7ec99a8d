"""The load run's short form: 20 reps work their queues for 20 s against gunicorn.

``bench/load/run_load.py`` does it all in its own processes: a database of its own on
the test database's server, gunicorn with DEBUG off, the tick every few seconds,
the simulated reps; then it checks the database against what the reps were told.
Its full form (200 reps, 5 minutes) and its figures are in bench/load/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
RUN_LOAD = ROOT / "bench" / "load" / "run_load.py"


def load_server_url() -> str:
    """The test database's server, as a URL run_load.py creates its own database on."""
    settings = connection.settings_dict
    auth = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        auth += ":" + quote(settings["PASSWORD"], safe="")
    host = settings["HOST"] or "localhost"
    port = settings["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/postgres"


def database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_database where datname = %s", [name])
        return cursor.fetchone()[0] == 1


@pytest.mark.postgres
def test_twenty_reps_log_every_outcome_exactly_once_without_an_error(postgres_only, tmp_path):
    report = tmp_path / "load.json"
    run = subprocess.run(
        [
            sys.executable, str(RUN_LOAD),
            "--reps", "20",
            "--seconds", "20",
            "--double-click", "0.25",  # enough double submits to matter in 20 seconds
            "--database-url", load_server_url(),
            "--json", str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-4000:]}"
    result = json.loads(report.read_text())
    assert result["errors"] == 0
    assert result["anomalies"] == []
    assert result["server_tracebacks"] == []
    assert result["ticks"]["count"] > 0
    assert result["ticks"]["failures"] == 0
    checks = {check["name"]: check for check in result["checks"]}
    logged = checks["touches logged by reps (rows = successes seen)"]
    assert logged["found"] == logged["expected"] > 0
    assert [name for name, check in checks.items() if not check["ok"]] == []
    assert result["outcomes"]["closed"] == result["outcomes"]["double_clicks"]
    assert not database_exists(result["database"])
