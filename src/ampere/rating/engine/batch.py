"""The batch engine: the reference engine's rules on NumPy arrays of exact integers.

Quantities are integers (Wh, W, days, minor units) and prices are integers scaled by a power of
ten taken from the tariff data, so every amount is an exact integer product; rounding is an
integer half-up division. ``BatchResult.bill(i)`` rebuilds account ``i``'s bill as the reference
engine's ``RatedBill``, line for line (proven equal by the property tests).

Accounts are grouped by billing period: one plan (segments) per distinct period, then each
segment's lines are computed for all accounts of the group at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext

import numpy as np
import numpy.typing as npt

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine import text
from ampere.rating.engine.model import (
    BaselineCredit,
    DemandCharge,
    Denominator,
    Discount,
    EnergyCharge,
    EventCredit,
    FixedCharge,
    Label,
    MinimumCharge,
    Per,
    PricedLine,
    RatedBill,
    TariffVersion,
    TaxSchedule,
    TierBasis,
    Tiers,
    TierUnit,
)
from ampere.rating.engine.plan import Plan, Segment, plan_period
from ampere.rating.engine.reference import event_days

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def div_half_up(numerator: Ints, denominator: int | Ints) -> Ints:
    """Exact ``numerator / denominator`` rounded half away from zero (denominator > 0)."""
    positive = (2 * numerator + denominator) // (2 * denominator)
    negative = -((-2 * numerator + denominator) // (2 * denominator))
    return np.where(numerator >= 0, positive, negative).astype(np.int64)


def scaled(value: Decimal) -> tuple[int, int]:
    """``value`` as (integer, exponent): 0.79343 → (79343, -5)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    exp = min(exponent, 0)
    return int(value.scaleb(-exp)), exp


@dataclass(frozen=True)
class RegisterBatch:
    """Register reads of many accounts on one tariff; arrays of one length ``n``.

    ``kwh_wh`` (total) or ``tou_wh`` (per TOU register name) in Wh; ``tou_wh`` is split over
    the segments of a split period pro-rata by days. ``tou_wh_by_segment`` instead gives, per
    TOU period name, an int64 array of shape (n, k): column j holds the Wh of the j-th segment
    of the row's plan (``plan_period`` of its period; columns past its segments must be 0), so
    each season part is priced with its own kWh (interval data). ``max_w`` and
    ``max_w_by_period`` in W; ``household_norm`` in hundredths (1 household = 100, a renter
    = 25); ``region`` baseline region codes; ``programs`` maps care / fera / medical_baseline /
    sdp to boolean arrays; ``sdp_tons_milli`` in thousandths of a ton.
    """

    period_start: npt.NDArray[np.datetime64]
    period_end: npt.NDArray[np.datetime64]
    kwh_wh: Ints | None = None
    tou_wh: Mapping[str, Ints] = field(default_factory=dict)
    tou_wh_by_segment: Mapping[str, Ints] = field(default_factory=dict)
    max_w: Ints | None = None
    max_w_by_period: Mapping[str, Ints] = field(default_factory=dict)
    household_norm: Ints | None = None
    short_lease_undeclared: Bools | None = None
    region: npt.NDArray[np.str_] | None = None
    all_electric: Bools | None = None
    programs: Mapping[str, Bools] = field(default_factory=dict)
    sdp_tons_milli: Ints | None = None
    sdp_event_dates: frozenset[date] = frozenset()

    @property
    def size(self) -> int:
        return len(self.period_start)


@dataclass
class _Column:
    """One line for every account of a group."""

    code: str
    kind: str
    component: str
    description: str
    unit: str
    quantity: Ints  # × 10^quantity_exp
    quantity_exp: int
    price: Ints  # × 10^price_exp
    price_exp: int
    present: Bools
    rounded: Ints  # minor units
    proration: tuple[int, int] | None
    segment: DatePeriod


@dataclass
class _Tax:
    code: str
    description: str
    rate: Decimal
    base: Ints
    rounded: Ints


@dataclass
class BatchGroup:
    """Accounts ``rows`` that share one billing period and so one plan."""

    rows: Ints
    plan: Plan
    columns: list[_Column]
    taxes: list[_Tax]
    subtotal: Ints
    tax_total: Ints


@dataclass
class BatchResult:
    """Totals in minor units per account (input order), the groups with their lines, and the
    rows refused with the reason (they are not priced; the caller keeps them for a person)."""

    tariff_code: str
    currency: str
    minor_digits: int
    language: str
    subtotal: Ints
    tax_total: Ints
    total: Ints
    groups: list[BatchGroup]
    rejected: dict[int, InvalidInput]
    group_of: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    position_of: Ints = field(default_factory=lambda: np.zeros(0, np.int64))

    def bill(self, row: int) -> RatedBill:
        """The reference engine's bill for input row ``row``, rebuilt from the arrays."""
        if row in self.rejected:
            raise self.rejected[row]
        group_index, position = int(self.group_of[row]), int(self.position_of[row])
        group = self.groups[group_index]
        minor = Decimal(1).scaleb(-self.minor_digits)
        lines: list[PricedLine] = []
        for column in group.columns:
            if not column.present[position]:
                continue
            quantity = Decimal(int(column.quantity[position])).scaleb(column.quantity_exp)
            price = Decimal(int(column.price[position])).scaleb(column.price_exp)
            with localcontext() as context:
                context.prec = 60
                amount = quantity * price
                if column.proration is not None:
                    amount = (amount * column.proration[0]) / column.proration[1]
                proration = column.proration
                if column.kind == "minimum":
                    price, proration = amount, None
            lines.append(
                PricedLine(
                    code=column.code,
                    kind=column.kind,
                    description=column.description,
                    quantity=quantity,
                    unit=column.unit,
                    unit_price=price,
                    amount=amount,
                    rounded=Decimal(int(column.rounded[position])) * minor,
                    period=column.segment,
                    proration=proration,
                )
            )
        taxes = []
        for tax in group.taxes:
            base = Decimal(int(tax.base[position])) * minor
            taxes.append(
                PricedLine(
                    code=f"tax.{tax.code}.{tax.rate}",
                    kind="tax",
                    description=tax.description,
                    quantity=base,
                    unit=self.currency,
                    unit_price=tax.rate,
                    amount=base * tax.rate,
                    rounded=Decimal(int(tax.rounded[position])) * minor,
                    period=group.plan.period,
                    tax_code=tax.code,
                )
            )
        subtotal = Decimal(int(group.subtotal[position])) * minor
        tax_total = Decimal(int(group.tax_total[position])) * minor
        return RatedBill(
            tariff_code=self.tariff_code,
            period=group.plan.period,
            currency=self.currency,
            language=self.language,
            lines=tuple(lines),
            taxes=tuple(taxes),
            subtotal=subtotal,
            tax_total=tax_total,
            total=subtotal + tax_total,
            segments=tuple(s.period for s in group.plan.segments),
        )


# --- usage per segment -------------------------------------------------------------------------


@dataclass
class _Usage:
    total: Ints
    energy: dict[str, list[Ints] | None]
    max_w: Ints | None
    demand: dict[str, list[Ints | None]]


def share(total: Ints, plan: Plan) -> list[Ints]:
    """Vectorised ``plan.share_register``: cumulative half-up rounding to the split quantum."""
    if not plan.is_split:
        return [total]
    quantum = plan.split_quantum_wh
    shares: list[Ints] = []
    before = np.zeros_like(total)
    elapsed = 0
    for index, segment in enumerate(plan.segments):
        elapsed += segment.days
        if index == len(plan.segments) - 1:
            upto = total
        else:
            upto = np.minimum(
                div_half_up(total * elapsed, plan.billing_days * quantum) * quantum, total
            )
        shares.append(upto - before)
        before = upto
    return shares


class _Group:
    def __init__(
        self,
        plan: Plan,
        batch: RegisterBatch,
        rows: Ints,
        language: str,
        region_index: Ints,
    ) -> None:
        self.plan = plan
        self.batch = batch
        self.rows = rows
        self.size = len(rows)
        self.language = language
        self.columns: list[_Column] = []
        self.region_index = region_index
        self.norm = (
            np.full(self.size, 100, np.int64)
            if batch.household_norm is None
            else batch.household_norm[rows]
        )

    def flag(self, name: str) -> Bools:
        flags = self.batch.programs.get(name)
        return np.zeros(self.size, np.bool_) if flags is None else flags[self.rows]

    def short_lease(self) -> Bools:
        flags = self.batch.short_lease_undeclared
        return np.zeros(self.size, np.bool_) if flags is None else flags[self.rows]


def _round_amount(
    quantity: tuple[Ints, int],
    price: tuple[Ints, int],
    minor: int,
    proration: tuple[int, int] | None,
) -> Ints:
    """``quantity × price × proration`` in minor units, rounded half-up once."""
    (quantity_int, q_exp), (price_int, p_exp) = quantity, price
    exponent = q_exp + p_exp + minor
    numerator = quantity_int * price_int
    denominator = 1
    if exponent >= 0:
        numerator = numerator * 10**exponent
    else:
        denominator = 10**-exponent
    if proration is not None:
        numerator = numerator * proration[0]
        denominator *= proration[1]
    return div_half_up(numerator, denominator)


class _SegmentLines:
    def __init__(self, group: _Group, segment: Segment) -> None:
        self.group = group
        self.segment = segment
        self.plan = group.plan
        self.start = len(group.columns)
        self.proration = (segment.days, self.plan.billing_days) if self.plan.is_split else None

    @property
    def columns(self) -> list[_Column]:
        return self.group.columns[self.start :]

    def describe(self, label: Label, *details: str) -> str:
        return text.describe(
            label,
            self.group.language,
            *details,
            segment=self.segment.period if self.plan.is_split else None,
        )

    def add(
        self,
        head: tuple[str, str, str, str],  # component id, code, kind, description
        quantity_scaled: tuple[Ints, int],  # quantity × 10^exponent
        unit: str,
        price: Decimal | tuple[Ints, int],
        present: Bools,
        *,
        prorated: bool = False,
    ) -> _Column:
        component, code, kind, description = head
        quantity, q_exp = quantity_scaled
        if isinstance(price, Decimal):
            price_int, p_exp = scaled(price)
            prices = np.full(self.group.size, price_int, np.int64)
        else:
            prices, p_exp = price
        proration = self.proration if prorated else None
        rounded = _round_amount(
            (quantity, q_exp), (prices, p_exp), self.plan.minor_digits, proration
        )
        prefix = f"{self.segment.period.start.isoformat()}/" if self.plan.is_split else ""
        column = _Column(
            code=prefix + code,
            kind=kind,
            component=component,
            description=description,
            unit=unit,
            quantity=quantity,
            quantity_exp=q_exp,
            price=prices,
            price_exp=p_exp,
            present=present,
            rounded=np.where(present, rounded, 0),
            proration=proration,
            segment=self.segment.period,
        )
        self.group.columns.append(column)
        return column


def _baseline_wh(lines: _SegmentLines) -> Ints:
    baseline = lines.segment.version.pricing.baseline
    assert baseline is not None
    group = lines.group
    season = lines.segment.season
    basic = np.array([int(row[season] * 1000) for row in baseline.basic], np.int64)
    electric = np.array([int(row[season] * 1000) for row in baseline.all_electric], np.int64)
    table_index = group.region_index
    all_electric = (
        np.zeros(group.size, np.bool_)
        if group.batch.all_electric is None
        else group.batch.all_electric[group.rows]
    )
    daily = np.where(all_electric, electric[table_index], basic[table_index])
    daily = daily + np.where(
        group.flag("medical_baseline"), int(baseline.medical_kwh_per_day * 1000), 0
    )
    return daily * lines.segment.days


def _widths(lines: _SegmentLines, tiers: Tiers, usage: _Usage) -> list[Ints | None]:
    group = lines.group
    quantum = 1 if tiers.quantum is None else int(tiers.quantum * 1000)
    numerator: Ints = np.ones(group.size, np.int64)
    denominator = 1
    if tiers.scale_by_households:
        numerator = group.norm.copy()
        denominator = 100
    if lines.plan.is_split and tiers.unit in (TierUnit.KWH, TierUnit.KWH_PER_KW):
        numerator = numerator * lines.segment.days
        denominator *= lines.plan.width_denominator
    base: Ints = np.ones(group.size, np.int64)
    if tiers.unit is TierUnit.KWH_PER_DAY:
        numerator = numerator * lines.segment.days
    elif tiers.unit is TierUnit.KWH_PER_KW:
        assert usage.max_w is not None
        numerator = numerator * usage.max_w
        denominator *= 1000
    elif tiers.unit is TierUnit.PERCENT_OF_BASELINE:
        base = _baseline_wh(lines)
        denominator *= 100
    widths: list[Ints | None] = []
    for width in tiers.widths:
        if width is None:
            widths.append(None)
            continue
        amount = int(width * 1000) if tiers.unit is not TierUnit.PERCENT_OF_BASELINE else int(width)
        widths.append(div_half_up(amount * base * numerator, denominator * quantum) * quantum)
    return widths


def _fill(total: Ints, widths: Sequence[Ints | None]) -> list[Ints]:
    parts: list[Ints] = []
    left = total
    for width in widths:
        take = left if width is None else np.minimum(left, width)
        parts.append(take)
        left = left - take
    return parts


def _energy(lines: _SegmentLines, charge: EnergyCharge, usage: _Usage) -> None:
    group = lines.group
    language = group.language
    zero = np.zeros(group.size, np.int64)
    if charge.schedule is None:
        per_period = [usage.total]
        names = [""]
    else:
        schedule = lines.segment.version.pricing.schedule(charge.schedule)
        names = [label.get(language) for label in schedule.labels]
        registers = usage.energy.get(charge.schedule)
        if registers is None:
            if charge.untimed_period is None:
                raise InvalidInput(
                    "this tariff prices kWh by time of use: give kWh per TOU register",
                    field="tou_wh",
                )
            per_period = [zero] * charge.period_count
            per_period[charge.untimed_period] = usage.total
        else:
            per_period = registers
    prices = charge.prices
    short = (
        group.short_lease()
        if charge.short_lease_tier is not None
        else np.zeros(group.size, np.bool_)
    )
    normal = ~short
    if charge.short_lease_tier is not None and short.any():
        tier = charge.short_lease_tier
        for index, wh in enumerate(per_period):
            lines.add(
                (
                    charge.id,
                    f"{charge.id}.{index + 1}.short-lease"
                    if names[index]
                    else f"{charge.id}.short-lease",
                    "energy",
                    lines.describe(
                        charge.label, names[index], text.short_lease_text(language, tier + 1)
                    ),
                ),
                (wh, -3),
                "kWh",
                prices[index][tier],
                short & (wh != 0),
            )
    if charge.basis is TierBasis.PERIOD:
        for index, wh in enumerate(per_period):
            tiers = charge.tiers_of(index)
            widths = _widths(lines, tiers, usage)
            for tier, part in enumerate(_fill(wh, widths)):
                detail = text.tier_text(language, tier + 1) if tiers.count > 1 else ""
                lines.add(
                    (
                        charge.id,
                        f"{charge.id}.p{index + 1}.t{tier + 1}",
                        "energy",
                        lines.describe(charge.label, names[index], detail),
                    ),
                    (part, -3),
                    "kWh",
                    prices[index][tier],
                    normal & (part != 0),
                )
        return
    tiers = charge.tiers[0]
    widths = _widths(lines, tiers, usage)
    if charge.period_count == 1:
        for tier, part in enumerate(_fill(per_period[0], widths)):
            lines.add(
                (
                    charge.id,
                    f"{charge.id}.t{tier + 1}",
                    "energy",
                    lines.describe(
                        charge.label, text.tier_text(language, tier + 1) if tiers.count > 1 else ""
                    ),
                ),
                (part, -3),
                "kWh",
                prices[0][tier],
                normal & (part != 0),
            )
        return
    for index, wh in enumerate(per_period):
        lines.add(
            (
                charge.id,
                f"{charge.id}.p{index + 1}",
                "energy",
                lines.describe(charge.label, names[index]),
            ),
            (wh, -3),
            "kWh",
            prices[index][0],
            normal & (wh != 0),
        )
    total = per_period[0]
    for wh in per_period[1:]:
        total = total + wh
    for tier, part in enumerate(_fill(total, widths)):
        adder = prices[0][tier] - prices[0][0]
        if tier and adder:
            lines.add(
                (
                    charge.id,
                    f"{charge.id}.t{tier + 1}",
                    "energy",
                    lines.describe(charge.label, text.adder_text(language, tier + 1)),
                ),
                (part, -3),
                "kWh",
                adder,
                normal & (part != 0),
            )


def _demand(lines: _SegmentLines, charge: DemandCharge, usage: _Usage) -> None:
    if charge.seasons is not None and lines.segment.season not in charge.seasons:
        return
    if charge.period is None:
        if usage.max_w is None:
            raise InvalidInput(
                "this tariff has a demand charge: give the maximum kW", field="max_w"
            )
        watts = usage.max_w
        period_name = ""
    else:
        assert charge.schedule is not None
        schedule = lines.segment.version.pricing.schedule(charge.schedule)
        found = usage.demand.get(charge.schedule)
        value = None if found is None else found[charge.period]
        if value is None:
            raise InvalidInput(
                "this tariff has a demand charge per TOU period",
                field=f"max_w_by_period.{schedule.periods[charge.period]}",
            )
        watts = value
        period_name = schedule.labels[charge.period].get(lines.group.language)
    widths = [
        None if w is None else np.full(lines.group.size, int(w * 1000), np.int64)
        for w in charge.widths_kw
    ]
    for tier, part in enumerate(_fill(watts, widths)):
        detail = text.tier_text(lines.group.language, tier + 1) if len(widths) > 1 else ""
        lines.add(
            (
                charge.id,
                f"{charge.id}.t{tier + 1}",
                "demand",
                lines.describe(charge.label, period_name, detail),
            ),
            (part, -3),
            "kW",
            charge.prices[tier],
            part != 0,
            prorated=True,
        )


def _fixed(lines: _SegmentLines, charge: FixedCharge) -> None:
    group = lines.group
    price_int, p_exp = scaled(charge.price)
    candidates = [scaled(p)[1] for _, p in charge.program_prices] + [p_exp]
    exp = min(candidates)
    prices = np.full(group.size, price_int * 10 ** (p_exp - exp), np.int64)
    chosen = np.zeros(group.size, np.bool_)
    for program, price in charge.program_prices:
        value, value_exp = scaled(price)
        here = group.flag(program) & ~chosen
        prices = np.where(here, value * 10 ** (value_exp - exp), prices)
        chosen |= here
    every = np.ones(group.size, np.bool_)
    if charge.per is Per.DAY:
        days = np.full(group.size, lines.segment.days, np.int64)
        lines.add(
            (charge.id, charge.id, "fixed", lines.describe(charge.label)),
            (days, 0),
            "day",
            (prices, exp),
            every,
        )
    else:
        ones = np.ones(group.size, np.int64)
        lines.add(
            (charge.id, charge.id, "fixed", lines.describe(charge.label)),
            (ones, 0),
            "month",
            (prices, exp),
            every,
            prorated=True,
        )


def _baseline_credit(lines: _SegmentLines, credit: BaselineCredit, usage: _Usage) -> None:
    wh = np.minimum(usage.total, _baseline_wh(lines))
    lines.add(
        (credit.id, credit.id, "credit", lines.describe(credit.label)),
        (wh, -3),
        "kWh",
        -credit.price,
        wh != 0,
    )


def _event_credit(lines: _SegmentLines, credit: EventCredit) -> None:
    group = lines.group
    days = event_days(credit, lines.segment.period, group.batch.sdp_event_dates)
    tons = (
        np.zeros(group.size, np.int64)
        if group.batch.sdp_tons_milli is None
        else group.batch.sdp_tons_milli[group.rows]
    )
    ton_days = tons * days
    lines.add(
        (credit.id, credit.id, "credit", lines.describe(credit.label)),
        (ton_days, -3),
        "ton-day",
        -credit.price_per_ton_day,
        group.flag(credit.program) & (ton_days != 0),
    )


def _discount(lines: _SegmentLines, discount: Discount) -> None:
    group = lines.group
    base = np.zeros(group.size, np.int64)
    for column in lines.columns:
        if column.component in discount.applies_to:
            base = base + column.rounded
    lines.add(
        (discount.id, discount.id, "discount", lines.describe(discount.label)),
        (base, -lines.plan.minor_digits),
        lines.plan.currency,
        -discount.percent / 100,
        group.flag(discount.program) & (base != 0),
    )


def _minimum(lines: _SegmentLines, minimum: MinimumCharge) -> None:
    group = lines.group
    minor = lines.plan.minor_digits
    charged = np.zeros(group.size, np.int64)
    for column in lines.columns:
        charged = charged + column.rounded
    days, over = 1, 1
    if minimum.per is Per.DAY:
        days = lines.segment.days
    elif lines.proration is not None:
        days, over = lines.proration
    value, exp = scaled(minimum.amount)
    shift = exp + minor
    numerator = value * days * (10**shift if shift >= 0 else 1)
    denominator = over * (10**-shift if shift < 0 else 1)
    short = numerator - charged * denominator
    present = short > 0
    column = lines.add(
        (
            minimum.id,
            minimum.id,
            "minimum",
            lines.describe(minimum.label, text.MINIMUM_TOP_UP.get(group.language)),
        ),
        (np.ones(group.size, np.int64), 0),
        "bill",
        Decimal(0),
        present,
    )
    # The top-up is the shortfall itself, short / denominator minor units, exact.
    column.rounded = np.where(present, div_half_up(short, denominator), 0)
    column.price = short
    column.price_exp = -minor
    column.proration = None if denominator == 1 else (1, denominator)


def _price_segment(group: _Group, segment: Segment, usage: _Usage) -> None:
    lines = _SegmentLines(group, segment)
    for component in segment.version.pricing.components:
        if isinstance(component, EnergyCharge):
            _energy(lines, component, usage)
        elif isinstance(component, DemandCharge):
            _demand(lines, component, usage)
        elif isinstance(component, FixedCharge):
            _fixed(lines, component)
        elif isinstance(component, BaselineCredit):
            _baseline_credit(lines, component, usage)
        elif isinstance(component, EventCredit):
            _event_credit(lines, component)
        elif isinstance(component, Discount):
            _discount(lines, component)
        elif isinstance(component, MinimumCharge):
            _minimum(lines, component)


# --- the driver --------------------------------------------------------------------------------


def _validate(batch: RegisterBatch, regions: Sequence[str] | None) -> dict[int, InvalidInput]:
    """Rows that cannot be priced, each with the reason naming the field and row."""
    rejected: dict[int, InvalidInput] = {}

    def refuse(mask: Bools, field_name: str, message: str) -> None:
        for row in np.flatnonzero(mask):
            rejected.setdefault(int(row), InvalidInput(message, field=f"{field_name}[{row}]"))

    n = batch.size
    if batch.kwh_wh is None and not batch.tou_wh and not batch.tou_wh_by_segment:
        raise InvalidInput("give kWh in all or per TOU register", field="kwh_wh")
    if batch.tou_wh and batch.tou_wh_by_segment:
        raise InvalidInput("give tou_wh or tou_wh_by_segment, not both", field="tou_wh")
    segment_sum = np.zeros(n, np.int64)
    for name, table in batch.tou_wh_by_segment.items():
        where = f"tou_wh_by_segment.{name}"
        if not isinstance(table, np.ndarray) or table.ndim != 2 or table.shape[0] != n:
            shape = getattr(table, "shape", None)
            raise InvalidInput(f"needs an array of shape ({n}, segments), got {shape}", field=where)
        if not np.issubdtype(table.dtype, np.integer):
            raise InvalidInput(f"must hold integer Wh, not {table.dtype}", field=where)
        negative: Bools = np.asarray((table < 0).any(axis=1))
        refuse(negative, where, "must not be negative")
        segment_sum = segment_sum + np.asarray(table.sum(axis=1, dtype=np.int64))
    refuse(batch.period_end <= batch.period_start, "period_end", "must be after period_start")
    arrays: list[tuple[str, Ints | None]] = [
        ("kwh_wh", batch.kwh_wh),
        ("max_w", batch.max_w),
        ("sdp_tons_milli", batch.sdp_tons_milli),
    ]
    arrays += [(f"tou_wh.{k}", v) for k, v in batch.tou_wh.items()]
    arrays += [(f"max_w_by_period.{k}", v) for k, v in batch.max_w_by_period.items()]
    for name, values in arrays:
        if values is None:
            continue
        if len(values) != n:
            raise InvalidInput(f"has {len(values)} values for {n} accounts", field=name)
        refuse(values < 0, name, "must not be negative")
    if batch.kwh_wh is not None and batch.tou_wh:
        summed = sum(batch.tou_wh.values(), np.zeros(n, np.int64))
        refuse(summed != batch.kwh_wh, "kwh_wh", "differs from the sum of the TOU registers")
    if batch.kwh_wh is not None and batch.tou_wh_by_segment:
        refuse(segment_sum != batch.kwh_wh, "kwh_wh", "differs from the sum of the TOU registers")
    if batch.household_norm is not None:
        refuse(batch.household_norm <= 0, "household_norm", "must be positive")
    care, fera = batch.programs.get("care"), batch.programs.get("fera")
    if care is not None and fera is not None:
        refuse(care & fera, "programs", "CARE and FERA are not combined")
    if regions is not None:
        known = np.isin(batch.region if batch.region is not None else np.full(n, ""), regions)
        refuse(~known, "region", f"unknown baseline region (one of {', '.join(regions)})")
    return rejected


def rate_register_batch(
    *,
    versions: Sequence[TariffVersion],
    taxes: TaxSchedule,
    accounts: RegisterBatch,
    language: str = "vi",
    denominator: Denominator | None = None,
) -> BatchResult:
    """Price register reads of many accounts of one tariff (all its versions) at once.

    Rows with bad values are returned in ``rejected`` (with the reason) and not priced.
    Raises InvalidInput when the batch itself is malformed (no kWh, arrays of wrong length),
    NoVersionInForce / NoTaxRate when a period is not covered by the tariff or its taxes.
    """
    baselines = [v.pricing.baseline for v in versions if v.pricing.baseline is not None]
    regions = list(baselines[0].regions) if baselines else None
    rejected = _validate(accounts, regions)
    n = accounts.size
    ok = np.ones(n, np.bool_)
    ok[list(rejected)] = False
    region_codes = accounts.region if accounts.region is not None else np.full(n, "")
    region_index = np.zeros(n, np.int64)
    if regions is not None:
        lookup = {code: i for i, code in enumerate(regions)}
        uniques, inverse = np.unique(region_codes, return_inverse=True)
        region_index = np.array([lookup.get(str(u), 0) for u in uniques], np.int64)[inverse]
    starts = accounts.period_start.astype("datetime64[D]")
    ends = accounts.period_end.astype("datetime64[D]")
    keys = starts.astype(np.int64) * 1_000_000 + ends.astype(np.int64)
    first = versions[0]
    subtotal = np.zeros(n, np.int64)
    tax_total = np.zeros(n, np.int64)
    groups: list[BatchGroup] = []
    group_of = np.full(n, -1, np.int64)
    position_of = np.full(n, -1, np.int64)
    good = np.flatnonzero(ok)
    unique_keys, inverse = np.unique(keys[good], return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(unique_keys) + 1))
    for key_index in range(len(unique_keys)):
        rows = good[order[bounds[key_index] : bounds[key_index + 1]]]
        start = starts[rows[0]].astype(object)
        end = ends[rows[0]].astype(object)
        plan = plan_period(
            versions=versions, taxes=taxes, period=DatePeriod(start, end), denominator=denominator
        )
        rows = _fit_segments(accounts, plan, rows, rejected)
        if not len(rows):
            continue
        group = _Group(plan, accounts, rows, language, region_index[rows])
        priced = _price_group(group, _register_usage(group))
        subtotal[rows] = priced.subtotal
        tax_total[rows] = priced.tax_total
        group_of[rows] = len(groups)
        position_of[rows] = np.arange(len(rows))
        groups.append(priced)
    return BatchResult(
        tariff_code=first.tariff_code,
        currency=first.pricing.currency,
        minor_digits=first.pricing.minor_digits,
        language=language,
        subtotal=subtotal,
        tax_total=tax_total,
        total=subtotal + tax_total,
        groups=groups,
        rejected=rejected,
        group_of=group_of,
        position_of=position_of,
    )


def _price_group(group: _Group, usages: Sequence[_Usage]) -> BatchGroup:
    """Lines of every segment, then taxes per rate on the rounded lines, for one group."""
    plan, size, language = group.plan, group.size, group.language
    segment_totals: list[Ints] = []
    for segment, usage in zip(plan.segments, usages, strict=True):
        before = len(group.columns)
        _price_segment(group, segment, usage)
        total = np.zeros(size, np.int64)
        for column in group.columns[before:]:
            total = total + column.rounded
        segment_totals.append(total)
    group_taxes: dict[tuple[str, Decimal], _Tax] = {}
    for segment, total in zip(plan.segments, segment_totals, strict=True):
        for rate in segment.taxes:
            key = (rate.code, rate.rate)
            if key not in group_taxes:
                group_taxes[key] = _Tax(
                    rate.code,
                    text.tax_text(rate.label, language, rate.rate),
                    rate.rate,
                    np.zeros(size, np.int64),
                    np.zeros(size, np.int64),
                )
            group_taxes[key].base = group_taxes[key].base + total
    tax_total = np.zeros(size, np.int64)
    for tax in group_taxes.values():
        rate_int, rate_exp = scaled(tax.rate)
        tax.rounded = div_half_up(tax.base * rate_int, 10**-rate_exp)
        tax_total = tax_total + tax.rounded
    subtotal = sum(segment_totals, np.zeros(size, np.int64))
    return BatchGroup(
        group.rows, plan, group.columns, list(group_taxes.values()), subtotal, tax_total
    )


def _fit_segments(
    batch: RegisterBatch, plan: Plan, rows: Ints, rejected: dict[int, InvalidInput]
) -> Ints:
    """The rows whose ``tou_wh_by_segment`` fits the plan's segments; the others are added
    to ``rejected`` with the reason."""
    if not batch.tou_wh_by_segment:
        return rows
    count = len(plan.segments)
    bad = np.zeros(len(rows), np.bool_)
    for name, values in batch.tou_wh_by_segment.items():
        where = f"tou_wh_by_segment.{name}"
        if values.shape[1] < count:
            message = (
                f"gives {values.shape[1]} segment columns: the period "
                f"{plan.period.start.isoformat()} to {plan.period.end} has {count} segments"
            )
            mask = ~bad
        else:
            message = f"gives Wh beyond the {count} segments of the period"
            mask = (values[rows, count:] != 0).any(axis=1) & ~bad
        for position in np.flatnonzero(mask).tolist():
            row = int(rows[position])
            rejected.setdefault(row, InvalidInput(message, field=f"{where}[{row}]"))
        bad |= mask
    return rows[~bad]


def _register_usage(group: _Group) -> list[_Usage]:
    batch, rows, plan = group.batch, group.rows, group.plan
    if batch.tou_wh_by_segment:
        shares = {
            name: [values[rows, index].astype(np.int64) for index in range(len(plan.segments))]
            for name, values in batch.tou_wh_by_segment.items()
        }
    else:
        shares = {name: share(values[rows], plan) for name, values in batch.tou_wh.items()}
    if shares:
        totals = [
            sum((s[i] for s in shares.values()), np.zeros(len(rows), np.int64))
            for i in range(len(plan.segments))
        ]
    else:
        assert batch.kwh_wh is not None
        totals = share(batch.kwh_wh[rows], plan)
    max_w = None if batch.max_w is None else batch.max_w[rows]
    demand_by_name = {name: values[rows] for name, values in batch.max_w_by_period.items()}
    known = {p for s in plan.segments for sch in s.version.pricing.schedules for p in sch.periods}
    energy_field = "tou_wh_by_segment" if batch.tou_wh_by_segment else "tou_wh"
    for name in [*shares, *demand_by_name]:
        if name not in known:
            prefix = energy_field if name in shares else "max_w_by_period"
            raise InvalidInput(f"unknown TOU period {name!r}", field=f"{prefix}.{name}")
    usages: list[_Usage] = []
    for index, segment in enumerate(plan.segments):
        energy: dict[str, list[Ints] | None] = {}
        demand: dict[str, list[Ints | None]] = {}
        for schedule in segment.version.pricing.schedules:
            if shares and any(p in shares for p in schedule.periods):
                missing = [p for p in schedule.periods if p not in shares]
                if missing:
                    raise InvalidInput("is missing", field=f"{energy_field}.{missing[0]}")
                energy[schedule.name] = [shares[p][index] for p in schedule.periods]
            else:
                energy[schedule.name] = None
            demand[schedule.name] = [demand_by_name.get(p) for p in schedule.periods]
        usages.append(_Usage(totals[index], energy, max_w, demand))
    return usages


# --- interval reads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalBatch:
    """Interval kWh of many accounts over the same instants: ``kwh_wh[interval, account]`` in
    Wh (int32 or int64; time-major, each interval a row, so that sums over intervals are
    vectorised over accounts) for ``starts`` (UTC ``datetime64``, ascending), each ``minutes``
    long.
    ``context`` carries the per-account agreement arrays (its period and kWh fields are unused).
    """

    starts: npt.NDArray[np.datetime64]
    kwh_wh: npt.NDArray[np.int32] | Ints
    minutes: int
    context: RegisterBatch


def _local_calendar(
    starts: npt.NDArray[np.datetime64], time_zone: str
) -> tuple[npt.NDArray[np.datetime64], Ints, Ints]:
    """Local date, month and minute of day of each interval start (DST-correct): the zone's
    UTC offset is looked up once per distinct UTC hour."""
    from datetime import UTC, datetime

    from ampere.core.localtime import zone

    tz = zone(time_zone)
    seconds = starts.astype("datetime64[s]").astype(np.int64)
    hours, inverse = np.unique(seconds // 3600, return_inverse=True)
    offsets = np.empty(len(hours), np.int64)
    for index, hour in enumerate(hours.tolist()):
        utcoffset = datetime.fromtimestamp(hour * 3600, tz=UTC).astimezone(tz).utcoffset()
        assert utcoffset is not None
        offsets[index] = int(utcoffset.total_seconds())
    local = seconds + offsets[inverse]
    days = (local // 86400).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    minutes = (local % 86400) // 60
    return days, months, minutes


def _reduce(values: npt.NDArray[np.int32] | Ints, groups: Ints, count: int, op: str) -> list[Ints]:
    """Sum or max over the intervals (rows of the time-major ``values[interval, account]``) of
    each group id 0..count-1; 0 for a group without intervals."""
    if len(groups) > 1 and (np.diff(groups) >= 0).all():
        sorted_groups, gathered = groups, values
    else:
        order = np.argsort(groups, kind="stable")
        sorted_groups, gathered = groups[order], values[order]
    present = np.unique(sorted_groups)
    offsets = [*np.searchsorted(sorted_groups, present).tolist(), len(sorted_groups)]
    result = [np.zeros(values.shape[1], np.int64) for _ in range(count)]
    # A slice of whole rows reduced along axis 0 is vectorised over accounts (ufunc.reduceat
    # along axis 0 is several times slower).
    for index, group_id in enumerate(present.tolist()):
        block = gathered[offsets[index] : offsets[index + 1]]
        if op == "sum":
            result[group_id] = block.sum(axis=0, dtype=np.int64)
        else:
            result[group_id] = block.max(axis=0).astype(np.int64)
    return result


def rate_interval_batch(
    *,
    versions: Sequence[TariffVersion],
    taxes: TaxSchedule,
    periods: Sequence[DatePeriod],
    accounts: IntervalBatch,
    holidays: frozenset[date] = frozenset(),
    language: str = "vi",
    denominator: Denominator | None = None,
) -> list[BatchResult]:
    """Price interval reads of many accounts for consecutive billing ``periods`` (one result
    per period, rows in input order). Each interval counts in the segment and TOU period of its
    local start, as in ``reference.rate_intervals``. Raises InvalidInput naming the field."""
    batch = accounts.context
    n = accounts.kwh_wh.shape[1]
    if accounts.minutes <= 0 or 60 % accounts.minutes:
        raise InvalidInput("an interval lasts a divisor of 60 minutes", field="minutes")
    if accounts.kwh_wh.shape[0] != len(accounts.starts):
        raise InvalidInput("needs one row per interval start", field="kwh_wh")
    if (
        len(accounts.starts) > 1
        and not (np.diff(accounts.starts.astype("datetime64[s]").astype(np.int64)) > 0).all()
    ):
        raise InvalidInput("intervals must be in time order, each once", field="starts")
    if accounts.kwh_wh.min(initial=0) < 0:
        column = int(np.flatnonzero((accounts.kwh_wh < 0).any(axis=0))[0])
        raise InvalidInput("must not be negative", field=f"kwh_wh[:, {column}]")
    plans = [
        plan_period(versions=versions, taxes=taxes, period=p, denominator=denominator)
        for p in periods
    ]
    baselines = [v.pricing.baseline for v in versions if v.pricing.baseline is not None]
    regions = list(baselines[0].regions) if baselines else None
    rejected = _validate(
        RegisterBatch(
            period_start=np.zeros(n, "datetime64[D]"),
            period_end=np.ones(n, "datetime64[D]"),
            kwh_wh=np.zeros(n, np.int64),
            household_norm=batch.household_norm,
            region=batch.region,
            programs=batch.programs,
            sdp_tons_milli=batch.sdp_tons_milli,
        ),
        regions,
    )
    if rejected:
        _row, error = next(iter(rejected.items()))
        raise error
    region_index = np.zeros(n, np.int64)
    if regions is not None and batch.region is not None:
        lookup = {code: i for i, code in enumerate(regions)}
        region_index = np.array([lookup[str(code)] for code in batch.region], np.int64)
    days, months, minute = _local_calendar(accounts.starts, versions[0].pricing.time_zone)
    # Which segment of which period each interval falls in (segments are consecutive).
    segments = [(p, s) for p, plan in enumerate(plans) for s in plan.segments]
    segment_starts = np.array([s.period.start for _, s in segments], "datetime64[D]")
    last_end = segments[-1][1].period.end
    segment_of = np.searchsorted(segment_starts, days, side="right") - 1
    outside = (segment_of < 0) | (days >= np.datetime64(last_end, "D"))
    for index in range(1, len(segments)):
        if segments[index][1].period.start != segments[index - 1][1].period.end:
            raise InvalidInput("billing periods must follow each other", field="periods")
    if outside.any():
        raise InvalidInput(
            "is outside the billing periods", field=f"starts[{int(np.flatnonzero(outside)[0])}]"
        )
    per_hour = 60 // accounts.minutes
    kwh = accounts.kwh_wh
    used = {s.version.pricing.schedules for _, s in segments}
    if len(used) > 1:
        raise InvalidInput(
            "an interval batch prices periods whose versions share their TOU schedules: "
            "rate the periods on each side of the change in separate calls",
            field="periods",
        )
    zero = np.zeros(n, np.int64)
    weekday = (days.astype(np.int64) + 3) % 7 + 1  # ISO: 1970-01-01 was a Thursday
    holiday = np.isin(days, np.array(sorted(holidays), "datetime64[D]"))
    by_schedule: dict[str, tuple[list[Ints], list[Ints], int]] = {}
    by_slots: dict[object, tuple[list[Ints], list[Ints], int]] = {}
    for schedule in next(iter(used)):
        period_count = len(schedule.periods)
        found = by_slots.get((schedule.slots, schedule.weekend_days, schedule.holidays_as_weekend))
        if found is None:
            table = np.array(schedule.slots, np.int64)  # [month, day type, slot]
            weekend = np.isin(weekday, list(schedule.weekend_days))
            if schedule.holidays_as_weekend:
                weekend = weekend | holiday
            ids = table[months - 1, weekend.astype(np.int64), minute // 15]
            group_ids = segment_of * period_count + ids
            sums = _reduce(kwh, group_ids, len(segments) * period_count, "sum")
            peaks = _reduce(kwh, group_ids, len(segments) * period_count, "max")
            found = (sums, [p * per_hour for p in peaks], period_count)
            by_slots[(schedule.slots, schedule.weekend_days, schedule.holidays_as_weekend)] = found
        by_schedule[schedule.name] = found
    if by_slots:
        sums, peaks, count = next(iter(by_slots.values()))
        totals = [sum(sums[i * count : (i + 1) * count], zero) for i in range(len(segments))]
        maxima = [
            np.max(np.stack(peaks[i * count : (i + 1) * count]), axis=0)
            for i in range(len(segments))
        ]
    else:
        totals = _reduce(kwh, segment_of, len(segments), "sum")
        maxima = [m * per_hour for m in _reduce(kwh, segment_of, len(segments), "max")]
    rows = np.arange(n, dtype=np.int64)
    results: list[BatchResult] = []
    number = 0
    first = versions[0]
    for plan in plans:
        usages: list[_Usage] = []
        for segment in plan.segments:
            energy: dict[str, list[Ints] | None] = {}
            demand: dict[str, list[Ints | None]] = {}
            for schedule in segment.version.pricing.schedules:
                sums, peaks, count = by_schedule[schedule.name]
                energy[schedule.name] = sums[number * count : (number + 1) * count]
                demand[schedule.name] = list(peaks[number * count : (number + 1) * count])
            usages.append(_Usage(totals[number], energy, maxima[number], demand))
            number += 1
        group = _Group(plan, batch, rows, language, region_index)
        priced = _price_group(group, usages)
        results.append(
            BatchResult(
                tariff_code=first.tariff_code,
                currency=first.pricing.currency,
                minor_digits=first.pricing.minor_digits,
                language=language,
                subtotal=priced.subtotal,
                tax_total=priced.tax_total,
                total=priced.subtotal + priced.tax_total,
                groups=[priced],
                rejected={},
                group_of=np.zeros(n, np.int64),
                position_of=rows,
            )
        )
    return results
