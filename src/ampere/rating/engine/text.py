"""Words on a priced line, in Vietnamese, English and Spanish (shared by both engines)."""

from __future__ import annotations

from decimal import Decimal

from ampere.core.periods import DatePeriod
from ampere.rating.engine.model import Label

TIER = Label("bậc {n}", "tier {n}", "bloque {n}")
TIER_ADDER = Label("phụ thu bậc {n}", "tier {n} adder", "recargo del bloque {n}")
SHORT_LEASE = Label(
    "toàn bộ theo giá bậc {n} (thuê nhà chưa kê khai)",
    "all kWh at the tier {n} price (undeclared lease)",
    "todo al precio del bloque {n} (arrendamiento no declarado)",
)
MINIMUM_TOP_UP = Label("bù mức tối thiểu", "top-up to the minimum", "ajuste al mínimo")
SEGMENT = Label("từ {start} đến {end}", "{start} to {end}", "del {start} al {end}")


def _date_text(day: object, language: str) -> str:
    from datetime import date

    assert isinstance(day, date)
    if language == "en":
        return day.isoformat()
    return day.strftime("%d/%m/%Y")


def describe(
    label: Label,
    language: str,
    *details: str,
    segment: DatePeriod | None = None,
) -> str:
    """``label — detail, detail (segment)``; the segment is shown only for a split period."""
    text = label.get(language)
    parts = [d for d in details if d]
    if parts:
        text += " — " + ", ".join(parts)
    if segment is not None and segment.end is not None:
        last = segment.inclusive_end()
        text += (
            " ("
            + SEGMENT.get(language).format(
                start=_date_text(segment.start, language), end=_date_text(last, language)
            )
            + ")"
        )
    return text


def tier_text(language: str, number: int) -> str:
    return TIER.get(language).format(n=number)


def adder_text(language: str, number: int) -> str:
    return TIER_ADDER.get(language).format(n=number)


def short_lease_text(language: str, number: int) -> str:
    return SHORT_LEASE.get(language).format(n=number)


def tax_text(label: Label, language: str, rate: Decimal) -> str:
    percent = (rate * 100).normalize()
    return f"{label.get(language)} {percent:f}%"
