"""Hot queries of a fixed shape: compiled by the ORM once, run as prepared statements.

The API authenticates a token and reads a rep's queue on every request, and every new
lead looks up its email, account, cadence, routing and first step. Building those
querysets cost more CPU than running them: measured at full scale, 2.6 ms to build and
read a queue's 80 rows through the ORM against 0.7 ms for the same SQL run directly, and
1.3 ms against 0.2 ms for the token. PostgreSQL also planned each afresh every time
(0.7 ms for the queue). So a ``HotQuery`` compiles its queryset once per process, from sentinel
arguments, and afterwards only puts the real values where the sentinels were. On
PostgreSQL it runs as a prepared statement of the connection (parameters bound on the
server), parsed and planned once per connection. While Django logs queries (DEBUG, or a
test counting them) the same SQL goes through Django's usual cursor instead, so it is
logged and counted like any other. On SQLite the ORM builds and runs the queryset every
time, as usual.

A prepared statement lives as long as its connection (``CONN_MAX_AGE``). It does not
survive a transaction-pooling proxy such as PgBouncer in transaction mode.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

# Values no caller passes: where they land in the compiled parameters, the real values go.
# An int inside every integer field's range: Django drops or rewrites a comparison it
# can tell is always true or false for the column (a negative id, a smallint overflow).
_SENTINEL_INT = 29_311
_SENTINEL_MOMENT = dt.datetime(1901, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
_SENTINEL_TEXT = "\x00hot-query-sentinel-"


def _sentinel(kind: type, index: int) -> object:
    if kind is int:
        return _SENTINEL_INT + 7 * index
    if kind is dt.datetime:
        return _SENTINEL_MOMENT + dt.timedelta(microseconds=index)
    if kind is dt.date:
        return _SENTINEL_MOMENT.date() + dt.timedelta(days=index)
    if kind is str:
        return f"{_SENTINEL_TEXT}{index}"
    raise TypeError(f"a hot query takes int, date, datetime or str arguments, not {kind.__name__}")


@functools.cache  # asked for every row a hot query turns into instances
def concrete_fields(model: type[Model]) -> tuple[str, ...]:
    """The attribute names of ``model``'s columns, in the order ``from_db`` takes them."""
    return tuple(f.attname for f in model._meta.concrete_fields)


def row_instances(row: Sequence[object], *models: type[Model]) -> list[Model]:
    """One instance of each model from a row holding their ``concrete_fields`` in turn
    (as a hot query selects them), as the ORM would make them from the database."""
    made, start = [], 0
    for model in models:
        names = concrete_fields(model)
        made.append(model.from_db(DEFAULT_DB_ALIAS, names, row[start : start + len(names)]))
        start += len(names)
    return made


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Per parameter: (argument index, the wrapper the ORM gave it or None) or (None, value).
    slots: list[tuple[int | None, Any]]
    compiler: SQLCompiler
    converters: dict  # the ORM's per-column converters (a JSON column's parsing, …)


class HotQuery:
    """``build(*args)`` returns a ``values_list`` queryset; ``rows(*args)`` its rows.

    ``kinds`` are the types of ``build``'s arguments (int, date, datetime or str), each used
    as a plain value in a filter, so that it appears once or more among the compiled
    parameters, unchanged. The rows are converted as the ORM converts them.
    """

    def __init__(self, build: Callable[..., QuerySet], kinds: Sequence[type]) -> None:
        self.build = build
        self.kinds = tuple(kinds)
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def rows(self, *args: object) -> list[tuple]:
        if connection.vendor != "postgresql":
            return list(self.build(*args))
        compiled = self._compile()
        params = [_argument(args, index, value) for index, value in compiled.slots]
        if connection.queries_logged:
            # Queries are being logged (DEBUG, a test counting them, ``bench/run.py
            # --explain``): the same SQL and values through Django's usual cursor, so
            # the log holds SQL that can be read and explained.
            with connection.cursor() as cursor:
                cursor.execute(compiled.sql, params)
                found = cursor.fetchall()
        else:
            found = _run_prepared(compiled.sql, params)
        if compiled.converters:
            convert = compiled.compiler.apply_converters(found, compiled.converters)
            found = [tuple(row) for row in convert]
        return found

    def _compile(self) -> _Compiled:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = self._compile_now()
        return self._compiled

    def _compile_now(self) -> _Compiled:
        sentinels = [_sentinel(kind, i) for i, kind in enumerate(self.kinds)]
        compiler = self.build(*sentinels).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots: list[tuple[int | None, Any]] = []
        found = set()
        for value in params:
            index = next((i for i, s in enumerate(sentinels) if _same(value, s)), None)
            # The ORM may wrap a value (an int column's psycopg Int4): so is the argument.
            wrapper = (
                type(value)
                if index is not None and type(value) is not type(sentinels[index])
                else None
            )
            slots.append((index, wrapper) if index is not None else (None, value))
            found.add(index)
        missing = set(range(len(sentinels))) - found
        if missing:  # an argument the ORM transformed: it could not be put back
            raise ValueError(f"hot query arguments {sorted(missing)} are not plain parameters")
        # What ValuesListIterable converts, from the same compiler's columns.
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        return _Compiled(sql, slots, compiler, compiler.get_converters(columns))


def _argument(args: tuple, index: int | None, value: Any) -> object:
    """A slot's parameter: the constant, or the argument (wrapped as the ORM wraps it)."""
    if index is None:
        return value
    argument = args[index]
    return argument if value is None or argument is None else value(argument)


def _same(value: object, sentinel: object) -> bool:
    return isinstance(value, type(sentinel)) and value == sentinel


def _run_prepared(sql: str, params: list) -> list[tuple]:
    """Run on Django's connection with the parameters bound on the server, as a prepared
    statement (made on the connection's first run, reused after): what Django's own
    ``cursor()`` does first, then psycopg directly, since Django's cursor wrapper passes
    no ``prepare`` flag (and Django turns psycopg's automatic preparing off)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors, ServerBindingCursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()
