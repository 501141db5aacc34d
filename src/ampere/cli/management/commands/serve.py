"""`ampere serve`: serve Ampere over HTTP with Granian (WSGI, several worker processes)."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

# What --production tunes (measured with bench/payments.py on two cores): one Rust I/O thread
# per worker on a single-threaded runtime, HTTP/1.1 only (no protocol sniffing), four Python
# threads per worker (the default with or without it: a payment's thread mostly waits for its
# commit to be flushed; with four, more commits share a flush: 1,057 payments/s against 970 with
# two, 16 connections), and a tuned garbage collector in each worker (see ampere.config.wsgi).
THREADS = 4


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
            "--threads", type=int, default=THREADS, help="blocking threads per worker (WSGI)"
        )
        parser.add_argument(
            "--production",
            action="store_true",
            default=os.environ.get("AMPERE_PRODUCTION", "").lower() in {"1", "true", "yes"},
            help="the runtime tuned for throughput: HTTP/1.1, single-threaded I/O runtime, "
            "tuned garbage collection (or AMPERE_PRODUCTION=1)",
        )
        parser.add_argument("--access-log", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, RuntimeModes
        from granian.log import LogLevels

        production = options["production"]
        threads = options["threads"]
        tuned: dict[str, Any] = {}
        if production:
            os.environ["AMPERE_TUNED_GC"] = "1"  # read by each worker in ampere.config.wsgi
            tuned = {
                "http": HTTPModes.http1,
                "runtime_mode": RuntimeModes.st,
                "runtime_threads": 1,
                "websockets": False,
                "log_level": LogLevels.warning,
            }
        self.stdout.write(
            f"Ampere serving on http://{options['host']}:{options['port']}/ "
            f"({options['workers']} workers x {threads} threads"
            f"{', production runtime' if production else ''})"
        )
        Granian(
            target="ampere.config.wsgi:application",
            address=options["host"],
            port=options["port"],
            interface=Interfaces.WSGI,
            workers=options["workers"],
            blocking_threads=threads,
            log_access=options["access_log"],
            respawn_failed_workers=True,
            **tuned,
        ).serve()
