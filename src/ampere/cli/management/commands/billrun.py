"""`ampere billrun`: bill a cycle for the month of ``--as-of`` (resuming a run that stopped), or
rebill the bills whose consumption metering revised (``--rebill-revisions``).

Without ``CELERY_BROKER_URL`` the partitions run in this process; with it they are queued for
the Celery workers and this command shows their progress until the run is done.
"""

from __future__ import annotations

import os
import socket
import time
from argparse import ArgumentParser
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from ampere.billing.corrections import rebill_revised_consumption
from ampere.billing.runs import (
    DEFAULT_PARTITION_SIZE,
    PartitionOutcome,
    enqueue_bill_run,
    execute_bill_run,
    get_run_progress,
    start_bill_run,
)
from ampere.core.errors import DomainError


def _now() -> datetime:
    return datetime.now(UTC)


class Command(BaseCommand):
    help = (
        "Bill a cycle for the month of --as-of (resumes a run that stopped), or rebill what "
        "revised consumption changed. Example: ampere billrun --utility evn-hcmc --cycle C07 "
        "--as-of 2026-11-09"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--cycle", help="billing cycle code")
        parser.add_argument("--utility", help="utility code (needed when cycle codes repeat)")
        parser.add_argument("--as-of", type=date.fromisoformat, help="run date YYYY-MM-DD")
        parser.add_argument("--partition-size", type=int, default=DEFAULT_PARTITION_SIZE)
        parser.add_argument(
            "--no-documents",
            action="store_true",
            help="do not queue PDFs and e-invoices (they are made when first asked for)",
        )
        parser.add_argument(
            "--rebill-revisions",
            action="store_true",
            help="cancel and rebill issued bills whose consumption was revised since the last time",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["rebill_revisions"]:
                self._rebill(options)
            else:
                self._run(options)
        except DomainError as error:
            raise CommandError(str(error)) from error

    def _rebill(self, options: dict[str, Any]) -> None:
        if not options["utility"]:
            raise CommandError("--rebill-revisions needs --utility")
        report = rebill_revised_consumption(
            utility_code=options["utility"], now=_now(), by="cli:billrun"
        )
        self.stdout.write(
            f"{report.revisions} revisions read; {report.rebilled} bills cancelled and rebilled"
            f"{f', {len(report.failed)} refused' if report.failed else ''}."
        )
        for bill_id, reason in report.failed:
            self.stderr.write(f"  bill {bill_id}: {reason}")

    def _run(self, options: dict[str, Any]) -> None:
        if not options["cycle"] or options["as_of"] is None:
            raise CommandError("give --cycle and --as-of (or --rebill-revisions)")
        ref = start_bill_run(
            cycle_code=options["cycle"],
            utility_code=options["utility"],
            as_of=options["as_of"],
            now=_now(),
            created_by="cli:billrun",
            partition_size=options["partition_size"],
            documents=not options["no_documents"],
        )
        verb = "Resuming" if ref.resumed else "Running"
        self.stdout.write(
            f"{verb} bill run {ref.id}: {ref.utility_code} cycle {ref.cycle_code} "
            f"{ref.month:%Y-%m}, period {ref.period}, bill date {ref.bill_date}, due "
            f"{ref.due_date}; {ref.accounts} accounts in {ref.partitions} partitions"
        )
        started = time.perf_counter()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=options["quiet"],
        ) as bar:
            task = bar.add_task("partitions", total=ref.partitions)
            progress = get_run_progress(run_id=ref.id)
            bar.update(task, completed=progress.done)
            if settings.CELERY_BROKER_URL:
                with transaction.atomic():
                    enqueue_bill_run(run_id=ref.id)
                while True:
                    progress = get_run_progress(run_id=ref.id)
                    bar.update(task, completed=progress.done)
                    if progress.status == "completed" or (
                        progress.done + progress.failed >= progress.partitions
                    ):
                        break
                    time.sleep(0.5)
            else:

                def advance(outcome: PartitionOutcome) -> None:
                    if outcome.status == "done":
                        bar.advance(task)

                worker = f"cli:{socket.gethostname()}:{os.getpid()}"
                execute_bill_run(run_id=ref.id, now=_now, progress=advance, worker=worker)
        progress = get_run_progress(run_id=ref.id)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Run {ref.id} {progress.status}: {progress.issued} bills issued, {progress.held} "
            f"held for review, {progress.exceptions} agreements not billed (see the run's "
            f"exceptions); {progress.done}/{progress.partitions} partitions in {seconds:.1f} s"
        )
        if progress.failed:
            raise CommandError(
                f"{progress.failed} partitions failed (rolled back); run the same command again "
                "to resume"
            )
