"""Frozen value objects the payments domain takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ampere.core.money import Money


@dataclass(frozen=True)
class ChannelPolicy:
    """A channel and its policy, as the posting path needs them."""

    id: int
    code: str
    name: str
    kind: str
    utility_id: int
    utility_code: str
    currency: str
    time_zone: str
    accepts_credit_on_account: bool
    reversal_fee: Decimal
    gateway: str
    is_active: bool


@dataclass(frozen=True)
class PaymentInput:
    """A payment as a channel reports it. ``transaction_id`` is the channel's own id for it."""

    transaction_id: str
    account_number: str
    amount: Decimal
    currency: str
    received_at: datetime
    method: str = ""  # the channel's usual method when empty
    bill_number: str = ""  # the bill the payer meant, if any
    collector: str = ""  # cashier or field collector
    device: str = ""
    till_session_id: int | None = None


@dataclass(frozen=True)
class SettledItem:
    """An open item a payment settled when it was posted (usually a bill's charge)."""

    entry_id: int
    source_type: str
    source_id: str
    amount: Money


def receipt_number(payment_id: int) -> str:
    return f"R{payment_id:010d}"


@dataclass(frozen=True)
class Receipt:
    """What the payer is given; sending the payment again returns the same receipt."""

    payment_id: int
    receipt_number: str
    channel: str
    channel_name: str
    transaction_id: str
    account_number: str
    account_number_given: str
    amount: Money
    method: str
    received_at: datetime
    value_date: date
    posted_at: datetime
    bill_number: str
    settled: tuple[SettledItem, ...]
    credit_on_account: Money  # the part of this payment left as credit at posting
    balance_after: Money  # the account balance right after posting (negative: in credit)
    status: str  # posted, reversed or transferred
    replayed: bool = False


@dataclass(frozen=True)
class OpenBill:
    entry_id: int
    kind: str
    source_type: str
    bill_number: str
    due_date: date | None
    original: Money
    open: Money


@dataclass(frozen=True)
class AccountDebt:
    """What a bank or a collector sees before taking a payment: live, from the ledger."""

    account_id: int
    account_number: str
    matched_by: str
    customer_name: str
    address: str
    balance: Money
    amount_due: Money
    credit_on_account: Money
    open_bills: tuple[OpenBill, ...]


@dataclass(frozen=True)
class ReversalResult:
    payment_id: int
    receipt_number: str
    kind: str
    reason: str
    external_reference: str
    reversal_entry_id: int
    fee: Money | None
    reversed_at: datetime
    balance: Money  # the account balance when answered
    replayed: bool = False


@dataclass(frozen=True)
class RefundResult:
    refund_id: int
    reference: str
    account_number: str
    amount: Money
    ledger_entry_id: int
    balance: Money  # the account balance when answered
    replayed: bool = False


@dataclass(frozen=True)
class TransferResult:
    payment_id: int
    from_account_number: str
    to_account_number: str
    amount: Money
    out_entry_id: int
    in_entry_id: int
    from_balance_after: Money
    to_balance_after: Money


@dataclass(frozen=True)
class MethodTotal:
    method: str
    count: int
    amount: Money


@dataclass(frozen=True)
class TillSummary:
    till_id: int
    channel: str
    cashier: str
    counter_code: str
    opened_at: datetime
    closed_at: datetime | None
    opening_float: Money
    totals: tuple[MethodTotal, ...]  # payments taken, by method (reversed ones left out)
    expected_cash: Money  # float plus cash taken
    counted_cash: Money | None
    difference: Money | None  # counted less expected: negative is a shortage
    note: str
