from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.accounts.models import LedgerEntry
from ampere.accounts.queries import get_balance, get_open_items
from ampere.core.errors import Conflict
from ampere.core.money import Money
from ampere.payments import mandates, operations
from ampere.payments.models import CollectedItem, DirectDebitCollection, Payment
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 20, 20, 0, tzinfo=UTC)


def vnd(amount: int) -> Money:
    return Money.of(amount, "VND")


@pytest.fixture
def autopay():
    utility = UtilityFactory()
    return channel(utility.id, "autopay-vcb", kind="direct_debit", fee=Decimal(15_000))


def mandate(autopay, account, reference, **kwargs):
    return mandates.create_mandate(
        channel=autopay,
        account_number=account.number,
        reference=reference,
        payer_name="Nguyễn Văn An",
        payer_bank_account="0071 0001 23456",
        starts_on=date(2025, 5, 1),
        now=NOW,
        **kwargs,
    )


def test_collection_takes_what_is_due_on_the_day_once(autopay):
    a, b, c = (AccountFactory(utility_id=autopay.utility_id) for _ in range(3))
    bill(a.id, 300_000, date(2025, 6, 20), "A-06")
    bill(a.id, 280_000, date(2025, 7, 20), "A-07")  # not due yet
    bill(b.id, 150_000, date(2025, 6, 18), "B-06")  # due earlier, missed run: still collected
    bill(c.id, 90_000, date(2025, 4, 20), "C-04")  # due before the mandate started
    ma = mandate(autopay, a, "MD-A")
    assert ma.payer_bank_account == "****3456"
    mandate(autopay, b, "MD-B")
    mandate(autopay, c, "MD-C")
    run = mandates.collect_direct_debits(as_of=date(2025, 6, 20), now=NOW)
    assert (run.mandates, run.collected, run.collected_amounts, run.skipped) == (
        2,
        2,
        (vnd(450_000),),
        0,
    )
    assert [i.source_id for i in get_open_items(account_id=a.id)] == ["A-07"]
    assert get_open_items(account_id=b.id) == []
    assert [i.source_id for i in get_open_items(account_id=c.id)] == ["C-04"]
    payment = Payment.objects.get(account=a)
    assert (payment.external_reference, payment.amount, payment.method, payment.value_date) == (
        "DD-MD-A-20250620",
        Decimal(300_000),
        "direct_debit",
        date(2025, 6, 20),
    )
    assert payment.balance_after == Decimal(280_000)
    assert sorted(CollectedItem.objects.values_list("amount", flat=True)) == [
        Decimal(150_000),
        Decimal(300_000),
    ]
    counts = (Payment.objects.count(), LedgerEntry.objects.count())
    again = mandates.collect_direct_debits(as_of=date(2025, 6, 20), now=NOW)
    assert (again.mandates, again.collected) == (0, 0)
    assert (Payment.objects.count(), LedgerEntry.objects.count()) == counts


def test_a_bounced_collection_is_reversed_with_the_fee_and_not_collected_again(autopay):
    account = AccountFactory(utility_id=autopay.utility_id)
    bill(account.id, 300_000, date(2025, 6, 20), "A-06")
    mandate(autopay, account, "MD-A")
    mandates.collect_direct_debits(as_of=date(2025, 6, 20), now=NOW)
    payment = Payment.objects.get()
    result = operations.reverse_payment(
        payment_id=payment.id,
        kind="bounce",
        reason="R01 insufficient funds",
        external_reference="RT-1",
        created_by="bank",
        now=NOW,
    )
    assert (result.kind, result.fee) == ("bounce", vnd(15_000))
    assert get_balance(account_id=account.id) == vnd(315_000)
    run = mandates.collect_direct_debits(as_of=date(2025, 6, 21), now=NOW)
    assert run.collected == 0
    assert Payment.objects.count() == 1


def test_above_the_limit_waits_for_a_person_and_a_mandate_ends(autopay):
    account = AccountFactory(utility_id=autopay.utility_id)
    other = AccountFactory(utility_id=autopay.utility_id)
    bill(account.id, 600_000, date(2025, 6, 20), "A-06")
    bill(other.id, 100_000, date(2025, 6, 20), "O-06")
    mandate(autopay, account, "MD-A", max_amount=vnd(500_000))
    ended = mandate(autopay, other, "MD-O")
    mandates.cancel_mandate(mandate_id=ended.mandate_id, ends_on=date(2025, 6, 15), now=NOW)
    run = mandates.collect_direct_debits(as_of=date(2025, 6, 20), now=NOW)
    assert (run.collected, run.skipped) == (0, 1)
    skipped = DirectDebitCollection.objects.get()
    assert (skipped.status, skipped.reason, skipped.payment_id) == (
        "skipped",
        "600000 VND is above the mandate's limit of 500000 VND",
        None,
    )
    assert Payment.objects.count() == 0
    with pytest.raises(Conflict, match="has a mandate in force already"):
        mandate(autopay, account, "MD-A2")


def test_a_run_over_many_mandates_takes_a_fixed_number_of_queries(autopay):
    accounts = [AccountFactory(utility_id=autopay.utility_id) for _ in range(12)]
    for index, account in enumerate(accounts):
        bill(account.id, 100_000 + index, date(2025, 6, 20), f"B-{index}")
        mandate(autopay, account, f"MD-{index}")
    with CaptureQueriesContext(connection) as queries:
        run = mandates.collect_direct_debits(as_of=date(2025, 6, 20), now=NOW, batch=5)
    assert run.collected == 12
    # One query to find the mandates, then per batch of 5 (whatever its size): savepoint, lock,
    # what is due, payment ids, bulk posting (lock, insert, allocate), balances, payments,
    # collections, collected items, release.
    assert len(queries.captured_queries) == 1 + 3 * 12
    assert Payment.objects.count() == 12
    assert all(get_balance(account_id=a.id) == vnd(0) for a in accounts)
