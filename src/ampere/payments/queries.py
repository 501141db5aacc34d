"""Reads of the payments domain. They return plain values, never half-loaded models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection

from ampere.accounts.queries import (
    find_account,
    get_balance,
    get_open_items,
    get_unallocated_credit,
)
from ampere.core.errors import NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.money import Money
from ampere.database import prepared_cursor
from ampere.payments.models import Channel, Payment, PaymentReversal, Refund
from ampere.payments.types import (
    AccountDebt,
    ChannelPolicy,
    OpenBill,
    Receipt,
    RefundResult,
    ReversalResult,
    SettledItem,
    receipt_number,
)


class UnknownChannel(NotFound):
    code = "unknown-channel"


class UnknownPayment(NotFound):
    code = "unknown-payment"


_CHANNEL_FIELDS = (
    "id",
    "code",
    "name",
    "kind",
    "utility_id",
    "utility__code",
    "utility__currency",
    "utility__time_zone",
    "accepts_credit_on_account",
    "reversal_fee",
    "gateway",
    "is_active",
)


def _channel(**lookup: str) -> ChannelPolicy | None:
    row = Channel.objects.filter(**lookup).values_list(*_CHANNEL_FIELDS).first()
    return None if row is None else ChannelPolicy(*row)


def get_channel(*, code: str) -> ChannelPolicy:
    """The channel ``code`` with its policy; raises UnknownChannel."""
    found = _channel(code=code)
    if found is None:
        raise UnknownChannel(f"no payment channel {code!r}", field="channel")
    return found


def get_partner_channel(*, partner_code: str) -> ChannelPolicy:
    """The channel an API partner posts through; raises UnknownChannel."""
    found = _channel(partner_code=partner_code) if partner_code else None
    if found is None:
        raise UnknownChannel(
            f"client {partner_code!r} is not set up as a payment channel", field="channel"
        )
    return found


def payment_key(*, channel_id: int, transaction_id: str) -> tuple[int, int, Decimal, str] | None:
    """(id, account id, amount, currency) of the channel's payment with this id, if any."""
    return (
        Payment.objects.filter(channel_id=channel_id, external_reference=transaction_id)
        .values_list("id", "account_id", "amount", "currency")
        .first()
    )


def find_payment(*, channel_id: int, transaction_id: str) -> int:
    """The id of the channel's payment with this transaction id; raises UnknownPayment."""
    found = payment_key(channel_id=channel_id, transaction_id=transaction_id)
    if found is None:
        raise UnknownPayment(
            f"no payment with transaction id {transaction_id!r}", field="transaction_id"
        )
    return found[0]


_RECEIPT_SQL = """
    SELECT p.external_reference, a.number, p.account_number_given, p.amount, p.currency,
           p.method, p.received_at, p.value_date, p.posted_at, p.bill_reference,
           p.balance_after, p.ledger_entry_id, c.code, c.name,
           EXISTS (SELECT 1 FROM payments_paymentreversal r WHERE r.payment_id = p.id),
           EXISTS (SELECT 1 FROM payments_paymenttransfer t WHERE t.payment_id = p.id)
    FROM payments_payment p
    JOIN payments_channel c ON c.id = p.channel_id
    JOIN accounts_account a ON a.id = p.account_id
    WHERE p.id = %s
"""

# What the payment settled when it was posted: its allocations made in the posting transaction
# (same instant), not what its leftover credit paid later.
_SETTLED_SQL = """
    SELECT d.id, d.source_type, d.source_id, al.amount
    FROM accounts_ledgerallocation al
    JOIN accounts_ledgerentry d ON d.id = al.debit_entry_id
    WHERE al.credit_entry_id = %s AND al.releases_id IS NULL AND al.allocated_at = %s
    ORDER BY al.id
"""


def get_receipt(*, payment_id: int, replayed: bool = False) -> Receipt:
    """The receipt of a payment as it was issued, with its present status."""
    with prepared_cursor() as cursor:  # a partner's retry reads it: planned once
        cursor.execute(_RECEIPT_SQL, [payment_id])
        row = cursor.fetchone()
        if row is None:
            raise UnknownPayment(f"no payment {payment_id}", field="payment")
        (
            reference,
            number,
            given,
            amount,
            code,
            method,
            received_at,
            value_date,
            posted_at,
            bill,
            balance_after,
            entry_id,
            channel_code,
            channel_name,
            reversed_,
            transferred,
        ) = row
        cursor.execute(_SETTLED_SQL, [entry_id, posted_at])
        settled = tuple(
            SettledItem(r[0], r[1], r[2], Money.of(r[3], code).rounded()) for r in cursor.fetchall()
        )
    allocated = sum((s.amount.amount for s in settled), Decimal(0))
    return Receipt(
        payment_id=payment_id,
        receipt_number=receipt_number(payment_id),
        channel=channel_code,
        channel_name=channel_name,
        transaction_id=reference,
        account_number=number,
        account_number_given=given,
        amount=Money.of(amount, code).rounded(),
        method=method,
        received_at=received_at,
        value_date=value_date,
        posted_at=posted_at,
        bill_number=bill,
        settled=settled,
        credit_on_account=Money.of(amount - allocated, code).rounded(),
        balance_after=Money.of(balance_after, code).rounded(),
        status="reversed" if reversed_ else "transferred" if transferred else "posted",
        replayed=replayed,
    )


_SETTLED_BY_SQL = """
    SELECT p.id, p.received_at, c.name, u.time_zone, e.kind, e.posted_at
    FROM accounts_ledgerentry d
    JOIN accounts_ledgerallocation al ON al.debit_entry_id = d.id AND al.amount > 0
    JOIN accounts_ledgerentry e ON e.id = al.credit_entry_id
    JOIN accounts_account a ON a.id = d.account_id
    JOIN accounts_utility u ON u.id = a.utility_id
    LEFT JOIN payments_payment p ON p.ledger_entry_id = e.id
    LEFT JOIN payments_channel c ON c.id = p.channel_id
    WHERE d.account_id = %s AND d.source_type = 'bill' AND d.source_id = %s AND d.amount > 0
      AND NOT EXISTS (SELECT 1 FROM accounts_ledgerallocation r WHERE r.releases_id = al.id)
    ORDER BY al.id DESC
    LIMIT 1
"""

_BILL_EXISTS_SQL = """
    SELECT 1 FROM accounts_ledgerentry
    WHERE account_id = %s AND source_type = 'bill' AND source_id = %s AND amount > 0
    LIMIT 1
"""


def _paid_text(payment_id: int, received_at: datetime, channel_name: str, time_zone: str) -> str:
    day = local_date(received_at, zone(time_zone))
    return f"paid on {day:%Y-%m-%d} through {channel_name} (receipt {receipt_number(payment_id)})"


def who_settled_bill(*, account_id: int, bill_number: str) -> str | None:
    """How a bill that is not open was settled, in words; None when the account has no such
    bill. Used to say why a second payment for it is refused."""
    with connection.cursor() as cursor:
        cursor.execute(_SETTLED_BY_SQL, [account_id, bill_number])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_BILL_EXISTS_SQL, [account_id, bill_number])
            if cursor.fetchone() is None:
                return None
            return "it has no open amount"
    payment_id, received_at, channel_name, time_zone, kind, posted_at = row
    if payment_id is not None:
        return _paid_text(payment_id, received_at, channel_name, time_zone)
    day = local_date(posted_at, zone(time_zone))
    return f"it was settled by a {kind} on {day:%Y-%m-%d}"


def last_payment_text(*, account_id: int) -> str:
    """'paid on ... through ... (receipt ...)' for the account's latest payment, or ''."""
    row = (
        Payment.objects.filter(account_id=account_id)
        .order_by("-posted_at", "-id")
        .values_list("id", "received_at", "channel__name", "channel__utility__time_zone")
        .first()
    )
    return "" if row is None else "last " + _paid_text(*row)


def get_account_debt(*, account_number: str, utility_code: str) -> AccountDebt:
    """What is owed on an account found by its new or legacy number, live from the ledger.

    Raises AccountNotFound, InvalidAccountNumber.
    """
    account = find_account(number=account_number, utility_code=utility_code)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.name, COALESCE(pr.address_line || ', ' || pr.province, '')
            FROM accounts_account a
            JOIN accounts_customer c ON c.id = a.customer_id
            LEFT JOIN LATERAL (
                SELECT p.address_line, p.province
                FROM accounts_serviceagreement g
                JOIN accounts_servicepoint s ON s.id = g.service_point_id
                JOIN accounts_premise p ON p.id = s.premise_id
                WHERE g.account_id = a.id AND g.status = 'active'
                ORDER BY g.id DESC LIMIT 1
            ) pr ON TRUE
            WHERE a.id = %s
            """,
            [account.id],
        )
        name, address = cursor.fetchone()
    items = get_open_items(account_id=account.id)
    credit = get_unallocated_credit(account_id=account.id)
    due = sum((i.open.amount for i in items), Decimal(0))
    return AccountDebt(
        account_id=account.id,
        account_number=account.number,
        matched_by=account.matched_by,
        customer_name=name,
        address=address,
        balance=Money.of(due, account.currency).rounded() - credit,
        amount_due=Money.of(due, account.currency).rounded(),
        credit_on_account=credit,
        open_bills=tuple(
            OpenBill(i.entry_id, i.kind, i.source_type, i.source_id, i.due_date, i.original, i.open)
            for i in items
        ),
    )


def get_reversal(*, payment_id: int, replayed: bool = False) -> ReversalResult:
    row = (
        PaymentReversal.objects.filter(payment_id=payment_id)
        .values_list(
            "kind",
            "reason",
            "external_reference",
            "reversal_entry_id",
            "fee_entry__amount",
            "payment__currency",
            "reversed_at",
            "reversal_entry__account_id",
        )
        .first()
    )
    if row is None:
        raise UnknownPayment(f"payment {payment_id} is not reversed", field="payment")
    kind, reason, reference, entry_id, fee, code, at, account_id = row
    return ReversalResult(
        payment_id=payment_id,
        receipt_number=receipt_number(payment_id),
        kind=kind,
        reason=reason,
        external_reference=reference,
        reversal_entry_id=entry_id,
        fee=None if fee is None else Money.of(fee, code).rounded(),
        reversed_at=at,
        balance=get_balance(account_id=account_id),
        replayed=replayed,
    )


def get_refund(*, refund_id: int, replayed: bool = False) -> RefundResult:
    row = (
        Refund.objects.filter(id=refund_id)
        .values_list(
            "reference", "account_id", "account__number", "amount", "currency", "ledger_entry_id"
        )
        .get()
    )
    reference, account_id, number, amount, code, entry_id = row
    return RefundResult(
        refund_id=refund_id,
        reference=reference,
        account_number=number,
        amount=Money.of(amount, code).rounded(),
        ledger_entry_id=entry_id,
        balance=get_balance(account_id=account_id),
        replayed=replayed,
    )
