"""Reads of the accounts domain. They return plain values, never half-loaded models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NoReturn

from django.db import connection

from ampere.accounts.models import (
    Account,
    CustomerAccess,
    Holiday,
    LedgerEntry,
    LegacyAccountNumber,
    Utility,
)
from ampere.accounts.numbers import NumberScheme, validate_number
from ampere.accounts.phones import InvalidPhone, to_e164
from ampere.accounts.text import search_key
from ampere.accounts.types import AccountRef, LedgerLine, OpenItem
from ampere.core.errors import NotFound
from ampere.core.money import Money
from ampere.core.periods import DatePeriod
from ampere.database import prepared_cursor


class AccountNotFound(NotFound):
    code = "account-not-found"


class UtilityNotFound(NotFound):
    code = "utility-not-found"


def get_utility_id(*, code: str) -> int:
    found = Utility.objects.filter(code=code).values_list("id", flat=True).first()
    if found is None:
        raise UtilityNotFound(f"no utility with code {code!r}", field="utility")
    return found


def _normalise(number: str) -> str:
    return "".join(number.split()).replace("-", "").upper()


# The rule (a new number wins over a legacy one) is the SQL function of migration 0005, shared
# with the payment posting function.
_FIND_SQL = "SELECT * FROM accounts_find_account(%s, %s, %s)"


def account_number_forms(number: str) -> tuple[str, str]:
    """(normalised, as given but stripped): a new number is looked up normalised, a legacy
    number either way."""
    return _normalise(number), number.strip()


def find_account(*, number: str, utility_code: str | None = None) -> AccountRef:
    """The account with this number, new or legacy, in one query (a new number wins).

    Raises AccountNotFound, or InvalidAccountNumber when a new-format number fails its check
    digit (a mistyped number is told as such, not as "not found").
    """
    cleaned, as_given = account_number_forms(number)
    with prepared_cursor() as cursor:
        cursor.execute(_FIND_SQL, [cleaned, as_given, utility_code])
        row = cursor.fetchone()
    if row is None:
        raise_account_not_found(number=number, utility_code=utility_code)
    return AccountRef(
        row[1], row[2], row[3], row[4], row[5], matched_by="number" if row[0] == 0 else "legacy"
    )


def raise_account_not_found(*, number: str, utility_code: str | None) -> NoReturn:
    """Why no account has this number: InvalidAccountNumber when a new-format number fails its
    check digit, else AccountNotFound."""
    cleaned = _normalise(number)
    utilities = Utility.objects.all()
    if utility_code is not None:
        utilities = utilities.filter(code=utility_code)
    for scheme, prefix in utilities.values_list("number_scheme", "number_prefix"):
        if cleaned.startswith(prefix):
            validate_number(cleaned, scheme=NumberScheme(scheme), prefix=prefix)
    raise AccountNotFound(f"no account with number {number!r}", field="account_number")


_FIND_MANY_SQL = """
    SELECT n.given, a.id, a.number, u.id, u.code, u.currency,
           CASE WHEN a.by_number THEN 'number' ELSE 'legacy' END
    FROM unnest(%s::varchar[], %s::varchar[]) AS n(given, cleaned)
    JOIN accounts_utility u ON u.code = %s
    JOIN LATERAL (
        SELECT * FROM (
            SELECT TRUE AS by_number, a.id, a.number FROM accounts_account a
            WHERE a.utility_id = u.id AND a.number = n.cleaned
            UNION ALL
            SELECT FALSE, a.id, a.number FROM accounts_legacyaccountnumber l
            JOIN accounts_account a ON a.id = l.account_id
            WHERE l.utility_id = u.id AND l.number IN (n.given, n.cleaned)
        ) found
        ORDER BY by_number DESC
        LIMIT 1
    ) a ON TRUE
"""


def find_accounts(*, numbers: Iterable[str], utility_code: str) -> dict[str, AccountRef]:
    """Many accounts by new or legacy number in one query (files of payments): the numbers
    found, as given, with their accounts. Use ``find_account`` to say why one is missing."""
    given = sorted({n.strip() for n in numbers if n.strip()})
    if not given:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_FIND_MANY_SQL, [given, [_normalise(n) for n in given], utility_code])
        return {
            row[0]: AccountRef(row[1], row[2], row[3], row[4], row[5], matched_by=row[6])
            for row in cursor.fetchall()
        }


def get_balance(*, account_id: int) -> Money:
    """The account balance: the sum of its ledger entries, computed by PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT u.currency, COALESCE(SUM(e.amount), 0)
            FROM accounts_account a
            JOIN accounts_utility u ON u.id = a.utility_id
            LEFT JOIN accounts_ledgerentry e ON e.account_id = a.id
            WHERE a.id = %s
            GROUP BY u.currency
            """,
            [account_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise AccountNotFound(f"no account with id {account_id}", field="account")
    currency, amount = row
    return Money.of(amount, currency).rounded()


def get_ledger(
    *, account_id: int, limit: int = 100, before_id: int | None = None
) -> list[LedgerLine]:
    """The newest ``limit`` entries (newest first), paged by id."""
    entries = LedgerEntry.objects.filter(account_id=account_id)
    if before_id is not None:
        entries = entries.filter(id__lt=before_id)
    rows = entries.order_by("-id").values_list(
        "id",
        "kind",
        "amount",
        "currency",
        "posted_at",
        "value_date",
        "due_date",
        "source_type",
        "source_id",
        "description",
        "reverses_id",
    )[:limit]
    return [
        LedgerLine(
            id=r[0],
            kind=r[1],
            amount=Money.of(r[2], r[3]).rounded(),
            posted_at=r[4],
            value_date=r[5],
            due_date=r[6],
            source_type=r[7],
            source_id=r[8],
            description=r[9],
            reverses_id=r[10],
        )
        for r in rows
    ]


def get_holidays(*, utility_id: int, period: DatePeriod) -> frozenset[date]:
    days = Holiday.objects.filter(utility_id=utility_id, date__gte=period.start)
    if period.end is not None:
        days = days.filter(date__lt=period.end)
    return frozenset(days.values_list("date", flat=True))


def get_open_items(*, account_id: int) -> list[OpenItem]:
    """Debits with an open amount, oldest due first (what a payment would settle next)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.id, e.kind, e.source_type, e.source_id, e.due_date, e.amount, e.currency,
                   e.amount - COALESCE(SUM(a.amount), 0)
            FROM accounts_ledgerentry e
            LEFT JOIN accounts_ledgerallocation a ON a.debit_entry_id = e.id
            WHERE e.account_id = %s AND e.amount > 0
            GROUP BY e.id
            HAVING e.amount - COALESCE(SUM(a.amount), 0) > 0
            ORDER BY e.due_date NULLS LAST, e.value_date, e.id
            """,
            [account_id],
        )
        rows = cursor.fetchall()
    return [
        OpenItem(
            entry_id=r[0],
            kind=r[1],
            source_type=r[2],
            source_id=r[3],
            due_date=r[4],
            original=Money.of(r[5], r[6]).rounded(),
            open=Money.of(r[7], r[6]).rounded(),
        )
        for r in rows
    ]


def get_unallocated_credit(*, account_id: int) -> Money:
    """Credit on the account not yet set against any debit (overpayments)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT u.currency, COALESCE(SUM(open_amount), 0) FROM accounts_account acc
            JOIN accounts_utility u ON u.id = acc.utility_id
            LEFT JOIN (
                SELECT e.account_id, -e.amount - COALESCE(SUM(a.amount), 0) AS open_amount
                FROM accounts_ledgerentry e
                LEFT JOIN accounts_ledgerallocation a ON a.credit_entry_id = e.id
                WHERE e.account_id = %s AND e.amount < 0
                GROUP BY e.id
            ) c ON c.account_id = acc.id
            WHERE acc.id = %s
            GROUP BY u.currency
            """,
            [account_id, account_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise AccountNotFound(f"no account with id {account_id}", field="account")
    return Money.of(row[1], row[0]).rounded()


def search_account_ids(*, term: str, limit: int = 200) -> list[int]:
    """Accounts matching a free-text term: an account number, a legacy number, a phone number
    (any common way of writing it, Vietnamese or US), or part of a customer's name with or
    without diacritics. Each way is one indexed query."""
    cleaned = term.strip()
    if not cleaned:
        return []
    found: list[int] = []

    def add(ids: Iterable[int]) -> None:
        for account_id in ids:
            if account_id not in found:
                found.append(account_id)

    compact = _normalise(cleaned)
    add(Account.objects.filter(number=compact).values_list("id", flat=True)[:limit])
    add(
        LegacyAccountNumber.objects.filter(number__in={cleaned, compact}).values_list(
            "account_id", flat=True
        )[:limit]
    )
    phones = _phone_candidates(cleaned)
    if phones:
        add(
            Account.objects.filter(customer__phones__number__in=phones)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
    key = search_key(cleaned)
    if len(key) >= 3 and len(found) < limit:
        add(
            Account.objects.filter(customer__search_name__contains=key)
            .order_by("id")
            .values_list("id", flat=True)[: limit - len(found)]
        )
    return found[:limit]


def _phone_candidates(term: str) -> set[str]:
    digits = "".join(c for c in term if c.isdigit() or c == "+")
    if len(digits.lstrip("+")) < 7:
        return set()
    candidates = set()
    for region in ("VN", "US"):
        try:
            candidates.add(to_e164(digits, country_code=region))
        except InvalidPhone:
            continue
    return candidates


def get_customer_ids_for_user(*, user_id: int) -> frozenset[int]:
    """The customers a login may act for."""
    return frozenset(
        CustomerAccess.objects.filter(user_id=user_id).values_list("customer_id", flat=True)
    )


def get_account_customer_id(*, account_id: int) -> int | None:
    return Account.objects.filter(id=account_id).values_list("customer_id", flat=True).first()


@dataclass(frozen=True)
class AccountSummary:
    id: int
    number: str
    utility_code: str
    customer_name: str
    status: str
    opened_on: date
    balance: Money
    open_items: list[OpenItem]


def get_account_summary(*, account_id: int) -> AccountSummary:
    """Number, holder, balance and open items of one account (three queries)."""
    row = (
        Account.objects.filter(id=account_id)
        .values_list("id", "number", "utility__code", "customer__name", "status", "opened_on")
        .first()
    )
    if row is None:
        raise AccountNotFound(f"no account with id {account_id}", field="account")
    return AccountSummary(
        *row,
        balance=get_balance(account_id=account_id),
        open_items=get_open_items(account_id=account_id),
    )


@dataclass(frozen=True)
class AccountListItem:
    id: int
    number: str
    utility_code: str
    customer_name: str
    status: str


def list_accounts(
    *, customer_ids: frozenset[int] | None, account_ids: list[int] | None, limit: int, offset: int
) -> list[AccountListItem]:
    """Accounts of some customers, or of given ids (a search), ordered by number, paged."""
    accounts = Account.objects.all()
    if customer_ids is not None:
        accounts = accounts.filter(customer_id__in=customer_ids)
    if account_ids is not None:
        accounts = accounts.filter(id__in=account_ids)
    rows = accounts.order_by("number").values_list(
        "id", "number", "utility__code", "customer__name", "status"
    )[offset : offset + limit]
    return [AccountListItem(*r) for r in rows]
