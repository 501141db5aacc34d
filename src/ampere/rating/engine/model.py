"""The tariff model the engine prices with: frozen values, built by ``parse`` from plain data.

Quantities inside the engine are exact integers: energy in Wh, power in W, days in days. Prices
and money are ``Decimal`` (the reference engine) or scaled integers (the batch engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from ampere.core.periods import DatePeriod

LANGUAGES = ("vi", "en", "es")
SLOTS_PER_DAY = 96  # quarter hours: TOU ranges start and end on a quarter hour
WEEKDAY, WEEKEND = 0, 1


@dataclass(frozen=True, slots=True)
class Label:
    """A text in each language Ampere's utilities bill in."""

    vi: str
    en: str
    es: str

    def get(self, language: str) -> str:
        return str(getattr(self, language if language in LANGUAGES else "en"))


class Denominator(StrEnum):
    """Days that divide a tier width when a period is split (TARIFFS.md, EVN rule)."""

    BILLING_DAYS = "billing_days"
    PREVIOUS_MONTH_DAYS = "previous_month_days"


class TierUnit(StrEnum):
    KWH = "kwh"  # kWh per bill (month)
    KWH_PER_DAY = "kwh_per_day"  # kWh × days of the segment
    KWH_PER_KW = "kwh_per_kw"  # kWh per kW of the maximum demand
    PERCENT_OF_BASELINE = "percent_of_baseline"


class TierBasis(StrEnum):
    TOTAL = "total"  # tiers on all kWh of the segment; TOU prices and tier adders add up
    PERIOD = "period"  # each TOU period's kWh climbs its own tiers


class Per(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Tiers:
    """Tier widths; ``None`` is the last, unbounded tier. A width of a ``KWH`` tier is scaled by
    the household norm when ``scale_by_households``; ``quantum`` rounds widths half-up (kWh)."""

    unit: TierUnit = TierUnit.KWH
    widths: tuple[Decimal | None, ...] = (None,)
    scale_by_households: bool = False
    quantum: Decimal | None = None

    @property
    def count(self) -> int:
        return len(self.widths)


@dataclass(frozen=True, slots=True)
class Seasons:
    names: tuple[str, ...] = ("all",)
    labels: tuple[Label, ...] = (Label("cả năm", "all year", "todo el año"),)
    of_month: tuple[int, ...] = (0,) * 12  # season index of January .. December

    def of(self, day: date) -> int:
        return self.of_month[day.month - 1]


@dataclass(frozen=True, slots=True)
class TouSchedule:
    """Which TOU period each quarter hour of a local day falls in, by month and day type."""

    name: str
    periods: tuple[str, ...]
    labels: tuple[Label, ...]
    weekend_days: frozenset[int]  # ISO weekdays (6 Saturday, 7 Sunday)
    holidays_as_weekend: bool
    holiday_rule: str | None
    # slots[month - 1][day type] is a tuple of SLOTS_PER_DAY period indices
    slots: tuple[tuple[tuple[int, ...], ...], ...]

    def day_type(self, day: date, holidays: frozenset[date]) -> int:
        if self.holidays_as_weekend and day in holidays:
            return WEEKEND
        return WEEKEND if day.isoweekday() in self.weekend_days else WEEKDAY

    def period_at(self, month: int, day_type: int, minute_of_day: int) -> int:
        return self.slots[month - 1][day_type][minute_of_day // 15]


@dataclass(frozen=True, slots=True)
class Baseline:
    """kWh per day by region and season, basic and all-electric; Medical Baseline adds a rate."""

    regions: tuple[str, ...]
    basic: tuple[tuple[Decimal, ...], ...]  # [region][season]
    all_electric: tuple[tuple[Decimal, ...], ...]
    medical_kwh_per_day: Decimal

    def region_index(self, region: str) -> int | None:
        try:
            return self.regions.index(region)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class EnergyCharge:
    id: str
    label: Label
    schedule: str | None
    basis: TierBasis
    tiers: tuple[Tiers, ...]  # one, or one per period when basis is PERIOD
    prices: tuple[tuple[Decimal, ...], ...]  # [period][tier], per kWh
    short_lease_tier: int | None = None  # all kWh at this tier's price (EVN, undeclared lease)
    untimed_period: int | None = None  # where a single-register total goes on a TOU tariff

    @property
    def period_count(self) -> int:
        return len(self.prices)

    def tiers_of(self, period: int) -> Tiers:
        return self.tiers[period] if self.basis is TierBasis.PERIOD else self.tiers[0]


@dataclass(frozen=True, slots=True)
class FixedCharge:
    id: str
    label: Label
    per: Per
    price: Decimal
    program_prices: tuple[tuple[str, Decimal], ...] = ()

    def price_for(self, programs: frozenset[str]) -> Decimal:
        for program, price in self.program_prices:
            if program in programs:
                return price
        return self.price


@dataclass(frozen=True, slots=True)
class DemandCharge:
    id: str
    label: Label
    schedule: str | None
    period: int | None  # None: the maximum at any time
    seasons: frozenset[int] | None  # None: every season
    widths_kw: tuple[Decimal | None, ...]
    prices: tuple[Decimal, ...]  # per kW, per tier


@dataclass(frozen=True, slots=True)
class BaselineCredit:
    id: str
    label: Label
    price: Decimal  # credited per kWh on min(usage, baseline allocation)


@dataclass(frozen=True, slots=True)
class EventCredit:
    id: str
    label: Label
    program: str
    price_per_ton_day: Decimal
    months: frozenset[int]


@dataclass(frozen=True, slots=True)
class Discount:
    id: str
    label: Label
    program: str
    percent: Decimal
    applies_to: frozenset[str]  # component ids


@dataclass(frozen=True, slots=True)
class MinimumCharge:
    id: str
    label: Label
    per: Per
    amount: Decimal


Component = (
    EnergyCharge
    | FixedCharge
    | DemandCharge
    | BaselineCredit
    | EventCredit
    | Discount
    | MinimumCharge
)


@dataclass(frozen=True, slots=True)
class Pricing:
    """Everything of a version that prices: two versions with equal pricing price alike."""

    currency: str
    minor_digits: int
    time_zone: str
    seasons: Seasons
    schedules: tuple[TouSchedule, ...]
    baseline: Baseline | None
    components: tuple[Component, ...]
    denominator: Denominator = Denominator.BILLING_DAYS
    split_quantum_kwh: Decimal = Decimal(1)

    def schedule(self, name: str) -> TouSchedule:
        for schedule in self.schedules:
            if schedule.name == name:
                return schedule
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class TariffVersion:
    tariff_code: str
    period: DatePeriod
    instrument: str
    pricing: Pricing


@dataclass(frozen=True, slots=True)
class TaxRate:
    code: str
    label: Label
    rate: Decimal
    period: DatePeriod


@dataclass(frozen=True, slots=True)
class TaxSchedule:
    """Dated tax rates of one tariff owner; each tax is rounded half-up on the bill."""

    owner: str
    rates: tuple[TaxRate, ...] = ()

    def rates_on(self, day: date) -> tuple[TaxRate, ...]:
        return tuple(r for r in self.rates if r.period.contains(day))

    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.code for r in self.rates))


# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RatingContext:
    """What the agreement tells rating (plain values: rating knows no accounts)."""

    household_norm: Decimal = Decimal(1)
    short_lease_undeclared: bool = False
    baseline_region: str = ""
    all_electric: bool = False
    programs: frozenset[str] = frozenset()
    sdp_tons: Decimal = Decimal(0)
    sdp_event_dates: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class RegisterUsage:
    """Register reads for a period: total kWh, or kWh per TOU register; maximum demand.

    ``tou_kwh`` is split over the segments of a period pro-rata by days (the EVN register
    rule); ``tou_kwh_by_segment`` instead gives each TOU period's kWh in each segment of the
    period's plan, in order (from interval data, which knows the day each kWh was used), so
    each season part is priced with its own kWh. Give one or the other.
    """

    kwh: Decimal | None = None
    tou_kwh: tuple[tuple[str, Decimal], ...] = ()
    tou_kwh_by_segment: tuple[tuple[str, tuple[Decimal, ...]], ...] = ()
    max_kw: Decimal | None = None
    max_kw_by_period: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True, slots=True)
class IntervalUsage:
    """Interval kWh, each interval starting at an aware instant and lasting ``minutes``."""

    starts: tuple[datetime, ...]
    kwh: tuple[Decimal, ...]
    minutes: int = 60


# --- outputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One line of a bill: ``amount = quantity × unit_price × proration``, rounded once."""

    code: str
    kind: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    rounded: Decimal
    period: DatePeriod
    proration: tuple[int, int] | None = None  # days of the segment / billing days
    tax_code: str | None = None  # for tax lines


@dataclass(frozen=True, slots=True)
class RatedBill:
    tariff_code: str
    period: DatePeriod
    currency: str
    language: str
    lines: tuple[PricedLine, ...]
    taxes: tuple[PricedLine, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    segments: tuple[DatePeriod, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready form; numbers as decimal text, dates ISO, ends exclusive."""

        def line(item: PricedLine) -> dict[str, object]:
            return {
                "code": item.code,
                "kind": item.kind,
                "description": item.description,
                "quantity": str(item.quantity),
                "unit": item.unit,
                "unit_price": str(item.unit_price),
                "amount": str(item.amount),
                "rounded": str(item.rounded),
                "from": item.period.start.isoformat(),
                "to": item.period.end.isoformat() if item.period.end else None,
                "proration": list(item.proration) if item.proration else None,
            }

        return {
            "tariff": self.tariff_code,
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat() if self.period.end else None,
            "currency": self.currency,
            "language": self.language,
            "segments": [
                {"from": s.start.isoformat(), "to": s.end.isoformat() if s.end else None}
                for s in self.segments
            ],
            "lines": [line(item) for item in self.lines],
            "taxes": [line(item) for item in self.taxes],
            "subtotal": str(self.subtotal),
            "tax_total": str(self.tax_total),
            "total": str(self.total),
        }
