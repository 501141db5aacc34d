"""PostgreSQL backend that connects to the embedded server, starting it on first use."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from ampere.embedded_db.server import ensure_database, ensure_server


class DatabaseWrapper(base.DatabaseWrapper):
    _database_ready: bool = False

    def get_connection_params(self) -> dict[str, Any]:
        server = ensure_server()
        self.settings_dict["HOST"] = server.socket_dir
        self.settings_dict["PORT"] = str(server.port)
        params: dict[str, Any] = super().get_connection_params()
        name = params.get("dbname")
        if name and name != "postgres" and not DatabaseWrapper._database_ready:
            ensure_database(server, name, params.get("user") or "postgres")
            DatabaseWrapper._database_ready = True
        return params
