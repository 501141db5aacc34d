"""A payment's receipt adds up exactly, to the đồng or the cent, whatever the bills."""

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from ampere.accounts.queries import get_balance, get_open_items, get_unallocated_credit
from ampere.core.money import Money
from ampere.payments import operations
from ampere.payments.types import PaymentInput
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)


class TestReceiptsAddUp(TestCase):
    @given(
        st.sampled_from([("evn-hcmc", "VND", 0), ("sce", "USD", 2)]),
        st.lists(st.integers(1, 10**8), min_size=0, max_size=5),
        st.integers(1, 3 * 10**8),
        st.integers(-1, 4),
    )
    def test_settled_plus_credit_is_the_amount(self, market, bills, paid, named):
        code, currency, digits = market
        utility = UtilityFactory(code=code)
        bank = channel(utility.id, f"bank-{code}", accepts_credit=True)
        account = AccountFactory(utility=utility)
        for index, minor in enumerate(bills):
            amount = Money.from_minor(minor, currency)
            bill(
                account.id,
                str(amount.amount),
                date(2025, 5, 1 + index),
                f"B{index}",
                currency=currency,
            )
        amount = Money.from_minor(paid, currency)
        before = get_balance(account_id=account.id)
        receipt = operations.post_payment(
            channel=bank,
            data=PaymentInput(
                transaction_id="P1",
                account_number=account.number,
                amount=amount.amount,
                currency=currency,
                received_at=NOW,
                bill_number=f"B{named}" if 0 <= named < len(bills) else "",
            ),
            created_by="t",
            now=NOW,
        )
        settled = sum((s.amount.amount for s in receipt.settled), Decimal(0))
        assert settled + receipt.credit_on_account.amount == amount.amount
        assert receipt.balance_after == before - amount == get_balance(account_id=account.id)
        open_amount = sum(
            (i.open.amount for i in get_open_items(account_id=account.id)), Decimal(0)
        )
        assert open_amount - get_unallocated_credit(account_id=account.id).amount == (
            receipt.balance_after.amount
        )
        quantum = Decimal(1).scaleb(-digits)
        for money in (
            *(s.amount for s in receipt.settled),
            receipt.credit_on_account,
            receipt.balance_after,
        ):
            assert money.amount == money.amount.quantize(quantum)
        if 0 <= named < len(bills) and receipt.settled:
            assert receipt.settled[0].source_id == f"B{named}"
