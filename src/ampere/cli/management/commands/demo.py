"""`ampere demo`: realistic demo customers, accounts and agreements, in bulk."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from ampere.accounts.demo import create_demo_data, demo_account_count
from ampere.core.errors import DomainError


class Command(BaseCommand):
    help = "Create demo data: customers, premises, service points, accounts, agreements."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--utility", required=True, choices=["evn-hcmc", "evn-spc", "sce"])
        parser.add_argument("--accounts", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if the utility has accounts"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        utility = options["utility"]
        if options["if_empty"] and demo_account_count(utility_code=utility):
            self.stdout.write(f"{utility} has accounts already; no demo data added.")
            return
        now = datetime.now(UTC)
        as_of = options["as_of"] or now.date()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=False,
        ) as progress:
            task = progress.add_task(f"demo {utility}", total=options["accounts"])
            try:
                report = create_demo_data(
                    utility_code=utility,
                    accounts=options["accounts"],
                    seed=options["seed"],
                    as_of=as_of,
                    now=now,
                    progress=lambda n: progress.advance(task, n),
                )
            except DomainError as error:
                raise CommandError(str(error)) from error
        rate = report.accounts / report.seconds if report.seconds else 0
        self.stdout.write(
            f"{report.accounts} accounts for {utility} ({report.enrolments} enrolments, "
            f"{report.legacy_numbers} legacy numbers) in {report.seconds:.1f} s "
            f"({rate:,.0f} accounts/s)"
        )
