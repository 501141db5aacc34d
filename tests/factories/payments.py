"""Set-ups for payment tests: channels with their partner clients, bills on the ledger."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ampere.accounts import ledger
from ampere.core.money import Money
from ampere.payments.operations import create_channel
from ampere.payments.types import ChannelPolicy
from tests.factories.partners import PartnerClient

BILLED_AT = datetime(2025, 5, 1, 1, 0, tzinfo=UTC)


def channel(
    utility_id: int,
    code: str,
    *,
    kind: str = "bank",
    partner: bool = False,
    accepts_credit: bool = False,
    fee: Decimal = Decimal(0),
    gateway: str = "",
) -> ChannelPolicy:
    return create_channel(
        utility_id=utility_id,
        code=code,
        name=code.replace("-", " ").title(),
        kind=kind,
        partner_code=code if partner else "",
        accepts_credit_on_account=accepts_credit,
        reversal_fee=fee,
        gateway=gateway,
    )


class RetryingPartnerClient(PartnerClient):
    """Signs each request at a new second, as a partner retrying a request does: the same
    signed bytes twice are a replay (refused), a re-signed retry reaches the payment."""

    _last_stamp = 0

    def request(self, method: str, path: str, payload: Any = None, **kwargs: Any) -> Any:
        if kwargs.get("timestamp") is None:
            self._last_stamp = max(int(time.time()), self._last_stamp + 1)
            kwargs["timestamp"] = self._last_stamp
        return super().request(method, path, payload, **kwargs)


def partner_channel(
    utility_id: int,
    code: str = "test-bank",
    *,
    kind: str = "bank",
    accepts_credit: bool = False,
    fee: Decimal = Decimal(0),
) -> tuple[RetryingPartnerClient, ChannelPolicy]:
    """A partner client (signing requests) and the channel it posts through."""
    client = RetryingPartnerClient(utility_id=utility_id, scopes=["payments"], code=code)
    return client, channel(
        utility_id, code, kind=kind, partner=True, accepts_credit=accepts_credit, fee=fee
    )


def bill(
    account_id: int,
    amount: int | str,
    due: date,
    number: str,
    *,
    currency: str = "VND",
) -> int:
    """A bill's charge on the ledger as billing posts it (source_type "bill")."""
    return ledger.post_entry(
        account_id=account_id,
        kind="charge",
        amount=Money.of(amount, currency),
        value_date=date(due.year, due.month, 1),
        due_date=due,
        source_type="bill",
        source_id=number,
        created_by="billing",
        now=BILLED_AT,
    ).id
