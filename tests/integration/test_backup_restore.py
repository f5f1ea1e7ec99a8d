"""Backups: `make backup` and `make restore` bring a wiped database back, row for row.

PostgreSQL only (the scripts wrap pg_dump and pg_restore). On a database of its own
holding the demo: back up through `make backup` (BACKUP_DIRECT=1: against DATABASE_URL,
as there is no docker compose here), wipe every table, restore through `make restore`,
and compare the rows of every table, then check the app sees a fully migrated database.
"""

from __future__ import annotations

import shutil

import psycopg
import pytest

from tests.integration.ops_helpers import (
    manage,
    on_postgres,
    row_counts,
    run,
    throwaway_database,
)


@pytest.fixture
def demo_database(tmp_path):
    if not on_postgres():
        pytest.skip("backups need PostgreSQL (set DATABASE_URL=postgres://...)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("backups need PostgreSQL's pg_dump and pg_restore on PATH")
    with throwaway_database(tmp_path) as url:
        manage(url, "migrate", "--noinput")
        manage(url, "seed_demo")
        yield url


def wipe(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP SCHEMA public CASCADE")
        db.execute("CREATE SCHEMA public")


def test_a_wiped_database_is_restored_row_for_row(demo_database, tmp_path):
    dump = tmp_path / "backups" / "followup.dump"
    before = row_counts(demo_database)

    said = run(["make", "backup", f"BACKUP_FILE={dump}"], demo_database, BACKUP_DIRECT="1")
    wipe(demo_database)
    assert row_counts(demo_database) == {}
    run(["make", "restore", f"BACKUP_FILE={dump}"], demo_database, BACKUP_DIRECT="1")

    after = row_counts(demo_database)
    assert f"backup: {dump}" in said
    assert after == before
    assert before["leads_lead"] > 0 and before["leads_touch"] > 0
    manage(demo_database, "migrate", "--check")  # the migration history came back too


def test_restoring_over_live_data_replaces_it(demo_database, tmp_path):
    dump = tmp_path / "followup.dump"
    before = row_counts(demo_database)
    run(["make", "backup", f"BACKUP_FILE={dump}"], demo_database, BACKUP_DIRECT="1")
    with psycopg.connect(demo_database, autocommit=True) as db:
        db.execute("DELETE FROM leads_auditentry")
        db.execute("UPDATE leads_lead SET notes = 'changed after the backup'")

    run(["make", "restore", f"BACKUP_FILE={dump}"], demo_database, BACKUP_DIRECT="1")

    assert row_counts(demo_database) == before
    with psycopg.connect(demo_database) as db:
        changed = db.execute("SELECT COUNT(*) FROM leads_lead WHERE notes LIKE 'changed%'")
        assert changed.fetchone()[0] == 0


def test_a_failed_backup_leaves_no_file_that_looks_good(tmp_path):
    if not shutil.which("pg_dump"):
        pytest.skip("backups need PostgreSQL's pg_dump on PATH")
    dump = tmp_path / "followup.dump"
    url = "postgres://nobody@127.0.0.1:1/none"

    with pytest.raises(AssertionError):
        run(["make", "backup", f"BACKUP_FILE={dump}"], url, BACKUP_DIRECT="1")

    assert list(tmp_path.iterdir()) == []


def test_restore_without_a_file_says_what_to_do(tmp_path):
    with pytest.raises(AssertionError, match="make restore BACKUP_FILE="):
        run(["make", "restore"], "postgres://unused", BACKUP_DIRECT="1")


def test_backup_refuses_sqlite_with_a_hint(tmp_path):
    with pytest.raises(AssertionError, match="needs DATABASE_URL=postgres"):
        run(
            ["make", "backup", f"BACKUP_FILE={tmp_path / 'x.dump'}"],
            "sqlite:///x",
            BACKUP_DIRECT="1",
        )
