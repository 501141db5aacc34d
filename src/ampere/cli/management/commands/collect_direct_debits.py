"""`ampere collect_direct_debits`: collect what mandates owe on a day (run it daily)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.core.errors import DomainError
from ampere.payments import mandates, queries


class Command(BaseCommand):
    help = "Collect the direct debits due on or before a date; running it again is harmless."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--as-of", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--channel", default=None, help="one direct-debit channel, or all")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = mandates.collect_direct_debits(
                as_of=options["as_of"],
                now=datetime.now(UTC),
                channel=None
                if options["channel"] is None
                else queries.get_channel(code=options["channel"]),
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        amounts = ", ".join(str(m) for m in run.collected_amounts) or "nothing"
        self.stdout.write(
            f"{run.as_of}: {run.collected} collected ({amounts}), {run.skipped} above their "
            f"mandate's limit, of {run.mandates} mandates with something due"
        )
