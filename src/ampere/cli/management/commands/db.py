"""`ampere db status|stop`: the embedded PostgreSQL server."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ampere.embedded_db.server import data_dir, ensure_server, stop_server


class Command(BaseCommand):
    help = "Status, start or stop of the embedded PostgreSQL server."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["status", "start", "stop"])

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.DATABASES["default"]["ENGINE"] != "ampere.embedded_db":
            raise CommandError("DATABASE_URL names an external server; nothing embedded to manage")
        action = options["action"]
        if action == "stop":
            stopped = stop_server()
            self.stdout.write("stopped" if stopped else "not running")
        elif action == "start":
            server = ensure_server()
            self.stdout.write(f"running in {server.data_dir}, socket {server.socket_dir}")
        else:
            running = (data_dir() / "postmaster.pid").exists()
            self.stdout.write(f"{'running' if running else 'stopped'} ({data_dir()})")
