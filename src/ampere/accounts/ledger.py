"""Operations of the account ledger: posting, reversing, allocating credits to open items.

Every write holds the account's row lock, so one account's postings are serialised while other
accounts post in parallel. Entries and allocations are append-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from ampere.accounts.models import Account, EntryKind, LedgerAllocation, LedgerEntry
from ampere.core.errors import Conflict, DomainError, InvalidInput, NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.money import Money, currency
from ampere.database import copy_rows, prepared_cursor


class LedgerRefused(DomainError):
    code = "ledger-refused"


POSITIVE_KINDS = frozenset({EntryKind.CHARGE, EntryKind.FEE, EntryKind.REFUND})


@dataclass(frozen=True)
class Settlement:
    """What a new entry was set against at posting: for a payment, the debit it paid (a bill's
    charge); for a charge, the credit that paid it."""

    entry_id: int
    source_type: str
    source_id: str
    amount: Decimal


@dataclass(frozen=True)
class PostedEntry:
    id: int
    account_id: int
    allocated: Decimal  # how much of this entry was settled against open items at posting
    settled: tuple[Settlement, ...] = ()
    balance_after: Decimal | None = None  # the account balance right after posting


@dataclass(frozen=True)
class PositionItem:
    """An open debit or credit: ``open`` is what is not yet set against the other side."""

    entry_id: int
    source_type: str
    source_id: str
    due_date: date | None
    value_date: date
    open: Decimal


def _debit_order(item: PositionItem) -> tuple[bool, date, date, int]:
    return (item.due_date is None, item.due_date or date.min, item.value_date, item.entry_id)


def _credit_order(item: PositionItem) -> tuple[date, int]:
    return (item.value_date, item.entry_id)


@dataclass(frozen=True)
class Position:
    """An account's open items read under its row lock: debits in the order payments settle
    them (due date, undated last), credits oldest first. The balance is debt less credit."""

    account_id: int
    currency: str
    time_zone: str
    debits: tuple[PositionItem, ...]
    credits: tuple[PositionItem, ...]

    @property
    def debt(self) -> Decimal:
        return sum((d.open for d in self.debits), Decimal(0))

    @property
    def credit(self) -> Decimal:
        return sum((c.open for c in self.credits), Decimal(0))

    @property
    def balance(self) -> Decimal:
        return self.debt - self.credit

    def debits_of(self, *, source_type: str, source_id: str) -> tuple[PositionItem, ...]:
        return tuple(
            d for d in self.debits if d.source_type == source_type and d.source_id == source_id
        )


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


# The open items are the SQL function of migration 0005 (shared with the posting functions).
_POSITION_SQL = """
    SELECT side, account_id, entry_id, source_type, source_id, due_date, value_date, open
    FROM ledger_open_items(%s::bigint[])
"""

_LOCK_SQL = """
    SELECT a.id, u.currency, u.time_zone
    FROM accounts_account a JOIN accounts_utility u ON u.id = a.utility_id
    WHERE a.id = ANY(%s)
    ORDER BY a.id
    FOR UPDATE OF a
"""
# One account: scalar parameters are cheaper to send than arrays on the posting path.
_LOCK_ONE_SQL = """
    SELECT a.id, u.currency, u.time_zone
    FROM accounts_account a JOIN accounts_utility u ON u.id = a.utility_id
    WHERE a.id = %s
    FOR UPDATE OF a
"""


def lock_accounts(*, account_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Lock the accounts' rows in id order (so two batches never deadlock) for the caller's
    transaction; returns each account's currency and time zone. Missing ids are left out."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [ids])
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


def read_positions(
    *, accounts: dict[int, tuple[str, str]], cursor: CursorWrapper | None = None
) -> dict[int, Position]:
    """The open items of many accounts in one query. Read them with the accounts locked
    (``lock_accounts``) when the result decides a posting."""
    if not accounts:
        return {}
    debits: dict[int, list[PositionItem]] = {account_id: [] for account_id in accounts}
    credits: dict[int, list[PositionItem]] = {account_id: [] for account_id in accounts}
    with _using(cursor) as cur:
        cur.execute(_POSITION_SQL, [list(accounts)])
        for side, account_id, *fields in cur.fetchall():
            (debits if side == "d" else credits)[account_id].append(PositionItem(*fields))
    return {
        account_id: Position(
            account_id,
            currency_code,
            time_zone,
            tuple(sorted(debits[account_id], key=_debit_order)),
            tuple(sorted(credits[account_id], key=_credit_order)),
        )
        for account_id, (currency_code, time_zone) in accounts.items()
    }


def _using(cursor: CursorWrapper | None) -> AbstractContextManager[CursorWrapper]:
    """The caller's cursor (a hot path runs all its statements on one), else a new one."""
    return prepared_cursor() if cursor is None else nullcontext(cursor)


def lock_position(*, account_id: int, cursor: CursorWrapper | None = None) -> Position:
    """Lock the account row for the caller's transaction and read its open items (two queries:
    the read must come after the lock to see what the previous holder committed).

    Raises NotFound. Call inside ``transaction.atomic()``.
    """
    with _using(cursor) as cur:
        cur.execute(_LOCK_ONE_SQL, [account_id])
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no account with id {account_id}", field="account")
        return read_positions(accounts={account_id: (row[1], row[2])}, cursor=cur)[account_id]


_INSERT_ENTRY_SQL = """
    INSERT INTO accounts_ledgerentry (account_id, kind, amount, currency, posted_at, value_date,
        due_date, source_type, source_id, description, created_by)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    RETURNING id
"""

# Allocation is the SQL function of migration 0005 (shared with the posting functions and the
# bulk paths): open debits by due date (undated last), credits oldest first, preferred first.
_SETTLE_SQL = """
    SELECT debit_entry_id, credit_entry_id, amount
    FROM ledger_settle(%s::bigint[], %s, %s::bigint[], %s::bigint[])
"""


Pair = tuple[PositionItem, PositionItem, Decimal]  # (debit, credit, amount set between them)


def _settle(
    position: Position,
    *,
    now: datetime,
    prefer_debits: Sequence[int] = (),
    prefer_credits: Sequence[int] = (),
    cursor: CursorWrapper | None = None,
) -> tuple[list[Pair], Position]:
    """Allocate the position's open credits to its open debits (caller holds the lock; the
    position is what the database holds)."""
    with _using(cursor) as cur:
        cur.execute(
            _SETTLE_SQL, [[position.account_id], now, list(prefer_debits), list(prefer_credits)]
        )
        rows = cur.fetchall()
    debits = {d.entry_id: d for d in position.debits}
    credits = {c.entry_id: c for c in position.credits}
    pairs: list[Pair] = [(debits[d], credits[c], amount) for d, c, amount in rows]
    used: dict[int, Decimal] = {}
    for debit, credit, amount in pairs:
        used[debit.entry_id] = used.get(debit.entry_id, Decimal(0)) + amount
        used[credit.entry_id] = used.get(credit.entry_id, Decimal(0)) + amount
    after = replace(
        position,
        debits=_left_open(position.debits, used),
        credits=_left_open(position.credits, used),
    )
    return pairs, after


def _left_open(items: Sequence[PositionItem], used: dict[int, Decimal]) -> tuple[PositionItem, ...]:
    left = (replace(i, open=i.open - used.get(i.entry_id, Decimal(0))) for i in items)
    return tuple(i for i in left if i.open > 0)


def post_to_position(
    *,
    position: Position,
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
    against: int | None = None,
    cursor: CursorWrapper | None = None,
) -> tuple[PostedEntry, Position]:
    """Append one entry to an account locked by ``lock_position`` in this transaction and settle
    open items with it; returns the entry and the account's position after it.

    This is ``post_entry`` for callers that decide on the open items first (a payment refused
    for a bill already paid). Raises LedgerRefused (currency, decimals, sign), InvalidInput.
    """
    if kind not in EntryKind.values or kind == EntryKind.REVERSAL:
        raise InvalidInput(f"{kind!r} cannot be posted directly", field="kind")
    check_amount(amount, kind, position.currency)
    with _using(cursor) as cur:
        cur.execute(
            _INSERT_ENTRY_SQL,
            [
                position.account_id,
                kind,
                amount.amount,
                amount.currency.code,
                now,
                value_date,
                due_date,
                source_type,
                source_id,
                description[:200],
                created_by,
            ],
        )
        (entry_id,) = cur.fetchone()
    item = PositionItem(entry_id, source_type, source_id, due_date, value_date, abs(amount.amount))
    if amount.amount > 0:
        position = replace(
            position, debits=tuple(sorted((*position.debits, item), key=_debit_order))
        )
    else:
        position = replace(
            position, credits=tuple(sorted((*position.credits, item), key=_credit_order))
        )
    if against is None:
        pairs, after = _settle(position, now=now, prefer_debits=prefer_debits, cursor=cursor)
    elif amount.amount > 0:
        pairs, after = _settle(
            position, now=now, prefer_debits=[entry_id], prefer_credits=[against], cursor=cursor
        )
    else:
        pairs, after = _settle(
            position, now=now, prefer_debits=[against], prefer_credits=[entry_id], cursor=cursor
        )
    settled = tuple(
        Settlement(other.entry_id, other.source_type, other.source_id, share)
        for debit, credit, share in pairs
        for other in ((debit,) if credit.entry_id == entry_id else (credit,))
        if entry_id in (debit.entry_id, credit.entry_id)
    )
    allocated = sum((s.amount for s in settled), Decimal(0))
    return PostedEntry(entry_id, position.account_id, allocated, settled, after.balance), after


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
        posted, _ = post_to_position(
            position=lock_position(account_id=account_id),
            kind=kind,
            amount=amount,
            value_date=value_date,
            source_type=source_type,
            source_id=source_id,
            created_by=created_by,
            now=now,
            due_date=due_date,
            description=description,
            prefer_debits=prefer_debits,
        )
    return posted


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
        if LedgerEntry.objects.filter(source_type="transfer_out", source_id=str(entry_id)).exists():
            raise Conflict(
                f"entry {entry_id} was transferred to another account; reverse it there",
                field="entry",
            )
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


def transfer_entry(
    *, entry_id: int, to_account_id: int, created_by: str, now: datetime, reason: str
) -> tuple[PostedEntry, PostedEntry]:
    """Move a credit (a misapplied payment) to another account of the same currency.

    On the first account the credit's allocations are released (the bills it paid are open
    again) and it is set against a new ``transfer`` debit; on the other account a ``transfer``
    credit of the same amount and value date settles open items. Both accounts are locked in id
    order. Returns (transfer out, transfer in).

    Raises NotFound, InvalidInput, Conflict (a debit, reversed, transferred already, another
    currency).
    """
    if not reason.strip():
        raise InvalidInput("say why the entry is transferred", field="reason")
    original = (
        LedgerEntry.objects.filter(id=entry_id)
        .values("account_id", "amount", "currency", "kind", "value_date")
        .first()
    )
    if original is None:
        raise NotFound(f"no ledger entry {entry_id}", field="entry")
    from_account_id = original["account_id"]
    if original["amount"] >= 0 or original["kind"] == EntryKind.REVERSAL:
        raise Conflict("only a payment or another credit can be transferred", field="entry")
    if to_account_id == from_account_id:
        raise InvalidInput("the entry is on that account already", field="to_account")
    amount = Money.of(-original["amount"], original["currency"])
    with transaction.atomic():
        locked = lock_accounts(account_ids=[from_account_id, to_account_id])
        if to_account_id not in locked:
            raise NotFound(f"no account with id {to_account_id}", field="to_account")
        if locked[to_account_id][0] != original["currency"]:
            raise Conflict(
                f"account {to_account_id} is kept in {locked[to_account_id][0]}, "
                f"not {original['currency']}",
                field="to_account",
            )
        if LedgerEntry.objects.filter(reverses_id=entry_id).exists():
            raise Conflict(f"entry {entry_id} is reversed", field="entry")
        if LedgerEntry.objects.filter(source_type="transfer_out", source_id=str(entry_id)).exists():
            raise Conflict(f"entry {entry_id} is transferred already", field="entry")
        _release_allocations_of(entry_id, now)
        out_position = read_positions(accounts={from_account_id: locked[from_account_id]})[
            from_account_id
        ]
        out, _ = post_to_position(
            position=out_position,
            kind=EntryKind.TRANSFER,
            amount=amount,
            value_date=original["value_date"],
            source_type="transfer_out",
            source_id=str(entry_id),
            created_by=created_by,
            now=now,
            description=reason,
            against=entry_id,
        )
        in_position = read_positions(accounts={to_account_id: locked[to_account_id]})[to_account_id]
        into, _ = post_to_position(
            position=in_position,
            kind=EntryKind.TRANSFER,
            amount=-amount,
            value_date=original["value_date"],
            source_type="transfer_in",
            source_id=str(entry_id),
            created_by=created_by,
            now=now,
            description=reason,
        )
    return out, into


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


def allocate_open_items(
    *, account_id: int, now: datetime, prefer_debits: Sequence[int] = ()
) -> dict[int, Decimal]:
    """Settle open debits with unallocated credits, oldest first. Call with the account locked.

    Returns how much was allocated per credit entry id.
    """
    position = read_positions(accounts={account_id: ("", "")})[account_id]
    pairs, _ = _settle(position, now=now, prefer_debits=prefer_debits)
    allocated: dict[int, Decimal] = {}
    for _, credit, amount in pairs:
        allocated[credit.entry_id] = allocated.get(credit.entry_id, Decimal(0)) + amount
    return allocated


@dataclass(frozen=True)
class BulkPosted:
    id: int
    account_id: int
    allocated: Decimal


_BULK_INSERT_SQL = """
    INSERT INTO accounts_ledgerentry (account_id, kind, amount, currency, posted_at, value_date,
        due_date, source_type, source_id, description, created_by)
    SELECT account_id, kind, amount, currency, %(now)s, value_date, due_date, source_type,
           source_id, description, %(by)s
    FROM unnest(%(account_ids)s::bigint[], %(kinds)s::varchar[], %(amounts)s::numeric[],
                %(currencies)s::varchar[], %(value_dates)s::date[], %(due_dates)s::date[],
                %(source_types)s::varchar[], %(source_ids)s::varchar[],
                %(descriptions)s::varchar[])
         AS r(account_id, kind, amount, currency, value_date, due_date, source_type, source_id,
              description)
    RETURNING id, account_id, source_type, source_id
"""


def post_in_bulk(
    *, rows: Sequence[ChargeRow], created_by: str, now: datetime
) -> dict[tuple[str, str], BulkPosted]:
    """Append many entries (a lockbox file, a direct-debit run) and settle the open items of
    every account they touch, set-based: the accounts are locked in id order, the entries go
    in one statement and the allocations are computed by another. Runs in the caller's
    transaction (lock the accounts first with ``lock_accounts`` to decide on their positions).

    Each row needs its own (source_type, source_id), the key of the result. Raises
    LedgerRefused naming the row (``rows[i].amount``), NotFound for an unknown account.
    """
    if not rows:
        return {}
    keys = {(r.source_type, r.source_id) for r in rows}
    if len(keys) != len(rows):
        raise InvalidInput("each row needs its own source", field="rows")
    locked = lock_accounts(account_ids=[r.account_id for r in rows])
    for index, row in enumerate(rows):
        if row.account_id not in locked:
            raise NotFound(f"no account with id {row.account_id}", field=f"rows[{index}].account")
        if row.kind not in EntryKind.values or row.kind == EntryKind.REVERSAL:
            raise InvalidInput(f"{row.kind!r} cannot be posted directly", field=f"rows[{index}]")
        try:
            check_amount(Money.of(row.amount, row.currency), row.kind, locked[row.account_id][0])
        except DomainError as error:
            raise LedgerRefused(error.message, field=f"rows[{index}].{error.field}") from None
    with connection.cursor() as cursor:
        cursor.execute(
            _BULK_INSERT_SQL,
            {
                "now": now,
                "by": created_by,
                "account_ids": [r.account_id for r in rows],
                "kinds": [r.kind for r in rows],
                "amounts": [r.amount for r in rows],
                "currencies": [r.currency for r in rows],
                "value_dates": [r.value_date for r in rows],
                "due_dates": [r.due_date for r in rows],
                "source_types": [r.source_type for r in rows],
                "source_ids": [r.source_id for r in rows],
                "descriptions": [r.description[:200] for r in rows],
            },
        )
        inserted = cursor.fetchall()
        allocated = allocate_accounts(account_ids=list(locked), now=now, cursor=cursor)
    return {
        (source_type, source_id): BulkPosted(
            entry_id, account_id, allocated.get(entry_id, Decimal(0))
        )
        for entry_id, account_id, source_type, source_id in inserted
    }


def allocate_accounts(
    *, account_ids: Sequence[int], now: datetime, cursor: CursorWrapper | None = None
) -> dict[int, Decimal]:
    """Settle open debits with open credits on many accounts in one statement (same result as
    ``allocate_open_items`` on each). Call with the accounts locked. Returns the amount
    allocated per credit entry id."""
    if not account_ids:
        return {}
    allocated: dict[int, Decimal] = {}
    with connection.cursor() if cursor is None else nullcontext(cursor) as cur:
        cur.execute(_SETTLE_SQL, [list(account_ids), now, [], []])
        for _, credit_id, amount in cur.fetchall():
            allocated[credit_id] = allocated.get(credit_id, Decimal(0)) + amount
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
    return copy_rows(
        table="accounts_ledgerentry",
        columns=_COPY_COLUMNS,
        rows=(
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
            for row in rows
        ),
    )


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
    with transaction.atomic():
        lock_accounts(account_ids=with_credit)
        allocate_accounts(account_ids=with_credit, now=now)
    return len(with_credit)
