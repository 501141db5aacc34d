"""Tariff data in its plain form (YAML, the JSON stored in the database) → the engine's model.

The parser refuses bad data with ``TariffDataError`` naming the field by its dotted path
(``versions[2].schedules.energy.rows[0].hours``): overlapping or unordered versions, a schedule
with a hole or an unknown period, a negative width, a missing price, and so on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine.model import (
    SLOTS_PER_DAY,
    WEEKDAY,
    WEEKEND,
    Baseline,
    BaselineCredit,
    Component,
    DemandCharge,
    Denominator,
    Discount,
    EnergyCharge,
    EventCredit,
    FixedCharge,
    Label,
    MinimumCharge,
    Per,
    Pricing,
    Seasons,
    TariffVersion,
    TaxRate,
    TaxSchedule,
    TierBasis,
    Tiers,
    TierUnit,
    TouSchedule,
)

CURRENCY_DIGITS = {"VND": 0, "USD": 2, "EUR": 2, "JPY": 0, "KRW": 0, "THB": 2}
PROGRAMS = frozenset({"care", "fera", "medical_baseline", "sdp", "life_support"})
DAY_TYPES = {"weekday": WEEKDAY, "weekend": WEEKEND}

DEFAULT_LABELS = {
    "energy": Label("Điện năng", "Energy", "Energía"),
    "fixed": Label("Phí cố định", "Fixed charge", "Cargo fijo"),
    "demand": Label("Công suất", "Demand", "Demanda"),
    "baseline_credit": Label("Giảm trừ định mức", "Baseline credit", "Crédito de línea base"),
    "event_credit": Label("Tín dụng sự kiện", "Event credit", "Crédito por evento"),
    "discount": Label("Giảm giá", "Discount", "Descuento"),
    "minimum": Label("Mức tối thiểu", "Minimum charge", "Cargo mínimo"),
}


class TariffDataError(InvalidInput):
    """Tariff data that cannot be priced with; ``field`` is the dotted path of the bad value."""

    code = "invalid-tariff"


def _fail(field: str, message: str) -> TariffDataError:
    return TariffDataError(message, field=field)


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(field, "must be a mapping")
    return value


def _list(value: Any, field: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(field, "must be a list")
    return value


def _required(data: Mapping[str, Any], key: str, field: str) -> Any:
    if key not in data or data[key] is None:
        raise _fail(f"{field}.{key}" if field else key, "is missing")
    return data[key]


def decimal(value: Any, field: str, *, minimum: Decimal | None = None) -> Decimal:
    """A number from data: int, numeric string, or float (taken by its shortest repr)."""
    if value is None:
        raise _fail(field, "is missing")
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _fail(field, f"must be a number, not {type(value).__name__}")
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise _fail(field, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise _fail(field, "must be finite")
    if minimum is not None and number < minimum:
        raise _fail(field, f"must not be below {minimum} (got {number})")
    return number


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(field, f"{value!r} is not a date (YYYY-MM-DD)")


def _label(value: Any, field: str, default: Label) -> Label:
    if value is None:
        return default
    if isinstance(value, str):
        return Label(value, value, value)
    data = _mapping(value, field)
    english = str(data.get("en") or default.en)
    return Label(str(data.get("vi") or english), english, str(data.get("es") or english))


def _whole_wh(value: Decimal, field: str) -> Decimal:
    if value != value.quantize(Decimal("0.001")):
        raise _fail(field, "kWh has at most 3 decimals (whole Wh)")
    return value


def parse_period(data: Mapping[str, Any], field: str) -> DatePeriod:
    start = _date(_required(data, "from", field), f"{field}.from")
    end_raw = data.get("to")
    end = None if end_raw is None else _date(end_raw, f"{field}.to")
    if end is not None and end <= start:
        raise _fail(f"{field}.to", f"must be after from ({start})")
    return DatePeriod(start, end)


def _seasons(value: Any, field: str) -> Seasons:
    if value is None:
        return Seasons()
    data = _mapping(value, field)
    names: list[str] = []
    labels: list[Label] = []
    of_month: list[int | None] = [None] * 12
    for index, (name, spec) in enumerate(data.items()):
        here = f"{field}.{name}"
        months = spec if isinstance(spec, list) else _mapping(spec, here).get("months")
        for month in _list(months, f"{here}.months"):
            if not isinstance(month, int) or not 1 <= month <= 12:
                raise _fail(f"{here}.months", f"{month!r} is not a month (1..12)")
            if of_month[month - 1] is not None:
                raise _fail(f"{here}.months", f"month {month} is in two seasons")
            of_month[month - 1] = index
        names.append(str(name))
        label = spec.get("label") if isinstance(spec, Mapping) else None
        labels.append(_label(label, f"{here}.label", Label(str(name), str(name), str(name))))
    missing = [m + 1 for m, s in enumerate(of_month) if s is None]
    if missing:
        raise _fail(field, f"months {missing} are in no season")
    return Seasons(tuple(names), tuple(labels), tuple(s for s in of_month if s is not None))


def _minute(text: str, field: str) -> int:
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
    except ValueError:
        raise _fail(field, f"{text!r} is not a time HH:MM") from None
    total = hours * 60 + minutes
    if not 0 <= minutes < 60 or not 0 <= total <= 24 * 60:
        raise _fail(field, f"{text!r} is not a time of day")
    if minutes % 15:
        raise _fail(field, f"{text!r}: TOU hours start and end on a quarter hour")
    return total


def _schedule(name: str, value: Any, field: str, seasons: Seasons) -> TouSchedule:
    data = _mapping(value, field)
    periods_raw = _required(data, "periods", field)
    if isinstance(periods_raw, Mapping):
        periods = [str(p) for p in periods_raw]
        labels = [_label(periods_raw[p], f"{field}.periods.{p}", Label(p, p, p)) for p in periods]
    else:
        periods = [str(p) for p in _list(periods_raw, f"{field}.periods")]
        labels = [Label(p, p, p) for p in periods]
    if not periods or len(set(periods)) != len(periods):
        raise _fail(f"{field}.periods", "must name each period once")
    weekend = data.get("weekend_days", [6, 7])
    weekend_days = frozenset(_list(weekend, f"{field}.weekend_days"))
    if not weekend_days <= set(range(1, 8)):
        raise _fail(f"{field}.weekend_days", "ISO weekdays are 1 (Monday) .. 7 (Sunday)")
    holidays = data.get("holidays", "ordinary")
    if holidays not in {"weekend", "ordinary"}:
        raise _fail(f"{field}.holidays", "is 'weekend' or 'ordinary'")
    table: list[list[list[int | None]]] = [
        [[None] * SLOTS_PER_DAY for _ in DAY_TYPES] for _ in range(12)
    ]
    for row_index, row_value in enumerate(_list(_required(data, "rows", field), f"{field}.rows")):
        here = f"{field}.rows[{row_index}]"
        row = _mapping(row_value, here)
        months = _row_months(row, here, seasons)
        days = row.get("days", list(DAY_TYPES))
        day_types = [days] if isinstance(days, str) else list(_list(days, f"{here}.days"))
        for day in day_types:
            if day not in DAY_TYPES:
                raise _fail(f"{here}.days", f"{day!r} is not a day type (weekday, weekend)")
        hours = row.get("hours")
        if isinstance(hours, Mapping):
            ranges = [(*str(k).split("-", 1), v) for k, v in hours.items()]
        else:
            ranges = [tuple(r) for r in _list(hours, f"{here}.hours")]
        cover: list[int | None] = [None] * SLOTS_PER_DAY
        for range_ in ranges:
            if len(range_) != 3:
                raise _fail(f"{here}.hours", f"{range_!r} is not 'HH:MM-HH:MM: period'")
            start, end, period = (
                _minute(range_[0], f"{here}.hours"),
                _minute(range_[1], f"{here}.hours"),
                str(range_[2]),
            )
            if period not in periods:
                raise _fail(f"{here}.hours", f"unknown period {period!r}")
            if end <= start:
                raise _fail(f"{here}.hours", f"{range_[0]}-{range_[1]} ends before it starts")
            for slot in range(start // 15, end // 15):
                if cover[slot] is not None:
                    raise _fail(f"{here}.hours", f"{range_[0]}-{range_[1]} overlaps another range")
                cover[slot] = periods.index(period)
        hole = next((s for s, p in enumerate(cover) if p is None), None)
        if hole is not None:
            raise _fail(f"{here}.hours", f"no period at {hole // 4:02d}:{hole % 4 * 15:02d}")
        for month in months:
            for day in day_types:
                slots = table[month - 1][DAY_TYPES[day]]
                if slots[0] is not None:
                    raise _fail(here, f"month {month} {day} is already scheduled")
                slots[:] = cover
    for month in range(12):
        for day, day_type in DAY_TYPES.items():
            if table[month][day_type][0] is None:
                raise _fail(f"{field}.rows", f"month {month + 1} {day} has no hours")
    return TouSchedule(
        name=name,
        periods=tuple(periods),
        labels=tuple(labels),
        weekend_days=weekend_days,
        holidays_as_weekend=holidays == "weekend",
        holiday_rule=None if data.get("holiday_rule") is None else str(data["holiday_rule"]),
        slots=tuple(
            tuple(tuple(int(p) for p in slots if p is not None) for slots in month_row)
            for month_row in table
        ),
    )


def _row_months(row: Mapping[str, Any], field: str, seasons: Seasons) -> list[int]:
    if "months" in row:
        months = list(_list(row["months"], f"{field}.months"))
        for month in months:
            if not isinstance(month, int) or not 1 <= month <= 12:
                raise _fail(f"{field}.months", f"{month!r} is not a month (1..12)")
        return months
    names = row.get("seasons", "all")
    if names in ("all", ["all"]):
        return list(range(1, 13))
    found: list[int] = []
    for name in [names] if isinstance(names, str) else _list(names, f"{field}.seasons"):
        if name not in seasons.names:
            raise _fail(f"{field}.seasons", f"unknown season {name!r}")
        index = seasons.names.index(name)
        found += [m + 1 for m, s in enumerate(seasons.of_month) if s == index]
    return found


def _baseline(value: Any, field: str, seasons: Seasons) -> Baseline:
    data = _mapping(value, field)
    medical = decimal(
        data.get("medical_kwh_per_day", 0), f"{field}.medical_kwh_per_day", minimum=Decimal(0)
    )
    regions = _mapping(_required(data, "regions", field), f"{field}.regions")
    names: list[str] = []
    basic: list[tuple[Decimal, ...]] = []
    electric: list[tuple[Decimal, ...]] = []
    for region, by_season in regions.items():
        here = f"{field}.regions.{region}"
        season_map = _mapping(by_season, here)
        row_basic: list[Decimal] = []
        row_electric: list[Decimal] = []
        for season in seasons.names:
            pair = _list(_required(season_map, season, here), f"{here}.{season}")
            if len(pair) != 2:
                raise _fail(f"{here}.{season}", "is [basic, all_electric] kWh per day")
            row_basic.append(
                _tenth(
                    decimal(pair[0], f"{here}.{season}[0]", minimum=Decimal(0)),
                    f"{here}.{season}[0]",
                )
            )
            row_electric.append(
                _tenth(
                    decimal(pair[1], f"{here}.{season}[1]", minimum=Decimal(0)),
                    f"{here}.{season}[1]",
                )
            )
        unknown = set(season_map) - set(seasons.names)
        if unknown:
            raise _fail(here, f"unknown seasons {sorted(unknown)}")
        names.append(str(region))
        basic.append(tuple(row_basic))
        electric.append(tuple(row_electric))
    return Baseline(
        tuple(names), tuple(basic), tuple(electric), _tenth(medical, f"{field}.medical_kwh_per_day")
    )


def _tenth(value: Decimal, field: str) -> Decimal:
    # Allowances are kWh per day with at most one decimal, so that a percentage of a baseline
    # allocation is a whole number of Wh.
    if value != value.quantize(Decimal("0.1")):
        raise _fail(field, "kWh per day has at most one decimal")
    return value


def _tiers(value: Any, field: str, has_baseline: bool) -> Tiers:
    if value is None:
        return Tiers()
    data = _mapping(value, field)
    unit_raw = data.get("unit", "kwh")
    try:
        unit = TierUnit(unit_raw)
    except ValueError:
        raise _fail(f"{field}.unit", f"unknown tier unit {unit_raw!r}") from None
    if unit is TierUnit.PERCENT_OF_BASELINE and not has_baseline:
        raise _fail(f"{field}.unit", "tiers in % of baseline need a baseline table")
    widths_raw = _list(_required(data, "widths", field), f"{field}.widths")
    if not widths_raw:
        raise _fail(f"{field}.widths", "needs at least one tier")
    widths: list[Decimal | None] = []
    for index, width in enumerate(widths_raw):
        here = f"{field}.widths[{index}]"
        if width is None:
            if index != len(widths_raw) - 1:
                raise _fail(here, "only the last tier is unbounded")
            widths.append(None)
            continue
        number = decimal(width, here, minimum=Decimal(0))
        if unit is TierUnit.PERCENT_OF_BASELINE and number != number.to_integral_value():
            raise _fail(here, "a % of baseline is a whole number")
        widths.append(
            _whole_wh(number, here) if unit is not TierUnit.PERCENT_OF_BASELINE else number
        )
    if widths[-1] is not None:
        widths.append(None)  # past the last bound the last price goes on
    quantum_raw = data.get("quantum")
    quantum = None if quantum_raw is None else decimal(quantum_raw, f"{field}.quantum")
    if quantum is not None and (quantum <= 0 or quantum != quantum.quantize(Decimal("0.001"))):
        raise _fail(f"{field}.quantum", "is a positive kWh step of at least 0.001")
    return Tiers(unit, tuple(widths), bool(data.get("scale_by_households", False)), quantum)


def _price_list(value: Any, field: str, count: int) -> tuple[Decimal, ...]:
    items = [value] if not isinstance(value, list | tuple) else list(value)
    if len(items) == 1 and count > 1:
        items = items * count
    if len(items) < count:
        raise _fail(f"{field}[{len(items)}]", "price is missing")
    if len(items) > count:
        raise _fail(field, f"has {len(items)} prices for {count} tiers")
    return tuple(decimal(p, f"{field}[{i}]") for i, p in enumerate(items))


def _energy(data: Mapping[str, Any], field: str, pricing: _Partial) -> EnergyCharge:
    schedule_name = data.get("schedule")
    periods: list[str] = ["all"]
    if schedule_name is not None:
        schedule = pricing.schedule(str(schedule_name), f"{field}.schedule")
        periods = list(schedule.periods)
    basis_raw = data.get("basis", "total")
    try:
        basis = TierBasis(basis_raw)
    except ValueError:
        raise _fail(f"{field}.basis", f"unknown tier basis {basis_raw!r}") from None
    tiers_raw = data.get("tiers")
    if basis is TierBasis.PERIOD and schedule_name is not None:
        tier_map = _mapping(tiers_raw or {}, f"{field}.tiers")
        tiers = tuple(
            _tiers(tier_map.get(p), f"{field}.tiers.{p}", pricing.baseline is not None)
            for p in periods
        )
        unknown = set(tier_map) - set(periods)
        if unknown:
            raise _fail(f"{field}.tiers", f"unknown periods {sorted(unknown)}")
    else:
        tiers = (_tiers(tiers_raw, f"{field}.tiers", pricing.baseline is not None),)
    prices_raw = _required(data, "prices", field)
    prices: list[tuple[Decimal, ...]] = []
    if schedule_name is None:
        if isinstance(prices_raw, Mapping):
            raise _fail(f"{field}.prices", "without a TOU schedule prices are a list per tier")
        prices.append(_price_list(prices_raw, f"{field}.prices", tiers[0].count))
    else:
        price_map = _mapping(prices_raw, f"{field}.prices")
        for index, period in enumerate(periods):
            if period not in price_map:
                raise _fail(f"{field}.prices.{period}", "price is missing")
            count = tiers[index].count if basis is TierBasis.PERIOD else tiers[0].count
            prices.append(_price_list(price_map[period], f"{field}.prices.{period}", count))
        unknown = set(price_map) - set(periods)
        if unknown:
            raise _fail(f"{field}.prices", f"unknown periods {sorted(unknown)}")
    if basis is TierBasis.TOTAL and len(prices) > 1 and tiers[0].count > 1:
        for tier in range(1, tiers[0].count):
            adders = {row[tier] - row[0] for row in prices}
            if len(adders) > 1:
                raise _fail(
                    f"{field}.prices",
                    f"with tier basis 'total' tier {tier + 1} must add the same amount in every "
                    "period (use basis 'period' for independent tiers)",
                )
    short_lease = data.get("short_lease_tier")
    if short_lease is not None and (
        not isinstance(short_lease, int) or not 1 <= short_lease <= tiers[0].count
    ):
        raise _fail(f"{field}.short_lease_tier", "is a tier number (1-based)")
    untimed = data.get("untimed_period")
    if untimed is not None and untimed not in periods:
        raise _fail(f"{field}.untimed_period", f"unknown period {untimed!r}")
    return EnergyCharge(
        id=pricing.id_of(data, field),
        label=_label(data.get("name"), f"{field}.name", DEFAULT_LABELS["energy"]),
        schedule=None if schedule_name is None else str(schedule_name),
        basis=basis,
        tiers=tiers,
        prices=tuple(prices),
        short_lease_tier=None if short_lease is None else short_lease - 1,
        untimed_period=None if untimed is None else periods.index(untimed),
    )


class _Partial:
    """What is parsed before the components (schedules, baseline) and the ids seen so far."""

    def __init__(
        self, schedules: dict[str, TouSchedule], baseline: Baseline | None, seasons: Seasons
    ) -> None:
        self.schedules = schedules
        self.baseline = baseline
        self.seasons = seasons
        self.ids: set[str] = set()

    def schedule(self, name: str, field: str) -> TouSchedule:
        if name not in self.schedules:
            raise _fail(field, f"unknown schedule {name!r}")
        return self.schedules[name]

    def id_of(self, data: Mapping[str, Any], field: str) -> str:
        ident = str(_required(data, "id", field))
        if ident in self.ids:
            raise _fail(f"{field}.id", f"component id {ident!r} is used twice")
        self.ids.add(ident)
        return ident


def _per(data: Mapping[str, Any], field: str) -> Per:
    try:
        return Per(data.get("per", "month"))
    except ValueError:
        raise _fail(f"{field}.per", "is 'day' or 'month'") from None


def _program(value: Any, field: str) -> str:
    if value not in PROGRAMS:
        raise _fail(field, f"unknown programme {value!r}")
    return str(value)


def _component(value: Any, field: str, pricing: _Partial) -> Component:
    data = _mapping(value, field)
    kind = data.get("kind")
    if kind not in DEFAULT_LABELS:
        raise _fail(f"{field}.kind", f"unknown component kind {kind!r}")
    label = _label(data.get("name"), f"{field}.name", DEFAULT_LABELS[str(kind)])
    if kind == "energy":
        return _energy(data, field, pricing)
    ident = pricing.id_of(data, field)
    if kind == "fixed":
        programs = _mapping(data.get("program_prices", {}), f"{field}.program_prices")
        return FixedCharge(
            ident,
            label,
            _per(data, field),
            decimal(_required(data, "price", field), f"{field}.price"),
            tuple(
                (_program(p, f"{field}.program_prices"), decimal(v, f"{field}.program_prices.{p}"))
                for p, v in programs.items()
            ),
        )
    if kind == "demand":
        schedule_name = data.get("schedule")
        period_index: int | None = None
        if data.get("period") is not None:
            if schedule_name is None:
                raise _fail(f"{field}.schedule", "a demand period needs a schedule")
            schedule = pricing.schedule(str(schedule_name), f"{field}.schedule")
            if data["period"] not in schedule.periods:
                raise _fail(f"{field}.period", f"unknown period {data['period']!r}")
            period_index = schedule.periods.index(data["period"])
        seasons_raw = data.get("seasons")
        seasons: frozenset[int] | None = None
        if seasons_raw is not None:
            for name in _list(seasons_raw, f"{field}.seasons"):
                if name not in pricing.seasons.names:
                    raise _fail(f"{field}.seasons", f"unknown season {name!r}")
            seasons = frozenset(pricing.seasons.names.index(n) for n in seasons_raw)
        widths_raw = list(_list(data.get("widths_kw", [None]), f"{field}.widths_kw"))
        widths: list[Decimal | None] = []
        for index, width in enumerate(widths_raw):
            if width is None and index != len(widths_raw) - 1:
                raise _fail(f"{field}.widths_kw[{index}]", "only the last tier is unbounded")
            if width is not None:
                number = decimal(width, f"{field}.widths_kw[{index}]", minimum=Decimal(0))
                if number != number.quantize(Decimal("0.001")):
                    raise _fail(f"{field}.widths_kw[{index}]", "kW has at most 3 decimals")
                widths.append(number)
            else:
                widths.append(None)
        if widths[-1] is not None:
            widths.append(None)
        prices = _price_list(_required(data, "prices", field), f"{field}.prices", len(widths))
        return DemandCharge(
            ident,
            label,
            None if schedule_name is None else str(schedule_name),
            period_index,
            seasons,
            tuple(widths),
            prices,
        )
    if kind == "baseline_credit":
        if pricing.baseline is None:
            raise _fail(f"{field}.kind", "a baseline credit needs a baseline table")
        return BaselineCredit(
            ident,
            label,
            decimal(_required(data, "price", field), f"{field}.price", minimum=Decimal(0)),
        )
    if kind == "event_credit":
        months = frozenset(_list(data.get("months", list(range(1, 13))), f"{field}.months"))
        if not months <= set(range(1, 13)):
            raise _fail(f"{field}.months", "months are 1..12")
        return EventCredit(
            ident,
            label,
            _program(data.get("program", "sdp"), f"{field}.program"),
            decimal(
                _required(data, "price_per_ton_day", field),
                f"{field}.price_per_ton_day",
                minimum=Decimal(0),
            ),
            months,
        )
    if kind == "discount":
        percent = decimal(_required(data, "percent", field), f"{field}.percent", minimum=Decimal(0))
        if percent > 100 or percent != percent.quantize(Decimal("0.01")):
            raise _fail(f"{field}.percent", "is 0..100 with at most 2 decimals")
        applies = frozenset(
            str(a) for a in _list(_required(data, "applies_to", field), f"{field}.applies_to")
        )
        unknown = applies - pricing.ids
        if unknown:
            raise _fail(
                f"{field}.applies_to", f"unknown components {sorted(unknown)} (list them first)"
            )
        return Discount(
            ident, label, _program(data.get("program"), f"{field}.program"), percent, applies
        )
    return MinimumCharge(
        ident,
        label,
        _per(data, field),
        decimal(_required(data, "amount", field), f"{field}.amount", minimum=Decimal(0)),
    )


def parse_pricing(document: Mapping[str, Any], field: str = "") -> Pricing:
    """The pricing part of one version document."""
    prefix = f"{field}." if field else ""
    currency = str(_required(document, "currency", field))
    if currency not in CURRENCY_DIGITS:
        raise _fail(f"{prefix}currency", f"unknown currency {currency!r}")
    time_zone = str(_required(document, "time_zone", field))
    seasons = _seasons(document.get("seasons"), f"{prefix}seasons")
    schedules_raw = _mapping(document.get("schedules", {}), f"{prefix}schedules")
    schedules = {
        str(name): _schedule(str(name), spec, f"{prefix}schedules.{name}", seasons)
        for name, spec in schedules_raw.items()
    }
    baseline = (
        None
        if document.get("baseline") is None
        else _baseline(document["baseline"], f"{prefix}baseline", seasons)
    )
    partial = _Partial(schedules, baseline, seasons)
    components_raw = _list(_required(document, "components", field), f"{prefix}components")
    if not components_raw:
        raise _fail(f"{prefix}components", "a version needs at least one component")
    components = tuple(
        _component(c, f"{prefix}components[{i}]", partial) for i, c in enumerate(components_raw)
    )
    split = _mapping(document.get("split", {}), f"{prefix}split")
    try:
        denominator = Denominator(split.get("denominator", "billing_days"))
    except ValueError:
        raise _fail(
            f"{prefix}split.denominator", "is billing_days or previous_month_days"
        ) from None
    quantum = decimal(split.get("quantum_kwh", 1), f"{prefix}split.quantum_kwh")
    if quantum <= 0 or quantum != quantum.quantize(Decimal("0.001")):
        raise _fail(f"{prefix}split.quantum_kwh", "is a positive kWh step of at least 0.001")
    return Pricing(
        currency=currency,
        minor_digits=CURRENCY_DIGITS[currency],
        time_zone=time_zone,
        seasons=seasons,
        schedules=tuple(schedules.values()),
        baseline=baseline,
        components=components,
        denominator=denominator,
        split_quantum_kwh=quantum,
    )


def parse_version(
    document: Mapping[str, Any], *, tariff_code: str, field: str = ""
) -> TariffVersion:
    """One version document (with ``from``/``to``) → TariffVersion; raises TariffDataError."""
    data = _mapping(document, field or "version")
    return TariffVersion(
        tariff_code=tariff_code,
        period=parse_period(data, field),
        instrument=str(data.get("instrument", "")),
        pricing=parse_pricing(data, field),
    )


def check_sequence(versions: Sequence[TariffVersion], field: str = "versions") -> None:
    """Versions of one tariff in order, without overlap or gap; raises TariffDataError."""
    for index in range(1, len(versions)):
        before, after = versions[index - 1].period, versions[index].period
        here = f"{field}[{index}].from"
        if before.end is None or after.start < before.end:
            raise _fail(here, f"overlaps the version from {before.start}")
        if after.start > before.end:
            raise _fail(here, f"leaves a gap after the version ending {before.end}")


def parse_tariff(document: Mapping[str, Any]) -> tuple[str, tuple[TariffVersion, ...]]:
    """A tariff file ``{tariff: CODE, versions: [...]}`` → its code and ordered versions."""
    data = _mapping(document, "tariff")
    code = str(_required(data, "tariff", ""))
    raw = _list(_required(data, "versions", ""), "versions")
    versions = [
        parse_version(v, tariff_code=code, field=f"versions[{i}]") for i, v in enumerate(raw)
    ]
    check_sequence(versions)
    return code, tuple(versions)


def parse_taxes(document: Mapping[str, Any], field: str = "") -> TaxSchedule:
    """``{owner, taxes: [{code, name, rates: [{from, to, rate}]}]}`` → TaxSchedule."""
    data = _mapping(document, field or "taxes")
    prefix = f"{field}." if field else ""
    owner = str(_required(data, "owner", field))
    rates: list[TaxRate] = []
    for t_index, tax_raw in enumerate(_list(data.get("taxes", []), f"{prefix}taxes")):
        here = f"{prefix}taxes[{t_index}]"
        tax = _mapping(tax_raw, here)
        code = str(_required(tax, "code", here))
        label = _label(tax.get("name"), f"{here}.name", Label(code, code, code))
        periods: list[DatePeriod] = []
        for r_index, rate_raw in enumerate(_list(_required(tax, "rates", here), f"{here}.rates")):
            there = f"{here}.rates[{r_index}]"
            rate_data = _mapping(rate_raw, there)
            period = parse_period(rate_data, there)
            rate = decimal(_required(rate_data, "rate", there), f"{there}.rate", minimum=Decimal(0))
            if rate >= 1 or rate != rate.quantize(Decimal("0.0001")):
                raise _fail(f"{there}.rate", "is a fraction below 1 with at most 4 decimals")
            if periods and (periods[-1].end is None or period.start < periods[-1].end):
                raise _fail(f"{there}.from", "overlaps the rate before it")
            if periods and period.start > periods[-1].end:  # type: ignore[operator]
                raise _fail(f"{there}.from", "leaves a gap after the rate before it")
            periods.append(period)
            rates.append(TaxRate(code, label, rate, period))
    return TaxSchedule(owner, tuple(rates))
