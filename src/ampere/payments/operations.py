"""Posting payments exactly once, and undoing them: reversals, refunds and transfers.

A payment is posted in one transaction that locks the account, reads its open items, refuses
a double collection where the channel's policy says so, appends the ledger entry, settles open
items with it and records the payment. The channel's transaction id is unique per channel: the
same payment sent again — at once, concurrently or days later — returns the original receipt
and posts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from ampere.accounts import ledger
from ampere.accounts.queries import (
    account_number_forms,
    find_account,
    raise_account_not_found,
)
from ampere.core.errors import Conflict, InvalidInput, NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.money import Money, currency
from ampere.database import prepared_cursor
from ampere.payments import queries
from ampere.payments.models import (
    Channel,
    ChannelKind,
    Payment,
    PaymentMethod,
    PaymentReversal,
    PaymentTransfer,
    Refund,
    RefundMethod,
    ReversalKind,
)
from ampere.payments.types import (
    ChannelPolicy,
    PaymentInput,
    Receipt,
    RefundResult,
    ReversalResult,
    SettledItem,
    TransferResult,
    receipt_number,
)

MAX_AMOUNT = Decimal("1e15")
CLOCK_SKEW = timedelta(minutes=5)

DEFAULT_METHOD = {
    ChannelKind.BANK: PaymentMethod.BANK_TRANSFER,
    ChannelKind.GATEWAY: PaymentMethod.CARD,
    ChannelKind.DIRECT_DEBIT: PaymentMethod.DIRECT_DEBIT,
    ChannelKind.POS: PaymentMethod.CASH,
    ChannelKind.COUNTER: PaymentMethod.CASH,
    ChannelKind.LOCKBOX: PaymentMethod.CHEQUE,
}


class PaymentRefused(Conflict):
    """The payment cannot be taken in the account's present state."""

    code = "payment-refused"


class BillAlreadyPaid(PaymentRefused):
    code = "bill-already-paid"


class NothingOwed(PaymentRefused):
    code = "nothing-owed"


class AmountExceedsDebt(PaymentRefused):
    code = "amount-exceeds-debt"


class TransactionIdReused(Conflict):
    code = "transaction-id-reused"


class UnknownBill(NotFound):
    code = "unknown-bill"


class ChannelClosed(Conflict):
    code = "channel-closed"


# --- channels ------------------------------------------------------------------------------


def create_channel(
    *,
    utility_id: int,
    code: str,
    name: str,
    kind: str,
    partner_code: str = "",
    accepts_credit_on_account: bool = False,
    reversal_fee: Decimal = Decimal(0),
    gateway: str = "",
) -> ChannelPolicy:
    """Register a channel with its policy. Raises InvalidInput, Conflict (code or partner)."""
    if kind not in ChannelKind.values:
        raise InvalidInput(f"{kind!r} is not one of {', '.join(ChannelKind.values)}", field="kind")
    if not code.strip():
        raise InvalidInput("a channel needs a code", field="code")
    if reversal_fee < 0:
        raise InvalidInput("a fee cannot be negative", field="reversal_fee")
    if kind == ChannelKind.GATEWAY and not gateway:
        raise InvalidInput("a gateway channel names its gateway adapter", field="gateway")
    if Channel.objects.filter(code=code).exists():
        raise Conflict(f"channel {code!r} exists already", field="code")
    if partner_code and Channel.objects.filter(partner_code=partner_code).exists():
        raise Conflict(f"partner {partner_code!r} has a channel already", field="partner_code")
    channel = Channel.objects.create(
        utility_id=utility_id,
        code=code,
        name=name,
        kind=kind,
        partner_code=partner_code,
        accepts_credit_on_account=accepts_credit_on_account,
        reversal_fee=reversal_fee,
        gateway=gateway,
    )
    return queries.get_channel(code=channel.code)


# --- posting -------------------------------------------------------------------------------


def _checked_amount(data: PaymentInput, channel: ChannelPolicy) -> Money:
    if not data.amount.is_finite():
        raise InvalidInput("the amount is not a number", field="amount")
    if data.amount <= 0:
        raise InvalidInput(f"the amount must be more than zero, not {data.amount}", field="amount")
    if data.amount >= MAX_AMOUNT:
        raise InvalidInput(f"the amount {data.amount} is too large", field="amount")
    paid = Money.of(data.amount, currency(data.currency))
    if paid.currency.code != channel.currency:
        raise InvalidInput(
            f"{channel.utility_code} accounts are kept in {channel.currency}, "
            f"not {paid.currency.code}",
            field="currency",
        )
    if not paid.is_rounded():
        raise InvalidInput(
            f"{data.amount} has more decimals than {paid.currency.code} allows "
            f"({paid.currency.minor_digits})",
            field="amount",
        )
    return paid


def _check_input(data: PaymentInput, channel: ChannelPolicy, now: datetime) -> Money:
    if not channel.is_active:
        raise ChannelClosed(f"channel {channel.code} is closed", field="channel")
    reference = data.transaction_id
    if (
        not reference
        or len(reference) > 64
        or not reference.isprintable()
        or reference.strip() != reference
    ):
        raise InvalidInput(
            "the transaction id must be 1 to 64 printable characters without surrounding spaces",
            field="transaction_id",
        )
    if data.received_at.tzinfo is None:
        raise InvalidInput("received_at must carry its time zone", field="received_at")
    if data.received_at > now + CLOCK_SKEW:
        raise InvalidInput("received_at is in the future", field="received_at")
    if data.method and data.method not in PaymentMethod.values:
        raise InvalidInput(
            f"{data.method!r} is not one of {', '.join(PaymentMethod.values)}", field="method"
        )
    for field, value, limit in (
        ("bill_number", data.bill_number, 64),
        ("collector", data.collector, 64),
        ("device", data.device, 64),
        ("account_number", data.account_number, 40),
    ):
        if len(value) > limit:
            raise InvalidInput(f"at most {limit} characters", field=field)
    return _checked_amount(data, channel)


_POST_SQL = """
    SELECT * FROM payments_post_payment(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
        %s, %s::bigint, %s, %s, %s)
"""


def _same_payment(existing: tuple[int, int, Decimal, str], account_id: int, paid: Money) -> int:
    """The original's id when it is the same payment; raises TransactionIdReused otherwise."""
    payment_id, existing_account, amount, code = existing
    if existing_account != account_id or amount != paid.amount or code != paid.currency.code:
        original = Money.of(amount, code).rounded()
        raise TransactionIdReused(
            f"transaction id was used for another payment ({original}, receipt "
            f"{receipt_number(payment_id)}); send a new id for a new payment",
            field="transaction_id",
        )
    return payment_id


def _refusal(
    outcome: str,
    *,
    data: PaymentInput,
    paid: Money,
    debt: Decimal,
    account_id: int,
    account_number: str,
) -> PaymentRefused | UnknownBill:
    """The exception for a payment ``payments_post_payment`` refused (it wrote nothing): a bill
    unknown or not open, nothing owed, more than owed (no double collection)."""
    if outcome == "unknown-bill":
        return UnknownBill(
            f"account {account_number} has no bill {data.bill_number}", field="bill_number"
        )
    if outcome == "bill-not-open":
        settled_by = queries.who_settled_bill(account_id=account_id, bill_number=data.bill_number)
        return BillAlreadyPaid(
            f"bill {data.bill_number} is not open: {settled_by or 'it has no open amount'}",
            field="bill_number",
        )
    if outcome == "nothing-owed":
        last = queries.last_payment_text(account_id=account_id)
        return NothingOwed(
            f"nothing is owed on account {account_number}" + (f": {last}" if last else ""),
            field="account_number",
        )
    assert outcome == "exceeds-debt", outcome
    owed = Money(debt, paid.currency).rounded()
    return AmountExceedsDebt(
        f"{paid.rounded()} is more than the {owed} owed on account {account_number}",
        field="amount",
    )


Statement = tuple[str, Sequence[Any]]  # SQL with %s placeholders, and its parameters


def _run_alone(statement: Statement | None) -> None:
    """The caller's statement without a posting (in a savepoint inside a transaction, so that
    its failure leaves the transaction usable)."""
    if statement is not None:
        with (
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            prepared_cursor() as cursor,
        ):
            cursor.execute(*statement)


def post_payment(
    *,
    channel: ChannelPolicy,
    data: PaymentInput,
    created_by: str,
    now: datetime,
    along: Statement | None = None,
) -> Receipt:
    """Post a payment from ``channel`` to the account (new or legacy number), exactly once.

    One statement, ``payments_post_payment``, finds and locks the account, answers a
    transaction id seen before, refuses a double collection where the channel keeps no credit,
    appends the ledger entry, settles open items (the bill named first, then oldest due first)
    and records the payment.

    Returns the receipt; for a transaction id the channel used before, the original receipt
    with ``replayed=True``. Raises InvalidInput (naming the field), AccountNotFound,
    InvalidAccountNumber, UnknownBill, TransactionIdReused, ChannelClosed and, where the
    channel keeps no credit on account, BillAlreadyPaid, NothingOwed, AmountExceedsDebt.

    ``along`` is a statement of the caller's (the API's audit row of the call) that commits
    with the posting statement or fails with it: when it fails (IntegrityError) nothing is
    posted. It runs once whatever the outcome, alone if the payment is refused before posting.
    """
    try:
        paid = _check_input(data, channel, now)
    except Exception:
        _run_alone(along)
        raise
    value_date = local_date(data.received_at, zone(channel.time_zone))
    method = data.method or DEFAULT_METHOD[ChannelKind(channel.kind)]
    number, given = account_number_forms(data.account_number)
    sql, params = _POST_SQL, []
    if along is not None:  # a data-modifying WITH runs whether or not the query reads it
        sql, params = f"WITH along AS ({along[0]}) {_POST_SQL}", list(along[1])
    # Alone, the statement is its own transaction; inside the caller's, a savepoint keeps a
    # failure of ``along`` (a unique violation) from breaking it. A transaction id posted
    # concurrently for another account is answered by the function (it waits for the first).
    with (
        transaction.atomic() if connection.in_atomic_block else nullcontext(),
        prepared_cursor() as cursor,
    ):
        cursor.execute(
            sql,
            [
                *params,
                channel.id,
                channel.utility_code,
                number,
                given,
                data.transaction_id,
                paid.amount,
                paid.currency.code,
                method,
                data.received_at,
                value_date,
                now,
                data.bill_number,
                data.account_number,
                data.collector,
                data.device,
                data.till_session_id,
                created_by,
                f"{channel.name} {data.transaction_id}",
                channel.accepts_credit_on_account,
            ],
        )
        row = cursor.fetchone()
    (
        outcome,
        payment_id,
        account_id,
        account_number,
        _entry_id,
        balance_after,
        debt,
        settled_ids,
        settled_types,
        settled_sources,
        settled_amounts,
        *other,
    ) = row
    if outcome == "no-account":
        raise_account_not_found(number=data.account_number, utility_code=channel.utility_code)
    if outcome in ("replayed", "reused"):
        _same_payment((payment_id, *other), account_id, paid)
        return queries.get_receipt(payment_id=payment_id, replayed=True)
    if outcome != "posted":
        raise _refusal(
            outcome,
            data=data,
            paid=paid,
            debt=debt,
            account_id=account_id,
            account_number=account_number,
        )
    code = paid.currency
    settled = tuple(
        SettledItem(entry_id, source_type, source_id, Money(amount, code).rounded())
        for entry_id, source_type, source_id, amount in zip(
            settled_ids or (),
            settled_types or (),
            settled_sources or (),
            settled_amounts or (),
            strict=True,
        )
    )
    allocated = sum((s.amount.amount for s in settled), Decimal(0))
    return Receipt(
        payment_id=payment_id,
        receipt_number=receipt_number(payment_id),
        channel=channel.code,
        channel_name=channel.name,
        transaction_id=data.transaction_id,
        account_number=account_number,
        account_number_given=data.account_number,
        amount=paid.rounded(),
        method=method,
        received_at=data.received_at.astimezone(UTC),
        value_date=value_date,
        posted_at=now,
        bill_number=data.bill_number,
        settled=settled,
        credit_on_account=Money(paid.amount - allocated, code).rounded(),
        balance_after=Money(balance_after, code).rounded(),
        status="posted",
    )


# --- reversals -----------------------------------------------------------------------------

REVERSAL_KIND_OF_CHANNEL = {
    ChannelKind.BANK: ReversalKind.RECALL,
    ChannelKind.DIRECT_DEBIT: ReversalKind.BOUNCE,
    ChannelKind.GATEWAY: ReversalKind.CHARGEBACK,
}
FEE_KINDS = frozenset({ReversalKind.RECALL, ReversalKind.BOUNCE, ReversalKind.CHARGEBACK})


def reversal_kind_for(channel: ChannelPolicy) -> str:
    """What a reversal asked for by the channel itself is: a bank's recall, a returned direct
    debit, a gateway's chargeback; a counter or POS void is a posting error (no fee)."""
    return REVERSAL_KIND_OF_CHANNEL.get(ChannelKind(channel.kind), ReversalKind.ERROR)


def reverse_payment(
    *,
    payment_id: int,
    kind: str,
    reason: str,
    created_by: str,
    now: datetime,
    external_reference: str = "",
) -> ReversalResult:
    """Reverse a payment at most once (a bank recall, a bounced direct debit, a chargeback, a
    posting error): a reversal entry reopens what it paid and, for a recall, bounce or
    chargeback, the channel's reversal fee is charged where its policy sets one.

    Asking again with the same ``external_reference`` returns the first result. Raises
    NotFound, InvalidInput, Conflict (reversed already, transferred twice).
    """
    if kind not in ReversalKind.values:
        raise InvalidInput(f"{kind!r} is not one of {', '.join(ReversalKind.values)}", field="kind")
    if not reason.strip():
        raise InvalidInput("say why the payment is reversed", field="reason")
    if len(external_reference) > 64:
        raise InvalidInput("at most 64 characters", field="recall_id")
    payment = (
        Payment.objects.filter(id=payment_id)
        .values(
            "account_id",
            "ledger_entry_id",
            "channel__reversal_fee",
            "currency",
            "channel__utility__time_zone",
        )
        .first()
    )
    if payment is None:
        raise NotFound(f"no payment {payment_id}", field="payment")
    transfer = PaymentTransfer.objects.filter(payment_id=payment_id).values(
        "to_account_id", "in_entry_id"
    )
    with transaction.atomic():
        moved = transfer.first()
        account_id = payment["account_id"] if moved is None else moved["to_account_id"]
        target_entry = payment["ledger_entry_id"] if moved is None else moved["in_entry_id"]
        ledger.lock_accounts(account_ids={payment["account_id"], account_id})
        if transfer.first() != moved:
            raise Conflict("the payment was moved meanwhile; ask again", field="payment")
        done = PaymentReversal.objects.filter(payment_id=payment_id).first()
        if done is not None:
            if external_reference and done.external_reference == external_reference:
                return queries.get_reversal(payment_id=payment_id, replayed=True)
            raise Conflict(
                f"payment {receipt_number(payment_id)} was reversed already "
                f"({done.kind}, {done.reversed_at:%Y-%m-%d})",
                field="payment",
            )
        reversal = ledger.reverse_entry(
            entry_id=target_entry, created_by=created_by, now=now, reason=reason
        )
        fee_entry: int | None = None
        fee_amount = payment["channel__reversal_fee"]
        if kind in FEE_KINDS and fee_amount > 0:
            today = local_date(now, zone(payment["channel__utility__time_zone"]))
            fee_entry = ledger.post_entry(
                account_id=account_id,
                kind="fee",
                amount=Money.of(fee_amount, payment["currency"]),
                value_date=today,
                due_date=today,
                source_type="payment_reversal",
                source_id=str(payment_id),
                created_by=created_by,
                now=now,
                description=f"{ReversalKind(kind).label} fee",
            ).id
        PaymentReversal.objects.create(
            payment_id=payment_id,
            kind=kind,
            reason=reason[:200],
            external_reference=external_reference,
            reversal_entry_id=reversal.id,
            fee_entry_id=fee_entry,
            reversed_at=now,
            created_by=created_by,
        )
    return queries.get_reversal(payment_id=payment_id)


# --- refunds and transfers -------------------------------------------------------------------


def refund_credit(
    *,
    account_id: int,
    amount: Money,
    method: str,
    payee: str,
    reason: str,
    reference: str,
    created_by: str,
    now: datetime,
) -> RefundResult:
    """Pay credit on an account back to the customer: a refund entry set against the credit.

    ``reference`` is the caller's key: asking again returns the first refund. Raises
    InvalidInput, NotFound, Conflict (more than the credit, the reference used otherwise).
    """
    if method not in RefundMethod.values:
        raise InvalidInput(
            f"{method!r} is not one of {', '.join(RefundMethod.values)}", field="method"
        )
    for field, value in (("payee", payee), ("reason", reason), ("reference", reference)):
        if not value.strip():
            raise InvalidInput(f"{field} is required", field=field)
    if amount.amount <= 0:
        raise InvalidInput("a refund is more than zero", field="amount")
    with transaction.atomic():
        position = ledger.lock_position(account_id=account_id)
        existing = (
            Refund.objects.filter(reference=reference)
            .values_list("id", "account_id", "amount")
            .first()
        )
        if existing is not None:
            if existing[1] != account_id or existing[2] != amount.amount:
                raise Conflict(
                    f"refund reference {reference!r} was used otherwise", field="reference"
                )
            return queries.get_refund(refund_id=existing[0], replayed=True)
        if amount.currency.code != position.currency:
            raise InvalidInput(f"the account is kept in {position.currency}", field="currency")
        if amount.amount > position.credit:
            raise Conflict(
                f"the account holds {position.credit} {position.currency} of credit, "
                f"less than {amount.amount}",
                field="amount",
            )
        posted, _ = ledger.post_to_position(
            position=position,
            kind="refund",
            amount=amount,
            value_date=local_date(now, zone(position.time_zone)),
            source_type="refund",
            source_id=reference,
            created_by=created_by,
            now=now,
            description=f"refund to {payee}",
        )
        refund = Refund.objects.create(
            account_id=account_id,
            reference=reference,
            amount=amount.amount,
            currency=amount.currency.code,
            method=method,
            payee=payee[:120],
            reason=reason[:200],
            ledger_entry_id=posted.id,
            refunded_at=now,
            created_by=created_by,
        )
    return queries.get_refund(refund_id=refund.id)


def transfer_payment(
    *, payment_id: int, to_account_number: str, reason: str, created_by: str, now: datetime
) -> TransferResult:
    """Move a misapplied payment to the account it was meant for (new ledger rows on both).

    Raises NotFound, AccountNotFound, InvalidInput, Conflict (reversed, transferred already).
    """
    payment = (
        Payment.objects.filter(id=payment_id)
        .values(
            "account_id",
            "account__number",
            "ledger_entry_id",
            "amount",
            "currency",
            "channel__utility__code",
        )
        .first()
    )
    if payment is None:
        raise NotFound(f"no payment {payment_id}", field="payment")
    if PaymentReversal.objects.filter(payment_id=payment_id).exists():
        raise Conflict(f"payment {receipt_number(payment_id)} is reversed", field="payment")
    moved = PaymentTransfer.objects.filter(payment_id=payment_id).values_list(
        "to_account__number", flat=True
    )
    if moved:
        raise Conflict(
            f"payment {receipt_number(payment_id)} was moved to account {moved[0]} already",
            field="payment",
        )
    target = find_account(number=to_account_number, utility_code=payment["channel__utility__code"])
    if target.id == payment["account_id"]:
        raise InvalidInput("the payment is on that account already", field="to_account_number")
    with transaction.atomic():
        out, into = ledger.transfer_entry(
            entry_id=payment["ledger_entry_id"],
            to_account_id=target.id,
            created_by=created_by,
            now=now,
            reason=reason,
        )
        PaymentTransfer.objects.create(
            payment_id=payment_id,
            to_account_id=target.id,
            out_entry_id=out.id,
            in_entry_id=into.id,
            reason=reason[:200],
            transferred_at=now,
            created_by=created_by,
        )
    code = payment["currency"]
    assert out.balance_after is not None and into.balance_after is not None
    return TransferResult(
        payment_id=payment_id,
        from_account_number=payment["account__number"],
        to_account_number=target.number,
        amount=Money.of(payment["amount"], code).rounded(),
        out_entry_id=out.id,
        in_entry_id=into.id,
        from_balance_after=Money.of(out.balance_after, code).rounded(),
        to_balance_after=Money.of(into.balance_after, code).rounded(),
    )
