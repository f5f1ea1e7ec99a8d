"""The benchmark's PostgreSQL databases: where they live, building, cloning, dropping.

A dataset database (``followup_bench_<scale>`` by default) holds the generated rows and
a ``bench_dataset`` marker row. Each run clones it (``CREATE DATABASE … TEMPLATE``) so
every benchmark starts from the same fresh data, then drops the clone. The marker is
also the safety catch: a database that has tables but no marker is never dropped.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

MARKER = "bench_dataset"


class NeedsPostgres(SystemExit):
    """The benchmarks run on PostgreSQL only; the message says how to get one."""


def server_url(explicit: str | None) -> str:
    """A postgres:// URL from --database-url, else BENCH_DATABASE_URL, else DATABASE_URL."""
    url = explicit or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise NeedsPostgres(
            "bench: needs PostgreSQL. Start a throwaway one with `scripts/pg_test_cluster.sh "
            "start`, then set DATABASE_URL=$(scripts/pg_test_cluster.sh url) "
            "(or pass --database-url postgres://...)."
        )
    return url


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def dataset_url(explicit: str | None, scale: str) -> str:
    """The dataset database: --database-url as given, else followup_bench_<scale> beside
    the database of BENCH_DATABASE_URL / DATABASE_URL."""
    if explicit:
        return server_url(explicit)
    return with_database(server_url(None), f"followup_bench_{scale}")


def run_url(dataset: str, suffix: str = "run") -> str:
    return with_database(dataset, f"{database_name(dataset)}_{suffix}")


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(with_database(url, "postgres"), autocommit=True)


def exists(url: str) -> bool:
    with _admin(url) as conn:
        row = conn.execute(
            "select 1 from pg_database where datname = %s", [database_name(url)]
        ).fetchone()
    return row is not None


def dataset_info(url: str) -> dict | None:
    """The marker row of a generated dataset, or None when there is none (or no database)."""
    if not exists(url):
        return None
    with psycopg.connect(url) as conn:
        found = conn.execute("select to_regclass(%s)", [MARKER]).fetchone()[0]
        if found is None:
            return None
        row = conn.execute(f"select info from {MARKER} order by id desc limit 1").fetchone()
    return row[0] if row else None


def _table_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from pg_tables where schemaname = 'public'"
        ).fetchone()[0]


def recreate(url: str) -> None:
    """Drop and create the database, but only when it is empty or a bench dataset."""
    if exists(url) and _table_count(url) and dataset_info(url) is None:
        raise SystemExit(
            f"bench: database {database_name(url)!r} has tables but is not a bench dataset; "
            "refusing to drop it. Pass --database-url naming a database for the benchmark."
        )
    drop(url)
    with _admin(url) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database_name(url))))
    # Marked at once, so a build that stops half-way can still be dropped by the next one.
    with psycopg.connect(url) as conn:
        write_marker(conn, {"state": "building"})


def drop(url: str) -> None:
    with _admin(url) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(database_name(url))
            )
        )


def clone(template: str, target: str) -> None:
    """A fresh copy of the dataset. FILE_COPY copies files instead of writing all the
    data through the WAL, which is several times faster for a dataset this size."""
    drop(target)
    with _admin(template) as conn:
        conn.execute(
            sql.SQL("create database {} template {} strategy file_copy").format(
                sql.Identifier(database_name(target)), sql.Identifier(database_name(template))
            )
        )


def write_marker(conn: psycopg.Connection, info: dict) -> None:
    conn.execute(f"create table if not exists {MARKER} (id serial primary key, info jsonb)")
    conn.execute(f"insert into {MARKER} (info) values (%s)", [json.dumps(info)])


def analyze_and_mark(url: str, info: dict) -> None:
    """After migrating a dataset: statistics for new (expression) indexes, a new marker."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("analyze")
        write_marker(conn, info)


def server_facts(url: str) -> dict[str, str]:
    """PostgreSQL's version and the settings that move the figures, for the README."""
    names = ("shared_buffers", "work_mem", "effective_cache_size", "fsync", "synchronous_commit")
    with psycopg.connect(url) as conn:
        version = conn.execute("show server_version").fetchone()[0]
        facts = {"server_version": version}
        for name in names:
            facts[name] = conn.execute(sql.SQL("show {}").format(sql.Identifier(name))).fetchone()[
                0
            ]
    return facts
