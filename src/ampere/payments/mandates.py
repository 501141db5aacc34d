"""Autopay: direct-debit mandates, collected on the due date.

``collect_direct_debits(as_of=...)`` collects, for every mandate in force that day, the bills
due on or before it that are still open and were never collected by direct debit before. It is
set-based (a few statements per batch of mandates, never a query per mandate) and idempotent:
one collection per mandate and date and each bill at most once are unique constraints, so
running it again — or twice at once — collects nothing more. A bounced collection is reversed
with ``operations.reverse_payment(kind="bounce")`` (with the channel's fee); its bills are not
collected again automatically: they wait for a person or the next mandate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from psycopg.types.range import Range

from ampere.accounts import ledger
from ampere.accounts.queries import find_account
from ampere.core.errors import Conflict, InvalidInput, NotFound
from ampere.core.money import Money
from ampere.database import constraint_name, reserve_ids
from ampere.payments.models import ChannelKind, CollectionStatus, Mandate, PaymentMethod
from ampere.payments.types import ChannelPolicy

BATCH = 500


class MandateNotFound(NotFound):
    code = "mandate-not-found"


@dataclass(frozen=True)
class MandateInfo:
    mandate_id: int
    channel: str
    reference: str
    account_number: str
    payer_name: str
    payer_bank_account: str
    max_amount: Money | None
    starts_on: date
    ends_on: date | None


@dataclass(frozen=True)
class CollectionRun:
    as_of: date
    mandates: int  # mandates with something due
    collected: int
    collected_amounts: tuple[Money, ...]  # per currency
    skipped: int  # over the mandate's limit: waiting for a person


def _mask(bank_account: str) -> str:
    digits = "".join(c for c in bank_account if c.isalnum())
    if len(digits) < 4:
        raise InvalidInput("give the payer's bank account number", field="payer_bank_account")
    return f"****{digits[-4:]}"


def _info(mandate_id: int) -> MandateInfo:
    m = Mandate.objects.select_related("channel", "account").get(id=mandate_id)
    code = m.channel.utility.currency
    return MandateInfo(
        mandate_id=m.id,
        channel=m.channel.code,
        reference=m.reference,
        account_number=m.account.number,
        payer_name=m.payer_name,
        payer_bank_account=m.payer_bank_account,
        max_amount=None if m.max_amount is None else Money.of(m.max_amount, code).rounded(),
        starts_on=m.valid_period.lower,
        ends_on=m.valid_period.upper,
    )


def create_mandate(
    *,
    channel: ChannelPolicy,
    account_number: str,
    reference: str,
    payer_name: str,
    payer_bank_account: str,
    starts_on: date,
    now: datetime,
    max_amount: Money | None = None,
) -> MandateInfo:
    """Register a signed mandate; only the last four characters of the bank account are kept.

    Raises InvalidInput, AccountNotFound, Conflict (another mandate in force, reference used).
    """
    if channel.kind != ChannelKind.DIRECT_DEBIT:
        raise InvalidInput(f"{channel.code} is not a direct-debit channel", field="channel")
    if not reference.strip() or len(reference) > 64:
        raise InvalidInput("a mandate reference has 1 to 64 characters", field="reference")
    if not payer_name.strip():
        raise InvalidInput("name the payer", field="payer_name")
    if max_amount is not None and (
        max_amount.currency.code != channel.currency or max_amount.amount <= 0
    ):
        raise InvalidInput(
            f"a limit is a positive amount in {channel.currency}", field="max_amount"
        )
    account = find_account(number=account_number, utility_code=channel.utility_code)
    try:
        with transaction.atomic():
            mandate = Mandate.objects.create(
                channel_id=channel.id,
                account_id=account.id,
                reference=reference,
                payer_name=payer_name[:120],
                payer_bank_account=_mask(payer_bank_account),
                max_amount=None if max_amount is None else max_amount.amount,
                valid_period=Range(starts_on, None, "[)"),
                signed_at=now,
            )
    except IntegrityError as error:
        if constraint_name(error) == "mandate_reference_unique":
            raise Conflict(f"mandate {reference!r} exists already", field="reference") from None
        raise Conflict(
            f"account {account.number} has a mandate in force already", field="account_number"
        ) from None
    return _info(mandate.id)


def cancel_mandate(*, mandate_id: int, ends_on: date, now: datetime) -> MandateInfo:
    """End a mandate: nothing due on or after ``ends_on`` is collected. Raises
    MandateNotFound, Conflict (ended already), InvalidInput (before it starts)."""
    with transaction.atomic():
        mandate = Mandate.objects.select_for_update().filter(id=mandate_id).first()
        if mandate is None:
            raise MandateNotFound(f"no mandate {mandate_id}", field="mandate")
        period = mandate.valid_period
        if period.upper is not None:
            raise Conflict(f"the mandate ended on {period.upper}", field="mandate")
        if ends_on < period.lower:
            raise InvalidInput("a mandate cannot end before it starts", field="ends_on")
        mandate.valid_period = Range(period.lower, ends_on, "[)")
        mandate.cancelled_at = now
        mandate.save(update_fields=["valid_period", "cancelled_at"])
    return _info(mandate_id)


# What each mandate in force on the day would collect: bills due by then, still open, never
# collected by direct debit. Read under the accounts' locks before posting.
_DUE_SQL = """
    SELECT m.id, m.account_id, m.channel_id, m.reference, m.max_amount, u.currency,
           e.id, e.amount - COALESCE(
               (SELECT SUM(a.amount) FROM accounts_ledgerallocation a
                WHERE a.debit_entry_id = e.id), 0) AS open
    FROM payments_mandate m
    JOIN payments_channel c ON c.id = m.channel_id AND c.is_active
    JOIN accounts_utility u ON u.id = c.utility_id
    JOIN accounts_ledgerentry e ON e.account_id = m.account_id
         AND e.source_type = 'bill' AND e.amount > 0 AND e.due_date <= %(as_of)s
         AND e.due_date >= lower(m.valid_period)
    WHERE m.valid_period @> %(as_of)s::date
      AND m.id = ANY(%(mandates)s)
      AND NOT EXISTS (SELECT 1 FROM payments_collecteditem i WHERE i.debit_entry_id = e.id)
      AND NOT EXISTS (SELECT 1 FROM payments_directdebitcollection d
                      WHERE d.mandate_id = m.id AND d.due_on = %(as_of)s)
    ORDER BY m.id, e.due_date, e.id
"""

_CANDIDATES_SQL = """
    SELECT DISTINCT m.id, m.account_id
    FROM payments_mandate m
    JOIN payments_channel c ON c.id = m.channel_id AND c.is_active
    JOIN accounts_ledgerentry e ON e.account_id = m.account_id
         AND e.source_type = 'bill' AND e.amount > 0 AND e.due_date <= %(as_of)s
         AND e.due_date >= lower(m.valid_period)
    WHERE m.valid_period @> %(as_of)s::date
      AND (%(channel)s::bigint IS NULL OR m.channel_id = %(channel)s::bigint)
      AND NOT EXISTS (SELECT 1 FROM payments_collecteditem i WHERE i.debit_entry_id = e.id)
      AND NOT EXISTS (SELECT 1 FROM payments_directdebitcollection d
                      WHERE d.mandate_id = m.id AND d.due_on = %(as_of)s)
    ORDER BY m.account_id
"""


def collect_direct_debits(
    *, as_of: date, now: datetime, channel: ChannelPolicy | None = None, batch: int = BATCH
) -> CollectionRun:
    """Collect what is due on ``as_of`` from every mandate in force (of one channel, or all).

    Idempotent: a second run for the date collects nothing more. A collection above the
    mandate's limit is recorded as skipped with the reason, for a person. Returns the counts.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _CANDIDATES_SQL, {"as_of": as_of, "channel": None if channel is None else channel.id}
        )
        candidates = cursor.fetchall()
    collected = skipped = 0
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for start in range(0, len(candidates), batch):
        part = candidates[start : start + batch]
        done, skipped_here, amounts = _collect_batch(
            mandate_ids=[m for m, _ in part], account_ids=[a for _, a in part], as_of=as_of, now=now
        )
        collected += done
        skipped += skipped_here
        for code, amount in amounts.items():
            totals[code] += amount
    return CollectionRun(
        as_of,
        len(candidates),
        collected,
        tuple(Money.of(totals[code], code).rounded() for code in sorted(totals)),
        skipped,
    )


@dataclass
class _Due:
    account_id: int
    channel_id: int
    reference: str
    max_amount: Decimal | None
    currency: str
    items: list[tuple[int, Decimal]]

    @property
    def amount(self) -> Decimal:
        return sum((open_ for _, open_ in self.items), Decimal(0))


def _collect_batch(
    *, mandate_ids: list[int], account_ids: list[int], as_of: date, now: datetime
) -> tuple[int, int, dict[str, Decimal]]:
    with transaction.atomic():
        ledger.lock_accounts(account_ids=account_ids)
        with connection.cursor() as cursor:
            cursor.execute(_DUE_SQL, {"as_of": as_of, "mandates": mandate_ids})
            due: dict[int, _Due] = {}
            for mandate, account, channel_id, reference, limit, code, entry, open_ in cursor:
                if open_ <= 0:
                    continue
                row = due.setdefault(mandate, _Due(account, channel_id, reference, limit, code, []))
                row.items.append((entry, open_))
        over = {m for m, d in due.items() if d.max_amount is not None and d.amount > d.max_amount}
        to_collect = {m: d for m, d in due.items() if m not in over}
        payment_ids = reserve_ids(table="payments_payment", count=len(to_collect))
        by_mandate = dict(zip(sorted(to_collect), payment_ids, strict=True))
        posted = ledger.post_in_bulk(
            rows=[
                ledger.ChargeRow(
                    d.account_id,
                    "payment",
                    -d.amount,
                    d.currency,
                    as_of,
                    None,
                    "payment",
                    str(by_mandate[m]),
                    f"Direct debit {d.reference} {as_of:%Y-%m-%d}",
                )
                for m, d in sorted(to_collect.items())
            ],
            created_by="direct-debit",
            now=now,
        )
        balances = _balances([d.account_id for d in to_collect.values()])
        _insert_payments(
            to_collect=to_collect,
            by_mandate=by_mandate,
            posted=posted,
            balances=balances,
            as_of=as_of,
            now=now,
        )
        _insert_collections(due=due, over=over, by_mandate=by_mandate, as_of=as_of, now=now)
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for d in to_collect.values():
        amounts[d.currency] += d.amount
    return len(to_collect), len(over), amounts


def _balances(account_ids: list[int]) -> dict[int, Decimal]:
    if not account_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_id, SUM(amount) FROM accounts_ledgerentry "
            "WHERE account_id = ANY(%s) GROUP BY account_id",
            [account_ids],
        )
        return dict(cursor.fetchall())


def _insert_payments(
    *,
    to_collect: dict[int, _Due],
    by_mandate: dict[int, int],
    posted: dict[tuple[str, str], ledger.BulkPosted],
    balances: dict[int, Decimal],
    as_of: date,
    now: datetime,
) -> None:
    if not to_collect:
        return
    rows = sorted(to_collect.items())
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO payments_payment (id, channel_id, external_reference, account_id,
                account_number_given, amount, currency, method, received_at, value_date, posted_at,
                bill_reference, collected_by, device, till_session_id, ledger_entry_id,
                balance_after, created_by)
            SELECT r.id, r.channel_id, r.reference, r.account_id, a.number, r.amount, r.currency,
                   %(method)s, %(now)s, %(as_of)s, %(now)s, '', '', '', NULL, r.entry_id,
                   r.balance, 'direct-debit'
            FROM unnest(%(ids)s::bigint[], %(channels)s::bigint[], %(references)s::varchar[],
                        %(accounts)s::bigint[], %(amounts)s::numeric[], %(currencies)s::varchar[],
                        %(entries)s::bigint[], %(balances)s::numeric[])
                 AS r(id, channel_id, reference, account_id, amount, currency, entry_id, balance)
            JOIN accounts_account a ON a.id = r.account_id
            """,
            {
                "method": PaymentMethod.DIRECT_DEBIT,
                "now": now,
                "as_of": as_of,
                "ids": [by_mandate[m] for m, _ in rows],
                "channels": [d.channel_id for _, d in rows],
                "references": [f"DD-{d.reference}-{as_of:%Y%m%d}"[:64] for _, d in rows],
                "accounts": [d.account_id for _, d in rows],
                "amounts": [d.amount for _, d in rows],
                "currencies": [d.currency for _, d in rows],
                "entries": [posted[("payment", str(by_mandate[m]))].id for m, _ in rows],
                "balances": [balances[d.account_id] for _, d in rows],
            },
        )


def _insert_collections(
    *,
    due: dict[int, _Due],
    over: set[int],
    by_mandate: dict[int, int],
    as_of: date,
    now: datetime,
) -> None:
    if not due:
        return
    ordered = sorted(due.items())
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO payments_directdebitcollection (mandate_id, due_on, amount, currency,
                status, reason, payment_id, created_at)
            SELECT m, %(as_of)s, amount, currency, status, reason, payment, %(now)s
            FROM unnest(%(mandates)s::bigint[], %(amounts)s::numeric[], %(currencies)s::varchar[],
                        %(statuses)s::varchar[], %(reasons)s::varchar[], %(payments)s::bigint[])
                 AS r(m, amount, currency, status, reason, payment)
            RETURNING id, mandate_id
            """,
            {
                "as_of": as_of,
                "now": now,
                "mandates": [m for m, _ in ordered],
                "amounts": [d.amount for _, d in ordered],
                "currencies": [d.currency for _, d in ordered],
                "statuses": [
                    CollectionStatus.SKIPPED if m in over else CollectionStatus.COLLECTED
                    for m, _ in ordered
                ],
                "reasons": [
                    f"{Money.of(d.amount, d.currency).rounded()} is above the mandate's limit "
                    f"of {Money.of(d.max_amount or 0, d.currency).rounded()}"
                    if m in over
                    else ""
                    for m, d in ordered
                ],
                "payments": [None if m in over else by_mandate[m] for m, _ in ordered],
            },
        )
        collection_of = {mandate: collection for collection, mandate in cur.fetchall()}
        items = defaultdict(list)
        for m, d in ordered:
            if m not in over:
                items[collection_of[m]].extend(d.items)
        flat = [(c, e, a) for c, entries in items.items() for e, a in entries]
        if flat:
            cur.execute(
                """
                INSERT INTO payments_collecteditem (collection_id, debit_entry_id, amount)
                SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::numeric[])
                """,
                [[c for c, _, _ in flat], [e for _, e, _ in flat], [a for _, _, a in flat]],
            )
