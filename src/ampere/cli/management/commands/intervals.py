"""`ampere intervals import FILE` (head-end CSV or Green Button XML; prints the import id and
the quarantined rows) and `ampere intervals export --account N` (Green Button XML)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.core.errors import DomainError
from ampere.metering.greenbutton import export_green_button
from ampere.metering.interval_imports import import_interval_file
from ampere.metering.queries import quarantined_intervals

SHOWN_ROWS = 20


class Command(BaseCommand):
    help = "Import or export interval data."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="import a head-end CSV or a Green Button file")
        load.add_argument("file", type=Path)
        load.add_argument("--utility", default="sce")
        load.add_argument("--format", choices=["headend", "greenbutton"])
        load.add_argument("--meter", help="meter serial for a Green Button file")
        export = sub.add_parser("export", help="an account's data as Green Button XML")
        export.add_argument("--account", required=True)
        export.add_argument("--from", dest="start", required=True, type=date.fromisoformat)
        export.add_argument(
            "--to",
            dest="end",
            required=True,
            type=date.fromisoformat,
            help="first day not included",
        )
        export.add_argument("--output", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "export":
                data = export_green_button(
                    account_number=options["account"],
                    period_start=options["start"],
                    period_end=options["end"],
                    now=datetime.now(UTC),
                )
                options["output"].write_bytes(data)
                self.stdout.write(f"{len(data)} bytes written to {options['output']}")
                return
            path: Path = options["file"]
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            kind = options["format"] or (
                "greenbutton" if path.suffix.lower() == ".xml" else "headend"
            )
            result = import_interval_file(
                utility_code=options["utility"],
                data=path.read_bytes(),
                file_format=kind,
                file_name=path.name,
                meter_serial=options["meter"],
                now=datetime.now(UTC),
            )
        except DomainError as error:
            raise CommandError(f"{error}") from None
        again = " (received before: nothing changed)" if result.replayed else ""
        if result.status == "refused":
            self.stdout.write(f"import {result.import_id}: refused{again}")
            raise CommandError(f"{path.name} refused: {result.reason}")
        self.stdout.write(
            f"import {result.import_id}: {result.rows_read} rows read, {result.rows_stored} stored "
            f"({result.values_loaded} values in {result.days_loaded} meter-days), "
            f"{result.rows_quarantined} quarantined{again}"
        )
        shown = quarantined_intervals(import_id=result.import_id, limit=SHOWN_ROWS)
        for row in shown:
            self.stdout.write(f"  {row.row_ref}: {row.reason}: {row.message}")
        if result.rows_quarantined > len(shown):
            self.stdout.write(f"  ... and {result.rows_quarantined - len(shown)} more")
