"""`ampere import_lockbox`: post a lockbox file; bad rows wait in quarantine."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.core.errors import DomainError
from ampere.payments import lockbox, queries


class Command(BaseCommand):
    help = "Import a lockbox file (CSV: reference,account_number,amount,currency,paid_on)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--channel", required=True, help="the lockbox channel's code")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            result = lockbox.import_lockbox_file(
                channel=queries.get_channel(code=options["channel"]),
                name=path.name,
                content=path.read_bytes(),
                created_by="cli",
                now=datetime.now(UTC),
            )
        except (DomainError, OSError) as error:
            raise CommandError(str(error)) from None
        if result.replayed:
            self.stdout.write(f"{path.name} was imported before (file {result.file_id})")
        self.stdout.write(
            f"file {result.file_id}: {result.count('posted')} posted, "
            f"{result.count('duplicate')} posted before, "
            f"{result.count('quarantined')} in quarantine"
        )
        for row in result.rows:
            if row.status == "quarantined":
                self.stdout.write(f"  line {row.line_number}: {row.field}: {row.reason}")
