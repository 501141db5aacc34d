"""Portal payments through a payment gateway.

The portal starts a checkout (``start_checkout``): Ampere asks the channel's gateway adapter for
a payment session and sends the customer to the gateway's page. The gateway then notifies
Ampere of the result (a signed webhook, ``receive_notification``): a captured payment is posted
exactly once by the gateway's transaction id — a notification delivered twice posts nothing
more — and a declined one marks the checkout failed.

``SimulatedGateway`` is a local gateway for development and tests: a stateless payment page
(the session id carries the amount, signed), test cards that are captured or declined, and
notifications signed like a real gateway's. A gateway channel should keep credit on account:
the money is captured before Ampere hears of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.db import transaction
from stdnum import luhn

from ampere.accounts.queries import find_account
from ampere.core.errors import InvalidInput, NotFound
from ampere.core.money import Money
from ampere.payments import operations
from ampere.payments.models import ChannelKind, Checkout, CheckoutStatus, PaymentMethod
from ampere.payments.types import ChannelPolicy, PaymentInput, receipt_number


class NotificationRefused(InvalidInput):
    """A notification that is not from the gateway, or does not fit its checkout."""

    code = "notification-refused"


class CheckoutNotFound(NotFound):
    code = "checkout-not-found"


@dataclass(frozen=True)
class GatewaySession:
    session_id: str
    redirect_url: str


@dataclass(frozen=True)
class GatewayNotification:
    session_id: str
    transaction_id: str
    status: str  # captured or declined
    amount: Money
    at: datetime
    reason: str = ""


class GatewayAdapter(Protocol):
    """What Ampere needs of a payment gateway."""

    def create_session(self, *, reference: str, amount: Money, return_url: str) -> GatewaySession:
        """A payment session for the checkout and the page to send the customer to."""
        ...

    def parse_notification(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayNotification:
        """Check a notification is the gateway's and read it; raises NotificationRefused."""
        ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SimulatedGateway:
    """A local card gateway: test cards 4000000000000002 (declined) and 4000000000009995
    (insufficient funds) are refused, any other card number passing the Luhn check is
    captured."""

    SIGNATURE_HEADER = "X-Simulator-Signature"
    DECLINED: ClassVar[dict[str, str]] = {
        "4000000000000002": "card declined",
        "4000000000009995": "insufficient funds",
    }

    def __init__(self, *, channel_code: str, secret: bytes, page_url: str) -> None:
        self.channel_code = channel_code
        self.secret = secret
        self.page_url = page_url.rstrip("/")

    def _sign(self, data: bytes) -> str:
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()

    def create_session(self, *, reference: str, amount: Money, return_url: str) -> GatewaySession:
        claims = json.dumps(
            {
                "channel": self.channel_code,
                "reference": reference,
                "amount": str(amount.amount),
                "currency": amount.currency.code,
                "return_url": return_url,
            },
            separators=(",", ":"),
        ).encode()
        session_id = f"{_b64(claims)}.{self._sign(claims)[:32]}"
        return GatewaySession(session_id, f"{self.page_url}/{session_id}")

    def session(self, session_id: str) -> dict[str, Any]:
        """What the payment page shows; raises NotificationRefused for a forged session."""
        claims_text, _, signature = session_id.partition(".")
        try:
            claims = _unb64(claims_text)
        except ValueError:
            raise NotificationRefused("not a session of this gateway", field="session") from None
        if not hmac.compare_digest(self._sign(claims)[:32], signature):
            raise NotificationRefused("not a session of this gateway", field="session")
        found: dict[str, Any] = json.loads(claims)
        return found

    def pay(
        self, *, session_id: str, card_number: str, now: datetime
    ) -> tuple[bytes, dict[str, str]]:
        """The customer pays on the page: the notification the gateway sends Ampere (body and
        headers). Raises InvalidInput for a card number that is not one."""
        claims = self.session(session_id)
        card = "".join(card_number.split())
        if not card.isdigit() or not 12 <= len(card) <= 19 or not luhn.is_valid(card):
            raise InvalidInput("not a card number", field="card_number")
        reason = self.DECLINED.get(card, "")
        transaction_id = "sim_" + self._sign(f"{session_id}:{card}".encode())[:24]
        body = json.dumps(
            {
                "session": session_id,
                "transaction": transaction_id,
                "status": "declined" if reason else "captured",
                "amount": claims["amount"],
                "currency": claims["currency"],
                "at": now.isoformat(),
                "reason": reason,
            },
            separators=(",", ":"),
        ).encode()
        return body, {self.SIGNATURE_HEADER: self._sign(body)}

    def parse_notification(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayNotification:
        signature = headers.get(self.SIGNATURE_HEADER, "")
        if not hmac.compare_digest(self._sign(body), signature):
            raise NotificationRefused(
                "the notification's signature does not match", field="signature"
            )
        try:
            data = json.loads(body)
            return GatewayNotification(
                session_id=data["session"],
                transaction_id=data["transaction"],
                status=data["status"],
                amount=Money.of(Decimal(data["amount"]), data["currency"]),
                at=datetime.fromisoformat(data["at"]),
                reason=data.get("reason", ""),
            )
        except (ValueError, KeyError, TypeError, InvalidOperation):
            raise NotificationRefused("the notification cannot be read", field="body") from None


SIMULATOR_PAGE = "/api/v1/payments/gateway-simulator"


def adapter_for(channel: ChannelPolicy) -> GatewayAdapter:
    """The channel's gateway adapter; raises InvalidInput for a channel without one."""
    if channel.kind != ChannelKind.GATEWAY:
        raise InvalidInput(f"{channel.code} is not a gateway channel", field="channel")
    if channel.gateway == "simulator":
        return simulator_for(channel)
    raise InvalidInput(f"no gateway adapter named {channel.gateway!r}", field="channel")


def simulator_for(channel: ChannelPolicy) -> SimulatedGateway:
    secret = hmac.new(
        settings.SECRET_KEY.encode(), f"gateway-simulator:{channel.code}".encode(), hashlib.sha256
    ).digest()
    return SimulatedGateway(channel_code=channel.code, secret=secret, page_url=SIMULATOR_PAGE)


@dataclass(frozen=True)
class CheckoutInfo:
    reference: str
    channel: str
    account_number: str
    amount: Money
    status: str
    redirect_url: str
    return_url: str
    failure_reason: str
    receipt_number: str


def _info(checkout: Checkout, redirect_url: str = "") -> CheckoutInfo:
    return CheckoutInfo(
        reference=checkout.reference,
        channel=checkout.channel.code,
        account_number=checkout.account.number,
        amount=Money.of(checkout.amount, checkout.currency).rounded(),
        status=checkout.status,
        redirect_url=redirect_url,
        return_url=checkout.return_url,
        failure_reason=checkout.failure_reason,
        receipt_number="" if checkout.payment_id is None else receipt_number(checkout.payment_id),
    )


def start_checkout(
    *, channel: ChannelPolicy, account_number: str, amount: Money, return_url: str, now: datetime
) -> CheckoutInfo:
    """Start a portal payment: a gateway session for the amount, and where to send the
    customer. Raises InvalidInput, AccountNotFound."""
    adapter = adapter_for(channel)
    if amount.currency.code != channel.currency or amount.amount <= 0 or not amount.is_rounded():
        raise InvalidInput(f"pay a positive amount in {channel.currency}", field="amount")
    if len(return_url) > 400:
        raise InvalidInput("at most 400 characters", field="return_url")
    account = find_account(number=account_number, utility_code=channel.utility_code)
    reference = f"CO{secrets.token_hex(8).upper()}"
    session = adapter.create_session(reference=reference, amount=amount, return_url=return_url)
    checkout = Checkout.objects.create(
        channel_id=channel.id,
        account_id=account.id,
        reference=reference,
        gateway_session=session.session_id,
        amount=amount.amount,
        currency=amount.currency.code,
        return_url=return_url,
        created_at=now,
    )
    return _info(
        Checkout.objects.select_related("channel", "account").get(id=checkout.id),
        session.redirect_url,
    )


def get_checkout(*, reference: str) -> CheckoutInfo:
    checkout = Checkout.objects.select_related("channel", "account").filter(reference=reference)
    found = checkout.first()
    if found is None:
        raise CheckoutNotFound(f"no checkout {reference}", field="checkout")
    return _info(found)


def receive_notification(
    *, channel: ChannelPolicy, body: bytes, headers: Mapping[str, str], now: datetime
) -> CheckoutInfo:
    """Act on the gateway's notification: post a captured payment exactly once, or mark the
    checkout failed. Delivered again, it changes nothing. Raises NotificationRefused,
    CheckoutNotFound."""
    note = adapter_for(channel).parse_notification(body=body, headers=headers)
    found = (
        Checkout.objects.filter(channel_id=channel.id, gateway_session=note.session_id)
        .select_related("account")
        .first()
    )
    if found is None:
        raise CheckoutNotFound("no checkout for this session", field="session")
    expected = Money.of(found.amount, found.currency)
    if note.amount != expected:
        raise NotificationRefused(
            f"the gateway reports {note.amount}, the checkout is for {expected.rounded()}",
            field="amount",
        )
    failure = ""
    payment_id: int | None = None
    if note.status == "captured":
        try:
            payment_id = operations.post_payment(
                channel=channel,
                data=PaymentInput(
                    transaction_id=note.transaction_id,
                    account_number=found.account.number,
                    amount=note.amount.amount,
                    currency=note.amount.currency.code,
                    received_at=note.at,
                    method=PaymentMethod.CARD,
                ),
                created_by=f"gateway:{channel.code}"[:64],
                now=now,
            ).payment_id
        except operations.PaymentRefused as refused:
            failure = f"captured by the gateway but refused: {refused.message}"
    elif note.status == "declined":
        failure = note.reason or "declined"
    else:
        raise NotificationRefused(f"unknown status {note.status!r}", field="status")
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(id=found.id)
        if checkout.status != CheckoutStatus.PAID:
            if payment_id is not None:
                checkout.status, checkout.payment_id = CheckoutStatus.PAID, payment_id
                checkout.failure_reason = ""
            else:
                checkout.status, checkout.failure_reason = CheckoutStatus.FAILED, failure[:200]
            checkout.completed_at = now
            checkout.save(update_fields=["status", "payment", "failure_reason", "completed_at"])
        # Paid already: a second capture in the session stays a payment of its own (the money
        # was taken), and the checkout keeps its first.
    return _info(Checkout.objects.select_related("channel", "account").get(id=found.id))
