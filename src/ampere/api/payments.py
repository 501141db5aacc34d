"""The payments API: bill look-up, payment, receipt and recall for banks, payment networks and
field POS handhelds (signed partner requests); the gateway's notifications and its local
simulator; counters, lockbox files, settlement files, refunds and transfers for staff.

Interfaces translate: they parse, call one query or operation, and map the result.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile
from ninja.errors import AuthorizationError, HttpError
from pydantic import BaseModel, BeforeValidator

from ampere.accounts.queries import find_account
from ampere.api.auth import (
    Partner,
    PartnerSignature,
    StaffAuth,
    caller_of,
    partner_of,
    refuse_replay,
    take_audit,
)
from ampere.core.money import Money
from ampere.payments import gateway, lockbox, mandates, operations, queries, reconciliation, tills
from ampere.payments.types import (
    AccountDebt,
    ChannelPolicy,
    PaymentInput,
    Receipt,
    ReversalResult,
    TillSummary,
    receipt_number,
)

router = Router()
partner_router = Router(tags=["payments: banks, networks and POS"])

# A payment request is a few hundred bytes; anything near this is not a payment.
MAX_BODY_BYTES = 8 * 1024
PARTNER = PartnerSignature(scope="payments", max_body_bytes=MAX_BODY_BYTES)
# Posting writes the call's audit row in its own transaction (one commit per payment).
PARTNER_POSTING = PartnerSignature(
    scope="payments", max_body_bytes=MAX_BODY_BYTES, audit_with_operation=True
)


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

_CHANNELS: dict[int, tuple[ChannelPolicy, float]] = {}
_CHANNEL_CACHE_SECONDS = 30.0  # a policy change reaches every worker within this time


def _partner_channel(partner: Partner) -> ChannelPolicy:
    """The partner's channel and policy, cached per worker for a short while (by the client's
    id: a client registered again is looked up again)."""
    cached = _CHANNELS.get(partner.client_id)
    if cached is not None and time.monotonic() - cached[1] < _CHANNEL_CACHE_SECONDS:
        channel = cached[0]
    else:
        channel = queries.get_partner_channel(partner_code=partner.code)
        _CHANNELS[partner.client_id] = (channel, time.monotonic())
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


class PaymentIn(BaseModel):
    """Plain pydantic (validated in Rust) rather than ninja's Schema: it is on the hot path."""

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


class SettledOut(BaseModel):
    bill_number: str
    source_type: str
    amount: str


class ReceiptOut(BaseModel):
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


def _receipt_response(receipt: Receipt, status: int = 200) -> HttpResponse:
    """The declared ReceiptOut, serialised by pydantic at once: the bank API's hot path skips
    ninja's second validation and Python JSON encoder, and every endpoint that shows a receipt
    shows it the same way."""
    return HttpResponse(
        ReceiptOut.of(receipt).model_dump_json(), status=status, content_type="application/json"
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
    auth=PARTNER_POSTING,
    summary="Post a payment (or collect one in the field)",
)
def post_payment(request: HttpRequest, payload: PaymentIn) -> HttpResponse:
    """Posts the payment to the account at once and returns the receipt (201). The same
    `transaction_id` again — at once, concurrently or days later — returns the original receipt
    (200, `replayed: true`) and posts nothing; with other details it is refused (409)."""
    partner = partner_of(request)
    channel = _partner_channel(partner)
    now = datetime.now(UTC)
    try:
        receipt = _post(request, partner, channel, payload, now)
    except IntegrityError as error:
        raise refuse_replay(request, error) from None
    return _receipt_response(receipt, status=200 if receipt.replayed else 201)


def _post(
    request: HttpRequest,
    partner: Partner,
    channel: ChannelPolicy,
    payload: PaymentIn,
    now: datetime,
) -> Receipt:
    return operations.post_payment(
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
        along=take_audit(request),
    )


@partner_router.get(
    "/payments/{transaction_id}",
    response={200: ReceiptOut, **PROBLEMS},
    auth=PARTNER,
    summary="The receipt of a payment (reprint, status)",
)
def get_receipt(request: HttpRequest, transaction_id: str) -> HttpResponse:
    channel = _partner_channel(partner_of(request))
    payment_id = queries.find_payment(channel_id=channel.id, transaction_id=transaction_id)
    return _receipt_response(queries.get_receipt(payment_id=payment_id))


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


# --- staff: counters, files, reconciliation, reversals, refunds, transfers, mandates ------------

staff_router = Router(tags=["payments: staff"], auth=StaffAuth())


def _staff(request: HttpRequest) -> str:
    return caller_of(request).username


class TillOpenIn(Schema):
    counter_code: str = Field(min_length=1, max_length=32)
    opening_float: Amount = Field(description="Cash in the till at opening")


class MethodTotalOut(Schema):
    method: str
    count: int
    amount: str


class TillOut(Schema):
    till_id: int
    channel: str
    cashier: str
    counter_code: str
    opened_at: datetime
    closed_at: datetime | None
    currency: str
    opening_float: str
    totals: list[MethodTotalOut]
    expected_cash: str
    counted_cash: str | None
    difference: str | None = Field(description="Counted less expected: negative is short")
    note: str

    @staticmethod
    def of(till: TillSummary) -> TillOut:
        return TillOut(
            till_id=till.till_id,
            channel=till.channel,
            cashier=till.cashier,
            counter_code=till.counter_code,
            opened_at=till.opened_at,
            closed_at=till.closed_at,
            currency=till.opening_float.currency.code,
            opening_float=_text(till.opening_float),
            totals=[
                MethodTotalOut(method=t.method, count=t.count, amount=_text(t.amount))
                for t in till.totals
            ],
            expected_cash=_text(till.expected_cash),
            counted_cash=None if till.counted_cash is None else _text(till.counted_cash),
            difference=None if till.difference is None else _text(till.difference),
            note=till.note,
        )


class TillCloseIn(Schema):
    counted_cash: Amount
    note: str = Field("", max_length=300)


@staff_router.post(
    "/channels/{channel}/tills", response={201: TillOut, **PROBLEMS}, summary="Open a till"
)
def open_till(request: HttpRequest, channel: str, payload: TillOpenIn) -> Status[TillOut]:
    """The signed-in cashier opens a till at a counter with its opening float."""
    policy = queries.get_channel(code=channel)
    till = tills.open_till(
        channel=policy,
        cashier=_staff(request),
        counter_code=payload.counter_code,
        opening_float=Money.of(payload.opening_float, policy.currency),
        now=datetime.now(UTC),
    )
    return Status(201, TillOut.of(till))


@staff_router.post(
    "/tills/{till_id}/payments",
    response={200: ReceiptOut, 201: ReceiptOut, **PROBLEMS},
    summary="Take a payment at the counter",
)
def take_counter_payment(request: HttpRequest, till_id: int, payload: PaymentIn) -> HttpResponse:
    """Posts at once into the cashier's open till; the same `transaction_id` again returns
    the original receipt."""
    policy = queries.get_channel(code=tills.get_till_summary(till_id=till_id).channel)
    now = datetime.now(UTC)
    receipt = tills.take_payment(
        channel=policy,
        till_id=till_id,
        cashier=_staff(request),
        data=PaymentInput(
            transaction_id=payload.transaction_id,
            account_number=payload.account_number,
            amount=payload.amount,
            currency=payload.currency.upper(),
            received_at=payload.received_at or now,
            method=payload.method,
            bill_number=payload.bill_number,
        ),
        now=now,
    )
    return _receipt_response(receipt, status=200 if receipt.replayed else 201)


@staff_router.post(
    "/tills/{till_id}/close", response={200: TillOut, **PROBLEMS}, summary="End-of-day close"
)
def close_till(request: HttpRequest, till_id: int, payload: TillCloseIn) -> TillOut:
    """Counts the cash: what the till should hold (float plus cash taken) and the difference."""
    summary = tills.get_till_summary(till_id=till_id)
    return TillOut.of(
        tills.close_till(
            till_id=till_id,
            cashier=_staff(request),
            counted_cash=Money.of(payload.counted_cash, summary.opening_float.currency),
            note=payload.note,
            now=datetime.now(UTC),
        )
    )


@staff_router.get("/tills/{till_id}", response={200: TillOut, **PROBLEMS}, summary="A till")
def get_till(request: HttpRequest, till_id: int) -> TillOut:
    return TillOut.of(tills.get_till_summary(till_id=till_id))


class RowOut(Schema):
    row_id: int
    line_number: int
    status: str = Field(description="posted, duplicate, quarantined, released or rejected")
    reference: str
    account_number: str
    amount: str | None
    field: str = Field(description="The input that is wrong (quarantined rows)")
    reason: str
    receipt_number: str
    raw: str

    @staticmethod
    def of(row: lockbox.RowResult) -> RowOut:
        return RowOut(
            row_id=row.row_id,
            line_number=row.line_number,
            status=row.status,
            reference=row.reference,
            account_number=row.account_number,
            amount=None if row.amount is None else _text(row.amount),
            field=row.field,
            reason=row.reason,
            receipt_number="" if row.payment_id is None else receipt_number(row.payment_id),
            raw=row.raw,
        )


class FileResultOut(Schema):
    file_id: int
    name: str
    posted: int
    duplicates: int
    quarantined: int
    replayed: bool = Field(description="True when this very file was imported before")
    rows: list[RowOut]


@staff_router.post(
    "/channels/{channel}/lockbox-files",
    response={200: FileResultOut, 201: FileResultOut, **PROBLEMS},
    summary="Import a lockbox file",
)
def import_lockbox(
    request: HttpRequest, channel: str, file: File[UploadedFile]
) -> Status[FileResultOut]:
    """CSV with a header `reference,account_number,amount,currency,paid_on` (optionally
    `cheque_number`, `payer`). Good rows are posted at once; bad rows wait in quarantine with
    the reason. The same file again returns its first result."""
    result = lockbox.import_lockbox_file(
        channel=queries.get_channel(code=channel),
        name=file.name or "lockbox.csv",
        content=file.read(),
        created_by=f"clerk:{_staff(request)}",
        now=datetime.now(UTC),
    )
    return Status(
        200 if result.replayed else 201,
        FileResultOut(
            file_id=result.file_id,
            name=result.name,
            posted=result.count("posted"),
            duplicates=result.count("duplicate"),
            quarantined=result.count("quarantined"),
            replayed=result.replayed,
            rows=[RowOut.of(r) for r in result.rows],
        ),
    )


@staff_router.get(
    "/channels/{channel}/quarantine",
    response={200: list[RowOut], **PROBLEMS},
    summary="Lockbox rows waiting for a person",
)
def quarantine(request: HttpRequest, channel: str, after_id: int = 0, limit: int = 100) -> Any:
    rows = lockbox.quarantined_rows(
        channel=queries.get_channel(code=channel), after_id=after_id, limit=min(limit, 500)
    )
    return [RowOut.of(r) for r in rows]


class ReleaseIn(Schema):
    account_number: str | None = Field(None, max_length=40, description="The corrected number")
    amount: Amount | None = Field(None, description="The corrected amount")


class RejectIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


@staff_router.post(
    "/channels/{channel}/quarantine/{row_id}/release",
    response={200: RowOut, **PROBLEMS},
    summary="Correct and post a quarantined row",
)
def release_row(request: HttpRequest, channel: str, row_id: int, payload: ReleaseIn) -> RowOut:
    return RowOut.of(
        lockbox.release_row(
            channel=queries.get_channel(code=channel),
            row_id=row_id,
            account_number=payload.account_number,
            amount=payload.amount,
            released_by=_staff(request),
            now=datetime.now(UTC),
        )
    )


@staff_router.post(
    "/channels/{channel}/quarantine/{row_id}/reject",
    response={200: RowOut, **PROBLEMS},
    summary="Reject a quarantined row",
)
def reject_row(request: HttpRequest, channel: str, row_id: int, payload: RejectIn) -> RowOut:
    return RowOut.of(
        lockbox.reject_row(
            channel=queries.get_channel(code=channel),
            row_id=row_id,
            reason=payload.reason,
            rejected_by=_staff(request),
            now=datetime.now(UTC),
        )
    )


class ItemOut(Schema):
    item_id: int
    kind: str = Field(description="matched, mismatched, extra, missing or unreadable")
    line_number: int | None
    transaction_id: str
    account_number: str
    bank_amount: str | None
    receipt_number: str
    detail: str
    resolved_at: datetime | None
    resolved_by: str
    resolution: str

    @staticmethod
    def of(item: reconciliation.ItemView) -> ItemOut:
        return ItemOut(
            item_id=item.item_id,
            kind=item.kind,
            line_number=item.line_number,
            transaction_id=item.transaction_id,
            account_number=item.account_number,
            bank_amount=None if item.bank_amount is None else _text(item.bank_amount),
            receipt_number=item.receipt_number,
            detail=item.detail,
            resolved_at=item.resolved_at,
            resolved_by=item.resolved_by,
            resolution=item.resolution,
        )


class ReportOut(Schema):
    file_id: int
    channel: str
    name: str
    business_date: date
    lines: int
    counts: dict[str, int]
    bank_total: str
    currency: str
    unresolved: int
    replayed: bool
    items: list[ItemOut]

    @staticmethod
    def of(report: reconciliation.ReconciliationReport) -> ReportOut:
        return ReportOut(
            file_id=report.file_id,
            channel=report.channel,
            name=report.name,
            business_date=report.business_date,
            lines=report.lines,
            counts=report.counts,
            bank_total=_text(report.bank_total),
            currency=report.bank_total.currency.code,
            unresolved=report.unresolved,
            replayed=report.replayed,
            items=[ItemOut.of(i) for i in report.items],
        )


@staff_router.post(
    "/channels/{channel}/settlement-files",
    response={200: ReportOut, 201: ReportOut, **PROBLEMS},
    summary="Import a bank's daily settlement file and reconcile it",
)
def import_settlement(
    request: HttpRequest,
    channel: str,
    business_date: Form[date],
    file: File[UploadedFile],
) -> Status[ReportOut]:
    """CSV with a header `transaction_id,account_number,amount,currency`. Returns the clerk's
    report: mismatched, extra (never posted), missing (posted, not settled) and unreadable
    lines. `business_date` is the day the settlement covers. Nothing is changed or deleted
    automatically."""
    report = reconciliation.import_settlement_file(
        channel=queries.get_channel(code=channel),
        name=file.name or "settlement.csv",
        content=file.read(),
        business_date=business_date,
        created_by=f"clerk:{_staff(request)}",
        now=datetime.now(UTC),
    )
    return Status(200 if report.replayed else 201, ReportOut.of(report))


@staff_router.get(
    "/settlement-files/{file_id}",
    response={200: ReportOut, **PROBLEMS},
    summary="The reconciliation report of a settlement file",
)
def settlement_report(
    request: HttpRequest, file_id: int, include_matched: bool = False, limit: int = 500
) -> ReportOut:
    return ReportOut.of(
        reconciliation.get_report(
            file_id=file_id, include_matched=include_matched, limit=min(limit, 5000)
        )
    )


class ResolveIn(Schema):
    resolution: str = Field(min_length=1, max_length=300)


@staff_router.post(
    "/reconciliation-items/{item_id}/resolve",
    response={200: ItemOut, **PROBLEMS},
    summary="Resolve a reconciliation item with a note",
)
def resolve_item(request: HttpRequest, item_id: int, payload: ResolveIn) -> ItemOut:
    return ItemOut.of(
        reconciliation.resolve_item(
            item_id=item_id,
            resolution=payload.resolution,
            resolved_by=_staff(request),
            now=datetime.now(UTC),
        )
    )


@staff_router.get(
    "/payments/{payment_id}", response={200: ReceiptOut, **PROBLEMS}, summary="A payment"
)
def staff_receipt(request: HttpRequest, payment_id: int) -> HttpResponse:
    return _receipt_response(queries.get_receipt(payment_id=payment_id))


class ReverseIn(Schema):
    kind: str = Field(description="recall, bounce, chargeback or error (no fee)")
    reason: str = Field(min_length=1, max_length=200)
    reference: str = Field("", max_length=64, description="The bank's id for it, if any")


@staff_router.post(
    "/payments/{payment_id}/reversal",
    response={200: ReversalOut, 201: ReversalOut, **PROBLEMS},
    summary="Reverse a payment",
)
def reverse_payment(
    request: HttpRequest, payment_id: int, payload: ReverseIn
) -> Status[ReversalOut]:
    """New ledger rows: a reversal reopens what the payment paid; a recall, bounce or
    chargeback is charged the channel's fee where its policy sets one."""
    result = operations.reverse_payment(
        payment_id=payment_id,
        kind=payload.kind,
        reason=payload.reason,
        external_reference=payload.reference,
        created_by=f"clerk:{_staff(request)}"[:64],
        now=datetime.now(UTC),
    )
    return Status(200 if result.replayed else 201, ReversalOut.of(result))


class TransferIn(Schema):
    to_account_number: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=200)


class TransferOut(Schema):
    receipt_number: str
    from_account_number: str
    to_account_number: str
    amount: str
    currency: str
    from_balance_after: str
    to_balance_after: str


@staff_router.post(
    "/payments/{payment_id}/transfer",
    response={201: TransferOut, **PROBLEMS},
    summary="Move a misapplied payment to the right account",
)
def transfer_payment(
    request: HttpRequest, payment_id: int, payload: TransferIn
) -> Status[TransferOut]:
    result = operations.transfer_payment(
        payment_id=payment_id,
        to_account_number=payload.to_account_number,
        reason=payload.reason,
        created_by=f"clerk:{_staff(request)}"[:64],
        now=datetime.now(UTC),
    )
    return Status(
        201,
        TransferOut(
            receipt_number=receipt_number(result.payment_id),
            from_account_number=result.from_account_number,
            to_account_number=result.to_account_number,
            amount=_text(result.amount),
            currency=result.amount.currency.code,
            from_balance_after=_text(result.from_balance_after),
            to_balance_after=_text(result.to_balance_after),
        ),
    )


class RefundIn(Schema):
    reference: str = Field(min_length=1, max_length=64, description="Your key: sent again, safe")
    account_number: str = Field(min_length=1, max_length=40)
    amount: Amount
    currency: str = Field(min_length=3, max_length=3)
    method: str = Field(description="bank_transfer, cheque or cash")
    payee: str = Field(min_length=1, max_length=120, description="Where the money goes")
    reason: str = Field(min_length=1, max_length=200)


class RefundOut(Schema):
    reference: str
    account_number: str
    amount: str
    currency: str
    balance: str
    replayed: bool


@staff_router.post(
    "/refunds", response={200: RefundOut, 201: RefundOut, **PROBLEMS}, summary="Refund credit"
)
def refund(request: HttpRequest, payload: RefundIn) -> Status[RefundOut]:
    """Pays credit on an account back: a refund entry set against the credit."""
    account = find_account(number=payload.account_number)
    result = operations.refund_credit(
        account_id=account.id,
        amount=Money.of(payload.amount, payload.currency.upper()),
        method=payload.method,
        payee=payload.payee,
        reason=payload.reason,
        reference=payload.reference,
        created_by=f"clerk:{_staff(request)}"[:64],
        now=datetime.now(UTC),
    )
    return Status(
        200 if result.replayed else 201,
        RefundOut(
            reference=result.reference,
            account_number=result.account_number,
            amount=_text(result.amount),
            currency=result.amount.currency.code,
            balance=_text(result.balance),
            replayed=result.replayed,
        ),
    )


class MandateIn(Schema):
    channel: str
    account_number: str = Field(min_length=1, max_length=40)
    reference: str = Field(min_length=1, max_length=64, description="The mandate's id")
    payer_name: str = Field(min_length=1, max_length=120)
    payer_bank_account: str = Field(min_length=4, max_length=40, description="Kept masked")
    starts_on: date
    max_amount: Amount | None = Field(None, description="Collections above it wait for a person")


class MandateOut(Schema):
    mandate_id: int
    channel: str
    reference: str
    account_number: str
    payer_name: str
    payer_bank_account: str
    max_amount: str | None
    starts_on: date
    ends_on: date | None

    @staticmethod
    def of(m: mandates.MandateInfo) -> MandateOut:
        return MandateOut(
            mandate_id=m.mandate_id,
            channel=m.channel,
            reference=m.reference,
            account_number=m.account_number,
            payer_name=m.payer_name,
            payer_bank_account=m.payer_bank_account,
            max_amount=None if m.max_amount is None else _text(m.max_amount),
            starts_on=m.starts_on,
            ends_on=m.ends_on,
        )


@staff_router.post("/mandates", response={201: MandateOut, **PROBLEMS}, summary="Add a mandate")
def create_mandate(request: HttpRequest, payload: MandateIn) -> Status[MandateOut]:
    policy = queries.get_channel(code=payload.channel)
    return Status(
        201,
        MandateOut.of(
            mandates.create_mandate(
                channel=policy,
                account_number=payload.account_number,
                reference=payload.reference,
                payer_name=payload.payer_name,
                payer_bank_account=payload.payer_bank_account,
                starts_on=payload.starts_on,
                max_amount=None
                if payload.max_amount is None
                else Money.of(payload.max_amount, policy.currency),
                now=datetime.now(UTC),
            )
        ),
    )


class CancelMandateIn(Schema):
    ends_on: date = Field(description="Nothing due on or after this day is collected")


@staff_router.post(
    "/mandates/{mandate_id}/cancel", response={200: MandateOut, **PROBLEMS}, summary="End a mandate"
)
def cancel_mandate(request: HttpRequest, mandate_id: int, payload: CancelMandateIn) -> MandateOut:
    return MandateOut.of(
        mandates.cancel_mandate(
            mandate_id=mandate_id, ends_on=payload.ends_on, now=datetime.now(UTC)
        )
    )


class CollectIn(Schema):
    as_of: date = Field(description="Collect what is due on or before this day")
    channel: str | None = Field(None, description="One direct-debit channel, or all")


class CollectionRunOut(Schema):
    as_of: date
    mandates: int
    collected: int
    collected_amounts: dict[str, str] = Field(description="Per currency")
    skipped: int


@staff_router.post(
    "/direct-debits/collect",
    response={200: CollectionRunOut, **PROBLEMS},
    summary="Collect direct debits due (idempotent)",
)
def collect_direct_debits(request: HttpRequest, payload: CollectIn) -> CollectionRunOut:
    """Runs the day's collection (the scheduled `ampere collect_direct_debits` does the same);
    running it again for the day collects nothing more."""
    run = mandates.collect_direct_debits(
        as_of=payload.as_of,
        now=datetime.now(UTC),
        channel=None if payload.channel is None else queries.get_channel(code=payload.channel),
    )
    return CollectionRunOut(
        as_of=run.as_of,
        mandates=run.mandates,
        collected=run.collected,
        collected_amounts={m.currency.code: _text(m) for m in run.collected_amounts},
        skipped=run.skipped,
    )


# --- portal payments through a gateway ----------------------------------------------------------

gateway_router = Router(tags=["payments: portal gateway"])


class CheckoutIn(Schema):
    channel: str
    account_number: str = Field(min_length=1, max_length=40)
    amount: Amount
    currency: str = Field(min_length=3, max_length=3)
    return_url: str = Field("", max_length=400)


class CheckoutOut(Schema):
    reference: str
    channel: str
    account_number: str
    amount: str
    currency: str
    status: str = Field(description="open, paid or failed")
    redirect_url: str = Field(description="The gateway's payment page (when started)")
    return_url: str
    failure_reason: str
    receipt_number: str

    @staticmethod
    def of(info: gateway.CheckoutInfo) -> CheckoutOut:
        return CheckoutOut(
            reference=info.reference,
            channel=info.channel,
            account_number=info.account_number,
            amount=_text(info.amount),
            currency=info.amount.currency.code,
            status=info.status,
            redirect_url=info.redirect_url,
            return_url=info.return_url,
            failure_reason=info.failure_reason,
            receipt_number=info.receipt_number,
        )


@staff_router.post(
    "/checkouts",
    response={201: CheckoutOut, **PROBLEMS},
    summary="Start a card payment through the gateway (a payment link)",
)
def start_checkout(request: HttpRequest, payload: CheckoutIn) -> Status[CheckoutOut]:
    """What the portal does for a customer, for an agent sending a payment link: a gateway
    session and the page to pay on."""
    policy = queries.get_channel(code=payload.channel)
    return Status(
        201,
        CheckoutOut.of(
            gateway.start_checkout(
                channel=policy,
                account_number=payload.account_number,
                amount=Money.of(payload.amount, payload.currency.upper()),
                return_url=payload.return_url,
                now=datetime.now(UTC),
            )
        ),
    )


@gateway_router.post(
    "/gateway/{channel}/notifications",
    response={200: CheckoutOut, **PROBLEMS},
    summary="The gateway's notification of a payment (webhook)",
)
def gateway_notification(request: HttpRequest, channel: str) -> CheckoutOut:
    """Signed by the gateway (checked by the channel's adapter). A captured payment is posted
    once by the gateway's transaction id; delivered again, nothing more happens."""
    if len(request.body) > MAX_BODY_BYTES:
        raise HttpError(413, f"at most {MAX_BODY_BYTES} bytes")
    return CheckoutOut.of(
        gateway.receive_notification(
            channel=queries.get_channel(code=channel),
            body=request.body,
            headers=dict(request.headers),
            now=datetime.now(UTC),
        )
    )


def _simulator(session_id: str) -> tuple[ChannelPolicy, gateway.SimulatedGateway, dict[str, Any]]:
    enabled = os.environ.get("AMPERE_GATEWAY_SIMULATOR", "1" if settings.DEBUG else "0")
    if enabled.strip().lower() not in {"1", "true", "yes", "on"}:
        raise HttpError(404, "the gateway simulator is off (AMPERE_GATEWAY_SIMULATOR)")
    claims_text = session_id.partition(".")[0]
    try:
        code = json.loads(base64.urlsafe_b64decode(claims_text + "=" * (-len(claims_text) % 4)))[
            "channel"
        ]
    except (ValueError, KeyError, TypeError):
        raise HttpError(404, "no such payment session") from None
    policy = queries.get_channel(code=str(code))
    if policy.gateway != "simulator":
        raise HttpError(404, "no such payment session")
    simulator = gateway.simulator_for(policy)
    return policy, simulator, simulator.session(session_id)


class SimulatorPageOut(Schema):
    channel: str
    checkout: str
    amount: str
    currency: str
    test_cards: dict[str, str]


@gateway_router.get(
    "/gateway-simulator/{session_id}",
    response={200: SimulatorPageOut, **PROBLEMS},
    summary="Simulated gateway: the payment page (development)",
)
def simulator_page(request: HttpRequest, session_id: str) -> SimulatorPageOut:
    policy, _, claims = _simulator(session_id)
    return SimulatorPageOut(
        channel=policy.code,
        checkout=claims["reference"],
        amount=claims["amount"],
        currency=claims["currency"],
        test_cards={
            "4242424242424242": "captured",
            **gateway.SimulatedGateway.DECLINED,
        },
    )


class CardIn(Schema):
    card_number: str = Field(min_length=12, max_length=23)


class SimulatedPaymentOut(Schema):
    status: str
    transaction_id: str
    checkout: CheckoutOut
    redirect_url: str = Field(description="Back to the portal")


@gateway_router.post(
    "/gateway-simulator/{session_id}/pay",
    response={200: SimulatedPaymentOut, **PROBLEMS},
    summary="Simulated gateway: pay with a test card (development)",
)
def simulator_pay(request: HttpRequest, session_id: str, payload: CardIn) -> SimulatedPaymentOut:
    """The simulated gateway captures or declines the card and notifies Ampere as a real
    gateway would (the same signed notification, delivered to the same handler)."""
    policy, simulator, claims = _simulator(session_id)
    now = datetime.now(UTC)
    body, headers = simulator.pay(session_id=session_id, card_number=payload.card_number, now=now)
    info = gateway.receive_notification(channel=policy, body=body, headers=headers, now=now)
    note = json.loads(body)
    back = claims["return_url"]
    return SimulatedPaymentOut(
        status=note["status"],
        transaction_id=note["transaction"],
        checkout=CheckoutOut.of(info),
        redirect_url=f"{back}{'&' if '?' in back else '?'}checkout={info.reference}"
        f"&status={info.status}"
        if back
        else "",
    )


router.add_router("/", partner_router)
router.add_router("/staff/", staff_router)
router.add_router("/", gateway_router)
