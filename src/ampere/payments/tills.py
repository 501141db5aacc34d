"""Counter cashiers: a till session from the opening float to the end-of-day count.

A payment taken at a counter is posted like any other (exactly once by the counter's
transaction id) and belongs to the cashier's open till; closing the till counts the cash and
records the difference against what the till should hold.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction

from ampere.core.errors import Conflict, InvalidInput, NotFound
from ampere.core.money import Money, currency
from ampere.payments import operations
from ampere.payments.models import ChannelKind, PaymentMethod, TillSession
from ampere.payments.types import ChannelPolicy, MethodTotal, PaymentInput, Receipt, TillSummary


class TillClosed(Conflict):
    code = "till-closed"


class TillNotFound(NotFound):
    code = "till-not-found"


def _cash(amount: Money, channel: ChannelPolicy, field: str) -> Money:
    if amount.currency != currency(channel.currency):
        raise InvalidInput(f"the till counts {channel.currency}", field=field)
    if amount.amount < 0 or not amount.is_rounded():
        raise InvalidInput(f"{amount} is not an amount of cash", field=field)
    return amount


def open_till(
    *, channel: ChannelPolicy, cashier: str, counter_code: str, opening_float: Money, now: datetime
) -> TillSummary:
    """Open a cashier's till at a counter. Raises InvalidInput, Conflict (one open till per
    cashier)."""
    if channel.kind != ChannelKind.COUNTER:
        raise InvalidInput(f"{channel.code} is not a counter channel", field="channel")
    if not cashier.strip() or not counter_code.strip():
        raise InvalidInput("name the cashier and the counter", field="counter_code")
    opening = _cash(opening_float, channel, "opening_float")
    try:
        with transaction.atomic():
            till = TillSession.objects.create(
                channel_id=channel.id,
                cashier=cashier[:64],
                counter_code=counter_code[:32],
                currency=channel.currency,
                opening_float=opening.amount,
                opened_at=now,
            )
    except IntegrityError:
        raise Conflict(f"{cashier} has a till open already", field="cashier") from None
    return get_till_summary(till_id=till.id)


def _open_till_of(till_id: int, cashier: str) -> TillSession:
    """The cashier's open till, locked: a close waits for a payment being taken, and the other
    way round (a cashier takes one payment at a time)."""
    till = TillSession.objects.select_for_update().filter(id=till_id, cashier=cashier).first()
    if till is None:
        raise TillNotFound(f"{cashier} has no till {till_id}", field="till")
    if till.closed_at is not None:
        raise TillClosed(
            f"till {till_id} was closed at {till.closed_at:%Y-%m-%d %H:%M}", field="till"
        )
    return till


def take_payment(
    *, channel: ChannelPolicy, till_id: int, cashier: str, data: PaymentInput, now: datetime
) -> Receipt:
    """Post a payment taken at the counter into the cashier's open till (exactly once by its
    transaction id). Raises TillNotFound, TillClosed and whatever ``post_payment`` raises."""
    with transaction.atomic():
        till = _open_till_of(till_id, cashier)
        if till.channel_id != channel.id:
            raise InvalidInput("the till belongs to another counter channel", field="till")
        return operations.post_payment(
            channel=channel,
            data=PaymentInput(
                transaction_id=data.transaction_id,
                account_number=data.account_number,
                amount=data.amount,
                currency=data.currency,
                received_at=data.received_at,
                method=data.method or PaymentMethod.CASH,
                bill_number=data.bill_number,
                collector=cashier,
                device=till.counter_code,
                till_session_id=till.id,
            ),
            created_by=f"cashier:{cashier}"[:64],
            now=now,
        )


_TOTALS_SQL = """
    SELECT p.method, count(*), COALESCE(SUM(p.amount), 0)
    FROM payments_payment p
    WHERE p.till_session_id = %s
      AND NOT EXISTS (SELECT 1 FROM payments_paymentreversal r WHERE r.payment_id = p.id)
    GROUP BY p.method
    ORDER BY p.method
"""


def _totals(till_id: int) -> dict[str, tuple[int, Decimal]]:
    with connection.cursor() as cursor:
        cursor.execute(_TOTALS_SQL, [till_id])
        return {method: (count, amount) for method, count, amount in cursor.fetchall()}


def close_till(
    *, till_id: int, cashier: str, counted_cash: Money, note: str, now: datetime
) -> TillSummary:
    """End of day: count the cash, record what the till should hold (float plus cash taken,
    less what was reversed) and the difference. Payments wait for the close, and none is taken
    after. Raises TillNotFound, TillClosed, InvalidInput."""
    with transaction.atomic():
        till = _open_till_of(till_id, cashier)
        counted = Money.of(counted_cash.amount, counted_cash.currency)
        if counted.currency.code != till.currency or counted.amount < 0:
            raise InvalidInput(f"count the cash in {till.currency}", field="counted_cash")
        if not counted.is_rounded():
            raise InvalidInput(f"{counted} is not an amount of cash", field="counted_cash")
        cash = _totals(till.id).get(PaymentMethod.CASH, (0, Decimal(0)))[1]
        till.expected_cash = till.opening_float + cash
        till.counted_cash = counted.amount
        till.closed_at = now
        till.closing_note = note[:300]
        till.save(update_fields=["expected_cash", "counted_cash", "closed_at", "closing_note"])
    return get_till_summary(till_id=till_id)


def get_till_summary(*, till_id: int) -> TillSummary:
    till = TillSession.objects.filter(id=till_id).select_related("channel").first()
    if till is None:
        raise TillNotFound(f"no till {till_id}", field="till")
    code = till.currency
    totals = _totals(till.id)
    cash = totals.get(PaymentMethod.CASH, (0, Decimal(0)))[1]
    expected = till.expected_cash if till.expected_cash is not None else till.opening_float + cash
    return TillSummary(
        till_id=till.id,
        channel=till.channel.code,
        cashier=till.cashier,
        counter_code=till.counter_code,
        opened_at=till.opened_at,
        closed_at=till.closed_at,
        opening_float=Money.of(till.opening_float, code).rounded(),
        totals=tuple(
            MethodTotal(method, count, Money.of(amount, code).rounded())
            for method, (count, amount) in totals.items()
        ),
        expected_cash=Money.of(expected, code).rounded(),
        counted_cash=None
        if till.counted_cash is None
        else Money.of(till.counted_cash, code).rounded(),
        difference=None
        if till.counted_cash is None
        else Money.of(till.counted_cash - expected, code).rounded(),
        note=till.closing_note,
    )
