"""`ampere serve`: serve Ampere over HTTP with Granian (WSGI, several worker processes)."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Ampere on HTTP (Granian, WSGI workers)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=os.environ.get("AMPERE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("AMPERE_PORT", "8000")))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("AMPERE_WORKERS", str(os.cpu_count() or 1))),
            help="worker processes (default: one per CPU core)",
        )
        parser.add_argument(
            "--threads", type=int, default=4, help="blocking threads per worker (WSGI)"
        )
        parser.add_argument("--access-log", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from granian import Granian
        from granian.constants import Interfaces

        self.stdout.write(
            f"Ampere serving on http://{options['host']}:{options['port']}/ "
            f"({options['workers']} workers)"
        )
        Granian(
            target="ampere.config.wsgi:application",
            address=options["host"],
            port=options["port"],
            interface=Interfaces.WSGI,
            workers=options["workers"],
            blocking_threads=options["threads"],
            log_access=options["access_log"],
            respawn_failed_workers=True,
        ).serve()
