"""Reading the CSV files channels send (lockbox payments, bank settlements). Pure: no Django.

A file is UTF-8 text (a byte-order mark is allowed) with a header row naming its columns in
any order; one record per line. A line that cannot be read is kept with its raw text and the
problem, so the rest of the file goes on.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from ampere.core.errors import InvalidInput

MAX_LINES = 200_000


@dataclass(frozen=True)
class Line:
    number: int  # 1 is the header
    raw: str
    values: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # why the line could not be split into the header's columns


def read_lines(
    content: bytes, *, required: Sequence[str], optional: Sequence[str] = ()
) -> list[Line]:
    """The data lines of a CSV file; raises InvalidInput when the file as a whole is unusable
    (not text, no header, a required column missing, too long)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the file is not UTF-8 text (byte {error.start})", field="file"
        ) from None
    physical = text.splitlines()
    if not physical or not physical[0].strip():
        raise InvalidInput("the file has no header line", field="file")
    if len(physical) > MAX_LINES + 1:
        raise InvalidInput(f"a file has at most {MAX_LINES} lines; split it", field="file")
    header = [h.strip().lower() for h in next(csv.reader([physical[0]]))]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(f"the header lacks {', '.join(missing)}", field="file")
    known = set(required) | set(optional)
    lines: list[Line] = []
    for number, raw in enumerate(physical[1:], start=2):
        if not raw.strip():
            continue
        try:
            cells = next(csv.reader([raw]))
        except csv.Error as error:
            lines.append(Line(number, raw, problem=f"unreadable: {error}"))
            continue
        if len(cells) != len(header):
            lines.append(
                Line(
                    number, raw, problem=f"{len(cells)} columns where the header has {len(header)}"
                )
            )
            continue
        lines.append(
            Line(
                number,
                raw,
                {h: c.strip() for h, c in zip(header, cells, strict=True) if h in known},
            )
        )
    return lines


def parse_amount(text: str) -> Decimal:
    """A positive decimal amount ("250000", "12.34"); raises ValueError saying why not."""
    cleaned = text.replace(" ", "")
    if not cleaned:
        raise ValueError("the amount is missing")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"the amount must be more than zero, not {text}")
    return amount


def parse_date(text: str) -> date:
    """An ISO date (2025-06-02); raises ValueError saying why not."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
