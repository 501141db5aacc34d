from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ampere.accounts.queries import get_balance
from ampere.core.errors import InvalidInput
from ampere.core.money import Money
from ampere.payments import gateway
from ampere.payments.models import Checkout, Payment
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def portal():
    return channel(
        UtilityFactory().id, "portal-card", kind="gateway", accepts_credit=True, gateway="simulator"
    )


def start(portal, account, amount=250_000):
    return gateway.start_checkout(
        channel=portal,
        account_number=account.number,
        amount=Money.of(amount, "VND"),
        return_url="https://portal.example/pay/done",
        now=NOW,
    )


def test_a_captured_card_payment_is_posted_once_however_often_it_is_notified(portal):
    account = AccountFactory(utility_id=portal.utility_id)
    bill(account.id, 250_000, date(2025, 6, 10), "HD-1")
    checkout = start(portal, account)
    assert checkout.status == "open"
    session_id = checkout.redirect_url.rsplit("/", 1)[1]
    assert checkout.redirect_url == f"/api/v1/payments/gateway-simulator/{session_id}"
    simulator = gateway.simulator_for(portal)
    body, headers = simulator.pay(session_id=session_id, card_number="4242 4242 4242 4242", now=NOW)
    paid = gateway.receive_notification(channel=portal, body=body, headers=headers, now=NOW)
    assert (paid.status, paid.receipt_number) == (
        "paid",
        f"R{Payment.objects.get().id:010d}",
    )
    again = gateway.receive_notification(channel=portal, body=body, headers=headers, now=NOW)
    assert again == paid
    assert Payment.objects.count() == 1
    payment = Payment.objects.get()
    assert (payment.method, payment.amount, payment.external_reference[:4]) == (
        "card",
        Decimal(250_000),
        "sim_",
    )
    assert get_balance(account_id=account.id) == Money.of(0, "VND")


def test_a_declined_card_fails_the_checkout_and_posts_nothing(portal):
    account = AccountFactory(utility_id=portal.utility_id)
    checkout = start(portal, account)
    session_id = checkout.redirect_url.rsplit("/", 1)[1]
    body, headers = gateway.simulator_for(portal).pay(
        session_id=session_id, card_number="4000000000000002", now=NOW
    )
    failed = gateway.receive_notification(channel=portal, body=body, headers=headers, now=NOW)
    assert (failed.status, failed.failure_reason) == ("failed", "card declined")
    assert Payment.objects.count() == 0


def test_forged_or_altered_notifications_are_refused(portal):
    account = AccountFactory(utility_id=portal.utility_id)
    checkout = start(portal, account)
    session_id = checkout.redirect_url.rsplit("/", 1)[1]
    body, headers = gateway.simulator_for(portal).pay(
        session_id=session_id, card_number="4242424242424242", now=NOW
    )
    with pytest.raises(gateway.NotificationRefused, match="signature does not match"):
        gateway.receive_notification(
            channel=portal, body=body.replace(b"250000", b"2500"), headers=headers, now=NOW
        )
    with pytest.raises(gateway.NotificationRefused, match="signature does not match"):
        gateway.receive_notification(channel=portal, body=body, headers={}, now=NOW)
    with pytest.raises(InvalidInput, match="not a card number"):
        gateway.simulator_for(portal).pay(session_id=session_id, card_number="1234", now=NOW)
    assert Payment.objects.count() == 0
    assert Checkout.objects.get().status == "open"
