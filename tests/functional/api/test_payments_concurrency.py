"""Duplicates over HTTP from many threads at once: one payment (committed data, no test
transaction)."""

import time
from datetime import date

import pytest

from ampere.accounts.queries import get_balance
from ampere.core.money import Money
from ampere.payments.models import Payment
from tests.concurrency import run_in_threads
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.partners import PartnerClient
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db(transaction=True)


def test_duplicates_over_http_from_many_threads_post_one_payment():
    utility = UtilityFactory()
    bank = PartnerClient(utility_id=utility.id, scopes=["payments"], code="vietcombank")
    channel(utility.id, "vietcombank", partner=True)
    account = AccountFactory(utility=utility)
    bill(account.id, 400_000, date(2025, 6, 2), "HD-2025-05")
    body = {
        "transaction_id": "VCB-77",
        "account_number": account.number,
        "amount": "150000",
        "currency": "VND",
    }
    stamp = int(time.time()) - 100

    def post(index):
        # Each thread is a retry of its own: signed at its own second.
        return bank.request("POST", "/api/v1/payments/payments", body, timestamp=stamp + index)

    responses, errors = run_in_threads(10, post)
    assert errors == []
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert {r.json()["receipt_number"] for r in responses} == {f"R{Payment.objects.get().id:010d}"}
    assert Payment.objects.count() == 1
    assert get_balance(account_id=account.id) == Money.of(250_000, "VND")
