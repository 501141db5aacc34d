"""Pure arithmetic of a bill's lines and totals.

Each line amount is rounded once (half-up to the currency's minor unit); the tax of each rate is
computed once on the sum of that rate's rounded lines and rounded half-up (EVN: VAT = subtotal ×
rate, whole đồng); that tax is then spread over the rate's lines by largest remainder so the lines'
tax amounts add up exactly to the bill's tax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from ampere.billing.types import DraftLine
from ampere.core.errors import InvalidInput
from ampere.core.money import Currency, Money, currency


@dataclass(frozen=True, slots=True)
class PricedLine:
    sequence: int
    line: DraftLine
    amount: Decimal  # rounded
    tax_amount: Decimal


@dataclass(frozen=True, slots=True)
class TaxOfRate:
    rate: Decimal
    base: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class BillTotals:
    currency: Currency
    subtotal: Decimal
    taxes: tuple[TaxOfRate, ...]
    tax_total: Decimal
    total: Decimal

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)


def allocate_signed(amount_minor: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount_minor`` over integer ``weights`` (signs allowed, non-zero sum) in
    proportion, by largest remainder: the parts sum exactly to ``amount_minor``."""
    weight_total = sum(weights)
    if weight_total == 0:
        if amount_minor:
            raise InvalidInput("cannot spread an amount over weights summing to 0", field="weights")
        return [0] * len(weights)
    exact = [Decimal(amount_minor) * w / weight_total for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    leftover = amount_minor - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for index in order[:leftover]:
        floors[index] += 1
    return floors


def price_lines(
    lines: Sequence[DraftLine], *, currency_code: str
) -> tuple[tuple[PricedLine, ...], BillTotals]:
    """Round the lines, compute tax per rate, and total the bill. Raises InvalidInput."""
    cur = currency(currency_code)
    if not lines:
        raise InvalidInput("a bill needs at least one line", field="lines")
    rounded: list[Decimal] = []
    for index, line in enumerate(lines):
        if not line.amount_unrounded.is_finite():
            raise InvalidInput("amount must be finite", field=f"lines[{index}].amount_unrounded")
        if not Decimal(0) <= line.tax_rate < Decimal(1):
            raise InvalidInput(
                "a tax rate is a fraction in [0, 1)", field=f"lines[{index}].tax_rate"
            )
        rounded.append(line.amount_unrounded.quantize(cur.quantum, rounding=ROUND_HALF_UP))
    scale = Decimal(10) ** cur.minor_digits
    taxes: list[TaxOfRate] = []
    tax_minor = [0] * len(lines)
    for rate in sorted({line.tax_rate for line in lines}):
        members = [i for i, line in enumerate(lines) if line.tax_rate == rate]
        base = sum((rounded[i] for i in members), Decimal(0))
        tax = (base * rate).quantize(cur.quantum, rounding=ROUND_HALF_UP)
        taxes.append(TaxOfRate(rate, base, tax))
        parts = allocate_signed(int(tax * scale), [int(rounded[i] * scale) for i in members])
        for i, part in zip(members, parts, strict=True):
            tax_minor[i] = part
    priced = tuple(
        PricedLine(i + 1, line, rounded[i], Decimal(tax_minor[i]) / scale)
        for i, line in enumerate(lines)
    )
    subtotal = sum(rounded, Decimal(0))
    tax_total = sum((t.tax for t in taxes), Decimal(0))
    return priced, BillTotals(cur, subtotal, tuple(taxes), tax_total, subtotal + tax_total)
