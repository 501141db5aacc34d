"""Billing a batch of targets inside the caller's transaction, and a partition of a run as one
batch: consumption → rating → holds → writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection

from ampere.billing.hold_checks import BillFacts, hold_reasons_of
from ampere.billing.pricing import price_targets
from ampere.billing.run_context import Laps, RunContext
from ampere.billing.targets import TARGETS_SQL, Targets, add_programs, load_targets
from ampere.billing.usage import usages_of
from ampere.billing.writing import Outcome, write_bills, write_exceptions
from ampere.database import reserve_ids


@dataclass
class PartitionCounts:
    agreements: int = 0
    issued: int = 0
    held: int = 0
    skipped: int = 0
    exceptions: int = 0
    estimated_reads: int = 0
    amount_posted: Decimal = Decimal(0)
    lines: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    bill_ids: list[int] = field(default_factory=list)


def bill_partition(
    context: RunContext, partition_id: int, low: int, high: int, now: datetime
) -> PartitionCounts:
    clock = Laps()
    assert context.period.end is not None
    with connection.cursor() as cursor:
        cursor.execute(
            TARGETS_SQL,
            {
                "start": context.period.start,
                "end": context.period.end,
                "day": context.period.end - timedelta(days=1),
                "cycle": context.cycle_id,
                "low": low,
                "high": high,
            },
        )
        rows = cursor.fetchall()
    fresh = [row[:-1] for row in rows if not row[-1]]
    targets = load_targets(fresh, context.legal_language)
    add_programs(targets)
    clock.lap("agreements")
    counts = PartitionCounts(agreements=len(rows), skipped=len(rows) - len(fresh))
    outcome = bill_targets(
        context,
        targets,
        now=now,
        clock=clock,
        partition_id=partition_id,
        kind="original",
    )
    counts.issued, counts.held = outcome.issued, outcome.held
    counts.exceptions = len(outcome.exceptions)
    counts.estimated_reads = outcome.estimated_reads
    counts.amount_posted = outcome.amount_posted
    counts.lines = outcome.lines
    counts.bill_ids = outcome.bill_ids
    counts.seconds = clock.total
    counts.timings = clock.laps
    return counts


def bill_targets(
    context: RunContext,
    targets: Targets,
    *,
    now: datetime,
    clock: Laps | None = None,
    partition_id: int | None = None,
    kind: str = "original",
    bill_date: date | None = None,
    due_date: date | None = None,
) -> Outcome:
    """Consumption, rating, holds and the writes for ``targets``, inside the caller's
    transaction. Targets that cannot be billed are returned (and, in a run, stored) as
    exceptions with the reason."""
    clock = clock or Laps()
    outcome = Outcome()
    if not len(targets):
        return outcome
    usages, outcome.estimated_reads = usages_of(context, targets, clock, now)
    exceptions = outcome.exceptions
    priced = price_targets(context, targets, usages, exceptions)
    clock.lap("rating")
    facts = BillFacts()
    for item in priced:
        group = item.group
        totals = (group.subtotal + group.tax_total).tolist()
        subtotals = group.subtotal.tolist()
        taxes = group.tax_total.tolist()
        for position, index in enumerate(item.targets):
            facts.index.append(index)
            facts.total.append(totals[position])
            facts.subtotal.append(subtotals[position])
            facts.tax_total.append(taxes[position])
            facts.wh.append(item.wh[position])
    reasons = hold_reasons_of(context, targets, usages, facts)
    clock.lap("holds")
    ids = reserve_ids(table="billing_bill", count=len(facts.index))
    bill_of = dict(zip(facts.index, ids, strict=True))
    write_bills(
        clock=clock,
        context=context,
        targets=targets,
        usages=usages,
        facts=facts,
        priced=priced,
        reasons=reasons,
        bill_of=bill_of,
        now=now,
        kind=kind,
        bill_date=bill_date,
        due_date=due_date,
        outcome=outcome,
    )
    if exceptions and partition_id is not None:
        write_exceptions(context, targets, partition_id, exceptions, now)
    return outcome
