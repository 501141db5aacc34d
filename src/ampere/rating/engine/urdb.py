"""OpenEI Utility Rate Database (URDB) records → Ampere version documents.

What is read: ``energyratestructure`` (tiers with ``max``, ``unit``, ``rate`` and ``adj``),
``energyweekdayschedule``/``energyweekendschedule`` (12 months × 24 hours of 0-based period
numbers), fixed charges under the new name (``fixedmonthlycharge``) and the old ones
(``fixedchargefirstmeter`` with ``fixedchargeunits`` in $/month or $/day), ``demandratestructure``
with its schedules, flat demand (``flatdemandstructure`` with ``flatdemandmonths``) and the
monthly minimum (``minmonthlycharge``, or ``mincharge`` with ``minchargeunits``). Fields that do
not price a bill in Ampere (sell rates, net metering rules, an annual minimum, ratchets) are
reported as warnings, never silently dropped.

Tiers and periods: where every period has the same tier bounds and each tier adds the same
amount in every period, tiers apply to the month's total kWh (basis ``total``, as SAM does);
otherwise each period's kWh climbs its own tiers (basis ``period``; SAM refuses bounds that
differ between periods, and allocates shared tiers across periods in proportion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ampere.rating.engine.parse import TariffDataError, decimal

UNBOUNDED = Decimal("1e30")
TIER_UNITS = {"kwh": "kwh", "kwh daily": "kwh_per_day", "kwh/kw": "kwh_per_kw"}
IGNORED = {
    "annualmincharge": "an annual minimum needs a year of bills: not applied",
    "dgrules": "net-metering rules are not rated here",
    "usenetmetering": "net metering is not rated here",
    "lookbackpercent": "demand ratchets (look-back) are not applied",
    "coincidentratestructure": "coincident demand is not applied",
    "energyattrs": "energy attributes are notes, not priced",
    "demandattrs": "demand attributes are notes, not priced",
}


def _fail(field: str, message: str) -> TariffDataError:
    return TariffDataError(message, field=field)


def unwrap(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """A URDB API answer ``{"items": [rate]}`` or a bare rate → the rate."""
    items = record.get("items")
    if isinstance(items, list):
        if len(items) != 1:
            raise _fail("items", f"holds {len(items)} rates: import one at a time")
        record = items[0]
    if not isinstance(record, Mapping):
        raise _fail("items[0]", "is not a rate record")
    return record


def record_dates(record: Mapping[str, Any]) -> tuple[date | None, date | None]:
    """``startdate``/``enddate`` as dates (epoch seconds or ISO text); ``enddate`` is the last
    day in force, so the half-open end is the day after."""
    found: list[date | None] = []
    for key in ("startdate", "enddate"):
        value = record.get(key)
        day: date | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            day = datetime.fromtimestamp(value, tz=UTC).date()
        elif isinstance(value, str) and value:
            day = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        found.append(day)
    start, end = found
    if end is not None:
        from datetime import timedelta

        end = end + timedelta(days=1)
    return start, end


def _matrix(record: Mapping[str, Any], key: str, periods: int) -> list[list[int]]:
    value = record.get(key)
    if not isinstance(value, list) or len(value) != 12:
        raise _fail(key, "is 12 months × 24 hours")
    rows: list[list[int]] = []
    for month, row in enumerate(value):
        if not isinstance(row, list) or len(row) != 24:
            raise _fail(
                f"{key}[{month}]", f"has {len(row) if isinstance(row, list) else 0} hours, not 24"
            )
        for hour, value in enumerate(row):
            period = int(value) if isinstance(value, float) and value.is_integer() else value
            if not isinstance(period, int) or isinstance(period, bool):
                raise _fail(f"{key}[{month}][{hour}]", "is not a period number")
            if not 0 <= period < periods:
                raise _fail(f"{key}[{month}][{hour}]", f"names period {period}, which has no rates")
        rows.append([int(p) for p in row])  # floats that are whole numbers were checked
    return rows


def _rows(
    weekday: Sequence[Sequence[int]], weekend: Sequence[Sequence[int]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for month in range(12):
        for day, matrix in (("weekday", weekday), ("weekend", weekend)):
            hours: dict[str, str] = {}
            row = matrix[month]
            start = 0
            for hour in range(1, 25):
                if hour == 24 or row[hour] != row[start]:
                    hours[f"{start:02d}:00-{hour:02d}:00"] = f"p{row[start] + 1}"
                    start = hour
            rows.append({"months": [month + 1], "days": [day], "hours": hours})
    return rows


def _tiers(structure: Any, key: str, demand: bool = False) -> list[list[dict[str, Any]]]:
    if not isinstance(structure, list) or not structure:
        raise _fail(key, "is a list of periods, each a list of tiers")
    periods: list[list[dict[str, Any]]] = []
    for index, tiers in enumerate(structure):
        here = f"{key}[{index}]"
        if not isinstance(tiers, list) or not tiers:
            raise _fail(here, "is a list of tiers")
        parsed: list[dict[str, Any]] = []
        previous = Decimal(0)
        for t_index, tier in enumerate(tiers):
            there = f"{here}[{t_index}]"
            if not isinstance(tier, Mapping):
                raise _fail(there, "is a tier {rate, max, unit, adj}")
            if tier.get("rate") is None:
                raise _fail(f"{there}.rate", "price is missing")
            price = decimal(tier["rate"], f"{there}.rate") + decimal(
                tier.get("adj", 0), f"{there}.adj"
            )
            bound_raw = tier.get("max")
            width: Decimal | None = None
            if bound_raw is not None and t_index < len(tiers) - 1:
                bound = decimal(bound_raw, f"{there}.max")
                if bound < UNBOUNDED:
                    if bound < previous:
                        raise _fail(f"{there}.max", f"is below the tier before it ({previous})")
                    width = bound - previous
                    previous = bound
            elif bound_raw is not None:
                bound = decimal(bound_raw, f"{there}.max")
                if bound < UNBOUNDED:
                    width = bound - previous  # past the last max the last price goes on
            unit = str(tier.get("unit", "kW" if demand else "kWh")).strip().lower()
            if not demand and unit not in TIER_UNITS:
                raise _fail(f"{there}.unit", f"tier unit {tier.get('unit')!r} is not supported")
            if demand and unit not in {"kw", ""}:
                raise _fail(f"{there}.unit", f"demand unit {tier.get('unit')!r} is not supported")
            parsed.append({"price": price, "width": width, "unit": TIER_UNITS.get(unit, unit)})
        periods.append(parsed)
    return periods


def _widths(tiers: Sequence[Mapping[str, Any]]) -> list[str | None]:
    widths = [None if t["width"] is None else str(t["width"]) for t in tiers]
    if widths[-1] is not None:
        widths.append(None)
    return widths


def _price_list(tiers: Sequence[Mapping[str, Any]]) -> list[str]:
    prices = [str(t["price"]) for t in tiers]
    if tiers[-1]["width"] is not None:
        prices.append(prices[-1])
    return prices


def to_document(record: Mapping[str, Any], *, time_zone: str) -> tuple[dict[str, Any], list[str]]:
    """A URDB rate → (version document without dates, warnings). Raises TariffDataError."""
    rate = unwrap(record)
    warnings = [
        f"{key}: {why}"
        for key, why in IGNORED.items()
        if rate.get(key) not in (None, 0, [], "", False)
    ]
    if any(
        any(t.get("sell") for t in p if isinstance(t, Mapping))
        for p in rate.get("energyratestructure") or []
        if isinstance(p, list)
    ):
        warnings.append("energyratestructure.sell: sell rates (exports) are not rated here")
    document: dict[str, Any] = {"currency": "USD", "time_zone": time_zone}
    if rate.get("label") or rate.get("uri"):
        document["source"] = f"OpenEI URDB {rate.get('label', '')} {rate.get('uri', '')}".strip()
    components: list[dict[str, Any]] = []
    schedules: dict[str, Any] = {}
    month_keys: list[list[Any]] = [[] for _ in range(12)]

    energy_structure = rate.get("energyratestructure")
    if energy_structure:
        periods = _tiers(energy_structure, "energyratestructure")
        weekday = _matrix(rate, "energyweekdayschedule", len(periods))
        weekend = _matrix(rate, "energyweekendschedule", len(periods))
        names = [f"p{i + 1}" for i in range(len(periods))]
        used = sorted({p for m in (weekday, weekend) for row in m for p in row})
        for month in range(12):
            month_keys[month] += [tuple(weekday[month]), tuple(weekend[month])]
        units = {t["unit"] for p in periods for t in p}
        if len(units) > 1:
            raise _fail("energyratestructure", f"mixes tier units {sorted(units)}")
        unit = units.pop()
        bounds = {tuple(t["width"] for t in p) for p in periods}
        shared = len(bounds) == 1
        additive = shared and all(
            len({p[t]["price"] - p[0]["price"] for p in periods}) == 1
            for t in range(len(periods[0]))
        )
        energy: dict[str, Any] = {"id": "energy", "kind": "energy"}
        if len(periods) > 1 or len(used) > 1:
            schedules["energy"] = {
                "periods": names,
                "weekend_days": [6, 7],
                "rows": _rows(weekday, weekend),
            }
            energy["schedule"] = "energy"
            if shared and additive:
                energy["basis"] = "total"
                energy["tiers"] = {"unit": unit, "widths": _widths(periods[0])}
                energy["prices"] = {n: _price_list(p) for n, p in zip(names, periods, strict=True)}
            else:
                energy["basis"] = "period"
                energy["tiers"] = {
                    n: {"unit": unit, "widths": _widths(p)}
                    for n, p in zip(names, periods, strict=True)
                }
                energy["prices"] = {n: _price_list(p) for n, p in zip(names, periods, strict=True)}
                if shared:
                    warnings.append(
                        "energyratestructure: tiers differ in price by period: each period's kWh "
                        "climbs its own tiers (SAM would share the month's tiers in proportion)"
                    )
        else:
            energy["tiers"] = {"unit": unit, "widths": _widths(periods[0])}
            energy["prices"] = _price_list(periods[0])
        components.append(energy)

    fixed = rate.get("fixedmonthlycharge")
    fixed_key = "fixedmonthlycharge"
    if fixed is None and rate.get("fixedchargefirstmeter") is not None:
        fixed_key = "fixedchargefirstmeter"
        fixed = rate["fixedchargefirstmeter"]
        fixed_units = str(rate.get("fixedchargeunits", "$/month")).strip().lower()
        if fixed_units not in {"$/month", "$/day"}:
            raise _fail(
                "fixedchargeunits", f"{rate.get('fixedchargeunits')!r} is not $/month or $/day"
            )
        per = "day" if fixed_units == "$/day" else "month"
    else:
        per = "month"
    if fixed is not None and decimal(fixed, fixed_key) != 0:
        components.append(
            {"id": "fixed", "kind": "fixed", "per": per, "price": str(decimal(fixed, fixed_key))}
        )

    demand_structure = rate.get("demandratestructure")
    demand_periods: list[list[dict[str, Any]]] = []
    if demand_structure:
        demand_periods = _tiers(demand_structure, "demandratestructure", demand=True)
        d_weekday = _matrix(rate, "demandweekdayschedule", len(demand_periods))
        d_weekend = _matrix(rate, "demandweekendschedule", len(demand_periods))
        for month in range(12):
            month_keys[month] += [tuple(d_weekday[month]), tuple(d_weekend[month])]
        schedules["demand"] = {
            "periods": [f"p{i + 1}" for i in range(len(demand_periods))],
            "weekend_days": [6, 7],
            "rows": _rows(d_weekday, d_weekend),
        }
    flat_structure = rate.get("flatdemandstructure")
    flat_periods: list[list[dict[str, Any]]] = []
    flat_months: list[int] = []
    if flat_structure:
        flat_periods = _tiers(flat_structure, "flatdemandstructure", demand=True)
        months_raw = rate.get("flatdemandmonths")
        if not isinstance(months_raw, list) or len(months_raw) != 12:
            raise _fail("flatdemandmonths", "is 12 period numbers, one per month")
        for month, value in enumerate(months_raw):
            number = decimal(value, f"flatdemandmonths[{month}]")
            if number != number.to_integral_value() or not 0 <= number < len(flat_periods):
                raise _fail(
                    f"flatdemandmonths[{month}]", f"names period {value}, which has no rates"
                )
            flat_months.append(int(number))
            month_keys[month].append(int(number))

    # Seasons: months that price alike; a period is split where the season changes.
    seasons: dict[tuple[Any, ...], list[int]] = {}
    for month in range(12):
        seasons.setdefault(tuple(month_keys[month]), []).append(month + 1)
    season_names = {key: f"s{i + 1}" for i, key in enumerate(seasons)}
    if len(seasons) > 1:
        document["seasons"] = {season_names[key]: months for key, months in seasons.items()}

    for index, tiers in enumerate(demand_periods):
        if all(t["price"] == 0 for t in tiers):
            continue
        components.append(
            {
                "id": f"demand-p{index + 1}",
                "kind": "demand",
                "schedule": "demand",
                "period": f"p{index + 1}",
                "widths_kw": _widths(tiers),
                "prices": _price_list(tiers),
            }
        )
    for index, tiers in enumerate(flat_periods):
        if all(t["price"] == 0 for t in tiers) or index not in flat_months:
            continue
        demand_component: dict[str, Any] = {
            "id": f"flat-demand-{index + 1}",
            "kind": "demand",
            "widths_kw": _widths(tiers),
            "prices": _price_list(tiers),
        }
        if len(seasons) > 1:
            demand_component["seasons"] = [
                season_names[key]
                for key, months in seasons.items()
                if flat_months[months[0] - 1] == index
            ]
        components.append(demand_component)

    minimum = rate.get("minmonthlycharge")
    if minimum is None and rate.get("mincharge") is not None:
        minimum_units = str(rate.get("minchargeunits", "$/month")).strip().lower()
        if minimum_units == "$/month":
            minimum = rate["mincharge"]
        else:
            warnings.append(f"mincharge: {rate.get('minchargeunits')!r} minimum is not applied")
    if minimum is not None and decimal(minimum, "minmonthlycharge") > 0:
        components.append(
            {
                "id": "minimum",
                "kind": "minimum",
                "per": "month",
                "amount": str(decimal(minimum, "minmonthlycharge")),
            }
        )
    if not components:
        raise _fail("energyratestructure", "the rate has no energy, fixed or demand charge")
    if schedules:
        document["schedules"] = schedules
    document["components"] = components
    return document, warnings
