"""Logins and data for the console's and portal's tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.contrib.auth.models import Group, User

from ampere.accounts.operations import grant_customer_access
from ampere.billing.operations import create_bill
from tests.factories.billing import (
    billing_utility,
    evn_agreement,
    evn_draft,
    month,
    sce_agreement,
    sce_draft,
)

PASSWORD = "correct horse battery staple"
NOW = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


def staff_login(utility_code: str, username: str = "") -> User:
    """A staff login of ``utility_code`` (in the group named after it, until the access
    domain gives logins their utility)."""
    user = User.objects.create_user(
        username or f"staff-{utility_code}",
        password=PASSWORD,
        is_staff=True,
        first_name="Lan",
        last_name="Trần",
    )
    user.groups.add(Group.objects.get_or_create(name=utility_code)[0])
    return user


def customer_login(account_number: str, username: str = "customer") -> User:
    user = User.objects.create_user(
        username, password=PASSWORD, first_name="An", last_name="Nguyễn"
    )
    grant_customer_access(user_id=user.pk, account_number=account_number, now=NOW)
    return user


@dataclass(frozen=True)
class Billed:
    account_number: str
    account_id: int


def evn_billed_account(kwh: int = 300) -> Billed:
    """An EVN HCMC account with an issued May 2025 bill (VAT 8 %, tiers of 2025-05-10)."""
    billing_utility("evn-hcmc")
    agreement = evn_agreement()
    create_bill(
        draft=evn_draft(agreement, month(2025, 5), kwh, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="test",
    )
    return Billed(agreement.account.number, agreement.account_id)


def sce_billed_account(kwh: int = 500) -> Billed:
    billing_utility("sce")
    agreement = sce_agreement()
    create_bill(
        draft=sce_draft(agreement, month(2025, 5), kwh, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="test",
    )
    return Billed(agreement.account.number, agreement.account_id)
