"""Shared set-up for benchmarks: a fresh scratch database, Django configured against it."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def fresh_database(name: str) -> str:
    """Create (or re-create) database ``name`` and point Django at it; returns its URL.

    Uses the server of ``DATABASE_URL`` if set, else 127.0.0.1:5432 if a server listens there,
    else Ampere's embedded server.
    """
    import psycopg
    from psycopg import sql

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ampere.config.settings")
    base = os.environ.get("DATABASE_URL")
    if base is None and _listening("127.0.0.1", 5432):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    if base is None:
        from ampere.embedded_db.server import ensure_server

        server = ensure_server()
        admin: dict[str, Any] = {"host": server.socket_dir, "port": server.port, "user": "postgres"}
        url = f"postgresql://postgres@/{name}?host={server.socket_dir}&port={server.port}"
    else:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(base)
        admin = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": parts.username or "postgres",
        }
        if parts.password:
            admin["password"] = parts.password
        url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ["DATABASE_URL"] = url
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url
