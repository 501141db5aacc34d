"""`ampere import_settlement`: reconcile a bank's daily settlement file."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.core.errors import DomainError
from ampere.payments import queries, reconciliation


class Command(BaseCommand):
    help = "Import a settlement file (CSV: transaction_id,account_number,amount,currency)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--channel", required=True)
        parser.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            report = reconciliation.import_settlement_file(
                channel=queries.get_channel(code=options["channel"]),
                name=path.name,
                content=path.read_bytes(),
                business_date=options["date"],
                created_by="cli",
                now=datetime.now(UTC),
            )
        except (DomainError, OSError) as error:
            raise CommandError(str(error)) from None
        counts = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        self.stdout.write(
            f"settlement file {report.file_id} ({report.business_date}): {counts}; "
            f"bank total {report.bank_total}; {report.unresolved} to resolve"
        )
        for item in report.items:
            where = f"line {item.line_number}" if item.line_number else item.receipt_number
            self.stdout.write(f"  {item.kind:<10} {where:<12} {item.transaction_id}: {item.detail}")
