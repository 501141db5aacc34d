"""Positions read under the lock, bulk posting with set-based allocation, transfers."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from ampere.accounts import ledger
from ampere.accounts.models import LedgerAllocation, LedgerEntry
from ampere.accounts.queries import get_balance, get_open_items, get_unallocated_credit
from ampere.core.errors import Conflict, InvalidInput
from ampere.core.money import Money
from tests.factories.accounts import AccountFactory, UtilityFactory

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


def pay(account_id: int, amount: int, source_id: str = "P1") -> ledger.PostedEntry:
    return ledger.post_entry(
        account_id=account_id,
        kind="payment",
        amount=vnd(-amount),
        value_date=date(2025, 6, 1),
        source_type="payment",
        source_id=source_id,
        created_by="test",
        now=NOW,
    )


def test_position_lists_open_items_in_settling_order_and_its_balance():
    account = AccountFactory()
    later = charge(account.id, 300_000, date(2025, 6, 20), "B2")
    earlier = charge(account.id, 200_000, date(2025, 5, 20), "B1")
    pay(account.id, 50_000)
    with transaction.atomic():
        position = ledger.lock_position(account_id=account.id)
    assert [(d.entry_id, d.source_id, d.open) for d in position.debits] == [
        (earlier, "B1", Decimal(150_000)),
        (later, "B2", Decimal(300_000)),
    ]
    assert position.credits == ()
    assert (position.currency, position.time_zone) == ("VND", "Asia/Ho_Chi_Minh")
    assert position.balance == Decimal(450_000) == get_balance(account_id=account.id).amount
    assert [d.entry_id for d in position.debits_of(source_type="bill", source_id="B2")] == [later]


def test_posting_to_a_position_tells_what_it_settled_and_the_balance_after():
    account = AccountFactory()
    first = charge(account.id, 120_000, date(2025, 5, 20), "B1")
    second = charge(account.id, 80_000, date(2025, 6, 20), "B2")
    with transaction.atomic():
        position = ledger.lock_position(account_id=account.id)
        posted, after = ledger.post_to_position(
            position=position,
            kind="payment",
            amount=vnd(-150_000),
            value_date=date(2025, 6, 1),
            source_type="payment",
            source_id="P9",
            created_by="test",
            now=NOW,
        )
    assert posted.settled == (
        ledger.Settlement(first, "bill", "B1", Decimal(120_000)),
        ledger.Settlement(second, "bill", "B2", Decimal(30_000)),
    )
    assert posted.allocated == Decimal(150_000)
    assert posted.balance_after == Decimal(50_000) == after.balance
    assert [(d.entry_id, d.open) for d in after.debits] == [(second, Decimal(50_000))]
    assert get_balance(account_id=account.id) == vnd(50_000)


def test_a_charge_posted_to_a_position_is_paid_by_credit_on_account():
    account = AccountFactory()
    credit = pay(account.id, 70_000)
    assert credit.balance_after == Decimal(-70_000)
    posted = ledger.post_entry(
        account_id=account.id,
        kind="charge",
        amount=vnd(100_000),
        value_date=date(2025, 6, 1),
        due_date=date(2025, 6, 10),
        source_type="bill",
        source_id="B1",
        created_by="test",
        now=NOW,
    )
    assert posted.settled == (ledger.Settlement(credit.id, "payment", "P1", Decimal(70_000)),)
    assert posted.balance_after == Decimal(30_000)


def test_bulk_posting_locks_inserts_and_allocates_each_account():
    a, b = AccountFactory(), AccountFactory()
    a1 = charge(a.id, 100_000, date(2025, 5, 20), "A1")
    a2 = charge(b.id, 100_000, date(2025, 5, 20), "B1")
    rows = [
        ledger.ChargeRow(
            a.id, "payment", Decimal(-60_000), "VND", date(2025, 6, 1), None, "t", "1"
        ),
        ledger.ChargeRow(
            a.id, "payment", Decimal(-60_000), "VND", date(2025, 6, 1), None, "t", "2"
        ),
        ledger.ChargeRow(
            b.id, "payment", Decimal(-30_000), "VND", date(2025, 6, 1), None, "t", "3"
        ),
    ]
    with transaction.atomic():
        posted = ledger.post_in_bulk(rows=rows, created_by="lockbox", now=NOW)
    assert {k: (p.account_id, p.allocated) for k, p in posted.items()} == {
        ("t", "1"): (a.id, Decimal(60_000)),
        ("t", "2"): (a.id, Decimal(40_000)),
        ("t", "3"): (b.id, Decimal(30_000)),
    }
    assert get_open_items(account_id=a.id) == []
    assert get_unallocated_credit(account_id=a.id) == vnd(20_000)
    assert [(i.entry_id, i.open.amount) for i in get_open_items(account_id=b.id)] == [
        (a2, Decimal(70_000))
    ]
    assert LedgerAllocation.objects.filter(debit_entry_id=a1).count() == 2


def test_bulk_posting_refuses_a_wrong_currency_naming_the_row_and_writes_nothing():
    account = AccountFactory()
    rows = [
        ledger.ChargeRow(
            account.id, "payment", Decimal(-5), "VND", date(2025, 6, 1), None, "t", "1"
        ),
        ledger.ChargeRow(
            account.id, "payment", Decimal(-5), "USD", date(2025, 6, 1), None, "t", "2"
        ),
    ]
    with pytest.raises(ledger.LedgerRefused) as error, transaction.atomic():
        ledger.post_in_bulk(rows=rows, created_by="t", now=NOW)
    assert error.value.field == "rows[1].currency"
    assert LedgerEntry.objects.filter(account=account).count() == 0


class TestBulkAllocationEqualsOneByOne(HypothesisTestCase):
    @given(
        st.lists(st.tuples(st.integers(1, 10**7), st.integers(0, 40)), min_size=0, max_size=6),
        st.lists(st.integers(1, 10**7), min_size=1, max_size=6),
    )
    def test_same_open_items_and_credit(self, bills, payments):
        one, bulk = AccountFactory(), AccountFactory(utility=UtilityFactory())
        for account in (one, bulk):
            for index, (amount, day) in enumerate(bills):
                charge(account.id, amount, date(2025, 5, 1 + day % 28), f"B{index}")
        for index, amount in enumerate(payments):
            pay(one.id, amount, source_id=f"P{index}")
        rows = [
            ledger.ChargeRow(
                bulk.id, "payment", Decimal(-amount), "VND", date(2025, 6, 1), None, "p", str(i)
            )
            for i, amount in enumerate(payments)
        ]
        with transaction.atomic():
            ledger.post_in_bulk(rows=rows, created_by="t", now=NOW)

        def opens(account_id):
            return [(i.source_id, i.open.amount) for i in get_open_items(account_id=account_id)]

        assert opens(one.id) == opens(bulk.id)
        assert get_unallocated_credit(account_id=one.id) == get_unallocated_credit(
            account_id=bulk.id
        )
        assert get_balance(account_id=one.id) == get_balance(account_id=bulk.id)


def test_transfer_moves_a_misapplied_payment_and_reopens_the_first_accounts_bill():
    wrong, right = AccountFactory(), AccountFactory()
    wrong_bill = charge(wrong.id, 100_000, date(2025, 5, 20), "W1")
    right_bill = charge(right.id, 100_000, date(2025, 5, 20), "R1")
    payment = pay(wrong.id, 100_000)
    out, into = ledger.transfer_entry(
        entry_id=payment.id,
        to_account_id=right.id,
        created_by="clerk",
        now=NOW,
        reason="misapplied",
    )
    assert get_balance(account_id=wrong.id) == vnd(100_000)
    assert get_balance(account_id=right.id) == vnd(0)
    assert [(i.entry_id, i.open.amount) for i in get_open_items(account_id=wrong.id)] == [
        (wrong_bill, Decimal(100_000))
    ]
    assert get_open_items(account_id=right.id) == []
    assert into.settled == (ledger.Settlement(right_bill, "bill", "R1", Decimal(100_000)),)
    assert LedgerEntry.objects.get(id=out.id).amount == Decimal(100_000)
    assert LedgerEntry.objects.get(id=into.id).amount == Decimal(-100_000)
    assert LedgerEntry.objects.get(id=into.id).value_date == date(2025, 6, 1)
    count = LedgerEntry.objects.count()
    with pytest.raises(Conflict, match="transferred already"):
        ledger.transfer_entry(
            entry_id=payment.id, to_account_id=right.id, created_by="c", now=NOW, reason="again"
        )
    with pytest.raises(Conflict, match="reverse it there"):
        ledger.reverse_entry(entry_id=payment.id, created_by="c", now=NOW, reason="recall")
    assert LedgerEntry.objects.count() == count
    # The money left the bank: the recall reverses it where it now is.
    ledger.reverse_entry(entry_id=into.id, created_by="bank", now=NOW, reason="recall")
    assert get_balance(account_id=right.id) == vnd(100_000)
    assert get_balance(account_id=wrong.id) == vnd(100_000)


def test_transfer_refuses_a_debit_another_currency_and_the_same_account():
    account = AccountFactory()
    usd_account = AccountFactory(utility=UtilityFactory(code="sce"))
    bill = charge(account.id, 10_000, date(2025, 5, 20), "B1")
    payment = pay(account.id, 5_000)
    with pytest.raises(Conflict, match="only a payment"):
        ledger.transfer_entry(
            entry_id=bill, to_account_id=usd_account.id, created_by="c", now=NOW, reason="x"
        )
    with pytest.raises(Conflict, match="kept in USD"):
        ledger.transfer_entry(
            entry_id=payment.id, to_account_id=usd_account.id, created_by="c", now=NOW, reason="x"
        )
    with pytest.raises(InvalidInput):
        ledger.transfer_entry(
            entry_id=payment.id, to_account_id=account.id, created_by="c", now=NOW, reason="x"
        )
    assert LedgerEntry.objects.filter(account=account).count() == 2
    assert get_balance(account_id=account.id) == vnd(5_000)
