"""Corrections of issued bills: cancel and rebill, and rebilling what revised consumption changed.

An issued bill is never edited. It is undone by a reversing bill (its lines negated, issued, and
posted to the ledger as the reversal of the bill's charge, which releases what the charge had
settled); the bill then turns cancelled and a rebill of the same agreement and period is priced
through the bill run's own path (consumption, rating, holds, COPY) from today's data, issued or
held for review. All of it commits together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import connection, transaction

from ampere.accounts.ledger import reverse_entry
from ampere.accounts.models import LedgerEntry
from ampere.billing.batch import bill_targets
from ampere.billing.models import Bill, BillReview, RebillCursor, ReviewDecision
from ampere.billing.operations import enqueue_bill_documents
from ampere.billing.queries import BillNotFound, as_period, get_due_date
from ampere.billing.run_context import utility_context
from ampere.billing.states import BillKind, BillStatus, IllegalTransition
from ampere.billing.targets import targets_for
from ampere.core.errors import DomainError, InvalidInput
from ampere.core.localtime import local_date, zone
from ampere.metering.queries import get_consumption_revisions
from ampere.metering.types import Revision

log = logging.getLogger(__name__)


class RebillRefused(DomainError):
    """The period could not be priced again (the rebill would be an exception of a run)."""

    code = "rebill-refused"


@dataclass(frozen=True, slots=True)
class Correction:
    cancelled_id: int
    reversal_id: int | None  # None when the cancelled bill was held (never posted)
    rebill_id: int
    rebill_status: str
    rebill_total: Decimal
    hold_reasons: tuple[tuple[str, str], ...]


def _actor(name: str) -> str:
    if not name.strip():
        raise InvalidInput("say who corrects the bill", field="by")
    return name.strip()[:64]


def cancel_and_rebill(*, bill_id: int, reason: str, by: str, now: datetime) -> Correction:
    """Cancel a bill and bill its period again from today's consumption and tariffs.

    An issued bill (original or rebill) gets a reversing bill posted as the reversal of its
    ledger entry; a held bill is cancelled as a clerk would. The rebill points at the bill it
    replaces. Raises BillNotFound, InvalidInput (``reason``, ``by``), IllegalTransition
    (``status``: a reversal, or a bill cancelled already), RebillRefused (``period``: cannot
    be priced), and the due-date errors.
    """
    who = _actor(by)
    if not reason.strip():
        raise InvalidInput("say why the bill is cancelled", field="reason")
    if now.tzinfo is None:
        raise InvalidInput("a time must carry its time zone", field="now")
    with transaction.atomic():
        bill = (
            Bill.objects.select_for_update(of=("self",))
            .filter(id=bill_id)
            .values(
                "status",
                "kind",
                "agreement_id",
                "period",
                "account__utility_id",
                "account__utility__time_zone",
            )
            .first()
        )
        if bill is None:
            raise BillNotFound(f"no bill {bill_id}", field="bill")
        if bill["kind"] == BillKind.REVERSAL:
            raise IllegalTransition("a reversing bill is not rebilled", field="status")
        if bill["status"] == BillStatus.CANCELLED:
            raise IllegalTransition(f"bill {bill_id} is cancelled already", field="status")
        utility_id = bill["account__utility_id"]
        today = local_date(now, zone(bill["account__utility__time_zone"]))
        period = as_period(bill["period"])
        reversal_id = None
        if bill["status"] == BillStatus.ISSUED:
            reversal_id = _reverse(bill_id, today, who, reason, now)
        else:
            Bill.objects.filter(id=bill_id).update(status=BillStatus.CANCELLED, cancelled_at=now)
            BillReview.objects.create(
                bill_id=bill_id,
                decision=ReviewDecision.CANCELLED,
                decided_by=who,
                decided_at=now,
                note=reason.strip()[:300],
            )
        due = get_due_date(utility_id=utility_id, bill_date=today)
        context = utility_context(utility_id=utility_id, bill_date=today, due_date=due)
        targets = targets_for(
            bills=[(bill["agreement_id"], period)],
            default_language=context.legal_language,
            replaces=[bill_id],
        )
        outcome = bill_targets(context, targets, now=now, kind=BillKind.REBILL)
        if outcome.exceptions:
            problem = outcome.exceptions[0]
            raise RebillRefused(f"{problem.code}: {problem.detail}", field="period")
        (rebill_id,) = outcome.bill_ids
        status, total_minor, reasons = outcome.bills[rebill_id]
        total = Decimal(total_minor).scaleb(-context.minor_digits)
        for made in (reversal_id, rebill_id if status == BillStatus.ISSUED else None):
            if made is not None:
                enqueue_bill_documents(made, context.currency)
    return Correction(bill_id, reversal_id, rebill_id, status, total, reasons)


def _reverse(bill_id: int, today: date, who: str, reason: str, now: datetime) -> int:
    """Write the reversing bill of an issued bill, post the reversal of its ledger entry, and
    cancel it. Returns the reversing bill's id."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH reversal AS (
                INSERT INTO billing_bill (
                    account_id, agreement_id, cycle_id, bill_run_id, kind, status, period,
                    bill_date, due_date, issued_at, currency, language, consumption_kwh,
                    estimated, subtotal, tax_total, total, reverses_id, readings, created_at)
                SELECT account_id, agreement_id, cycle_id, NULL, 'reversal', 'issued', period,
                       %(today)s, NULL, %(now)s, currency, language, -consumption_kwh,
                       estimated, -subtotal, -tax_total, -total, id, readings, %(now)s
                FROM billing_bill WHERE id = %(bill)s
                RETURNING id
            ), lines AS (
                INSERT INTO billing_billline (
                    bill_id, sequence, kind, code, description, quantity, unit, unit_price,
                    amount_unrounded, amount, tax_rate, tax_amount)
                SELECT reversal.id, l.sequence, l.kind, l.code, l.description, -l.quantity,
                       l.unit, l.unit_price, -l.amount_unrounded, -l.amount, l.tax_rate,
                       -l.tax_amount
                FROM billing_billline l, reversal WHERE l.bill_id = %(bill)s
            )
            SELECT id FROM reversal
            """,
            {"today": today, "now": now, "bill": bill_id},
        )
        (reversal_id,) = cursor.fetchone()
    entry = (
        LedgerEntry.objects.filter(source_type="bill", source_id=str(bill_id))
        .exclude(kind="reversal")
        .values_list("id", flat=True)
        .first()
    )
    if entry is not None:
        reverse_entry(
            entry_id=entry,
            created_by=who,
            now=now,
            reason=f"Bill {bill_id} cancelled by bill {reversal_id}: {reason.strip()}",
        )
    Bill.objects.filter(id=bill_id).update(status=BillStatus.CANCELLED, cancelled_at=now)
    return int(reversal_id)


# --- revised consumption -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RebillReport:
    revisions: int
    rebilled: int
    corrections: tuple[Correction, ...]
    failed: tuple[tuple[int, str], ...]


_AFFECTED_SQL = """
SELECT DISTINCT b.id
FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::timestamptz[])
     AS r(service_point_id, s, e, revised_at)
JOIN accounts_serviceagreement ag ON ag.service_point_id = r.service_point_id
JOIN billing_bill b ON b.agreement_id = ag.id
JOIN accounts_account a ON a.id = b.account_id
WHERE a.utility_id = %s AND b.status = 'issued' AND b.kind IN ('original', 'rebill')
  AND b.period && daterange(r.s, r.e) AND b.created_at < r.revised_at
ORDER BY b.id
"""


def rebill_revised_consumption(
    *, utility_code: str, now: datetime, by: str, since: datetime | None = None
) -> RebillReport:
    """Cancel and rebill the utility's issued bills whose consumption metering revised after
    they were made (an estimate replaced by the actual read), from where the last call
    stopped (or ``since``). Each bill is corrected in its own transaction; one that cannot be
    rebilled is reported and left as it is. Raises UtilityNotFound."""
    from ampere.accounts.queries import get_utility_id

    utility_id = get_utility_id(code=utility_code)
    cursor_row = RebillCursor.objects.filter(utility_id=utility_id).first()
    start = since or (
        cursor_row.processed_until if cursor_row else datetime(2000, 1, 1, tzinfo=UTC)
    )
    seen = 0
    corrections: list[Correction] = []
    failed: list[tuple[int, str]] = []
    limit = 10_000
    while True:
        revisions = get_consumption_revisions(since=start, limit=limit)
        if not revisions:
            break
        seen += len(revisions)
        for bill_id in _affected_bills(utility_id, revisions):
            try:
                corrections.append(
                    cancel_and_rebill(
                        bill_id=bill_id,
                        reason="consumption revised: actual read replaced the estimate",
                        by=by,
                        now=now,
                    )
                )
            except DomainError as error:
                failed.append((bill_id, str(error)))
                log.warning("bill %s not rebilled: %s", bill_id, error)
        last = revisions[-1].revised_at
        if len(revisions) < limit or all(r.revised_at == last for r in revisions):
            start = last
            if len(revisions) < limit:
                break
            continue
        # A full page: read the last instant again next time (corrections are idempotent).
        start = max(r.revised_at for r in revisions if r.revised_at < last)
    if seen:
        RebillCursor.objects.update_or_create(
            utility_id=utility_id, defaults={"processed_until": start}
        )
    return RebillReport(seen, len(corrections), tuple(corrections), tuple(failed))


def _affected_bills(utility_id: int, revisions: Sequence[Revision]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            _AFFECTED_SQL,
            [
                [r.service_point_id for r in revisions],
                [r.revised_period.start for r in revisions],
                [r.revised_period.end for r in revisions],
                [r.revised_at for r in revisions],
                utility_id,
            ],
        )
        return [row[0] for row in cursor.fetchall()]
