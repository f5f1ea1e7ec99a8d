"""Loading rows fast: PostgreSQL COPY through psycopg 3, indexes built after the data.

All tables load in one pass over the leads, so every table has its own connection and
its own COPY open at once. During the load:

- foreign-key triggers are off (``session_replication_role = replica``, superuser
  only): the generator writes ids it has already assigned, in whatever table order
  suits it; ``check_foreign_keys`` proves afterwards that every reference resolves;
- indexes other than primary keys and unique constraints are dropped, then rebuilt
  from their saved definitions once the rows are in (a sorted build is several times
  faster than maintaining them row by row).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.pq import Format

BATCH = 5_000


@dataclass
class TableLoad:
    table: str
    columns: tuple[str, ...]
    extras: tuple[tuple[str, object], ...] = ()  # (column, constant) for the rest
    rows: int = 0
    copy_seconds: float = 0.0
    index_seconds: float = 0.0
    vacuum_seconds: float = 0.0


class CopyStreams:
    """One COPY per table, all open at once. ``writer(key)`` gives a row sink."""

    def __init__(self, url: str, loads: dict[str, TableLoad]) -> None:
        self.url = url
        self.loads = loads
        self.stack = ExitStack()
        self.copies: dict[str, psycopg.Copy] = {}
        self.buffers: dict[str, list[tuple]] = {key: [] for key in loads}
        self.fk_triggers_off = True

    def __enter__(self) -> CopyStreams:
        for key, load in self.loads.items():
            conn = self.stack.enter_context(psycopg.connect(self.url))
            conn.adapters.register_dumper(RawJson, RawJsonbDumper)
            self._replica_mode(conn)
            columns = [*load.columns, *(name for name, _ in load.extras)]
            # Binary COPY: about three times less client CPU per row than text.
            statement = sql.SQL("copy {} ({}) from stdin (format binary)").format(
                sql.Identifier(load.table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            types = _column_types(conn, load.table, columns)
            copy = self.stack.enter_context(conn.cursor().copy(statement))
            copy.set_types(types)
            self.copies[key] = copy
        return self

    def _replica_mode(self, conn: psycopg.Connection) -> None:
        try:
            conn.execute("set session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            # Not a superuser: the deferred FK checks then run at commit. Slower, same rows.
            conn.rollback()
            self.fk_triggers_off = False

    def writer(self, key: str) -> Callable[[tuple], None]:
        buffer = self.buffers[key]

        def write(row: tuple) -> None:
            buffer.append(row)
            if len(buffer) >= BATCH:
                self._flush(key)

        return write

    def _flush(self, key: str) -> None:
        buffer, load, copy = self.buffers[key], self.loads[key], self.copies[key]
        extras = tuple(value for _, value in load.extras)
        started = time.perf_counter()
        for row in buffer:
            copy.write_row(row + extras if extras else row)
        load.copy_seconds += time.perf_counter() - started
        load.rows += len(buffer)
        buffer.clear()

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            for key in self.loads:
                self._flush(key)
        # Closing each COPY (and committing) waits for the server to take the last rows.
        started = time.perf_counter()
        self.stack.__exit__(*exc_info)
        share = (time.perf_counter() - started) / max(len(self.loads), 1)
        for load in self.loads.values():
            load.copy_seconds += share


class RawJson:
    """Only here to register ``RawJsonbDumper`` by the jsonb oid, which COPY uses."""


class RawJsonbDumper(Dumper):
    """jsonb values given as JSON text (a str): the generator serialises its few constant
    JSON values once, instead of once per row."""

    format = Format.BINARY
    oid = 3802  # jsonb

    def dump(self, obj: object) -> bytes:
        text = obj if isinstance(obj, str) else json.dumps(getattr(obj, "obj", obj))
        return b"\x01" + text.encode()  # jsonb's binary format: version 1, then the text


def _column_types(conn: psycopg.Connection, table: str, columns: list[str]) -> list[int]:
    oids = dict(
        conn.execute(
            "select attname, atttypid from pg_attribute where attrelid = %s::regclass "
            "and attnum > 0 and not attisdropped",
            [table],
        ).fetchall()
    )
    return [oids[column] for column in columns]


# --- indexes ------------------------------------------------------------------------

SECONDARY_INDEXES = """
select c.relname, i.relname, pg_get_indexdef(i.oid)
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_class c on c.oid = x.indrelid
where c.relname = any(%s)
  and not exists (
    select 1 from pg_constraint k
    where k.conindid = x.indexrelid and k.conrelid = x.indrelid and k.contype in ('p', 'u', 'x')
  )
order by c.relname, i.relname
"""


def drop_secondary_indexes(url: str, tables: Iterable[str]) -> list[tuple[str, str, str]]:
    """Drop every index that backs no primary key or unique constraint; return them."""
    with psycopg.connect(url, autocommit=True) as conn:
        saved = conn.execute(SECONDARY_INDEXES, [list(tables)]).fetchall()
        for _, index, _ in saved:
            conn.execute(sql.SQL("drop index {}").format(sql.Identifier(index)))
    return saved


def create_indexes(url: str, saved: list[tuple[str, str, str]], loads: dict[str, TableLoad]):
    by_table = {load.table: load for load in loads.values()}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set maintenance_work_mem = '1GB'")
        conn.execute("set max_parallel_maintenance_workers = 2")
        for table, _, definition in saved:
            started = time.perf_counter()
            conn.execute(definition)
            by_table[table].index_seconds += time.perf_counter() - started


def finish_tables(url: str, loads: dict[str, TableLoad]) -> None:
    """Move each id sequence past the loaded ids, then VACUUM ANALYZE: the planner gets
    statistics and the visibility map is set, as in a database that has been running."""
    with psycopg.connect(url, autocommit=True) as conn:
        for load in loads.values():
            table = sql.Identifier(load.table)
            conn.execute(
                sql.SQL(
                    "select setval(pg_get_serial_sequence(%s, 'id'), "
                    "coalesce(max(id), 0) + 1, false) from {}"
                ).format(table),
                [load.table],
            )
            started = time.perf_counter()
            conn.execute(sql.SQL("vacuum (analyze) {}").format(table))
            load.vacuum_seconds += time.perf_counter() - started


FOREIGN_KEYS = """
select k.conrelid::regclass::text, a.attname, k.confrelid::regclass::text, b.attname
from pg_constraint k
join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
join pg_attribute b on b.attrelid = k.confrelid and b.attnum = k.confkey[1]
where k.contype = 'f' and k.conrelid::regclass::text = any(%s)
"""


def check_foreign_keys(url: str, tables: Iterable[str]) -> list[str]:
    """Every reference of the loaded tables that points nowhere (none, when all is well)."""
    problems = []
    with psycopg.connect(url) as conn:
        for child, column, parent, key in conn.execute(FOREIGN_KEYS, [list(tables)]).fetchall():
            query = sql.SQL(
                "select count(*) from {c} where {col} is not null and not exists "
                "(select 1 from {p} where {p}.{k} = {c}.{col})"
            ).format(
                c=sql.Identifier(child),
                col=sql.Identifier(column),
                p=sql.Identifier(parent),
                k=sql.Identifier(key),
            )
            missing = conn.execute(query).fetchone()[0]
            if missing:
                problems.append(f"{child}.{column}: {missing} rows point to no {parent}")
    return problems
