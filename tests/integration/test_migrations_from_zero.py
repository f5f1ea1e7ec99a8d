"""Upgrades: every migration applies from zero, keeps data both ways, and unapplies.

On a database of its own (SQLite here; a new PostgreSQL database when the suite runs on
PostgreSQL): migrate from empty, load the demo, step each app back one migration and
forward again with the demo in place (what an upgrade or a rollback of one release does),
then back to zero and forward once more, and load the demo again.
"""

from __future__ import annotations

import pytest
from django.db.migrations.loader import MigrationLoader

from tests.integration.ops_helpers import manage, row_counts, throwaway_database

OUR_APPS = ("leads", "cadences")
# The tables whose rows an upgrade or a rollback must never lose.
HISTORY = (
    "leads_lead",
    "leads_touch",
    "leads_signal",
    "leads_account",
    "cadences_cadence",
    "cadences_step",
    "cadences_enrolment",
    "cadences_task",
    "auth_user",
)


def newest_two(app: str) -> tuple[str, str]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    [leaf] = [name for label, name in loader.graph.leaf_nodes() if label == app]
    [parent] = [name for label, name in loader.graph.node_map[(app, leaf)].parents if label == app]
    return parent, leaf


@pytest.fixture
def database(tmp_path_factory):
    """A database of its own, migrated from empty with the demo loaded. Per test, so
    each test stands alone whichever xdist worker runs it."""
    with throwaway_database(tmp_path_factory.mktemp("migrations")) as url:
        manage(url, "migrate", "--noinput")
        manage(url, "seed_demo")
        yield url


def test_every_migration_applies_from_an_empty_database_and_the_demo_loads(database):
    assert "[ ]" not in manage(database, "showmigrations")
    counts = row_counts(database)
    assert counts["leads_lead"] > 0 and counts["leads_touch"] > 0


def test_the_newest_migration_of_each_app_unapplies_and_reapplies_with_the_demo_in_place(
    database,
):
    before = row_counts(database)
    for app in OUR_APPS:
        parent, leaf = newest_two(app)
        manage(database, "migrate", app, parent, "--noinput")
        manage(database, "migrate", app, leaf, "--noinput")

    after = row_counts(database)
    assert set(after) == set(before)  # every table is back
    assert {table: after[table] for table in HISTORY} == {table: before[table] for table in HISTORY}


def test_everything_migrates_back_to_zero_and_forward_again_and_the_demo_loads_again(database):
    for app in OUR_APPS:
        manage(database, "migrate", app, "zero", "--noinput")
    assert "leads_lead" not in row_counts(database)

    manage(database, "migrate", "--noinput")
    manage(database, "seed_demo")

    manage(database, "migrate", "--check")
    assert row_counts(database)["leads_lead"] > 0
