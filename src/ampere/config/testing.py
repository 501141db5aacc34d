"""Pytest plugin loaded before pytest-django (``-p ampere.config.testing``): picks the database.

Where a PostgreSQL server listens on 127.0.0.1:5432 and ``DATABASE_URL`` is unset, the tests
use that server; otherwise they use Ampere's embedded server.
"""

from __future__ import annotations

import os
import socket


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


if "DATABASE_URL" not in os.environ and _listening("127.0.0.1", 5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/postgres"
