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
    OrganisationUnit,
    Utility,
)
from ampere.accounts.numbers import NumberScheme, validate_number
from ampere.accounts.phones import InvalidPhone, to_e164
from ampere.accounts.text import search_key
from ampere.accounts.types import AccountRef, LedgerLine, OpenItem
from ampere.core.errors import InvalidInput, NotFound
from ampere.core.i18n import _
from ampere.core.money import Money
from ampere.core.periods import DatePeriod
from ampere.database import prepared_cursor


class AccountNotFound(NotFound):
    code = "account-not-found"


class UtilityNotFound(NotFound):
    code = "utility-not-found"


class UnitNotFound(NotFound):
    code = "unit-not-found"


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


@dataclass(frozen=True)
class UtilityInfo:
    """What a page needs of a utility: its names, country, currency, zone and language."""

    id: int
    code: str
    name: str
    short_name: str
    country_code: str
    currency: str
    time_zone: str
    default_language: str


_UTILITY_INFO_FIELDS = (
    "id",
    "code",
    "name",
    "short_name",
    "country_code",
    "currency",
    "time_zone",
    "default_language",
)


def find_utility_info(*, codes: Iterable[str]) -> UtilityInfo | None:
    """The utility whose code is first (alphabetically) among ``codes``, or None; one query
    (``codes`` may be a query set of names, which becomes a subquery)."""
    row = (
        Utility.objects.filter(code__in=codes)
        .order_by("code")
        .values_list(*_UTILITY_INFO_FIELDS)
        .first()
    )
    return None if row is None else UtilityInfo(*row)


def get_customers_utility_info(*, customer_ids: Iterable[int]) -> UtilityInfo | None:
    """The utility of the customers (the one of the lowest customer id when they are of
    several), or None when there are none; one query."""
    row = (
        Utility.objects.filter(customer__id__in=list(customer_ids))
        .order_by("customer__id")
        .values_list(*_UTILITY_INFO_FIELDS)
        .first()
    )
    return None if row is None else UtilityInfo(*row)


@dataclass(frozen=True)
class UtilityAccountRow:
    id: int
    number: str
    customer_name: str
    status: str
    opened_on: date
    balance: Money


@dataclass(frozen=True)
class UtilityAccountPage:
    """One page of a utility's accounts by number; ``has_before`` / ``has_after`` say whether
    pages lie before the first row and after the last."""

    rows: list[UtilityAccountRow]
    has_before: bool
    has_after: bool


# Keyset paging in number order, forwards (after a number) or backwards (before one); each a
# walk of the account number index.
_UTILITY_ACCOUNTS_SQL = """
    SELECT a.id, a.number, c.name, a.status, a.opened_on,
           (SELECT COALESCE(SUM(e.amount), 0) FROM accounts_ledgerentry e
            WHERE e.account_id = a.id)
    FROM accounts_account a
    JOIN accounts_customer c ON c.id = a.customer_id
    WHERE a.utility_id = %(utility)s AND a.number {comparison} %(key)s
    ORDER BY a.number {direction}
    LIMIT %(limit)s
"""
_UTILITY_ACCOUNTS_FORWARD_SQL = _UTILITY_ACCOUNTS_SQL.format(comparison=">", direction="ASC")
_UTILITY_ACCOUNTS_BACKWARD_SQL = _UTILITY_ACCOUNTS_SQL.format(comparison="<", direction="DESC")


def list_utility_accounts(
    *,
    utility_id: int,
    limit: int = 25,
    after_number: str | None = None,
    before_number: str | None = None,
) -> UtilityAccountPage:
    """A page of the utility's accounts in number order with their balances: the first page,
    the page after ``after_number`` or the page before ``before_number`` (keyset paging, an
    index walk at any depth). Two queries: the rows and the utility's currency."""
    if limit < 1 or limit > 200:
        raise InvalidInput(_("a page holds 1 to 200 rows"), field="limit")
    with connection.cursor() as cursor:
        backwards = before_number is not None and after_number is None
        cursor.execute(
            _UTILITY_ACCOUNTS_BACKWARD_SQL if backwards else _UTILITY_ACCOUNTS_FORWARD_SQL,
            {
                "utility": utility_id,
                "key": before_number if backwards else (after_number or ""),
                "limit": limit + 1,
            },
        )
        fetched = cursor.fetchall()
        cursor.execute("SELECT currency FROM accounts_utility WHERE id = %s", [utility_id])
        found = cursor.fetchone()
    if found is None:
        raise UtilityNotFound(
            _("no utility with id {utility_id}"), field="utility", params={"utility_id": utility_id}
        )
    currency = found[0]
    more = len(fetched) > limit
    fetched = fetched[:limit]
    if backwards:
        fetched.reverse()
    return UtilityAccountPage(
        rows=[
            UtilityAccountRow(r[0], r[1], r[2], r[3], r[4], Money.of(r[5], currency).rounded())
            for r in fetched
        ],
        has_before=more if backwards else after_number is not None,
        has_after=True if backwards else more,
    )


# --- organisation units --------------------------------------------------------------------


class UnitParentOfAnotherUtility(InvalidInput):
    """A unit's parent must belong to the unit's utility."""

    code = "unit-parent-of-another-utility"


class UnitParentOnWrongLevel(InvalidInput):
    """A unit's parent is on the level just above the unit's."""

    code = "unit-parent-on-wrong-level"


class UnitCycle(InvalidInput):
    """A unit cannot be placed under itself or under a unit below it."""

    code = "unit-cycle"


def check_unit_placement(
    *, utility_id: int, rank: int, parent_id: int | None, unit_id: int | None = None
) -> None:
    """Refuse a parent that is missing, of another utility, the unit itself or below it, or
    not on the level just above ``rank``; ``unit_id`` is the unit being moved (none for a new
    unit). Raises UnitNotFound, UnitParentOfAnotherUtility, UnitCycle, UnitParentOnWrongLevel."""
    if parent_id is None:
        if rank != 1:
            raise UnitParentOnWrongLevel(
                _("a unit below the top level needs a parent unit"), field="parent"
            )
        return
    parent = (
        OrganisationUnit.objects.filter(id=parent_id).values("utility_id", "rank", "code").first()
    )
    if parent is None:
        raise UnitNotFound(
            _("no organisation unit with id {unit_id}"),
            field="parent",
            params={"unit_id": parent_id},
        )
    if parent["utility_id"] != utility_id:
        raise UnitParentOfAnotherUtility(
            _("the parent unit {parent} belongs to another utility"),
            field="parent",
            params={"parent": parent["code"]},
        )
    if unit_id is not None and parent_id in get_unit_ids_under(unit_id=unit_id):
        raise UnitCycle(
            _("unit {parent} is the unit itself or below it: the tree would have a cycle"),
            field="parent",
            params={"parent": parent["code"]},
        )
    if parent["rank"] != rank - 1:
        raise UnitParentOnWrongLevel(
            _("the parent unit {parent} is not on the level just above the unit's"),
            field="parent",
            params={"parent": parent["code"]},
        )


_UNITS_UNDER_SQL = """
    WITH RECURSIVE tree(id) AS (
        SELECT id FROM accounts_organisationunit WHERE id = ANY(%s)
        UNION
        SELECT child.id FROM accounts_organisationunit child JOIN tree ON child.parent_id = tree.id
    )
    SELECT id FROM tree
"""


def get_unit_ids_under(*, unit_id: int) -> frozenset[int]:
    """The unit and every unit below it (a supervisor's scope), in one query; empty for an
    unknown unit."""
    return get_unit_ids_under_any(unit_ids=[unit_id])


def get_unit_ids_under_any(*, unit_ids: Iterable[int]) -> frozenset[int]:
    """The units and every unit below any of them, in one query."""
    wanted = sorted(set(unit_ids))
    if not wanted:
        return frozenset()
    with connection.cursor() as cursor:
        cursor.execute(_UNITS_UNDER_SQL, [wanted])
        return frozenset(row[0] for row in cursor.fetchall())


@dataclass(frozen=True)
class UnitInfo:
    id: int
    utility_code: str
    code: str
    name: str
    level_code: str
    level_name: str
    rank: int
    parent_id: int | None
    time_zone: str


def get_units(*, utility_code: str) -> list[UnitInfo]:
    """Every unit of a utility, top level first then by code (one query)."""
    rows = (
        OrganisationUnit.objects.filter(utility__code=utility_code)
        .order_by("rank", "code")
        .values_list(
            "id",
            "utility__code",
            "code",
            "name",
            "level__code",
            "level__name",
            "rank",
            "parent_id",
            "time_zone",
            "utility__time_zone",
        )
    )
    return [UnitInfo(*r[:8], time_zone=r[8] or r[9]) for r in rows]
