from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ampere.accounts.models import LedgerEntry
from ampere.accounts.queries import get_balance, get_open_items, get_unallocated_credit
from ampere.core.errors import Conflict
from ampere.core.money import Money
from ampere.payments import operations, queries
from ampere.payments.models import Payment, PaymentTransfer, Refund
from ampere.payments.types import PaymentInput
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)


def vnd(amount: int) -> Money:
    return Money.of(amount, "VND")


@pytest.fixture
def bank():
    return channel(UtilityFactory().id, "agribank", accepts_credit=True, fee=Decimal(20_000))


def pay(bank, account, amount, transaction_id="T-1"):
    return operations.post_payment(
        channel=bank,
        data=PaymentInput(transaction_id, account.number, Decimal(amount), "VND", NOW),
        created_by="t",
        now=NOW,
    )


def test_credit_on_account_is_refunded_once_by_its_reference(bank):
    account = AccountFactory(utility_id=bank.utility_id)
    bill(account.id, 100_000, date(2025, 5, 20), "HD-1")
    pay(bank, account, 160_000)
    assert get_unallocated_credit(account_id=account.id) == vnd(60_000)
    refund = operations.refund_credit(
        account_id=account.id,
        amount=vnd(60_000),
        method="bank_transfer",
        payee="VCB 0071000123456",
        reason="overpaid",
        reference="RF-1",
        created_by="clerk",
        now=NOW,
    )
    assert (refund.amount, refund.balance, refund.replayed) == (vnd(60_000), vnd(0), False)
    assert get_unallocated_credit(account_id=account.id) == vnd(0)
    entry = LedgerEntry.objects.get(id=refund.ledger_entry_id)
    assert (entry.kind, entry.amount) == ("refund", Decimal(60_000))
    again = operations.refund_credit(
        account_id=account.id,
        amount=vnd(60_000),
        method="bank_transfer",
        payee="VCB 0071000123456",
        reason="overpaid",
        reference="RF-1",
        created_by="clerk",
        now=NOW,
    )
    assert (again.refund_id, again.replayed) == (refund.refund_id, True)
    with pytest.raises(Conflict, match="holds 0 VND of credit"):
        operations.refund_credit(
            account_id=account.id,
            amount=vnd(1),
            method="cash",
            payee="An",
            reason="x",
            reference="RF-2",
            created_by="clerk",
            now=NOW,
        )
    assert Refund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_a_misapplied_payment_moves_to_the_right_account(bank):
    wrong = AccountFactory(utility_id=bank.utility_id)
    right = AccountFactory(utility_id=bank.utility_id)
    bill(wrong.id, 100_000, date(2025, 5, 20), "W-1")
    bill(right.id, 100_000, date(2025, 5, 20), "R-1")
    receipt = pay(bank, wrong, 100_000)
    result = operations.transfer_payment(
        payment_id=receipt.payment_id,
        to_account_number=right.number,
        reason="customer gave the neighbour's number",
        created_by="clerk",
        now=NOW,
    )
    assert (result.from_balance_after, result.to_balance_after) == (vnd(100_000), vnd(0))
    assert [i.source_id for i in get_open_items(account_id=wrong.id)] == ["W-1"]
    assert get_open_items(account_id=right.id) == []
    assert PaymentTransfer.objects.get().to_account_id == right.id
    assert queries.get_receipt(payment_id=receipt.payment_id).status == "transferred"
    # A recall afterwards reverses the money where it is now, with the channel's fee.
    recall = operations.reverse_payment(
        payment_id=receipt.payment_id,
        kind="recall",
        reason="bank recall",
        created_by="bank",
        now=NOW,
    )
    assert recall.fee == vnd(20_000)
    assert get_balance(account_id=right.id) == vnd(120_000)
    assert get_balance(account_id=wrong.id) == vnd(100_000)
    with pytest.raises(Conflict):
        operations.transfer_payment(
            payment_id=receipt.payment_id,
            to_account_number=wrong.number,
            reason="again",
            created_by="clerk",
            now=NOW,
        )
    assert Payment.objects.count() == 1


def test_an_error_reversal_charges_no_fee(bank):
    account = AccountFactory(utility_id=bank.utility_id)
    bill(account.id, 100_000, date(2025, 5, 20), "HD-1")
    receipt = pay(bank, account, 100_000)
    result = operations.reverse_payment(
        payment_id=receipt.payment_id, kind="error", reason="wrong account", created_by="c", now=NOW
    )
    assert result.fee is None
    assert get_balance(account_id=account.id) == vnd(100_000)
