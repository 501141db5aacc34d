"""Interval files as recorded imports: each file received (head-end CSV or Green Button XML) is
an ``IntervalImport``; its good rows are stored through the normal interval path, its bad rows
wait in the quarantine (``QuarantinedInterval``) with their raw text and reason until a clerk
corrects them (head-end CSV rows) or marks them resolved.

Transactions: ``import_interval_file`` owns one transaction. A whole-file error (wrong columns,
not UTF-8, broken XML) is not raised: the file is recorded as ``refused`` with its reason and the
result says so. When the caller has a transaction of its own open, the refused file's record is
committed on a separate database connection at once, so that it survives whatever the caller's
transaction does afterwards. Only when that cannot be done (the utility itself is not committed
yet, or the caller holds a lock the record needs: the separate connection waits at most
``OUTSIDE_LOCK_TIMEOUT``) is the record written in the caller's transaction and shares its fate.

Interval lengths are decided row by row, never for the whole file: rows for a meter, channel
and local day that is stored already with another interval length wait in the quarantine as
``interval-length-clash`` (the file's other rows are stored), and so do rows of another length
than their meter's (``interval-length-mismatch``, or ``interval-lengths-mixed`` when the file
mixes lengths for one meter, channel and day); see ``intervals.assemble_days``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePath
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from ampere.core.errors import DomainError, InvalidInput, NotFound
from ampere.core.localtime import zone
from ampere.database import apply_settings, copy_rows
from ampere.metering.greenbutton import feed_header, read_green_button
from ampere.metering.intervals import ParsedIntervals, _store, _utility, read_head_end_csv
from ampere.metering.models import (
    IntervalFileFormat,
    IntervalImport,
    IntervalImportStatus,
    QuarantinedInterval,
    QuarantineResolution,
)
from ampere.metering.parsing import BadFile
from ampere.metering.queries import interval_import_result
from ampere.metering.types import IntervalFileResult, IntervalImportResult

_QUARANTINE_COLUMNS = (
    "interval_import_id",
    "row_number",
    "row_ref",
    "raw",
    "reason",
    "message",
    "meter_serial",
    "channel",
    "status",
    "corrected_raw",
    "resolved_by",
    "resolution_note",
)


class IntervalCorrectionRefused(DomainError):
    code = "interval-correction-refused"


def _read(file_format: str, data: bytes, meter_serial: str) -> ParsedIntervals:
    if file_format == IntervalFileFormat.HEAD_END:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise BadFile(
                f"the file is not UTF-8 text (byte {error.start + 1})", field="file"
            ) from None
        return read_head_end_csv(text)
    return read_green_button(data, meter_serial=meter_serial or None)


def _header_of_unreadable(file_format: str, data: bytes) -> str:
    """What a refused file begins with, for the person who looks at it: the CSV's first line,
    the Green Button feed's id and title, or the first 200 characters."""
    if file_format == IntervalFileFormat.GREEN_BUTTON:
        header = feed_header(data)
        if header is not None:
            return header
    first = data[:400].decode("utf-8", errors="replace")
    if file_format == IntervalFileFormat.HEAD_END:
        first = first.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    return " ".join(first.split())[:200]


def import_interval_file(
    *,
    utility_code: str,
    data: bytes,
    file_format: str,
    file_name: str = "",
    meter_serial: str | None = None,
    now: datetime,
) -> IntervalImportResult:
    """Record an interval file, store its good rows and quarantine its bad ones (one row per bad
    row, inserted by COPY). A file that cannot be read as a whole is recorded as ``refused``
    with the reason and nothing of it is stored; rows for days stored already with another
    interval length are quarantined (``interval-length-clash``) and the rest stored. The same
    content again (same utility, format and meter serial) returns the first import's result
    with ``replayed`` and stores nothing. Raises NotFound for an unknown utility, InvalidInput
    for an unknown format, IntervalLengthClash (nothing recorded) in the rare case that other
    sessions keep storing clashing days while the file is stored."""
    utility_id, tz = _utility(utility_code)
    if file_format not in IntervalFileFormat.values:
        raise InvalidInput(
            f"{file_format!r} is not one of {', '.join(IntervalFileFormat.values)}",
            field="format",
        )
    serial = (meter_serial or "").strip()
    if serial and file_format != IntervalFileFormat.GREEN_BUTTON:
        raise InvalidInput("a meter serial is given only with a Green Button file", field="meter")
    if len(serial) > 32:
        raise InvalidInput("a meter serial has at most 32 characters", field="meter")
    digest = hashlib.sha256(data).hexdigest()
    name = PurePath(file_name).name[:255] if file_name else ""
    key = {
        "utility_id": utility_id,
        "file_format": file_format,
        "meter_serial": serial,
        "content_sha256": digest,
    }
    earlier = IntervalImport.objects.filter(**key).first()
    if earlier is not None:
        return interval_import_result(earlier, replayed=True)
    parsed: ParsedIntervals | None = None
    refusal: BadFile | None = None
    try:
        parsed = _read(file_format, data, serial)
    except BadFile as error:
        refusal = error
    if refusal is not None and connection.in_atomic_block:
        outside = _record_refusal_outside(
            key=key,
            file_name=name,
            header=_header_of_unreadable(file_format, data),
            reason=str(refusal),
            now=now,
        )
        if outside is not None:
            record_id, created = outside
            return interval_import_result(
                IntervalImport.objects.get(id=record_id), replayed=not created
            )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_IMPORT_SQL,
                [
                    utility_id,
                    file_format,
                    name,
                    digest,
                    serial,
                    "",
                    now,
                    IntervalImportStatus.STORED,
                    "",
                ],
            )
            created = cursor.fetchone()
        if created is None:  # the same file, imported at the same moment by another session
            return interval_import_result(IntervalImport.objects.get(**key), replayed=True)
        record = IntervalImport.objects.get(id=created[0])
        if refusal is not None or parsed is None:
            assert refusal is not None
            return _refuse(record, _header_of_unreadable(file_format, data), refusal)
        # Raises IntervalLengthClash (and records nothing: the claim is rolled back with the
        # rest, so the file may be imported again) only when other sessions kept storing days
        # of another interval length for its days while it was being stored.
        stored = _store(utility_id, tz, parsed.points, parsed.errors)
        quarantined = _quarantine(record.id, parsed, stored.row_errors)
        record.header = parsed.header
        record.status = (
            IntervalImportStatus.QUARANTINED if quarantined else IntervalImportStatus.STORED
        )
        record.rows_read = parsed.rows_read
        record.rows_quarantined = quarantined
        record.rows_stored = parsed.rows_read - quarantined
        record.days_loaded = stored.days_loaded
        record.values_loaded = stored.values_loaded
        record.save()
    return interval_import_result(record, replayed=False)


# An import's record, or none when the same file is recorded already (the id is returned).
_INSERT_IMPORT_SQL = """
INSERT INTO metering_intervalimport (utility_id, file_format, file_name, content_sha256,
    meter_serial, header, received_at, status, reason, rows_read, rows_stored,
    rows_quarantined, days_loaded, values_loaded)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 0, 0, 0, 0)
ON CONFLICT (utility_id, file_format, meter_serial, content_sha256) DO NOTHING
RETURNING id
"""
# How long the separate connection waits for a lock the caller's transaction may hold.
OUTSIDE_LOCK_TIMEOUT = "2s"


def _record_refusal_outside(
    *, key: dict[str, Any], file_name: str, header: str, reason: str, now: datetime
) -> tuple[int, bool] | None:
    """Commit a refused file's record on a connection of its own (autocommit); returns its id
    and whether it is new, or None when that connection cannot write it."""
    outside = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with outside.cursor() as cursor:
            apply_settings({"lock_timeout": OUTSIDE_LOCK_TIMEOUT}, local=False, cursor=cursor)
            cursor.execute(
                _INSERT_IMPORT_SQL,
                [
                    key["utility_id"],
                    key["file_format"],
                    file_name,
                    key["content_sha256"],
                    key["meter_serial"],
                    header,
                    now,
                    IntervalImportStatus.REFUSED,
                    reason,
                ],
            )
            created = cursor.fetchone()
            if created is not None:
                return created[0], True
            cursor.execute(
                "SELECT id FROM metering_intervalimport WHERE utility_id = %s AND file_format = %s"
                " AND meter_serial = %s AND content_sha256 = %s",
                [
                    key["utility_id"],
                    key["file_format"],
                    key["meter_serial"],
                    key["content_sha256"],
                ],
            )
            existing = cursor.fetchone()
            return None if existing is None else (existing[0], False)
    except DatabaseError:
        return None
    finally:
        outside.close()


def _refuse(record: IntervalImport, header: str, error: DomainError) -> IntervalImportResult:
    record.header = header
    record.status = IntervalImportStatus.REFUSED
    record.reason = str(error)
    record.save(update_fields=["header", "status", "reason"])
    return interval_import_result(record, replayed=False)


def _quarantine(import_id: int, parsed: ParsedIntervals, errors: Sequence[dict[str, Any]]) -> int:
    """COPY one quarantine row per bad row; returns how many."""
    rows: dict[int, tuple[object, ...]] = {}
    for error in errors:
        number, raw = parsed.source(error["ref"])
        if number in rows:  # one row gave two errors: the first is kept
            continue
        rows[number] = (
            import_id,
            number,
            str(error["ref"])[:60],
            raw,
            str(error["code"])[:32],
            str(error["message"]),
            str(error.get("meter", ""))[:64],
            str(error.get("channel", ""))[:32],
            QuarantineResolution.OPEN,
            "",
            "",
            "",
        )
    if not rows:
        return 0
    return copy_rows(
        table="metering_quarantinedinterval",
        columns=_QUARANTINE_COLUMNS,
        rows=(rows[number] for number in sorted(rows)),
    )


def _open_row(quarantine_id: int) -> QuarantinedInterval:
    row = (
        QuarantinedInterval.objects.select_for_update(of=("self",))
        .select_related("interval_import__utility")
        .filter(id=quarantine_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no quarantined interval row {quarantine_id}", field="quarantine")
    if row.status != QuarantineResolution.OPEN:
        raise IntervalCorrectionRefused(
            f"the row was resolved already by {row.resolved_by}", field="quarantine"
        )
    return row


def correct_quarantined_interval(
    *, quarantine_id: int, raw: str, by: str, note: str = "", now: datetime
) -> IntervalFileResult:
    """Store a clerk's corrected version of a quarantined head-end CSV row (the raw row, with the
    columns of the file's header) through the normal path, and resolve the row. A corrected
    row that is still bad changes nothing and raises IntervalCorrectionRefused naming why."""
    if not by.strip():
        raise InvalidInput("say who corrects the row", field="by")
    text = raw.strip("\r\n")
    if not text.strip():
        raise IntervalCorrectionRefused("give the corrected row", field="raw")
    with transaction.atomic():
        row = _open_row(quarantine_id)
        record = row.interval_import
        if record.file_format != IntervalFileFormat.HEAD_END:
            raise IntervalCorrectionRefused(
                "only head-end CSV rows can be corrected here; mark the row resolved",
                field="quarantine",
            )
        utility_id, tz = record.utility_id, zone(record.utility.time_zone)
        try:
            parsed = read_head_end_csv(f"{record.header}\n{text}\n")
        except BadFile as error:
            raise IntervalCorrectionRefused(str(error), field="raw") from None
        if parsed.rows_read != 1:
            raise IntervalCorrectionRefused(
                f"give exactly one row ({parsed.rows_read} given)", field="raw"
            )
        if parsed.errors:
            raise IntervalCorrectionRefused(_why(parsed.errors), field="raw")
        stored = _store(utility_id, tz, parsed.points, [])
        if stored.row_errors:
            raise IntervalCorrectionRefused(_why(stored.row_errors), field="raw")
        row.status = QuarantineResolution.RESOLVED
        row.corrected_raw = text
        row.resolved_by = by[:64]
        row.resolved_at = now
        row.resolution_note = note[:300]
        row.save(
            update_fields=[
                "status",
                "corrected_raw",
                "resolved_by",
                "resolved_at",
                "resolution_note",
            ]
        )
    return stored


def _why(errors: Sequence[dict[str, Any]]) -> str:
    return "; ".join(f"{e['code']}: {e['message']}" for e in errors)


def resolve_quarantined_intervals(
    *, quarantine_ids: Sequence[int], by: str, note: str, now: datetime
) -> int:
    """Mark open quarantined rows resolved without storing them (a person dealt with them
    otherwise; the note says how), in one statement. Returns how many were open."""
    if not by.strip():
        raise InvalidInput("say who resolves the rows", field="by")
    if not note.strip():
        raise InvalidInput("say why the rows are resolved", field="note")
    with transaction.atomic():
        return QuarantinedInterval.objects.filter(
            id__in=list(quarantine_ids), status=QuarantineResolution.OPEN
        ).update(
            status=QuarantineResolution.RESOLVED,
            resolved_by=by[:64],
            resolved_at=now,
            resolution_note=note[:300],
        )
