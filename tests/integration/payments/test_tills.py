from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ampere.core.errors import Conflict, InvalidInput
from ampere.core.money import Money
from ampere.payments import operations, tills
from ampere.payments.models import Payment, TillSession
from ampere.payments.types import MethodTotal, PaymentInput
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db
MORNING = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
EVENING = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def vnd(amount: int) -> Money:
    return Money.of(amount, "VND")


@pytest.fixture
def counter():
    utility = UtilityFactory()
    return channel(utility.id, "counter-q1", kind="counter", accepts_credit=True)


def pay(counter, till_id, account, amount, transaction_id, method="cash"):
    return tills.take_payment(
        channel=counter,
        till_id=till_id,
        cashier="lan",
        data=PaymentInput(
            transaction_id=transaction_id,
            account_number=account.number,
            amount=Decimal(amount),
            currency="VND",
            received_at=MORNING,
            method=method,
        ),
        now=MORNING,
    )


def test_a_days_till_from_float_to_close_with_a_shortage(counter):
    account = AccountFactory(utility_id=counter.utility_id)
    bill(account.id, 900_000, date(2025, 6, 10), "HD-1")
    till = tills.open_till(
        channel=counter,
        cashier="lan",
        counter_code="Q1-03",
        opening_float=vnd(500_000),
        now=MORNING,
    )
    first = pay(counter, till.till_id, account, 300_000, "Q1-03-0001")
    pay(counter, till.till_id, account, 200_000, "Q1-03-0002", method="card")
    voided = pay(counter, till.till_id, account, 100_000, "Q1-03-0003")
    operations.reverse_payment(
        payment_id=voided.payment_id,
        kind="error",
        reason="keyed twice",
        created_by="lan",
        now=MORNING,
    )
    assert Payment.objects.get(id=first.payment_id).till_session_id == till.till_id
    assert (first.method, Payment.objects.get(id=first.payment_id).collected_by) == ("cash", "lan")
    closed = tills.close_till(
        till_id=till.till_id, cashier="lan", counted_cash=vnd(790_000), note="", now=EVENING
    )
    assert closed.totals == (
        MethodTotal("card", 1, vnd(200_000)),
        MethodTotal("cash", 1, vnd(300_000)),
    )
    assert (closed.expected_cash, closed.counted_cash, closed.difference) == (
        vnd(800_000),
        vnd(790_000),
        vnd(-10_000),
    )
    assert closed.closed_at == EVENING
    before = Payment.objects.count()
    with pytest.raises(tills.TillClosed):
        pay(counter, till.till_id, account, 1_000, "Q1-03-0004")
    with pytest.raises(tills.TillClosed):
        tills.close_till(
            till_id=till.till_id, cashier="lan", counted_cash=vnd(0), note="", now=EVENING
        )
    assert Payment.objects.count() == before


def test_one_open_till_per_cashier_and_only_their_own(counter):
    till = tills.open_till(
        channel=counter, cashier="lan", counter_code="Q1-03", opening_float=vnd(0), now=MORNING
    )
    with pytest.raises(Conflict, match="lan has a till open already"):
        tills.open_till(
            channel=counter, cashier="lan", counter_code="Q1-04", opening_float=vnd(0), now=MORNING
        )
    account = AccountFactory(utility_id=counter.utility_id)
    with pytest.raises(tills.TillNotFound):
        tills.take_payment(
            channel=counter,
            till_id=till.till_id,
            cashier="minh",
            data=PaymentInput("X-1", account.number, Decimal(1000), "VND", MORNING),
            now=MORNING,
        )
    with pytest.raises(InvalidInput):
        tills.open_till(
            channel=counter, cashier="an", counter_code="Q1", opening_float=vnd(-1), now=MORNING
        )
    assert TillSession.objects.count() == 1
    assert Payment.objects.count() == 0


def test_the_same_counter_payment_sent_twice_posts_once(counter):
    account = AccountFactory(utility_id=counter.utility_id)
    bill(account.id, 100_000, date(2025, 6, 10), "HD-1")
    till = tills.open_till(
        channel=counter, cashier="lan", counter_code="Q1-03", opening_float=vnd(0), now=MORNING
    )
    first = pay(counter, till.till_id, account, 100_000, "Q1-03-0001")
    again = pay(counter, till.till_id, account, 100_000, "Q1-03-0001")
    assert (again.payment_id, again.replayed) == (first.payment_id, True)
    assert tills.get_till_summary(till_id=till.till_id).totals == (
        MethodTotal("cash", 1, vnd(100_000)),
    )
