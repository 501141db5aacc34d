"""Database plumbing for hot paths (posting a payment, auditing a partner call).

Django's PostgreSQL cursors bind parameters on the client, so PostgreSQL parses and plans every
statement anew; for the posting path planning costs more than running (about 1.4 ms to plan
the open-items query, 0.3 ms to run it). A ``prepared_cursor`` binds on the server instead, and
psycopg prepares a statement a connection has run five times: later runs skip parsing and
planning. Errors are Django's (IntegrityError ...) and queries are logged like any other.

Set ``OPTIONS["prepare_threshold"]`` (``None`` behind a pooler that cannot keep prepared
statements) to override.
"""

from __future__ import annotations

import weakref
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper
from psycopg import adapters
from psycopg.pq import Format

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
