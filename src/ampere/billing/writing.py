"""Writing priced bills with COPY: bills, bill lines, hold reasons, the ledger charges of the
issued bills, and the exceptions of a partition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np

from ampere.accounts.ledger import ChargeRow, copy_entries, settle_credits
from ampere.billing.assembly import (
    unrounded_amounts,
)
from ampere.billing.hold_checks import BillFacts
from ampere.billing.pricing import Priced, Unbilled
from ampere.billing.run_context import Laps, RunContext
from ampere.billing.targets import Targets
from ampere.billing.usage import Usage
from ampere.database import NULL, copy_lines, copy_text


@dataclass
class Outcome:
    issued: int = 0
    held: int = 0
    estimated_reads: int = 0
    amount_posted: Decimal = Decimal(0)
    lines: int = 0
    bill_ids: list[int] = field(default_factory=list)
    exceptions: list[Unbilled] = field(default_factory=list)
    # bill id → (status, total in minor units, hold reasons) for one-at-a-time callers
    bills: dict[int, tuple[str, int, tuple[tuple[str, str], ...]]] = field(default_factory=dict)


BILL_COLUMNS = (
    *("id", "account_id", "agreement_id", "cycle_id", "bill_run_id", "kind", "status", "period"),
    *("bill_date", "due_date", "issued_at", "currency", "language", "consumption_kwh"),
    *("estimated", "subtotal", "tax_total", "total", "replaces_id", "readings", "created_at"),
)
LINE_COLUMNS = (
    *("bill_id", "sequence", "kind", "code", "description", "quantity", "unit", "unit_price"),
    *("amount_unrounded", "amount", "tax_rate", "tax_amount"),
)


def write_bills(
    *,
    clock: Laps,
    context: RunContext,
    targets: Targets,
    usages: list[Usage],
    facts: BillFacts,
    priced: list[Priced],
    reasons: dict[int, tuple[tuple[str, str], ...]],
    bill_of: dict[int, int],
    now: datetime,
    kind: str,
    bill_date: date | None,
    due_date: date | None,
    outcome: Outcome,
) -> None:
    minor = context.minor_digits
    stamp = now.isoformat()
    run_text = str(context.id) if context.id else NULL
    cycle_text = NULL if context.cycle_id is None else str(context.cycle_id)
    bill_day = bill_date or context.bill_date
    owed_due = due_date if due_date is not None else context.due_date
    charges: list[ChargeRow] = []
    held_rows: list[str] = []

    minor_suffix = f"e-{minor}" if minor else ""
    currency_text = context.currency
    bill_day_text = bill_day.isoformat()
    due_text = NULL if owed_due is None else owed_due.isoformat()
    # The text of "kind, status, ..., period" is shared by every bill of a period.
    fixed = f"{cycle_text}\t{run_text}\t{kind}\t"
    periods: dict[tuple[date, date], str] = {}
    posted_minor = 0

    def bills() -> Iterator[str]:
        nonlocal posted_minor
        account_ids, agreement_ids = targets.account_id, targets.agreement_id
        starts, ends, languages = targets.start, targets.end, targets.language
        for n, index in enumerate(facts.index):
            bill_id = bill_of[index]
            total = facts.total[n]
            held = index in reasons
            usage = usages[index]
            replaces = targets.replaces[index]
            outcome.bill_ids.append(bill_id)
            key = (starts[index], ends[index])
            period = periods.get(key)
            if period is None:
                period = periods[key] = f"[{key[0]},{key[1]})\t{bill_day_text}"
            if held:
                outcome.held += 1
                status, due, issued = "held", NULL, NULL
                for code, detail in reasons[index]:
                    held_rows.append(f"{bill_id}\t{copy_text(code)}\t{copy_text(detail[:300])}\n")
            else:
                outcome.issued += 1
                status, due, issued = "issued", NULL, stamp
                if total > 0:
                    due = due_text
                    posted_minor += total
                    end = key[1] - timedelta(days=1)
                    charges.append(
                        ChargeRow(
                            account_id=account_ids[index],
                            kind="charge",
                            amount=Decimal(total).scaleb(-minor),
                            currency=currency_text,
                            value_date=bill_day,
                            due_date=owed_due,
                            source_type="bill",
                            source_id=str(bill_id),
                            description=f"Bill {bill_id} {key[0]}..{end}",
                        )
                    )
            outcome.bills[bill_id] = (status, total, reasons.get(index, ()))
            yield (
                f"{bill_id}\t{account_ids[index]}\t{agreement_ids[index]}\t{fixed}{status}\t"
                f"{period}\t{due}\t{issued}\t{currency_text}\t{languages[index]}\t"
                f"{facts.wh[n]}e-3\t{'t' if usage.source == 'estimated' else 'f'}\t"
                f"{facts.subtotal[n]}{minor_suffix}\t{facts.tax_total[n]}{minor_suffix}\t"
                f"{total}{minor_suffix}\t{NULL if replaces is None else replaces}\t"
                f"{copy_text(usage.readings)}\t"
                f"{stamp}\n"
            )

    copy_lines(table="billing_bill", columns=BILL_COLUMNS, lines=bills())
    outcome.amount_posted = Decimal(posted_minor).scaleb(-minor)
    clock.lap("write_bills")

    def lines() -> Iterator[str]:
        for item in priced:
            ids = [bill_of[index] for index in item.targets]
            for c, column in enumerate(item.group.columns):
                where = np.flatnonzero(column.present)
                if not len(where):
                    continue
                head = (
                    f"\t{item.line_kinds[c]}\t{copy_text(item.line_codes[c])}\t"
                    f"{copy_text(column.description[:200])}\t"
                )
                unit = f"\t{copy_text(column.unit[:10])}\t"
                rate = f"\t{item.line_rates[c]}\t"
                quantity = column.quantity[where]
                price = column.price[where]
                unrounded, unrounded_exp = unrounded_amounts(
                    quantity, column.quantity_exp, price, column.price_exp, column.proration
                )
                q_suffix = f"e{column.quantity_exp}" if column.quantity_exp else ""
                p_suffix = f"e{column.price_exp}" if column.price_exp else ""
                u_suffix = f"e{unrounded_exp}" if unrounded_exp else ""
                for position, q, pr, u, amount, tax, seq in zip(
                    where.tolist(),
                    quantity.tolist(),
                    price.tolist(),
                    unrounded.tolist() if isinstance(unrounded, np.ndarray) else unrounded,
                    column.rounded[where].tolist(),
                    item.line_tax[c, where].tolist(),
                    item.sequence[c, where].tolist(),
                    strict=True,
                ):
                    yield (
                        f"{ids[position]}\t{seq}{head}{q}{q_suffix}{unit}{pr}{p_suffix}\t"
                        f"{u}{u_suffix}\t{amount}{minor_suffix}{rate}{tax}{minor_suffix}\n"
                    )
                outcome.lines += len(where)

    copy_lines(table="billing_billline", columns=LINE_COLUMNS, lines=lines())
    clock.lap("write_lines")
    if held_rows:
        copy_lines(table="billing_billhold", columns=("bill_id", "code", "detail"), lines=held_rows)
    if charges:
        copy_entries(rows=charges, created_by=context.created_by, now=now)
        clock.lap("write_ledger")
        settle_credits(account_ids=sorted({c.account_id for c in charges}), now=now)
        clock.lap("settle_credits")


def write_exceptions(
    context: RunContext,
    targets: Targets,
    partition_id: int,
    exceptions: list[Unbilled],
    now: datetime,
) -> None:
    stamp = now.isoformat()

    def rows() -> Iterator[str]:
        for item in exceptions:
            index = item.index
            raw = json.dumps(item.raw, ensure_ascii=False, default=str)
            yield (
                f"{context.id}\t{partition_id}\t{targets.account_id[index]}\t"
                f"{targets.agreement_id[index]}\t[{targets.start[index]},{targets.end[index]})\t"
                f"{copy_text(item.code[:40])}\t{copy_text(item.detail[:300])}\t{copy_text(raw)}\t{stamp}\n"
            )

    copy_lines(
        table="billing_billrunexception",
        columns=(
            *("run_id", "partition_id", "account_id", "agreement_id", "period", "code"),
            *("detail", "raw", "created_at"),
        ),
        lines=rows(),
    )
