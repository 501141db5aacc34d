"""Reading files and rows of register reads (CSV and JSON). Pure: no Django, no database.

A CSV file has a header with the columns ``meter, register, read_at, value`` and optionally
``source``; a JSON file is ``{"batch_id": ..., "readings": [{...}, ...]}`` or a bare list of
readings with the same keys. ``read_at`` is ISO 8601 with its offset
(``2025-05-31T09:15:00+07:00``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ampere.core.errors import InvalidInput
from ampere.metering.types import ReadingRow, RowProblem

REQUIRED_COLUMNS = ("meter", "register", "read_at", "value")
OPTIONAL_COLUMNS = ("source",)
REGISTER_CODES = frozenset({"kwh", "kwh_peak", "kwh_normal", "kwh_off_peak", "kw_max", "kvarh"})
BATCH_SOURCES = frozenset({"handheld", "manual", "remote", "customer"})
MAX_DECIMALS = 3


@dataclass(frozen=True)
class RawRow:
    row_number: int
    raw: dict[str, Any]
    problem: RowProblem | None = None  # a row that could not even be split into fields


@dataclass(frozen=True)
class ParsedFile:
    batch_id: str | None
    rows: tuple[RawRow, ...]


class BadFile(InvalidInput):
    code = "bad-file"


def read_csv(text: str) -> ParsedFile:
    """Rows of a CSV file; raises BadFile when the header names the wrong columns."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BadFile("the file is empty", field="file") from None
    except csv.Error as error:
        raise BadFile(f"the header cannot be read: {error}", field="file") from None
    columns = [c.strip().lower() for c in header]
    _check_columns(columns)
    rows: list[RawRow] = []
    number = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            number += 1
            rows.append(
                RawRow(number, {"line": reader.line_num}, RowProblem("bad-csv", str(error), None))
            )
            continue
        if not fields or all(not f.strip() for f in fields):
            continue
        number += 1
        if len(fields) != len(columns):
            rows.append(
                RawRow(
                    number,
                    {"fields": fields},
                    RowProblem(
                        "wrong-field-count",
                        f"{len(fields)} fields where the header has {len(columns)}",
                        None,
                    ),
                )
            )
            continue
        rows.append(RawRow(number, dict(zip(columns, fields, strict=True))))
    return ParsedFile(None, tuple(rows))


def read_json(data: bytes | str) -> ParsedFile:
    """Rows of a JSON batch; raises BadFile when it is not JSON or not a list of objects."""
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadFile(f"the file is not JSON: {error}", field="file") from None
    batch_id: str | None = None
    if isinstance(document, dict):
        if "readings" not in document:
            raise BadFile("a JSON batch needs a 'readings' list", field="readings")
        if document.get("batch_id") is not None:
            batch_id = str(document["batch_id"])
        items = document["readings"]
    else:
        items = document
    if not isinstance(items, list):
        raise BadFile("'readings' must be a list", field="readings")
    rows: list[RawRow] = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            rows.append(
                RawRow(
                    index,
                    {"item": item},
                    RowProblem("not-an-object", "a reading must be a JSON object", None),
                )
            )
            continue
        rows.append(RawRow(index, {str(k): v for k, v in item.items()}))
    return ParsedFile(batch_id, tuple(rows))


def _check_columns(columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if duplicated:
        problems.append(f"repeated column(s) {', '.join(duplicated)}")
    if problems:
        expected = ", ".join(REQUIRED_COLUMNS)
        raise BadFile(
            "; ".join(problems) + f" (expected {expected}, and optionally source)",
            field="columns",
        )


def parse_timestamp(text: str, *, field: str = "read_at") -> datetime | RowProblem:
    """An ISO 8601 instant that carries its offset; a problem otherwise."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        return RowProblem("bad-timestamp", f"{text!r} is not an ISO 8601 time", field)
    if at.tzinfo is None or at.utcoffset() is None:
        return RowProblem(
            "timestamp-without-zone",
            f"{text!r} has no offset or zone: write it as 2025-05-31T09:15:00+07:00",
            field,
        )
    return at


def parse_decimal(raw: Any, *, field: str = "value") -> Decimal | RowProblem:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        return RowProblem("bad-number", f"{raw!r} is not a number", field)
    text = str(raw).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return RowProblem("bad-number", f"{text!r} is not a number", field)
    if not value.is_finite():
        return RowProblem("bad-number", f"{text!r} is not a finite number", field)
    if value < 0:
        return RowProblem(
            "bad-number", f"{text} is negative: a register never shows less than 0", field
        )
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        return RowProblem("bad-number", f"{text} has more than {MAX_DECIMALS} decimals", field)
    return value


def parse_row(row: RawRow, *, default_source: str) -> ReadingRow | tuple[RowProblem, ...]:
    """A reading from a raw row, or every problem found in it."""
    if row.problem is not None:
        return (row.problem,)
    raw: Mapping[str, Any] = row.raw
    problems: list[RowProblem] = []
    missing = [c for c in REQUIRED_COLUMNS if raw.get(c) in (None, "")]
    for column in missing:
        problems.append(RowProblem("missing-field", f"{column} is empty", column))
    unknown = sorted(set(raw) - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS))
    for column in unknown:
        problems.append(RowProblem("unknown-field", f"{column!r} is not a reading field", column))
    serial = str(raw.get("meter") or "").strip()
    code = str(raw.get("register") or "").strip().lower()
    if code and code not in REGISTER_CODES:
        problems.append(
            RowProblem(
                "unknown-register",
                f"{code!r} is not a register ({', '.join(sorted(REGISTER_CODES))})",
                "register",
            )
        )
    read_at: datetime | None = None
    if "read_at" not in missing:
        if isinstance(raw["read_at"], str):
            parsed = parse_timestamp(raw["read_at"])
            if isinstance(parsed, RowProblem):
                problems.append(parsed)
            else:
                read_at = parsed
        else:
            problems.append(RowProblem("bad-timestamp", "read_at must be a string", "read_at"))
    value: Decimal | None = None
    if "value" not in missing:
        number = parse_decimal(raw["value"])
        if isinstance(number, RowProblem):
            problems.append(number)
        else:
            value = number
    source = str(raw.get("source") or default_source).strip().lower()
    if source not in BATCH_SOURCES:
        problems.append(
            RowProblem(
                "bad-source",
                f"{source!r} is not a read source ({', '.join(sorted(BATCH_SOURCES))})",
                "source",
            )
        )
    if problems or read_at is None or value is None:
        return tuple(problems)
    return ReadingRow(row.row_number, serial, code, read_at, value, source)
