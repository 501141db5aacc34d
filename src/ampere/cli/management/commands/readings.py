"""`ampere readings import FILE`: a CSV or JSON file of register reads as one idempotent batch."""

from __future__ import annotations

import getpass
import json
from argparse import ArgumentParser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.core.errors import DomainError
from ampere.metering.operations import import_reads_file


class Command(BaseCommand):
    help = "Import register reads (CSV or JSON); bad rows go to the quarantine."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="import a file of reads")
        load.add_argument("file", type=Path)
        load.add_argument("--utility", default="evn-hcmc")
        load.add_argument("--format", choices=["csv", "json"], help="default: from the extension")
        load.add_argument("--source", default="handheld", help="source of rows that name none")
        load.add_argument("--batch-id", help="idempotency key (default: the file's SHA-256)")
        load.add_argument("--by", default=None, help="who imports (default: the OS user)")
        load.add_argument("--json", action="store_true", help="print the full result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        file_format = options["format"] or path.suffix.lower().lstrip(".")
        try:
            result = import_reads_file(
                utility_code=options["utility"],
                data=path.read_bytes(),
                file_format=file_format,
                submitted_by=options["by"] or f"cli:{getpass.getuser()}",
                channel="cli",
                default_source=options["source"],
                external_id=options["batch_id"],
                now=datetime.now(UTC),
            )
        except DomainError as error:
            raise CommandError(f"{path}: {error}") from None
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
            return
        again = " (received before: nothing changed)" if result.replayed else ""
        self.stdout.write(
            f"batch {result.external_id}{again}: {result.row_count} rows, {result.accepted} "
            f"accepted, {result.duplicates} duplicates, {result.quarantined} quarantined"
        )
        for row in result.rows:
            for problem in row["problems"]:
                where = f" {problem['field']}:" if problem["field"] else ""
                self.stdout.write(f"  row {row['row']}:{where} {problem['message']}")
