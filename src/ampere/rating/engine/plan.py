"""Splitting a billing period into segments, each priced by one version, season and tax rate.

A period is cut where the version in force, the season (of a version with more than one) or a
tax rate changes; neighbouring pieces that price alike (equal pricing, season and tax rates) are
joined again, so a split where nothing changes is no split. Both engines price from the same plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine.model import Denominator, TariffVersion, TaxRate, TaxSchedule


class NoVersionInForce(InvalidInput):
    code = "no-tariff-version"


class NoTaxRate(InvalidInput):
    code = "no-tax-rate"


@dataclass(frozen=True, slots=True)
class Segment:
    period: DatePeriod
    version: TariffVersion
    season: int
    taxes: tuple[TaxRate, ...]

    @property
    def days(self) -> int:
        return self.period.days


@dataclass(frozen=True, slots=True)
class Plan:
    period: DatePeriod
    segments: tuple[Segment, ...]
    billing_days: int
    width_denominator: int  # divides tier widths of a split period
    split_quantum_wh: int  # pro-rated register kWh are rounded half-up to this step

    @property
    def is_split(self) -> bool:
        return len(self.segments) > 1

    @property
    def currency(self) -> str:
        return self.segments[0].version.pricing.currency

    @property
    def minor_digits(self) -> int:
        return self.segments[0].version.pricing.minor_digits


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


def previous_month_days(reading_date: date) -> int:
    """Days of the calendar month before the month of the reading date."""
    first = _first_of_month(reading_date)
    return (first - _first_of_month(first - timedelta(days=1))).days


def plan_period(
    *,
    versions: Sequence[TariffVersion],
    taxes: TaxSchedule,
    period: DatePeriod,
    denominator: Denominator | None = None,
) -> Plan:
    """Segments of ``period`` (closed, non-empty). ``denominator`` overrides the version's policy.

    Raises NoVersionInForce when a day has no version, NoTaxRate when a tax has no rate on a day,
    InvalidInput for an open or empty period.
    """
    if period.end is None or period.days <= 0:
        raise InvalidInput("a billing period has a start and a later end", field="period")
    assert period.end is not None
    pieces: list[Segment] = []
    cursor = period.start
    ordered = sorted(versions, key=lambda v: v.period.start)
    for version in ordered:
        part = version.period.intersection(DatePeriod(cursor, period.end))
        if part is None or part.start != cursor:
            continue
        assert part.end is not None
        pieces += _pieces_of(version, part, taxes)
        cursor = part.end
        if cursor >= period.end:
            break
    if cursor < period.end:
        raise NoVersionInForce(
            f"no version of the tariff is in force on {cursor.isoformat()}", field="period"
        )
    merged: list[Segment] = []
    for piece in pieces:
        if merged and _prices_alike(merged[-1], piece):
            last = merged.pop()
            merged.append(
                Segment(
                    DatePeriod(last.period.start, piece.period.end),
                    last.version,
                    last.season,
                    last.taxes,
                )
            )
        else:
            merged.append(piece)
    pricing = merged[-1].version.pricing
    policy = denominator or pricing.denominator
    width_denominator = (
        period.days if policy is Denominator.BILLING_DAYS else previous_month_days(period.end)
    )
    return Plan(
        period=period,
        segments=tuple(merged),
        billing_days=period.days,
        width_denominator=width_denominator,
        split_quantum_wh=int(pricing.split_quantum_kwh * 1000),
    )


def _prices_alike(left: Segment, right: Segment) -> bool:
    return (
        left.version.pricing == right.version.pricing
        and left.season == right.season
        and [(t.code, t.rate) for t in left.taxes] == [(t.code, t.rate) for t in right.taxes]
    )


def _pieces_of(version: TariffVersion, part: DatePeriod, taxes: TaxSchedule) -> list[Segment]:
    assert part.end is not None
    seasons = version.pricing.seasons
    points: set[date] = set()
    if len(seasons.names) > 1:
        month = _first_of_month(part.start)
        while month < part.end:
            following = _first_of_month(month + timedelta(days=32))
            if seasons.of(following) != seasons.of(month):
                points.add(following)
            month = following
    for rate in taxes.rates:
        points.add(rate.period.start)
        if rate.period.end is not None:
            points.add(rate.period.end)
    segments: list[Segment] = []
    for piece in part.split_at(points):
        rates = taxes.rates_on(piece.start)
        present = {r.code for r in rates}
        for code in taxes.codes():
            if code not in present:
                raise NoTaxRate(f"no {code} rate on {piece.start.isoformat()}", field="period")
        segments.append(Segment(piece, version, seasons.of(piece.start), rates))
    return segments


def round_half_up(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def div_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero (denominator > 0), exactly."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def share_register(total_wh: int, plan: Plan) -> list[int]:
    """A register's Wh over the segments, pro-rata by days: each segment's share is rounded
    half-up to the split quantum cumulatively (for two segments: A_old = S/T × Nc rounded,
    A_new = S − A_old, the EVN rule), so the shares always sum to the total."""
    if not plan.is_split:
        return [total_wh]
    quantum = plan.split_quantum_wh
    shares: list[int] = []
    before = 0
    elapsed = 0
    for index, segment in enumerate(plan.segments):
        elapsed += segment.days
        if index == len(plan.segments) - 1:
            upto = total_wh
        else:
            rounded = div_half_up(total_wh * elapsed, plan.billing_days * quantum) * quantum
            upto = min(rounded, total_wh)
        shares.append(upto - before)
        before = upto
    return shares
