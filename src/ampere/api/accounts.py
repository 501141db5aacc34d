"""Accounts for people: a customer's own accounts, staff search; balance, open items, ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from ampere.accounts import queries
from ampere.api.auth import PortalAuth, caller_of, require_account_access

router = Router(tags=["accounts"], auth=PortalAuth())


class AccountOut(Schema):
    id: int
    number: str
    utility: str
    customer_name: str
    status: str


class OpenItemOut(Schema):
    entry_id: int
    source_type: str
    source_id: str
    due_date: date | None
    original: Decimal
    open: Decimal


class AccountSummaryOut(AccountOut):
    opened_on: date
    currency: str
    balance: Decimal
    open_items: list[OpenItemOut]


class LedgerLineOut(Schema):
    id: int
    kind: str
    amount: Decimal
    currency: str
    posted_at: datetime
    value_date: date
    due_date: date | None
    source_type: str
    source_id: str
    description: str
    reverses_id: int | None


class Page(Schema):
    limit: int = 50
    offset: int = 0


def _page(page: Page) -> None:
    if not 1 <= page.limit <= 200:
        raise HttpError(422, "limit must be between 1 and 200")
    if page.offset < 0:
        raise HttpError(422, "offset must not be negative")


@router.get("/", response=list[AccountOut])
def list_accounts(
    request: HttpRequest,
    q: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[AccountOut]:
    """A customer's own accounts; staff search by number, legacy number, phone or name (``q``)."""
    caller = caller_of(request)
    _page(Page(limit=limit, offset=offset))
    if caller.is_staff:
        if not q.strip():
            raise HttpError(422, "q: staff list accounts by a search term")
        ids = queries.search_account_ids(term=q, limit=offset + limit)
        items = queries.list_accounts(
            customer_ids=None, account_ids=ids, limit=limit, offset=offset
        )
    else:
        items = queries.list_accounts(
            customer_ids=caller.customer_ids, account_ids=None, limit=limit, offset=offset
        )
    return [
        AccountOut(
            id=i.id,
            number=i.number,
            utility=i.utility_code,
            customer_name=i.customer_name,
            status=i.status,
        )
        for i in items
    ]


@router.get("/{account_id}", response=AccountSummaryOut)
def account_summary(request: HttpRequest, account_id: int) -> AccountSummaryOut:
    """Balance and open items (bills not fully paid, oldest due first)."""
    require_account_access(request, account_id)
    s = queries.get_account_summary(account_id=account_id)
    return AccountSummaryOut(
        id=s.id,
        number=s.number,
        utility=s.utility_code,
        customer_name=s.customer_name,
        status=s.status,
        opened_on=s.opened_on,
        currency=s.balance.currency.code,
        balance=s.balance.amount,
        open_items=[
            OpenItemOut(
                entry_id=i.entry_id,
                source_type=i.source_type,
                source_id=i.source_id,
                due_date=i.due_date,
                original=i.original.amount,
                open=i.open.amount,
            )
            for i in s.open_items
        ],
    )


@router.get("/{account_id}/ledger", response=list[LedgerLineOut])
def account_ledger(
    request: HttpRequest, account_id: int, limit: int = 50, before_id: int | None = None
) -> list[LedgerLineOut]:
    """Ledger entries, newest first; page with ``before_id`` (the last id you received)."""
    require_account_access(request, account_id)
    _page(Page(limit=limit))
    return [
        LedgerLineOut(
            id=line.id,
            kind=line.kind,
            amount=line.amount.amount,
            currency=line.amount.currency.code,
            posted_at=line.posted_at,
            value_date=line.value_date,
            due_date=line.due_date,
            source_type=line.source_type,
            source_id=line.source_id,
            description=line.description,
            reverses_id=line.reverses_id,
        )
        for line in queries.get_ledger(account_id=account_id, limit=limit, before_id=before_id)
    ]
