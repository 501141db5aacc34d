"""Exactly once under concurrency: duplicates from many threads and many processes post one
payment. These tests need committed data, so they run outside a test transaction."""

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection

from ampere.accounts.models import LedgerEntry
from ampere.accounts.queries import get_balance
from ampere.core.money import Money
from ampere.payments import operations
from ampere.payments.models import Payment
from ampere.payments.types import PaymentInput
from tests.concurrency import run_in_threads
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db(transaction=True)
RECEIVED = datetime(2025, 6, 2, 2, 30, tzinfo=UTC)


def data(account, transaction_id="T-1", amount=Decimal(150_000)) -> PaymentInput:
    return PaymentInput(
        transaction_id=transaction_id,
        account_number=account.number,
        amount=amount,
        currency="VND",
        received_at=RECEIVED,
    )


def test_duplicates_from_many_threads_post_one_payment():
    utility = UtilityFactory()
    bank = channel(utility.id, "vietcombank")
    account = AccountFactory(utility=utility)
    bill(account.id, 400_000, date(2025, 5, 20), "HD-2025-05")

    def post(_):
        return operations.post_payment(
            channel=bank, data=data(account), created_by="t", now=datetime.now(UTC)
        )

    receipts, errors = run_in_threads(12, post)
    assert errors == []
    assert Payment.objects.count() == 1
    assert {r.payment_id for r in receipts} == {Payment.objects.get().id}
    assert sorted(r.replayed for r in receipts) == [False] + [True] * 11
    assert {r.balance_after for r in receipts} == {Money.of(250_000, "VND")}
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert get_balance(account_id=account.id) == Money.of(250_000, "VND")


def test_one_transaction_id_sent_for_two_accounts_at_once_posts_one_and_refuses_the_other():
    utility = UtilityFactory()
    bank = channel(utility.id, "vietcombank")
    first, second = AccountFactory(utility=utility), AccountFactory(utility=utility)
    for account in (first, second):
        bill(account.id, 400_000, date(2025, 5, 20), "HD-2025-05")

    def post(index):
        account = (first, second)[index % 2]
        return operations.post_payment(
            channel=bank, data=data(account), created_by="t", now=datetime.now(UTC)
        )

    receipts, errors = run_in_threads(8, post)
    assert Payment.objects.count() == 1
    winner = Payment.objects.get().account_id
    assert len(receipts) == 4 and len(errors) == 4
    assert {type(e) for e in errors} == {operations.TransactionIdReused}
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    loser = second if winner == first.id else first
    assert get_balance(account_id=loser.id) == Money.of(400_000, "VND")


CHILD = """
import json, os, sys
from datetime import UTC, datetime
from decimal import Decimal
import django
django.setup()
from ampere.payments import operations, queries
from ampere.payments.types import PaymentInput
print("ready", flush=True)
sys.stdin.readline()
receipt = operations.post_payment(
    channel=queries.get_channel(code=sys.argv[1]),
    data=PaymentInput(
        transaction_id="T-1",
        account_number=sys.argv[2],
        amount=Decimal(150000),
        currency="VND",
        received_at=datetime(2025, 6, 2, 2, 30, tzinfo=UTC),
    ),
    created_by="process-%d" % os.getpid(),
    now=datetime.now(UTC),
)
print(json.dumps({"id": receipt.payment_id, "replayed": receipt.replayed}), flush=True)
"""


def database_url() -> str:
    settings = connection.settings_dict
    return (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )


@pytest.mark.slow
def test_duplicates_from_many_processes_post_one_payment():
    utility = UtilityFactory()
    channel(utility.id, "vietcombank")
    account = AccountFactory(utility=utility)
    bill(account.id, 400_000, date(2025, 5, 20), "HD-2025-05")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "ampere.config.settings",
    }
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, "vietcombank", account.number],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(6)
    ]
    for child in children:  # all set up: release them together
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    answers = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        answers.append(json.loads(out.strip().splitlines()[-1]))
    assert Payment.objects.count() == 1
    assert {a["id"] for a in answers} == {Payment.objects.get().id}
    assert sorted(a["replayed"] for a in answers) == [False] + [True] * 5
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert get_balance(account_id=account.id) == Money.of(250_000, "VND")
