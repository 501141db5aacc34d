"""Operations of the account ledger: posting, reversing, allocating credits to open items.

Every write holds the account's row lock, so one account's postings are serialised while other
accounts post in parallel. Entries and allocations are append-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction

from ampere.accounts.models import Account, EntryKind, LedgerAllocation, LedgerEntry
from ampere.core.errors import Conflict, DomainError, InvalidInput, NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.money import Money, currency


class LedgerRefused(DomainError):
    code = "ledger-refused"


POSITIVE_KINDS = frozenset({EntryKind.CHARGE, EntryKind.FEE, EntryKind.REFUND})


@dataclass(frozen=True)
class PostedEntry:
    id: int
    account_id: int
    allocated: Decimal  # how much of this entry was settled against open items at posting


@dataclass(frozen=True)
class ChargeRow:
    """One entry for bulk posting (bill runs): amount in the account's currency."""

    account_id: int
    kind: str
    amount: Decimal
    currency: str
    value_date: date
    due_date: date | None
    source_type: str
    source_id: str
    description: str = ""


def lock_account(account_id: int) -> Account:
    """Lock the account row for this transaction; raises NotFound."""
    account = (
        Account.objects.select_for_update(of=("self",))
        .select_related("utility")
        .filter(id=account_id)
        .first()
    )
    if account is None:
        raise NotFound(f"no account with id {account_id}", field="account")
    return account


def check_amount(amount: Money, kind: str, account_currency: str) -> None:
    """Raise LedgerRefused unless ``amount`` fits the account's currency and the kind's sign."""
    if amount.currency != currency(account_currency):
        raise LedgerRefused(
            f"the account is kept in {account_currency}, not {amount.currency.code}",
            field="currency",
        )
    if not amount.is_rounded():
        raise LedgerRefused(
            f"{amount.amount} has more decimals than {amount.currency.code} allows", field="amount"
        )
    positive = kind in POSITIVE_KINDS
    wrong_sign = (positive and amount.amount < 0) or (
        kind == EntryKind.PAYMENT and amount.amount > 0
    )
    if amount.amount == 0 or wrong_sign:
        raise LedgerRefused(f"a {kind} cannot be {amount.amount}", field="amount")


def post_entry(
    *,
    account_id: int,
    kind: str,
    amount: Money,
    value_date: date,
    source_type: str,
    source_id: str,
    created_by: str,
    now: datetime,
    due_date: date | None = None,
    description: str = "",
    prefer_debits: Sequence[int] = (),
) -> PostedEntry:
    """Append one entry and settle open items with it, under the account's row lock.

    A credit (payment) settles open debits oldest due first (``prefer_debits`` first, e.g. the
    bill a bank paid); a debit (charge) is settled by any unallocated credit on the account.
    Raises LedgerRefused (currency, decimals, sign), NotFound.
    """
    if kind not in EntryKind.values or kind == EntryKind.REVERSAL:
        raise InvalidInput(f"{kind!r} cannot be posted directly", field="kind")
    with transaction.atomic():
        account = lock_account(account_id)
        check_amount(amount, kind, account.utility.currency)
        entry = LedgerEntry.objects.create(
            account_id=account_id,
            kind=kind,
            amount=amount.amount,
            currency=amount.currency.code,
            posted_at=now,
            value_date=value_date,
            due_date=due_date,
            source_type=source_type,
            source_id=source_id,
            description=description[:200],
            created_by=created_by,
        )
        allocated = allocate_open_items(account_id=account_id, now=now, prefer_debits=prefer_debits)
    return PostedEntry(entry.id, account_id, allocated.get(entry.id, Decimal(0)))


def reverse_entry(*, entry_id: int, created_by: str, now: datetime, reason: str) -> PostedEntry:
    """Append the reversal of an entry (at most once) and undo what it settled.

    The original's allocations are released (the bills a reversed payment paid are open again;
    the payments a reversed charge used are free again), the reversal is set against the
    original, and the account's open items are settled again.
    """
    if not reason.strip():
        raise InvalidInput("say why the entry is reversed", field="reason")
    original = (
        LedgerEntry.objects.filter(id=entry_id)
        .values("account_id", "amount", "currency", "kind", "account__utility__time_zone")
        .first()
    )
    if original is None:
        raise NotFound(f"no ledger entry {entry_id}", field="entry")
    if original["kind"] == EntryKind.REVERSAL:
        raise Conflict("a reversal is not reversed; post a new entry instead", field="entry")
    account_id = original["account_id"]
    with transaction.atomic():
        lock_account(account_id)
        if LedgerEntry.objects.filter(reverses_id=entry_id).exists():
            raise Conflict(f"entry {entry_id} is reversed already", field="entry")
        _release_allocations_of(entry_id, now)
        reversal = LedgerEntry.objects.create(
            account_id=account_id,
            kind=EntryKind.REVERSAL,
            amount=-original["amount"],
            currency=original["currency"],
            posted_at=now,
            value_date=local_date(now, zone(original["account__utility__time_zone"])),
            source_type="ledger_entry",
            source_id=str(entry_id),
            description=reason[:200],
            reverses_id=entry_id,
            created_by=created_by,
        )
        debit, credit = (
            (entry_id, reversal.id) if original["amount"] > 0 else (reversal.id, entry_id)
        )
        LedgerAllocation.objects.create(
            account_id=account_id,
            debit_entry_id=debit,
            credit_entry_id=credit,
            amount=abs(original["amount"]),
            allocated_at=now,
        )
        allocate_open_items(account_id=account_id, now=now)
    return PostedEntry(reversal.id, account_id, abs(original["amount"]))


def _release_allocations_of(entry_id: int, now: datetime) -> None:
    live = LedgerAllocation.objects.filter(amount__gt=0, released_by__isnull=True).filter(
        debit_entry_id=entry_id
    ) | LedgerAllocation.objects.filter(
        amount__gt=0, released_by__isnull=True, credit_entry_id=entry_id
    )
    LedgerAllocation.objects.bulk_create(
        [
            LedgerAllocation(
                account_id=a.account_id,
                debit_entry_id=a.debit_entry_id,
                credit_entry_id=a.credit_entry_id,
                amount=-a.amount,
                allocated_at=now,
                releases_id=a.id,
            )
            for a in live.order_by("id")
        ]
    )


_OPEN_SQL = """
    SELECT e.id, abs(e.amount) - COALESCE(SUM(a.amount), 0) AS open_amount
    FROM accounts_ledgerentry e
    LEFT JOIN accounts_ledgerallocation a ON a.{side}_entry_id = e.id
    WHERE e.account_id = %s AND e.amount {sign} 0
    GROUP BY e.id
    HAVING abs(e.amount) - COALESCE(SUM(a.amount), 0) > 0
    ORDER BY {order}
"""


def allocate_open_items(
    *, account_id: int, now: datetime, prefer_debits: Sequence[int] = ()
) -> dict[int, Decimal]:
    """Settle open debits with unallocated credits, oldest first. Call with the account locked.

    Returns how much was allocated per credit entry id.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _OPEN_SQL.format(
                side="debit", sign=">", order="e.due_date NULLS LAST, e.value_date, e.id"
            ),
            [account_id],
        )
        debits = [[row[0], row[1]] for row in cursor.fetchall()]
        if not debits:
            return {}
        cursor.execute(
            _OPEN_SQL.format(side="credit", sign="<", order="e.value_date, e.id"), [account_id]
        )
        credits = [[row[0], row[1]] for row in cursor.fetchall()]
    if not credits:
        return {}
    preferred = {debit_id: rank for rank, debit_id in enumerate(prefer_debits)}
    debits.sort(key=lambda d: (preferred.get(d[0], len(preferred)),))
    rows: list[LedgerAllocation] = []
    allocated: dict[int, Decimal] = {}
    di = ci = 0
    while di < len(debits) and ci < len(credits):
        amount = min(debits[di][1], credits[ci][1])
        rows.append(
            LedgerAllocation(
                account_id=account_id,
                debit_entry_id=debits[di][0],
                credit_entry_id=credits[ci][0],
                amount=amount,
                allocated_at=now,
            )
        )
        allocated[credits[ci][0]] = allocated.get(credits[ci][0], Decimal(0)) + amount
        debits[di][1] -= amount
        credits[ci][1] -= amount
        if debits[di][1] == 0:
            di += 1
        if credits[ci][1] == 0:
            ci += 1
    LedgerAllocation.objects.bulk_create(rows)
    return allocated


_COPY_COLUMNS = (
    "account_id",
    "kind",
    "amount",
    "currency",
    "posted_at",
    "value_date",
    "due_date",
    "source_type",
    "source_id",
    "description",
    "created_by",
)


def copy_entries(*, rows: Iterable[ChargeRow], created_by: str, now: datetime) -> int:
    """Append many entries with COPY (bill runs). Runs inside the caller's transaction; the
    database checks sign, currency decimals and refuses later changes. Returns the count.

    Unallocated credits are not settled here; call ``settle_credits`` for the accounts after.
    """
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor underneath Django's wrapper
        columns = ", ".join(_COPY_COLUMNS)
        with raw.copy(f"COPY accounts_ledgerentry ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    (
                        row.account_id,
                        row.kind,
                        row.amount,
                        row.currency,
                        now,
                        row.value_date,
                        row.due_date,
                        row.source_type,
                        row.source_id,
                        row.description[:200],
                        created_by,
                    )
                )
                count += 1
    return count


def settle_credits(*, account_ids: Sequence[int], now: datetime) -> int:
    """Settle open items on those of ``account_ids`` that hold unallocated credit (few, in a
    bill run: customers who paid ahead). Returns how many accounts were settled."""
    if not account_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT e.account_id
            FROM accounts_ledgerentry e
            LEFT JOIN accounts_ledgerallocation a ON a.credit_entry_id = e.id
            WHERE e.account_id = ANY(%s) AND e.amount < 0
            GROUP BY e.id
            HAVING abs(e.amount) - COALESCE(SUM(a.amount), 0) > 0
            """,
            [list(account_ids)],
        )
        with_credit = sorted({row[0] for row in cursor.fetchall()})
    for account_id in with_credit:
        with transaction.atomic():
            lock_account(account_id)
            allocate_open_items(account_id=account_id, now=now)
    return len(with_credit)
