"""The kernel's database helpers, one copy each for every domain: ids from a table's sequence,
the constraint an integrity error broke, arrays passed as their text form, PostgreSQL settings
for a transaction or a block of statements, ``COPY`` (text lines, adapted rows, binary), and a
cursor that binds parameters on the server for hot paths.

Django and psycopg only: no domain imports (the layers contract keeps it below ``events`` and
above ``core``). Everything runs on the default connection, inside the caller's transaction.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, cast

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections
from django.db.backends.utils import CursorWrapper
from psycopg import adapters
from psycopg.pq import Format

# --- sequences -----------------------------------------------------------------------------


def reserve_ids(*, table: str, count: int) -> list[int]:
    """``count`` ids taken from the sequence of ``table``'s ``id`` column (for rows written by
    COPY with their ids known beforehand). Unique but not necessarily consecutive: other
    sessions take ids meanwhile. None for a count below one."""
    if count < 1:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def reserve_id_range(*, table: str, count: int) -> range:
    """``count`` consecutive ids of ``table``, taken by moving its sequence on at once. Only
    for loading a table that nothing else writes meanwhile (demo data): another session's
    ``nextval`` between the two steps would take an id of the range."""
    if count < 1:
        return range(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(s::regclass, nextval(s::regclass) + %s - 1)"
            " FROM pg_get_serial_sequence(%s, 'id') AS s",
            [count, table],
        )
        (last,) = cursor.fetchone()
    return range(last - count + 1, last + 1)


# --- integrity errors ----------------------------------------------------------------------


def constraint_name(error: IntegrityError) -> str:
    """The name of the constraint (unique, check, exclusion, foreign key) whose violation
    ``error`` reports; empty when PostgreSQL named none."""
    cause = error.__cause__
    if isinstance(cause, psycopg.errors.IntegrityError) and cause.diag.constraint_name:
        return cause.diag.constraint_name
    return ""


# --- arrays as text parameters -------------------------------------------------------------
# psycopg dumps a list parameter element by element in Python; a bulk path passes tens of
# thousands of values, so it passes an array's text form instead and casts it in the SQL
# (``%s::bigint[]``, ``%s::date[]``).


def int_array(values: Iterable[int]) -> str:
    """The text form of an integer array (``{1,2,3}``)."""
    return "{" + ",".join(map(str, values)) + "}"


def date_array(values: Iterable[date]) -> str:
    """The text form of a date array (``{2026-01-01,2026-02-01}``)."""
    return "{" + ",".join(map(date.isoformat, values)) + "}"


def int_matrix(rows: Iterable[Iterable[int]]) -> str:
    """The text form of a two-dimensional integer array (``{{1,2},{3,4}}``); the rows must be
    of one length."""
    return "{" + ",".join(map(int_array, rows)) + "}"


# --- settings ------------------------------------------------------------------------------


def _set_config_sql(count: int) -> str:
    return "SELECT " + ", ".join("set_config(%s, %s, %s)" for _ in range(count))


def apply_settings(
    settings: Mapping[str, str], *, local: bool = True, cursor: CursorWrapper | None = None
) -> None:
    """Set PostgreSQL ``settings`` in one statement: for the current transaction only
    (``local``, as ``SET LOCAL``: a rollback or the commit ends them) or for the session.
    ``cursor`` is the connection's cursor to use (another connection's), by default one of the
    default connection."""
    if not settings:
        return
    params = [v for name, value in settings.items() for v in (name, value, local)]
    if cursor is not None:
        cursor.execute(_set_config_sql(len(settings)), params)
        return
    with connection.cursor() as own:
        own.execute(_set_config_sql(len(settings)), params)


@contextmanager
def settings_applied(*, cursor: CursorWrapper, settings: Mapping[str, str]) -> Iterator[None]:
    """Run the body with PostgreSQL ``settings`` and put the previous values back after it
    (two statements). Inside a transaction they are set for the transaction only (as SET
    LOCAL), so that a failure's rollback undoes them and a caller's own SET LOCAL is not
    turned into a session setting."""
    names = list(settings)
    if not names:
        yield
        return
    local = connection.in_atomic_block
    # The select list is evaluated in order: the current values, then the new ones set.
    cursor.execute(
        "SELECT "
        + ", ".join("current_setting(%s)" for _ in names)
        + ", "
        + ", ".join("set_config(%s, %s, %s)" for _ in names),
        [*names, *[v for name in names for v in (name, settings[name], local)]],
    )
    previous = cursor.fetchone()[: len(names)]
    restore = [v for name, old in zip(names, previous, strict=True) for v in (name, old, local)]
    sql = _set_config_sql(len(names))
    try:
        yield
    except BaseException:
        if not local:
            cursor.execute(sql, restore)
        raise
    cursor.execute(sql, restore)


# --- COPY ----------------------------------------------------------------------------------

NULL = "\\N"  # COPY's text for null
COPY_LINES_PER_WRITE = 20_000
# PostgreSQL's binary COPY: signature, flags, header extension length; and the trailer.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
BINARY_TRAILER = struct.pack(">h", -1)


def copy_text(value: str) -> str:
    """A text value for COPY's text format (backslash, tab, newline, carriage return escaped)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_sql(table: str, columns: Sequence[str], options: str = "") -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN{options}"


def copy_lines(*, table: str, columns: Sequence[str], lines: Iterable[str]) -> int:
    """COPY lines already in COPY's text format (tab-separated, ``\\N`` for null, each ending
    in a newline, values escaped with ``copy_text``) into ``table``'s ``columns``, sent in
    writes of ``COPY_LINES_PER_WRITE`` lines; returns how many lines."""
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(_copy_sql(table, columns)) as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= COPY_LINES_PER_WRITE:
                copy.write("".join(buffer))
                count += len(buffer)
                buffer = []
        if buffer:
            copy.write("".join(buffer))
            count += len(buffer)
    return count


def copy_rows(*, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows of Python values (psycopg adapts each, as for a parameter) into ``table``'s
    ``columns``; returns how many rows."""
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(_copy_sql(table, columns)) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def copy_binary(*, table: str, columns: Sequence[str], chunks: Iterable[bytes]) -> None:
    """COPY rows already in PostgreSQL's binary format (``chunks`` of whole rows, without the
    header and the trailer, which this writes) into ``table``'s ``columns``."""
    sql = _copy_sql(table, columns, " WITH (FORMAT binary)")
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(BINARY_HEADER)
        for chunk in chunks:
            copy.write(chunk)
        copy.write(BINARY_TRAILER)


# --- prepared statements -------------------------------------------------------------------
# Django's PostgreSQL cursors bind parameters on the client, so PostgreSQL parses and plans
# every statement anew; for the posting path planning costs more than running (about 1.4 ms to
# plan the open-items query, 0.3 ms to run it). A ``prepared_cursor`` binds on the server
# instead, and psycopg prepares a statement a connection has run five times: later runs skip
# parsing and planning. Errors are Django's (IntegrityError ...) and queries are logged like
# any other. Set ``OPTIONS["prepare_threshold"]`` (``None`` behind a pooler that cannot keep
# prepared statements) to override.

TIMESTAMPTZ_OID = adapters.types["timestamptz"].oid
PREPARE_THRESHOLD = 5  # psycopg's default
# Connections told to plan prepared statements once. PostgreSQL would otherwise keep planning
# statements whose generic plan it estimates dearer (a lookup by new or legacy number: 0.43 ms
# of server time each instead of 0.07 ms).
_GENERIC_PLANS: weakref.WeakSet[Any] = weakref.WeakSet()


def prepared_cursor() -> CursorWrapper:
    """A cursor of the default connection that binds parameters on the server (statements a
    connection runs often are prepared once). Use it with ``with``; only ``%s`` placeholders
    and casts where a parameter's type is not clear from its value."""
    from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]
    from django.db.backends.postgresql.psycopg_any import (  # type: ignore[import-untyped]
        register_tzloader,
    )

    wrapper = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` looks it up again
    wrapper.ensure_connection()
    raw = wrapper.connection
    if raw.prepare_threshold is None and "prepare_threshold" not in wrapper.settings_dict.get(
        "OPTIONS", {}
    ):
        # Django turns psycopg's automatic preparing off (for poolers) unless OPTIONS set it;
        # it only ever applies to server-binding cursors like this one.
        raw.prepare_threshold = PREPARE_THRESHOLD
    if raw not in _GENERIC_PLANS and wrapper.get_autocommit():
        # Outside a transaction the setting lasts for the session (inside one a rollback would
        # undo it). It only concerns prepared statements, that is, this cursor's.
        raw.execute("SET plan_cache_mode = force_generic_plan")
        _GENERIC_PLANS.add(raw)
    cursor = ServerBindingCursor(raw)
    loader = raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if wrapper.timezone != getattr(loader, "timezone", None):
        register_tzloader(wrapper.timezone, cursor)
    with wrapper.wrap_database_errors:
        return cast(CursorWrapper, wrapper._prepare_cursor(cursor))  # type: ignore[attr-defined]
