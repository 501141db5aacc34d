"""Lockbox and mailed payments: a file of payments from the lockbox bank, imported with a result
per row. Good rows are posted together (set-based, one transaction); a bad row is kept in
quarantine with its raw text and the reason until a clerk corrects and posts it, or rejects it.

The file is CSV with a header: ``reference,account_number,amount,currency,paid_on`` and,
optionally, ``cheque_number`` and ``payer``. ``reference`` is the lockbox's id of the item: the
payment's transaction id, unique per channel — a file sent twice, or a row sent again in another
file, posts nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction

from ampere.accounts import ledger
from ampere.accounts.models import Utility
from ampere.accounts.numbers import NumberScheme, validate_number
from ampere.accounts.queries import find_accounts
from ampere.core.errors import Conflict, DomainError, InvalidInput, NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.money import Money, currency
from ampere.database import constraint_name, reserve_ids
from ampere.payments import operations
from ampere.payments.files import Line, parse_amount, parse_date, read_lines
from ampere.payments.models import (
    ChannelKind,
    FileKind,
    LockboxRow,
    PaymentFile,
    PaymentMethod,
    RowStatus,
)
from ampere.payments.types import ChannelPolicy, PaymentInput

COLUMNS = ("reference", "account_number", "amount", "currency", "paid_on")
OPTIONAL = ("cheque_number", "payer")


class RowNotFound(NotFound):
    code = "row-not-found"


@dataclass(frozen=True)
class RowResult:
    row_id: int
    line_number: int
    status: str
    reference: str
    account_number: str
    amount: Money | None
    field: str
    reason: str
    payment_id: int | None
    raw: str


@dataclass(frozen=True)
class FileResult:
    file_id: int
    name: str
    rows: tuple[RowResult, ...]
    replayed: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


@dataclass
class _Row:
    line: Line
    reference: str = ""
    account_number: str = ""
    amount: Decimal | None = None
    paid_on: date | None = None
    status: str = RowStatus.POSTED
    field: str = ""
    reason: str = ""
    account_id: int | None = None
    payment_id: int | None = None

    def refuse(self, field: str, reason: str) -> None:
        if self.status != RowStatus.QUARANTINED:
            self.status, self.field, self.reason = RowStatus.QUARANTINED, field, reason[:300]


def import_lockbox_file(
    *, channel: ChannelPolicy, name: str, content: bytes, created_by: str, now: datetime
) -> FileResult:
    """Import a lockbox file: post its good rows at once, quarantine the bad ones with the
    reason. The same file again returns the first result (``replayed``). Raises InvalidInput
    when the file as a whole is unusable."""
    if channel.kind != ChannelKind.LOCKBOX:
        raise InvalidInput(f"{channel.code} is not a lockbox channel", field="channel")
    if not channel.is_active:
        raise operations.ChannelClosed(f"channel {channel.code} is closed", field="channel")
    digest = hashlib.sha256(content).hexdigest()
    for attempt in range(2):
        existing = _existing_file(channel.id, digest)
        if existing is not None:
            return get_file_result(file_id=existing, replayed=True)
        rows = _check_rows(channel, read_lines(content, required=COLUMNS, optional=OPTIONAL), now)
        try:
            return _post(
                channel, name=name, digest=digest, rows=rows, created_by=created_by, now=now
            )
        except IntegrityError as error:
            # Another import posted one of these references, or this very file, meanwhile:
            # look again (once) and report those rows as duplicates.
            if attempt or constraint_name(error) not in (
                "payment_once_per_channel_reference",
                "payment_file_received_once",
            ):
                raise
    raise AssertionError("unreachable")


def _existing_file(channel_id: int, digest: str) -> int | None:
    return (
        PaymentFile.objects.filter(channel_id=channel_id, kind=FileKind.LOCKBOX, sha256=digest)
        .values_list("id", flat=True)
        .first()
    )


def _check_rows(channel: ChannelPolicy, lines: list[Line], now: datetime) -> list[_Row]:
    today = local_date(now, zone(channel.time_zone))
    code = currency(channel.currency)
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for line in lines:
        row = _Row(line)
        rows.append(row)
        if line.problem:
            row.refuse("line", line.problem)
            continue
        v = line.values
        row.reference = v["reference"][:64]
        row.account_number = v["account_number"][:40]
        if not v["reference"] or len(v["reference"]) > 64:
            row.refuse("reference", "the reference must have 1 to 64 characters")
        elif v["reference"] in seen:
            row.refuse("reference", f"the reference is on line {seen[v['reference']]} too")
        else:
            seen[v["reference"]] = line.number
        if not row.account_number:
            row.refuse("account_number", "the account number is missing")
        try:
            row.amount = parse_amount(v["amount"])
            if not Money.of(row.amount, code).is_rounded():
                raise ValueError(f"{row.amount} has more decimals than {code.code} allows")
            if row.amount >= operations.MAX_AMOUNT:
                raise ValueError(f"the amount {row.amount} is too large")
        except ValueError as error:
            row.amount = None
            row.refuse("amount", str(error))
        if v["currency"].upper() != channel.currency:
            row.refuse("currency", f"{v['currency']!r} is not {channel.currency}")
        try:
            row.paid_on = parse_date(v["paid_on"])
            if row.paid_on > today:
                row.refuse("paid_on", f"{row.paid_on} is in the future")
        except ValueError as error:
            row.refuse("paid_on", str(error))
    _resolve_accounts(channel, rows)
    _find_duplicates(channel, rows)
    return rows


def _resolve_accounts(channel: ChannelPolicy, rows: list[_Row]) -> None:
    found = find_accounts(
        numbers=[r.account_number for r in rows if r.account_number],
        utility_code=channel.utility_code,
    )
    scheme, prefix = Utility.objects.values_list("number_scheme", "number_prefix").get(
        id=channel.utility_id
    )
    for row in rows:
        if not row.account_number:
            continue
        account = found.get(row.account_number.strip())
        if account is not None:
            row.account_id = account.id
            continue
        reason = f"no account with number {row.account_number!r}"
        cleaned = "".join(row.account_number.split()).replace("-", "").upper()
        if cleaned.startswith(prefix):
            try:
                validate_number(cleaned, scheme=NumberScheme(scheme), prefix=prefix)
            except DomainError as error:
                reason = error.message
        row.refuse("account_number", reason)


def _find_duplicates(channel: ChannelPolicy, rows: list[_Row]) -> None:
    references = [r.reference for r in rows if r.reference]
    if not references:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT external_reference, id, account_id, amount FROM payments_payment "
            "WHERE channel_id = %s AND external_reference = ANY(%s)",
            [channel.id, references],
        )
        posted = {r[0]: r[1:] for r in cursor.fetchall()}
    for row in rows:
        before = posted.get(row.reference)
        if before is None:
            continue
        payment_id, account_id, amount = before
        if row.status == RowStatus.POSTED and (account_id, amount) == (row.account_id, row.amount):
            row.status, row.payment_id = RowStatus.DUPLICATE, payment_id
        else:
            row.refuse("reference", f"the reference was used for payment {payment_id} before")


def _post(
    channel: ChannelPolicy,
    *,
    name: str,
    digest: str,
    rows: list[_Row],
    created_by: str,
    now: datetime,
) -> FileResult:
    tz = zone(channel.time_zone)
    with transaction.atomic():
        file = PaymentFile.objects.create(
            channel_id=channel.id,
            kind=FileKind.LOCKBOX,
            name=name[:200],
            sha256=digest,
            row_count=len(rows),
            received_at=now,
            created_by=created_by[:64],
        )
        good = [r for r in rows if r.status == RowStatus.POSTED]
        locked = ledger.lock_accounts(account_ids={r.account_id for r in good if r.account_id})
        positions = ledger.read_positions(accounts=locked)
        if not channel.accepts_credit_on_account:
            owed = {a: p.debt for a, p in positions.items()}
            for row in good:
                assert row.account_id is not None and row.amount is not None
                if row.amount > owed[row.account_id]:
                    row.refuse(
                        "amount",
                        f"{row.amount} is more than the {owed[row.account_id]} owed "
                        "(the channel keeps no credit on account)",
                    )
                else:
                    owed[row.account_id] -= row.amount
            good = [r for r in good if r.status == RowStatus.POSTED]
        _post_good_rows(
            channel, good=good, positions=positions, created_by=created_by, now=now, tz=tz
        )
        _insert_rows(file.id, rows)
    return get_file_result(file_id=file.id)


def _post_good_rows(
    channel: ChannelPolicy,
    *,
    good: list[_Row],
    positions: dict[int, ledger.Position],
    created_by: str,
    now: datetime,
    tz: ZoneInfo,
) -> None:
    if not good:
        return
    for row, payment_id in zip(
        good, reserve_ids(table="payments_payment", count=len(good)), strict=True
    ):
        row.payment_id = payment_id
    posted = ledger.post_in_bulk(
        rows=[
            ledger.ChargeRow(
                r.account_id or 0,
                "payment",
                -(r.amount or Decimal(0)),
                channel.currency,
                r.paid_on or date.min,
                None,
                "payment",
                str(r.payment_id),
                f"{channel.name} {r.reference}",
            )
            for r in good
        ],
        created_by=created_by,
        now=now,
    )
    balance = {a: p.balance for a, p in positions.items()}
    after: list[Decimal] = []
    for row in good:
        assert row.account_id is not None and row.amount is not None
        balance[row.account_id] -= row.amount
        after.append(balance[row.account_id])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO payments_payment (id, channel_id, external_reference, account_id,
                account_number_given, amount, currency, method, received_at, value_date,
                posted_at, bill_reference, collected_by, device, till_session_id,
                ledger_entry_id, balance_after, created_by)
            SELECT r.id, %(channel)s, r.reference, r.account_id, r.given, r.amount,
                   %(currency)s, %(method)s, r.received_at, r.paid_on, %(now)s, '', '', '',
                   NULL, r.entry_id, r.balance, %(by)s
            FROM unnest(%(ids)s::bigint[], %(references)s::varchar[], %(accounts)s::bigint[],
                        %(given)s::varchar[], %(amounts)s::numeric[],
                        %(received)s::timestamptz[], %(paid_on)s::date[], %(entries)s::bigint[],
                        %(balances)s::numeric[])
                 AS r(id, reference, account_id, given, amount, received_at, paid_on, entry_id,
                      balance)
            """,
            {
                "channel": channel.id,
                "currency": channel.currency,
                "method": PaymentMethod.CHEQUE,
                "now": now,
                "by": created_by[:64],
                "ids": [r.payment_id for r in good],
                "references": [r.reference for r in good],
                "accounts": [r.account_id for r in good],
                "given": [r.account_number for r in good],
                "amounts": [r.amount for r in good],
                "received": [
                    datetime.combine(r.paid_on or date.min, time(0), tzinfo=tz) for r in good
                ],
                "paid_on": [r.paid_on for r in good],
                "entries": [posted[("payment", str(r.payment_id))].id for r in good],
                "balances": after,
            },
        )


def _insert_rows(file_id: int, rows: list[_Row]) -> None:
    LockboxRow.objects.bulk_create(
        [
            LockboxRow(
                file_id=file_id,
                line_number=r.line.number,
                raw=r.line.raw,
                reference=r.reference,
                account_number=r.account_number,
                amount=r.amount,
                paid_on=r.paid_on,
                status=r.status,
                field=r.field,
                reason=r.reason,
                payment_id=r.payment_id if r.status != RowStatus.QUARANTINED else None,
            )
            for r in rows
        ],
        batch_size=5000,
    )


def get_file_result(*, file_id: int, replayed: bool = False) -> FileResult:
    file = PaymentFile.objects.select_related("channel__utility").get(id=file_id)
    code = file.channel.utility.currency
    rows = LockboxRow.objects.filter(file_id=file_id).order_by("line_number")
    return FileResult(
        file_id=file.id,
        name=file.name,
        rows=tuple(_row_result(r, code) for r in rows),
        replayed=replayed,
    )


def _row_result(row: LockboxRow, code: str) -> RowResult:
    return RowResult(
        row_id=row.id,
        line_number=row.line_number,
        status=row.status,
        reference=row.reference,
        account_number=row.account_number,
        amount=None if row.amount is None else Money.of(row.amount, code).rounded(),
        field=row.field,
        reason=row.reason,
        payment_id=row.payment_id,
        raw=row.raw,
    )


def quarantined_rows(
    *, channel: ChannelPolicy, limit: int = 100, after_id: int = 0
) -> list[RowResult]:
    """Rows waiting for a person, oldest first, paged by id."""
    rows = LockboxRow.objects.filter(
        file__channel_id=channel.id, status=RowStatus.QUARANTINED, id__gt=after_id
    ).order_by("id")[:limit]
    return [_row_result(r, channel.currency) for r in rows]


def release_row(
    *,
    channel: ChannelPolicy,
    row_id: int,
    account_number: str | None,
    amount: Decimal | None,
    released_by: str,
    now: datetime,
) -> RowResult:
    """Post a quarantined row with a clerk's correction (account number, amount). Raises
    RowNotFound, Conflict (not in quarantine) and what posting raises."""
    with transaction.atomic():
        row = (
            LockboxRow.objects.select_for_update()
            .filter(id=row_id, file__channel_id=channel.id)
            .first()
        )
        if row is None:
            raise RowNotFound(f"no lockbox row {row_id}", field="row")
        if row.status != RowStatus.QUARANTINED:
            raise Conflict(f"row {row_id} is {row.status}, not in quarantine", field="row")
        paid_on = row.paid_on or local_date(now, zone(channel.time_zone))
        receipt = operations.post_payment(
            channel=channel,
            data=PaymentInput(
                transaction_id=row.reference or f"LB{row.file_id}-{row.line_number}",
                account_number=account_number or row.account_number,
                amount=amount if amount is not None else (row.amount or Decimal(0)),
                currency=channel.currency,
                received_at=datetime.combine(paid_on, time(0), tzinfo=zone(channel.time_zone)),
                method=PaymentMethod.CHEQUE,
            ),
            created_by=f"clerk:{released_by}"[:64],
            now=now,
        )
        row.status = RowStatus.RELEASED
        row.payment_id = receipt.payment_id
        row.account_number = account_number or row.account_number
        row.amount = receipt.amount.amount
        row.resolved_at = now
        row.resolved_by = released_by[:64]
        row.save(
            update_fields=[
                "status",
                "payment",
                "account_number",
                "amount",
                "resolved_at",
                "resolved_by",
            ]
        )
    return _row_result(row, channel.currency)


def reject_row(
    *, channel: ChannelPolicy, row_id: int, reason: str, rejected_by: str, now: datetime
) -> RowResult:
    """Set a quarantined row aside for good (returned to the payer, say), with the reason."""
    if not reason.strip():
        raise InvalidInput("say why the row is rejected", field="reason")
    with transaction.atomic():
        row = (
            LockboxRow.objects.select_for_update()
            .filter(id=row_id, file__channel_id=channel.id)
            .first()
        )
        if row is None:
            raise RowNotFound(f"no lockbox row {row_id}", field="row")
        if row.status != RowStatus.QUARANTINED:
            raise Conflict(f"row {row_id} is {row.status}, not in quarantine", field="row")
        row.status = RowStatus.REJECTED
        row.reason = f"{row.reason} — rejected: {reason}"[:300]
        row.resolved_at = now
        row.resolved_by = rejected_by[:64]
        row.save(update_fields=["status", "reason", "resolved_at", "resolved_by"])
    return _row_result(row, channel.currency)
