"""Throwaway databases and `manage.py` runs for the operations tests (migrations, backups).

A test that migrates from zero or restores a dump cannot share pytest's database: it
needs one of its own, committed to and seen by other processes (`manage.py`, `pg_dump`).
On PostgreSQL it is a new database on the same server as the test run's; on SQLite, a
file under the test's temporary folder.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
TEST_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _server() -> dict[str, object]:
    params = connection.settings_dict
    return {
        "host": params["HOST"] or "127.0.0.1",
        "port": params["PORT"] or 5432,
        "user": params["USER"],
        "password": params["PASSWORD"] or None,
    }


@contextmanager
def throwaway_database(tmp_path: Path) -> Iterator[str]:
    """A new, empty database; yields its DATABASE_URL and drops it afterwards."""
    if not on_postgres():
        yield f"sqlite:///{tmp_path / 'throwaway.sqlite3'}"
        return
    server = _server()
    name = f"followup_ops_{secrets.token_hex(4)}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = quote(str(server["user"]), safe="")
    if server["password"]:
        auth += ":" + quote(str(server["password"]), safe="")
    try:
        yield f"postgres://{auth}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ops_env(database_url: str, **variables: str) -> dict[str, str]:
    # Only what production sets: the developer's or CI's own variables cannot interfere.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {
        "PATH": path,
        "HOME": os.environ.get("HOME", "/tmp"),
        "SECRET_KEY": TEST_KEY,
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "EMAIL_URL": "consolemail://",
    }
    env.update(variables)
    return env


def run(command: list[str], database_url: str, **variables: str) -> str:
    """Run ``command`` in the project folder; its output, or a failure showing it."""
    result = subprocess.run(
        command,
        cwd=BASE_DIR,
        env=ops_env(database_url, **variables),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def manage(database_url: str, *args: str) -> str:
    return run([sys.executable, "manage.py", *args], database_url)


def row_counts(database_url: str) -> dict[str, int]:
    """Rows per table, every table of the database."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            names = [
                row[0]
                for row in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            ]
            return {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    with psycopg.connect(database_url) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
