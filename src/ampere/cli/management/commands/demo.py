"""`ampere demo`: realistic demo customers, accounts and agreements in bulk, then meters and their
reads, and billing cycles with their calendars, so that `ampere billrun` works right after."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from ampere.accounts.demo import create_demo_data, demo_account_count
from ampere.billing.demo import install_demo_billing
from ampere.core.errors import DomainError
from ampere.metering.demo import install_demo_meters


class Command(BaseCommand):
    help = (
        "Create demo data: customers, premises, service points, accounts, agreements, meters "
        "with their reads, billing cycles and their calendars."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--utility", required=True, choices=["evn-hcmc", "evn-spc", "sce"])
        parser.add_argument("--accounts", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if the utility has accounts"
        )
        parser.add_argument("--months", type=int, default=3, help="months of meter reads")
        parser.add_argument(
            "--interval-share",
            type=float,
            default=None,
            help="share of smart meters with 15-minute data (default: all, for SCE)",
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
                stages: dict[str, Any] = {}

                def metering_progress(stage: str, done: int, total: int) -> None:
                    if stage not in stages:
                        stages[stage] = progress.add_task(f"{stage} {utility}", total=total)
                    progress.update(stages[stage], completed=done, total=total)

                meters = install_demo_meters(
                    utility_code=utility,
                    months=options["months"],
                    as_of=as_of,
                    seed=options["seed"],
                    interval_share=(
                        options["interval_share"]
                        if options["interval_share"] is not None
                        else (1.0 if utility == "sce" else 0.0)
                    ),
                    interval_days=62,
                    progress=metering_progress,
                    now=now,
                )
                billing = install_demo_billing(
                    utility_code=utility, valid_from=as_of.replace(year=as_of.year - 2, day=1)
                )
            except DomainError as error:
                raise CommandError(str(error)) from error
        rate = report.accounts / report.seconds if report.seconds else 0
        self.stdout.write(
            f"{report.accounts} accounts for {utility} ({report.enrolments} enrolments, "
            f"{report.legacy_numbers} legacy numbers) in {report.seconds:.1f} s "
            f"({rate:,.0f} accounts/s); {meters.meters} meters, {meters.reads} reads, "
            f"{meters.interval_days} interval days; {billing.cycles} billing cycles, "
            f"{billing.schedule_rows} calendar rows, {billing.assignments} accounts on cycles"
        )
