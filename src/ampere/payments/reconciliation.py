"""Reconciliation: a bank's daily settlement file against the payments posted through it.

The file is CSV with a header: ``transaction_id,account_number,amount,currency`` (and,
optionally, ``paid_at``). Each line is matched by transaction id to the channel's payments, in
set-based SQL, and the clerk's report lists what does not agree:

- ``mismatched``: posted, but the amount, currency or account differs, the payment was
  reversed, or the bank settles it twice;
- ``extra``: in the bank's file, never posted in Ampere;
- ``missing``: posted in Ampere on the settlement's day (not reversed), in no settlement of
  the channel;
- ``unreadable``: a line that could not be read (kept with its raw text).

Nothing is deleted or changed automatically: a clerk resolves each item with a note.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction

from ampere.core.errors import Conflict, InvalidInput, NotFound
from ampere.core.money import Money
from ampere.payments.files import parse_amount, read_lines
from ampere.payments.models import (
    FileKind,
    PaymentFile,
    ReconciliationItem,
    ReconciliationKind,
    SettlementLine,
)
from ampere.payments.types import ChannelPolicy, receipt_number

COLUMNS = ("transaction_id", "account_number", "amount", "currency")
OPTIONAL = ("paid_at",)
KIND_ORDER = ("mismatched", "extra", "missing", "unreadable", "matched")


class ItemNotFound(NotFound):
    code = "reconciliation-item-not-found"


@dataclass(frozen=True)
class ItemView:
    item_id: int
    kind: str
    line_number: int | None
    transaction_id: str
    account_number: str
    bank_amount: Money | None
    payment_id: int | None
    receipt_number: str
    detail: str
    resolved_at: datetime | None
    resolved_by: str
    resolution: str


@dataclass(frozen=True)
class ReconciliationReport:
    file_id: int
    channel: str
    name: str
    business_date: date
    lines: int
    counts: dict[str, int]  # items per kind
    bank_total: Money  # what the bank settles (readable lines)
    unresolved: int
    items: tuple[ItemView, ...]  # disagreements first; matched ones only when asked
    replayed: bool = False


def import_settlement_file(
    *,
    channel: ChannelPolicy,
    name: str,
    content: bytes,
    business_date: date,
    created_by: str,
    now: datetime,
) -> ReconciliationReport:
    """Import a settlement file and reconcile it. The same file again returns its report
    (``replayed``). Raises InvalidInput when the file as a whole is unusable."""
    digest = hashlib.sha256(content).hexdigest()
    existing = _existing(channel.id, digest)
    if existing is not None:
        return get_report(file_id=existing, replayed=True)
    lines = read_lines(content, required=COLUMNS, optional=OPTIONAL)
    rows: list[SettlementLine] = []
    for line in lines:
        row = SettlementLine(line_number=line.number, raw=line.raw, problem=line.problem)
        rows.append(row)
        if line.problem:
            continue
        v = line.values
        problems = []
        if not v["transaction_id"] or len(v["transaction_id"]) > 64:
            problems.append("transaction_id must have 1 to 64 characters")
        row.external_reference = v["transaction_id"][:64]
        row.account_number = v["account_number"][:40]
        try:
            row.amount = parse_amount(v["amount"])
        except ValueError as error:
            problems.append(str(error))
        row.currency = v["currency"].upper()[:3]
        if row.currency != channel.currency:
            problems.append(f"currency {v['currency']!r} is not {channel.currency}")
        row.problem = "; ".join(problems)[:300]
    try:
        with transaction.atomic():
            file = PaymentFile.objects.create(
                channel_id=channel.id,
                kind=FileKind.SETTLEMENT,
                name=name[:200],
                sha256=digest,
                business_date=business_date,
                row_count=len(rows),
                received_at=now,
                created_by=created_by[:64],
            )
            for row in rows:
                row.file_id = file.id
            SettlementLine.objects.bulk_create(rows, batch_size=5000)
            _reconcile(file.id, channel.id, business_date)
    except IntegrityError:
        existing = _existing(channel.id, digest)
        if existing is None:
            raise
        return get_report(file_id=existing, replayed=True)
    return get_report(file_id=file.id)


def _existing(channel_id: int, digest: str) -> int | None:
    return (
        PaymentFile.objects.filter(channel_id=channel_id, kind=FileKind.SETTLEMENT, sha256=digest)
        .values_list("id", flat=True)
        .first()
    )


_MATCH_SQL = """
    INSERT INTO payments_reconciliationitem (file_id, kind, line_id, payment_id, detail,
        resolved_by, resolution)
    SELECT %(file)s,
           CASE WHEN p.id IS NULL THEN 'extra'
                WHEN problem <> '' THEN 'mismatched'
                ELSE 'matched' END,
           line_id, p.id,
           CASE WHEN p.id IS NULL THEN 'not posted in Ampere' ELSE problem END,
           '', ''
    FROM (
        SELECT l.id AS line_id, p.id AS payment_id, concat_ws('; ',
            CASE WHEN p.amount <> l.amount OR p.currency <> l.currency THEN
                format('amount: bank %%s %%s, posted %%s %%s', trim_scale(l.amount),
                       l.currency, trim_scale(p.amount), p.currency) END,
            CASE WHEN l.account_number <> '' AND l.account_number <> a.number
                      AND l.account_number <> p.account_number_given THEN
                format('account: bank %%s, posted %%s', l.account_number, a.number) END,
            CASE WHEN r.id IS NOT NULL THEN
                format('reversed (%%s) on %%s', r.kind, r.reversed_at::date) END,
            CASE WHEN count(*) OVER (PARTITION BY l.external_reference) > 1 THEN
                format('settled %%s times in this file', count(*) OVER (
                    PARTITION BY l.external_reference)) END,
            (SELECT format('settled before in %%s', f.name)
             FROM payments_settlementline o JOIN payments_paymentfile f ON f.id = o.file_id
             WHERE f.channel_id = %(channel)s AND o.file_id <> %(file)s
               AND o.external_reference = l.external_reference AND o.problem = ''
             ORDER BY o.id LIMIT 1)
        ) AS problem
        FROM payments_settlementline l
        LEFT JOIN payments_payment p
               ON p.channel_id = %(channel)s AND p.external_reference = l.external_reference
        LEFT JOIN accounts_account a ON a.id = p.account_id
        LEFT JOIN payments_paymentreversal r ON r.payment_id = p.id
        WHERE l.file_id = %(file)s AND l.problem = ''
    ) m
    LEFT JOIN payments_payment p ON p.id = m.payment_id
"""

_UNREADABLE_SQL = """
    INSERT INTO payments_reconciliationitem (file_id, kind, line_id, payment_id, detail,
        resolved_by, resolution)
    SELECT %(file)s, 'unreadable', l.id, NULL, l.problem, '', ''
    FROM payments_settlementline l
    WHERE l.file_id = %(file)s AND l.problem <> ''
"""

_MISSING_SQL = """
    INSERT INTO payments_reconciliationitem (file_id, kind, line_id, payment_id, detail,
        resolved_by, resolution)
    SELECT %(file)s, 'missing', NULL, p.id,
           format('posted %%s %%s on %%s, in no settlement of the channel',
                  trim_scale(p.amount), p.currency, p.value_date), '', ''
    FROM payments_payment p
    WHERE p.channel_id = %(channel)s AND p.value_date = %(day)s
      AND NOT EXISTS (SELECT 1 FROM payments_paymentreversal r WHERE r.payment_id = p.id)
      AND NOT EXISTS (
          SELECT 1 FROM payments_settlementline l
          JOIN payments_paymentfile f ON f.id = l.file_id
          WHERE f.channel_id = %(channel)s AND l.external_reference = p.external_reference
            AND l.problem = '')
"""


def _reconcile(file_id: int, channel_id: int, day: date) -> None:
    params: dict[str, int | date] = {"file": file_id, "channel": channel_id, "day": day}
    with connection.cursor() as cursor:
        cursor.execute(_MATCH_SQL, params)
        cursor.execute(_UNREADABLE_SQL, params)
        cursor.execute(_MISSING_SQL, params)


_ITEMS_SQL = """
    SELECT i.id, i.kind, l.line_number, COALESCE(l.external_reference, p.external_reference),
           COALESCE(NULLIF(l.account_number, ''), pa.number, ''), l.amount, i.payment_id,
           i.detail, i.resolved_at, i.resolved_by, i.resolution
    FROM payments_reconciliationitem i
    LEFT JOIN payments_settlementline l ON l.id = i.line_id
    LEFT JOIN payments_payment p ON p.id = i.payment_id
    LEFT JOIN accounts_account pa ON pa.id = p.account_id
    WHERE i.file_id = %(file)s AND (%(matched)s OR i.kind <> 'matched')
      AND (%(item)s::bigint IS NULL OR i.id = %(item)s::bigint)
    ORDER BY array_position(%(order)s::varchar[], i.kind::varchar), l.line_number, i.id
    LIMIT %(limit)s
"""


def _items(
    file_id: int, code: str, *, include_matched: bool, limit: int, item_id: int | None = None
) -> tuple[ItemView, ...]:
    with connection.cursor() as cursor:
        cursor.execute(
            _ITEMS_SQL,
            {
                "file": file_id,
                "matched": include_matched,
                "order": list(KIND_ORDER),
                "limit": limit,
                "item": item_id,
            },
        )
        return tuple(
            ItemView(
                item_id=r[0],
                kind=r[1],
                line_number=r[2],
                transaction_id=r[3] or "",
                account_number=r[4],
                bank_amount=None if r[5] is None else Money.of(r[5], code).rounded(),
                payment_id=r[6],
                receipt_number="" if r[6] is None else receipt_number(r[6]),
                detail=r[7],
                resolved_at=r[8],
                resolved_by=r[9],
                resolution=r[10],
            )
            for r in cursor.fetchall()
        )


def get_report(
    *, file_id: int, include_matched: bool = False, limit: int = 500, replayed: bool = False
) -> ReconciliationReport:
    """The clerk's report of a settlement file: counts, the bank's total and the items (the
    disagreements first), at most ``limit``."""
    file = (
        PaymentFile.objects.filter(id=file_id, kind=FileKind.SETTLEMENT)
        .select_related("channel__utility")
        .first()
    )
    if file is None:
        raise NotFound(f"no settlement file {file_id}", field="file")
    code = file.channel.utility.currency
    assert file.business_date is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, count(*), count(*) FILTER (WHERE resolved_at IS NULL AND kind <> "
            "'matched') FROM payments_reconciliationitem WHERE file_id = %s GROUP BY kind",
            [file_id],
        )
        counted = cursor.fetchall()
        cursor.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM payments_settlementline "
            "WHERE file_id = %s AND problem = ''",
            [file_id],
        )
        (bank_total,) = cursor.fetchone()
    items = _items(file_id, code, include_matched=include_matched, limit=limit)
    counts = dict.fromkeys(KIND_ORDER, 0)
    counts.update({kind: n for kind, n, _ in counted})
    return ReconciliationReport(
        file_id=file.id,
        channel=file.channel.code,
        name=file.name,
        business_date=file.business_date,
        lines=file.row_count,
        counts=counts,
        bank_total=Money.of(bank_total, code).rounded(),
        unresolved=sum(open_ for _, _, open_ in counted),
        items=items,
        replayed=replayed,
    )


def resolve_item(*, item_id: int, resolution: str, resolved_by: str, now: datetime) -> ItemView:
    """A clerk's note closing a reconciliation item (nothing else changes). Raises
    ItemNotFound, InvalidInput, Conflict (resolved already, a matched item)."""
    if not resolution.strip():
        raise InvalidInput("say how the item was resolved", field="resolution")
    with transaction.atomic():
        item = ReconciliationItem.objects.select_for_update().filter(id=item_id).first()
        if item is None:
            raise ItemNotFound(f"no reconciliation item {item_id}", field="item")
        if item.kind == ReconciliationKind.MATCHED:
            raise Conflict("a matched item needs no resolution", field="item")
        if item.resolved_at is not None:
            raise Conflict(
                f"item {item_id} was resolved by {item.resolved_by} on {item.resolved_at:%Y-%m-%d}",
                field="item",
            )
        item.resolved_at = now
        item.resolved_by = resolved_by[:64]
        item.resolution = resolution[:300]
        item.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    code = PaymentFile.objects.values_list("channel__utility__currency", flat=True).get(
        id=item.file_id
    )
    (view,) = _items(item.file_id, code, include_matched=True, limit=1, item_id=item_id)
    return view
