from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from ampere.accounts import ledger
from ampere.accounts.models import LedgerAllocation, LedgerEntry
from ampere.accounts.queries import get_balance, get_open_items, get_unallocated_credit
from ampere.core.errors import Conflict
from ampere.core.money import Money
from tests.factories.accounts import AccountFactory

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def vnd(amount: int) -> Money:
    return Money.of(amount, "VND")


def charge(account_id: int, amount: int, due: date, source_id: str) -> int:
    return ledger.post_entry(
        account_id=account_id,
        kind="charge",
        amount=vnd(amount),
        value_date=due,
        due_date=due,
        source_type="bill",
        source_id=source_id,
        created_by="test",
        now=NOW,
    ).id


def pay(account_id: int, amount: int, **kwargs) -> ledger.PostedEntry:
    return ledger.post_entry(
        account_id=account_id,
        kind="payment",
        amount=vnd(-amount),
        value_date=date(2025, 6, 1),
        source_type="payment",
        source_id="P1",
        created_by="test",
        now=NOW,
        **kwargs,
    )


def test_database_refuses_update_and_delete_of_ledger_rows():
    account = AccountFactory()
    entry_id = charge(account.id, 100_000, date(2025, 6, 10), "B1")
    with (
        pytest.raises(ProgrammingError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE accounts_ledgerentry SET amount = 1 WHERE id = %s", [entry_id])
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        LedgerEntry.objects.filter(id=entry_id).delete()
    assert LedgerEntry.objects.get(id=entry_id).amount == Decimal(100_000)


def test_database_ties_sign_to_kind_and_whole_dong():
    account = AccountFactory()
    with pytest.raises(IntegrityError, match="ledger_sign_follows_kind"), transaction.atomic():
        LedgerEntry.objects.create(
            account=account,
            kind="payment",
            amount=Decimal(5),
            currency="VND",
            posted_at=NOW,
            value_date=date(2025, 6, 1),
            source_type="t",
            source_id="1",
            created_by="t",
        )
    with pytest.raises(IntegrityError, match="ledger_whole_dong"), transaction.atomic():
        LedgerEntry.objects.create(
            account=account,
            kind="charge",
            amount=Decimal("5.5"),
            currency="VND",
            posted_at=NOW,
            value_date=date(2025, 6, 1),
            source_type="t",
            source_id="1",
            created_by="t",
        )
    assert LedgerEntry.objects.filter(account=account).count() == 0


def test_operation_refuses_wrong_currency_sign_and_decimals():
    account = AccountFactory()
    for amount, kind, field in [
        (Money.of(10, "USD"), "charge", "currency"),
        (vnd(-10), "charge", "amount"),
        (vnd(10), "payment", "amount"),
        (Money.of("10.5", "VND"), "fee", "amount"),
    ]:
        with pytest.raises(ledger.LedgerRefused) as error:
            ledger.post_entry(
                account_id=account.id,
                kind=kind,
                amount=amount,
                value_date=date(2025, 6, 1),
                source_type="t",
                source_id="1",
                created_by="t",
                now=NOW,
            )
        assert error.value.field == field
    assert LedgerEntry.objects.filter(account=account).count() == 0


def test_payment_settles_oldest_due_first_and_keeps_overpayment_as_credit():
    account = AccountFactory()
    newer = charge(account.id, 300_000, date(2025, 6, 20), "B2")
    older = charge(account.id, 200_000, date(2025, 5, 20), "B1")
    posted = pay(account.id, 250_000)
    assert posted.allocated == Decimal(250_000)
    items = get_open_items(account_id=account.id)
    assert [(i.entry_id, i.open.amount) for i in items] == [(newer, Decimal(250_000))]
    assert get_balance(account_id=account.id) == vnd(250_000)
    pay(account.id, 300_000)
    assert get_open_items(account_id=account.id) == []
    assert get_unallocated_credit(account_id=account.id) == vnd(50_000)
    assert get_balance(account_id=account.id) == vnd(-50_000)
    # New charge takes the credit at once.
    charge(account.id, 80_000, date(2025, 7, 20), "B3")
    assert [i.open.amount for i in get_open_items(account_id=account.id)] == [Decimal(30_000)]
    assert LedgerAllocation.objects.filter(debit_entry_id=older).get().amount == Decimal(200_000)


def test_payment_for_a_named_bill_settles_that_bill_first():
    account = AccountFactory()
    charge(account.id, 100_000, date(2025, 5, 20), "B1")
    named = charge(account.id, 100_000, date(2025, 6, 20), "B2")
    pay(account.id, 100_000, prefer_debits=[named])
    assert [i.source_id for i in get_open_items(account_id=account.id)] == ["B1"]


def test_reversing_a_payment_reopens_what_it_paid_and_restores_the_balance():
    account = AccountFactory()
    charge(account.id, 100_000, date(2025, 5, 20), "B1")
    payment = pay(account.id, 100_000)
    assert get_balance(account_id=account.id) == vnd(0)
    reversal = ledger.reverse_entry(
        entry_id=payment.id, created_by="bank", now=NOW, reason="recall"
    )
    assert get_balance(account_id=account.id) == vnd(100_000)
    assert [i.open.amount for i in get_open_items(account_id=account.id)] == [Decimal(100_000)]
    assert LedgerEntry.objects.get(id=reversal.id).reverses_id == payment.id
    with pytest.raises(Conflict):
        ledger.reverse_entry(entry_id=payment.id, created_by="bank", now=NOW, reason="again")
    assert LedgerEntry.objects.filter(account=account).count() == 3


def test_reversing_a_charge_frees_the_payment_for_the_next_bill():
    account = AccountFactory()
    first = charge(account.id, 100_000, date(2025, 5, 20), "B1")
    pay(account.id, 100_000)
    second = charge(account.id, 60_000, date(2025, 6, 20), "B2")
    ledger.reverse_entry(entry_id=first, created_by="clerk", now=NOW, reason="wrong read")
    assert get_open_items(account_id=account.id) == []
    assert get_unallocated_credit(account_id=account.id) == vnd(40_000)
    assert LedgerAllocation.objects.filter(debit_entry_id=second).count() == 1


def test_copy_entries_posts_in_bulk_and_settle_credits_uses_prepayments():
    paid_ahead, plain = (
        AccountFactory(),
        AccountFactory(utility=None) if False else AccountFactory(),
    )
    pay(paid_ahead.id, 50_000)
    rows = [
        ledger.ChargeRow(
            a.id,
            "charge",
            Decimal(70_000),
            "VND",
            date(2025, 6, 1),
            date(2025, 6, 8),
            "bill",
            f"B{a.id}",
        )
        for a in (paid_ahead, plain)
    ]
    with transaction.atomic():
        assert ledger.copy_entries(rows=rows, created_by="billrun", now=NOW) == 2
    assert ledger.settle_credits(account_ids=[paid_ahead.id, plain.id], now=NOW) == 1
    assert [i.open.amount for i in get_open_items(account_id=paid_ahead.id)] == [Decimal(20_000)]
    assert [i.open.amount for i in get_open_items(account_id=plain.id)] == [Decimal(70_000)]


class TestBalanceIsSumOfEntries(HypothesisTestCase):
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["charge", "payment", "fee", "adjustment", "refund", "reverse"]),
                st.integers(min_value=1, max_value=10**9),
                st.booleans(),
            ),
            min_size=1,
            max_size=15,
        )
    )
    def test_balance_equals_sum_of_entries(self, steps):
        account = AccountFactory()
        expected = 0
        posted: list[tuple[int, int]] = []
        for kind, magnitude, flag in steps:
            if kind == "reverse":
                if not posted:
                    continue
                entry_id, amount = posted.pop(0)
                ledger.reverse_entry(entry_id=entry_id, created_by="t", now=NOW, reason="test")
                expected -= amount
                continue
            signed = (
                -magnitude if kind == "payment" or (kind == "adjustment" and flag) else magnitude
            )
            entry = ledger.post_entry(
                account_id=account.id,
                kind=kind,
                amount=vnd(signed),
                value_date=date(2025, 6, 1),
                source_type="t",
                source_id="x",
                created_by="t",
                now=NOW,
            )
            posted.append((entry.id, signed))
            expected += signed
        assert get_balance(account_id=account.id) == vnd(expected)
        open_debits = sum(i.open.amount for i in get_open_items(account_id=account.id))
        credit = get_unallocated_credit(account_id=account.id).amount
        assert open_debits - credit == Decimal(expected)
