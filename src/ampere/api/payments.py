"""The payments API: bill look-up, payment, receipt and recall for banks, payment networks and
field POS handhelds (signed partner requests); the gateway's notifications and its local
simulator; counters, lockbox files, settlement files, refunds and transfers for staff.

Interfaces translate: they parse, call one query or operation, and map the result.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import AuthorizationError
from pydantic import BeforeValidator

from ampere.api.auth import Partner, PartnerSignature, partner_of
from ampere.core.money import Money
from ampere.payments import operations, queries
from ampere.payments.types import (
    AccountDebt,
    ChannelPolicy,
    PaymentInput,
    Receipt,
    ReversalResult,
)

router = Router()
partner_router = Router(tags=["payments: banks, networks and POS"])

# A payment request is a few hundred bytes; anything near this is not a payment.
MAX_BODY_BYTES = 8 * 1024
PARTNER = PartnerSignature(scope="payments", max_body_bytes=MAX_BODY_BYTES)


def _exact_amount(value: Any) -> Any:
    """Amounts travel as strings ("250000", "12.34") or integers; a JSON fraction is a binary
    float and may already have lost the amount."""
    if isinstance(value, bool | float):
        raise ValueError('send the amount as a string ("12.34") or an integer, not a JSON fraction')
    return value


Amount = Annotated[Decimal, BeforeValidator(_exact_amount)]


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = None


PROBLEMS: dict[int, type[Problem]] = {
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    413: Problem,
    422: Problem,
}


# --- channels of partners --------------------------------------------------------------------

_CHANNELS: dict[str, tuple[ChannelPolicy, float]] = {}
_CHANNEL_CACHE_SECONDS = 30.0  # a policy change reaches every worker within this time


def _partner_channel(partner: Partner) -> ChannelPolicy:
    cached = _CHANNELS.get(partner.code)
    if cached is not None and time.monotonic() - cached[1] < _CHANNEL_CACHE_SECONDS:
        channel = cached[0]
    else:
        channel = queries.get_partner_channel(partner_code=partner.code)
        _CHANNELS[partner.code] = (channel, time.monotonic())
    if channel.utility_id != partner.utility_id:
        raise AuthorizationError(message="the client's channel belongs to another utility")
    return channel


def clear_channel_cache() -> None:
    _CHANNELS.clear()


# --- schemas -----------------------------------------------------------------------------------


def _text(money: Money) -> str:
    return str(money.amount)


class OpenBillOut(Schema):
    bill_number: str = Field(description="The bill's number (or the fee's source id)")
    kind: str = Field(description="charge (a bill) or fee")
    due_date: date | None
    amount: str = Field(description="The bill's original amount")
    open_amount: str = Field(description="What is still to pay on it")


class AccountDebtOut(Schema):
    account_number: str = Field(description="The account's current number")
    matched_by: str = Field(description="number, or legacy when a legacy number was given")
    customer_name: str
    address: str
    currency: str
    amount_due: str = Field(description="Sum of the open bills and fees")
    credit_on_account: str
    balance: str = Field(description="amount_due less credit_on_account")
    open_bills: list[OpenBillOut] = Field(description="Oldest due first: the order a payment pays")

    @staticmethod
    def of(debt: AccountDebt) -> AccountDebtOut:
        return AccountDebtOut(
            account_number=debt.account_number,
            matched_by=debt.matched_by,
            customer_name=debt.customer_name,
            address=debt.address,
            currency=debt.balance.currency.code,
            amount_due=_text(debt.amount_due),
            credit_on_account=_text(debt.credit_on_account),
            balance=_text(debt.balance),
            open_bills=[
                OpenBillOut(
                    bill_number=b.bill_number,
                    kind=b.kind,
                    due_date=b.due_date,
                    amount=_text(b.original),
                    open_amount=_text(b.open),
                )
                for b in debt.open_bills
            ],
        )


class PaymentIn(Schema):
    transaction_id: str = Field(
        min_length=1,
        max_length=64,
        description="Your id for this payment. Sending the same id again returns the original "
        "receipt and posts nothing.",
    )
    account_number: str = Field(
        min_length=1, max_length=40, description="The account's number, new or legacy"
    )
    amount: Amount = Field(description='Decimal string or integer, e.g. "250000" or "12.34"')
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217, e.g. VND or USD")
    received_at: datetime | None = Field(
        None, description="When you took the money (ISO 8601 with offset); default: now"
    )
    bill_number: str = Field(
        "",
        max_length=64,
        description="The bill being paid, from the look-up; paid first. A bill already paid "
        "is refused unless the channel keeps credit on account.",
    )
    method: str = Field("", description="bank_transfer, card, wallet, cash, cheque, direct_debit")
    collector: str = Field("", max_length=64, description="Cashier or field collector id (POS)")
    device: str = Field("", max_length=64, description="Handheld or terminal id (POS)")


class SettledOut(Schema):
    bill_number: str
    source_type: str
    amount: str


class ReceiptOut(Schema):
    receipt_number: str
    transaction_id: str
    channel: str
    channel_name: str
    account_number: str
    account_number_given: str
    amount: str
    currency: str
    method: str
    received_at: datetime
    value_date: date
    posted_at: datetime
    bill_number: str
    settled: list[SettledOut] = Field(description="What the payment paid when it was posted")
    credit_on_account: str = Field(description="The part of the payment kept as credit")
    balance_after: str = Field(description="The account balance right after the payment")
    status: str = Field(description="posted, reversed or transferred")
    replayed: bool = Field(description="True when this transaction id was received before")

    @staticmethod
    def of(receipt: Receipt) -> ReceiptOut:
        return ReceiptOut(
            receipt_number=receipt.receipt_number,
            transaction_id=receipt.transaction_id,
            channel=receipt.channel,
            channel_name=receipt.channel_name,
            account_number=receipt.account_number,
            account_number_given=receipt.account_number_given,
            amount=_text(receipt.amount),
            currency=receipt.amount.currency.code,
            method=receipt.method,
            received_at=receipt.received_at,
            value_date=receipt.value_date,
            posted_at=receipt.posted_at,
            bill_number=receipt.bill_number,
            settled=[
                SettledOut(
                    bill_number=s.source_id, source_type=s.source_type, amount=_text(s.amount)
                )
                for s in receipt.settled
            ],
            credit_on_account=_text(receipt.credit_on_account),
            balance_after=_text(receipt.balance_after),
            status=receipt.status,
            replayed=receipt.replayed,
        )


class RecallIn(Schema):
    recall_id: str = Field(
        min_length=1, max_length=64, description="Your id for the recall; sending it again is safe"
    )
    reason: str = Field(min_length=1, max_length=200)


class ReversalOut(Schema):
    receipt_number: str
    kind: str
    reason: str
    recall_id: str
    fee: str | None = Field(description="The fee charged to the account, if the policy sets one")
    reversed_at: datetime
    balance: str = Field(description="The account balance now")
    replayed: bool

    @staticmethod
    def of(result: ReversalResult) -> ReversalOut:
        return ReversalOut(
            receipt_number=result.receipt_number,
            kind=result.kind,
            reason=result.reason,
            recall_id=result.external_reference,
            fee=None if result.fee is None else _text(result.fee),
            reversed_at=result.reversed_at,
            balance=_text(result.balance),
            replayed=result.replayed,
        )


# --- partner endpoints -------------------------------------------------------------------------


@partner_router.get(
    "/accounts/{account_number}",
    response={200: AccountDebtOut, **PROBLEMS},
    auth=PARTNER,
    summary="Bill look-up: what is owed on an account",
)
def account_debt(request: HttpRequest, account_number: str) -> AccountDebtOut:
    """The open bills, credit and balance of an account found by its new or legacy number,
    live from the ledger (a payment posted a moment ago shows at once)."""
    channel = _partner_channel(partner_of(request))
    return AccountDebtOut.of(
        queries.get_account_debt(account_number=account_number, utility_code=channel.utility_code)
    )


@partner_router.post(
    "/payments",
    response={200: ReceiptOut, 201: ReceiptOut, **PROBLEMS},
    auth=PARTNER,
    summary="Post a payment (or collect one in the field)",
)
def post_payment(request: HttpRequest, payload: PaymentIn) -> Status[ReceiptOut]:
    """Posts the payment to the account at once and returns the receipt (201). The same
    `transaction_id` again — at once, concurrently or days later — returns the original receipt
    (200, `replayed: true`) and posts nothing; with other details it is refused (409)."""
    partner = partner_of(request)
    channel = _partner_channel(partner)
    now = datetime.now(UTC)
    receipt = operations.post_payment(
        channel=channel,
        data=PaymentInput(
            transaction_id=payload.transaction_id,
            account_number=payload.account_number,
            amount=payload.amount,
            currency=payload.currency.upper(),
            received_at=payload.received_at or now,
            method=payload.method,
            bill_number=payload.bill_number,
            collector=payload.collector,
            device=payload.device,
        ),
        created_by=f"partner:{partner.code}"[:64],
        now=now,
    )
    return Status(200 if receipt.replayed else 201, ReceiptOut.of(receipt))


@partner_router.get(
    "/payments/{transaction_id}",
    response={200: ReceiptOut, **PROBLEMS},
    auth=PARTNER,
    summary="The receipt of a payment (reprint, status)",
)
def get_receipt(request: HttpRequest, transaction_id: str) -> ReceiptOut:
    channel = _partner_channel(partner_of(request))
    payment_id = queries.find_payment(channel_id=channel.id, transaction_id=transaction_id)
    return ReceiptOut.of(queries.get_receipt(payment_id=payment_id))


@partner_router.post(
    "/payments/{transaction_id}/recall",
    response={200: ReversalOut, 201: ReversalOut, **PROBLEMS},
    auth=PARTNER,
    summary="Recall a payment (bank recall, returned direct debit, chargeback, POS void)",
)
def recall_payment(
    request: HttpRequest, transaction_id: str, payload: RecallIn
) -> Status[ReversalOut]:
    """Reverses the payment with new ledger rows: what it paid is open again, and the channel's
    reversal fee is charged where its policy sets one. The same `recall_id` again returns the
    first answer."""
    partner = partner_of(request)
    channel = _partner_channel(partner)
    payment_id = queries.find_payment(channel_id=channel.id, transaction_id=transaction_id)
    result = operations.reverse_payment(
        payment_id=payment_id,
        kind=operations.reversal_kind_for(channel),
        reason=payload.reason,
        external_reference=payload.recall_id,
        created_by=f"partner:{partner.code}"[:64],
        now=datetime.now(UTC),
    )
    return Status(200 if result.replayed else 201, ReversalOut.of(result))


router.add_router("/", partner_router)
