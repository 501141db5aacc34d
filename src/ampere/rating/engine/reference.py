"""The reference engine: one bill at a time, quantities in whole Wh/W, money in ``Decimal``.

It is written to be read beside a bill: each line is ``quantity × unit price × proration``,
rounded half-up to the currency's minor unit once; taxes are computed on the sum of the rounded
lines of the segments that share a tax rate, rounded half-up once per rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine import text
from ampere.rating.engine.model import (
    Baseline,
    BaselineCredit,
    DemandCharge,
    Denominator,
    Discount,
    EnergyCharge,
    EventCredit,
    FixedCharge,
    IntervalUsage,
    Label,
    MinimumCharge,
    Per,
    PricedLine,
    RatedBill,
    RatingContext,
    RegisterUsage,
    TariffVersion,
    TaxSchedule,
    TierBasis,
    Tiers,
    TierUnit,
)
from ampere.rating.engine.plan import Plan, Segment, div_half_up, plan_period, share_register

MILLI = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class SegmentUsage:
    """What a segment used: Wh in all and per TOU period of each schedule, maximum W."""

    total_wh: int
    energy: dict[str, tuple[int, ...] | None]  # None: the register is not split by period
    max_w: int | None
    demand: dict[str, tuple[int | None, ...]]


# --- inputs ------------------------------------------------------------------------------------


def to_milli(value: Decimal, field: str) -> int:
    """kWh → Wh or kW → W, refusing negatives and more than 3 decimals."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput("must be a finite decimal number", field=field)
    if value < 0:
        raise InvalidInput(f"must not be negative (got {value})", field=field)
    scaled = value * 1000
    if scaled != scaled.to_integral_value():
        raise InvalidInput("has at most 3 decimals", field=field)
    return int(scaled)


def norm_hundredths(context: RatingContext) -> int:
    norm = context.household_norm
    if not isinstance(norm, Decimal) or not norm.is_finite() or norm <= 0:
        raise InvalidInput("must be a positive number", field="households")
    scaled = norm * 100
    if scaled != scaled.to_integral_value():
        raise InvalidInput("has at most 2 decimals (renters count in quarters)", field="households")
    return int(scaled)


def tons_milli(context: RatingContext) -> int:
    return to_milli(context.sdp_tons, "sdp_tons")


def check_context(context: RatingContext) -> None:
    norm_hundredths(context)
    tons_milli(context)
    if {"care", "fera"} <= context.programs:
        raise InvalidInput("CARE and FERA are not combined", field="programs")


# --- tier widths -------------------------------------------------------------------------------


def baseline_wh(baseline: Baseline, segment: Segment, context: RatingContext) -> int:
    """Baseline allocation of the segment: kWh per day of its season × days (+ Medical)."""
    region = baseline.region_index(context.baseline_region)
    if region is None:
        raise InvalidInput(
            f"unknown baseline region {context.baseline_region!r} "
            f"(one of {', '.join(baseline.regions)})",
            field="region",
        )
    table = baseline.all_electric if context.all_electric else baseline.basic
    daily = table[region][segment.season]
    if "medical_baseline" in context.programs:
        daily += baseline.medical_kwh_per_day
    return int(daily * 1000) * segment.days


def tier_widths_wh(
    tiers: Tiers, plan: Plan, segment: Segment, context: RatingContext, max_w: int | None
) -> list[int | None]:
    """Widths in Wh of each tier for this account and segment (the last is unbounded)."""
    quantum = 1 if tiers.quantum is None else int(tiers.quantum * 1000)
    numerator, denominator = 1, 1
    if tiers.scale_by_households:
        numerator, denominator = norm_hundredths(context), 100
    if plan.is_split and tiers.unit in (TierUnit.KWH, TierUnit.KWH_PER_KW):
        numerator *= segment.days
        denominator *= plan.width_denominator
    base = 1
    if tiers.unit is TierUnit.KWH_PER_DAY:
        numerator *= segment.days
    elif tiers.unit is TierUnit.KWH_PER_KW:
        if max_w is None:
            raise InvalidInput("this tariff's tiers are per kW of demand", field="max_kw")
        numerator *= max_w
        denominator *= 1000
    elif tiers.unit is TierUnit.PERCENT_OF_BASELINE:
        assert segment.version.pricing.baseline is not None
        base = baseline_wh(segment.version.pricing.baseline, segment, context)
        denominator *= 100
    widths: list[int | None] = []
    for width in tiers.widths:
        if width is None:
            widths.append(None)
            continue
        amount = int(width * 1000) if tiers.unit is not TierUnit.PERCENT_OF_BASELINE else int(width)
        widths.append(div_half_up(amount * base * numerator, denominator * quantum) * quantum)
    return widths


def fill_tiers(total: int, widths: Sequence[int | None]) -> list[int]:
    """How much of ``total`` falls in each tier."""
    parts: list[int] = []
    left = total
    for width in widths:
        take = left if width is None else min(left, width)
        parts.append(take)
        left -= take
    return parts


# --- the segment's lines -----------------------------------------------------------------------


class _Lines:
    def __init__(self, plan: Plan, segment: Segment, language: str) -> None:
        self.plan = plan
        self.segment = segment
        self.language = language
        self.quantum = Decimal(1).scaleb(-plan.minor_digits)
        self.items: list[tuple[str, PricedLine]] = []  # (component id, line)
        self.proration = (segment.days, plan.billing_days) if plan.is_split else None

    def add(
        self,
        head: tuple[str, str, str, str],  # component id, code, kind, description
        quantity: Decimal,
        unit: str,
        unit_price: Decimal,
        amount: Decimal,
        *,
        prorated: bool = False,
    ) -> None:
        component, code, kind, description = head
        with localcontext() as context:
            context.prec = 60
            if prorated and self.proration is not None:
                amount = (amount * self.proration[0]) / self.proration[1]
            rounded = amount.quantize(self.quantum, rounding=ROUND_HALF_UP)
        segment = self.segment.period
        prefix = f"{segment.start.isoformat()}/" if self.plan.is_split else ""
        self.items.append(
            (
                component,
                PricedLine(
                    code=prefix + code,
                    kind=kind,
                    description=description,
                    quantity=quantity,
                    unit=unit,
                    unit_price=unit_price,
                    amount=amount,
                    rounded=rounded,
                    period=segment,
                    proration=self.proration if prorated else None,
                ),
            )
        )

    def describe(self, label: Label, *details: str) -> str:
        return text.describe(
            label,
            self.language,
            *details,
            segment=self.segment.period if self.plan.is_split else None,
        )


def _kwh(wh: int) -> Decimal:
    return Decimal(wh) / 1000


def _energy(
    lines: _Lines, charge: EnergyCharge, usage: SegmentUsage, context: RatingContext
) -> None:
    language = lines.language
    if charge.schedule is None:
        per_period = [usage.total_wh]
        names = [""]
    else:
        schedule = lines.segment.version.pricing.schedule(charge.schedule)
        names = [label.get(language) for label in schedule.labels]
        registers = usage.energy.get(charge.schedule)
        if registers is None:
            if charge.untimed_period is None:
                raise InvalidInput(
                    "this tariff prices kWh by time of use: give kWh per TOU register",
                    field="tou_kwh",
                )
            per_period = [0] * charge.period_count
            per_period[charge.untimed_period] = usage.total_wh
        else:
            per_period = list(registers)
    prices = charge.prices
    if context.short_lease_undeclared and charge.short_lease_tier is not None:
        tier = charge.short_lease_tier
        for index, wh in enumerate(per_period):
            if wh:
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
                    _kwh(wh),
                    "kWh",
                    prices[index][tier],
                    _kwh(wh) * prices[index][tier],
                )
        return
    if charge.basis is TierBasis.PERIOD:
        for index, wh in enumerate(per_period):
            tiers = charge.tiers_of(index)
            widths = tier_widths_wh(tiers, lines.plan, lines.segment, context, usage.max_w)
            for tier, part in enumerate(fill_tiers(wh, widths)):
                if part:
                    detail = text.tier_text(language, tier + 1) if tiers.count > 1 else ""
                    lines.add(
                        (
                            charge.id,
                            f"{charge.id}.p{index + 1}.t{tier + 1}",
                            "energy",
                            lines.describe(charge.label, names[index], detail),
                        ),
                        _kwh(part),
                        "kWh",
                        prices[index][tier],
                        _kwh(part) * prices[index][tier],
                    )
        return
    tiers = charge.tiers[0]
    widths = tier_widths_wh(tiers, lines.plan, lines.segment, context, usage.max_w)
    if charge.period_count == 1:
        for tier, part in enumerate(fill_tiers(per_period[0], widths)):
            if part:
                lines.add(
                    (
                        charge.id,
                        f"{charge.id}.t{tier + 1}",
                        "energy",
                        lines.describe(
                            charge.label,
                            text.tier_text(language, tier + 1) if tiers.count > 1 else "",
                        ),
                    ),
                    _kwh(part),
                    "kWh",
                    prices[0][tier],
                    _kwh(part) * prices[0][tier],
                )
        return
    for index, wh in enumerate(per_period):
        if wh:
            lines.add(
                (
                    charge.id,
                    f"{charge.id}.p{index + 1}",
                    "energy",
                    lines.describe(charge.label, names[index]),
                ),
                _kwh(wh),
                "kWh",
                prices[index][0],
                _kwh(wh) * prices[index][0],
            )
    for tier, part in enumerate(fill_tiers(sum(per_period), widths)):
        adder = prices[0][tier] - prices[0][0]
        if tier and part and adder:
            lines.add(
                (
                    charge.id,
                    f"{charge.id}.t{tier + 1}",
                    "energy",
                    lines.describe(charge.label, text.adder_text(language, tier + 1)),
                ),
                _kwh(part),
                "kWh",
                adder,
                _kwh(part) * adder,
            )


def demand_w(charge: DemandCharge, segment: Segment, usage: SegmentUsage) -> int | None:
    if charge.period is None:
        if usage.max_w is None:
            raise InvalidInput(
                "this tariff has a demand charge: give the maximum kW", field="max_kw"
            )
        return usage.max_w
    assert charge.schedule is not None
    per_period = usage.demand.get(charge.schedule)
    value = None if per_period is None else per_period[charge.period]
    if value is None:
        name = segment.version.pricing.schedule(charge.schedule).periods[charge.period]
        raise InvalidInput(
            f"this tariff has a demand charge in period {name}: give its maximum kW",
            field=f"max_kw_by_period.{name}",
        )
    return value


def _demand(lines: _Lines, charge: DemandCharge, usage: SegmentUsage) -> None:
    if charge.seasons is not None and lines.segment.season not in charge.seasons:
        return
    watts = demand_w(charge, lines.segment, usage)
    assert watts is not None
    widths = [None if w is None else int(w * 1000) for w in charge.widths_kw]
    period_name = ""
    if charge.period is not None and charge.schedule is not None:
        schedule = lines.segment.version.pricing.schedule(charge.schedule)
        period_name = schedule.labels[charge.period].get(lines.language)
    for tier, part in enumerate(fill_tiers(watts, widths)):
        if part:
            detail = text.tier_text(lines.language, tier + 1) if len(widths) > 1 else ""
            lines.add(
                (
                    charge.id,
                    f"{charge.id}.t{tier + 1}",
                    "demand",
                    lines.describe(charge.label, period_name, detail),
                ),
                _kwh(part),
                "kW",
                charge.prices[tier],
                _kwh(part) * charge.prices[tier],
                prorated=True,
            )


def _fixed(lines: _Lines, charge: FixedCharge, context: RatingContext) -> None:
    price = charge.price_for(context.programs)
    if charge.per is Per.DAY:
        days = Decimal(lines.segment.days)
        lines.add(
            (charge.id, charge.id, "fixed", lines.describe(charge.label)),
            days,
            "day",
            price,
            days * price,
        )
    else:
        lines.add(
            (charge.id, charge.id, "fixed", lines.describe(charge.label)),
            Decimal(1),
            "month",
            price,
            price,
            prorated=True,
        )


def _baseline_credit(
    lines: _Lines, credit: BaselineCredit, usage: SegmentUsage, context: RatingContext
) -> None:
    baseline = lines.segment.version.pricing.baseline
    assert baseline is not None
    wh = min(usage.total_wh, baseline_wh(baseline, lines.segment, context))
    if wh:
        lines.add(
            (credit.id, credit.id, "credit", lines.describe(credit.label)),
            _kwh(wh),
            "kWh",
            -credit.price,
            -_kwh(wh) * credit.price,
        )


def event_days(credit: EventCredit, segment: DatePeriod, dates: frozenset[date]) -> int:
    return sum(1 for d in dates if segment.contains(d) and d.month in credit.months)


def _event_credit(lines: _Lines, credit: EventCredit, context: RatingContext) -> None:
    if credit.program not in context.programs:
        return
    days = event_days(credit, lines.segment.period, context.sdp_event_dates)
    ton_days = Decimal(tons_milli(context) * days) / 1000
    if ton_days:
        lines.add(
            (credit.id, credit.id, "credit", lines.describe(credit.label)),
            ton_days,
            "ton-day",
            -credit.price_per_ton_day,
            -ton_days * credit.price_per_ton_day,
        )


def _discount(lines: _Lines, discount: Discount, context: RatingContext) -> None:
    if discount.program not in context.programs:
        return
    base = sum((line.rounded for c, line in lines.items if c in discount.applies_to), Decimal(0))
    if base:
        rate = -discount.percent / 100
        lines.add(
            (discount.id, discount.id, "discount", lines.describe(discount.label)),
            base,
            lines.plan.currency,
            rate,
            base * rate,
        )


def _minimum(lines: _Lines, minimum: MinimumCharge) -> None:
    charged = sum((line.rounded for _, line in lines.items), Decimal(0))
    with localcontext() as context:
        context.prec = 60
        days, over = 1, 1
        if minimum.per is Per.DAY:
            days = lines.segment.days
        elif lines.proration is not None:
            days, over = lines.proration
        short = (minimum.amount * days - charged * over) / over
    if short > 0:
        lines.add(
            (
                minimum.id,
                minimum.id,
                "minimum",
                lines.describe(minimum.label, text.MINIMUM_TOP_UP.get(lines.language)),
            ),
            Decimal(1),
            "bill",
            short,
            short,
        )


def price_segment(
    plan: Plan, segment: Segment, usage: SegmentUsage, context: RatingContext, language: str
) -> list[PricedLine]:
    lines = _Lines(plan, segment, language)
    for component in segment.version.pricing.components:
        if isinstance(component, EnergyCharge):
            _energy(lines, component, usage, context)
        elif isinstance(component, DemandCharge):
            _demand(lines, component, usage)
        elif isinstance(component, FixedCharge):
            _fixed(lines, component, context)
        elif isinstance(component, BaselineCredit):
            _baseline_credit(lines, component, usage, context)
        elif isinstance(component, EventCredit):
            _event_credit(lines, component, context)
        elif isinstance(component, Discount):
            _discount(lines, component, context)
        elif isinstance(component, MinimumCharge):
            _minimum(lines, component)
    return [line for _, line in lines.items]


def assemble(
    plan: Plan, per_segment: Sequence[Sequence[PricedLine]], tariff_code: str, language: str
) -> RatedBill:
    """The bill from each segment's lines: taxes per rate on the sum of rounded lines."""
    quantum = Decimal(1).scaleb(-plan.minor_digits)
    lines = [line for segment_lines in per_segment for line in segment_lines]
    groups: dict[tuple[str, Decimal], tuple[Label, Decimal]] = {}
    for segment, segment_lines in zip(plan.segments, per_segment, strict=True):
        subtotal = sum((line.rounded for line in segment_lines), Decimal(0))
        for tax_rate in segment.taxes:
            key = (tax_rate.code, tax_rate.rate)
            label, base = groups.get(key, (tax_rate.label, Decimal(0)))
            groups[key] = (label, base + subtotal)
    taxes: list[PricedLine] = []
    for (code, rate), (label, base) in groups.items():
        amount = base * rate
        taxes.append(
            PricedLine(
                code=f"tax.{code}.{rate}",
                kind="tax",
                description=text.tax_text(label, language, rate),
                quantity=base,
                unit=plan.currency,
                unit_price=rate,
                amount=amount,
                rounded=amount.quantize(quantum, rounding=ROUND_HALF_UP),
                period=plan.period,
                tax_code=code,
            )
        )
    subtotal = sum((line.rounded for line in lines), Decimal(0))
    tax_total = sum((tax.rounded for tax in taxes), Decimal(0))
    return RatedBill(
        tariff_code=tariff_code,
        period=plan.period,
        currency=plan.currency,
        language=language,
        lines=tuple(lines),
        taxes=tuple(taxes),
        subtotal=subtotal,
        tax_total=tax_total,
        total=subtotal + tax_total,
        segments=tuple(s.period for s in plan.segments),
    )


# --- register reads ----------------------------------------------------------------------------


def register_shares(plan: Plan, usage: RegisterUsage) -> tuple[list[int], dict[str, list[int]]]:
    """Each segment's Wh of the total and of each named TOU register (pro-rata by days, or
    as given per segment)."""
    if usage.tou_kwh_by_segment:
        return _segment_shares(plan, usage)
    registers: dict[str, int] = {}
    for name, kwh in usage.tou_kwh:
        if name in registers:
            raise InvalidInput("is given twice", field=f"tou_kwh.{name}")
        registers[name] = to_milli(kwh, f"tou_kwh.{name}")
    if usage.kwh is not None:
        total = to_milli(usage.kwh, "kwh")
        if registers and sum(registers.values()) != total:
            raise InvalidInput("differs from the sum of the TOU registers", field="kwh")
    elif registers:
        total = sum(registers.values())
    else:
        raise InvalidInput("give the kWh used, in all or per TOU register", field="kwh")
    shares = {name: share_register(wh, plan) for name, wh in registers.items()}
    if shares:
        totals = [sum(s[i] for s in shares.values()) for i in range(len(plan.segments))]
    else:
        totals = share_register(total, plan)
    return totals, shares


def _segment_shares(plan: Plan, usage: RegisterUsage) -> tuple[list[int], dict[str, list[int]]]:
    if usage.tou_kwh:
        raise InvalidInput("give tou_kwh or tou_kwh_by_segment, not both", field="tou_kwh")
    count = len(plan.segments)
    shares: dict[str, list[int]] = {}
    for name, values in usage.tou_kwh_by_segment:
        field = f"tou_kwh_by_segment.{name}"
        if name in shares:
            raise InvalidInput("is given twice", field=field)
        if len(values) != count:
            raise InvalidInput(
                f"gives {len(values)} segment values: the period has {count} segments",
                field=field,
            )
        shares[name] = [to_milli(kwh, f"{field}[{i}]") for i, kwh in enumerate(values)]
    totals = [sum(s[i] for s in shares.values()) for i in range(count)]
    if usage.kwh is not None and to_milli(usage.kwh, "kwh") != sum(totals):
        raise InvalidInput("differs from the sum of the TOU registers", field="kwh")
    return totals, shares


def register_usage(plan: Plan, usage: RegisterUsage) -> list[SegmentUsage]:
    totals, shares = register_shares(plan, usage)
    max_w = None if usage.max_kw is None else to_milli(usage.max_kw, "max_kw")
    demand_by_name: dict[str, int] = {}
    for name, kw in usage.max_kw_by_period:
        demand_by_name[name] = to_milli(kw, f"max_kw_by_period.{name}")
    energy_field = "tou_kwh_by_segment" if usage.tou_kwh_by_segment else "tou_kwh"
    known = {p for s in plan.segments for sch in s.version.pricing.schedules for p in sch.periods}
    for name in [*shares, *demand_by_name]:
        if name not in known:
            field = energy_field if name in shares else "max_kw_by_period"
            raise InvalidInput(f"unknown TOU period {name!r}", field=f"{field}.{name}")
    result: list[SegmentUsage] = []
    for index, segment in enumerate(plan.segments):
        energy: dict[str, tuple[int, ...] | None] = {}
        demand: dict[str, tuple[int | None, ...]] = {}
        for schedule in segment.version.pricing.schedules:
            if shares and any(p in shares for p in schedule.periods):
                missing = [p for p in schedule.periods if p not in shares]
                if missing:
                    raise InvalidInput("is missing", field=f"{energy_field}.{missing[0]}")
                energy[schedule.name] = tuple(shares[p][index] for p in schedule.periods)
            else:
                energy[schedule.name] = None
            demand[schedule.name] = tuple(demand_by_name.get(p) for p in schedule.periods)
        result.append(SegmentUsage(totals[index], energy, max_w, demand))
    return result


def rate_register(
    *,
    versions: Sequence[TariffVersion],
    taxes: TaxSchedule,
    period: DatePeriod,
    usage: RegisterUsage,
    context: RatingContext,
    language: str = "vi",
    denominator: Denominator | None = None,
) -> RatedBill:
    """Price register reads for ``period`` (the EVN register-read split when it crosses a
    change). Raises InvalidInput (field named) for bad input, NoVersionInForce, NoTaxRate."""
    check_context(context)
    plan = plan_period(versions=versions, taxes=taxes, period=period, denominator=denominator)
    usages = register_usage(plan, usage)
    per_segment = [
        price_segment(plan, segment, segment_usage, context, language)
        for segment, segment_usage in zip(plan.segments, usages, strict=True)
    ]
    return assemble(plan, per_segment, versions[0].tariff_code, language)


# --- interval reads ----------------------------------------------------------------------------


def interval_usage(
    plan: Plan, usage: IntervalUsage, holidays: frozenset[date]
) -> list[SegmentUsage]:
    """Sum the intervals into each segment and TOU period by local time (DST-correct)."""
    from ampere.core.localtime import local_midnight, zone

    if usage.minutes <= 0 or 60 % usage.minutes:
        raise InvalidInput("an interval lasts a divisor of 60 minutes", field="minutes")
    if len(usage.starts) != len(usage.kwh):
        raise InvalidInput("needs one kWh value per interval start", field="intervals")
    tz = zone(plan.segments[0].version.pricing.time_zone)
    assert plan.period.end is not None
    first = local_midnight(plan.period.start, tz)
    end = local_midnight(plan.period.end, tz)
    per_hour = 60 // usage.minutes
    totals = [0] * len(plan.segments)
    maxima: list[int | None] = [None] * len(plan.segments)
    energy = [
        {s.name: [0] * len(s.periods) for s in seg.version.pricing.schedules}
        for seg in plan.segments
    ]
    demand: list[dict[str, list[int | None]]] = [
        {s.name: [None] * len(s.periods) for s in seg.version.pricing.schedules}
        for seg in plan.segments
    ]
    previous = None
    for index, (start, kwh) in enumerate(zip(usage.starts, usage.kwh, strict=True)):
        field = f"intervals[{index}]"
        if start.tzinfo is None or start.utcoffset() is None:
            raise InvalidInput("a time must carry its time zone", field=f"{field}.start")
        instant = start.astimezone(UTC)
        if previous is not None and instant <= previous:
            raise InvalidInput("intervals must be in time order, each once", field=f"{field}.start")
        previous = instant
        if not first <= instant or not instant < end:
            raise InvalidInput("is outside the billing period", field=f"{field}.start")
        wh = to_milli(kwh, f"{field}.kwh")
        local = instant.astimezone(tz)
        day = local.date()
        segment_index = next(i for i, s in enumerate(plan.segments) if s.period.contains(day))
        watts = wh * per_hour
        totals[segment_index] += wh
        current = maxima[segment_index]
        maxima[segment_index] = watts if current is None else max(current, watts)
        minute = local.hour * 60 + local.minute
        for schedule in plan.segments[segment_index].version.pricing.schedules:
            period = schedule.period_at(day.month, schedule.day_type(day, holidays), minute)
            energy[segment_index][schedule.name][period] += wh
            slot = demand[segment_index][schedule.name]
            slot[period] = watts if slot[period] is None else max(watts, slot[period] or 0)
    return [
        SegmentUsage(
            totals[i],
            {name: tuple(values) for name, values in energy[i].items()},
            maxima[i] if maxima[i] is not None else 0,
            {
                name: tuple(v if v is not None else 0 for v in values)
                for name, values in demand[i].items()
            },
        )
        for i in range(len(plan.segments))
    ]


def rate_intervals(
    *,
    versions: Sequence[TariffVersion],
    taxes: TaxSchedule,
    period: DatePeriod,
    usage: IntervalUsage,
    context: RatingContext,
    holidays: frozenset[date] = frozenset(),
    language: str = "vi",
    denominator: Denominator | None = None,
) -> RatedBill:
    """Price interval reads: each interval falls in the segment and TOU period of its local
    start; demand is the largest interval's kWh × intervals per hour. Raises as rate_register."""
    check_context(context)
    plan = plan_period(versions=versions, taxes=taxes, period=period, denominator=denominator)
    usages = interval_usage(plan, usage, holidays)
    per_segment = [
        price_segment(plan, segment, segment_usage, context, language)
        for segment, segment_usage in zip(plan.segments, usages, strict=True)
    ]
    return assemble(plan, per_segment, versions[0].tariff_code, language)
