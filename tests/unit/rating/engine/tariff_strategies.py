"""Hypothesis strategies for random tariffs (as plain documents) and usages."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

REGIONS = ["5", "6"]


def prices(draw: Any, currency: str, *, negative: bool = False) -> str:
    if currency == "VND":
        value = Decimal(draw(st.integers(0 if not negative else -500, 6000)))
    else:
        places = draw(st.integers(0, 5))
        value = Decimal(draw(st.integers(0, 90000))).scaleb(-5).quantize(Decimal(1).scaleb(-places))
    return str(value)


@st.composite
def schedule(draw: Any, seasons: list[str]) -> dict[str, Any]:
    count = draw(st.integers(2, 3))
    periods = ["peak", "normal", "offpeak"][:count]
    rows = []
    for season in seasons:
        for day in ("weekday", "weekend"):
            cuts = sorted(set(draw(st.lists(st.integers(1, 95), min_size=1, max_size=4))))
            bounds = [0, *cuts, 96]
            hours = {}
            for lo, hi in itertools.pairwise(bounds):
                start = f"{lo // 4:02d}:{lo % 4 * 15:02d}"
                end = f"{hi // 4:02d}:{hi % 4 * 15:02d}"
                hours[f"{start}-{end}"] = draw(st.sampled_from(periods))
            rows.append({"seasons": [season], "days": [day], "hours": hours})
    return {
        "periods": periods,
        "weekend_days": draw(st.sampled_from([[6, 7], [7]])),
        "holidays": draw(st.sampled_from(["weekend", "ordinary"])),
        "rows": rows,
    }


@st.composite
def pricing(draw: Any, currency: str, time_zone: str) -> dict[str, Any]:
    two_seasons = draw(st.booleans())
    seasons = (
        {"summer": [6, 7, 8, 9], "winter": [1, 2, 3, 4, 5, 10, 11, 12]} if two_seasons else None
    )
    season_names = ["summer", "winter"] if two_seasons else ["all"]
    doc: dict[str, Any] = {"currency": currency, "time_zone": time_zone}
    if seasons:
        doc["seasons"] = seasons
    doc["split"] = {
        "denominator": draw(st.sampled_from(["billing_days", "previous_month_days"])),
        "quantum_kwh": draw(st.sampled_from([1, "0.001", "0.5"])),
    }
    has_baseline = draw(st.booleans())
    if has_baseline:
        doc["baseline"] = {
            "medical_kwh_per_day": "16.5",
            "regions": {
                r: {
                    s: [
                        str(Decimal(draw(st.integers(50, 300))) / 10),
                        str(Decimal(draw(st.integers(50, 300))) / 10),
                    ]
                    for s in season_names
                }
                for r in REGIONS
            },
        }
    tou = draw(st.booleans())
    if tou:
        doc["schedules"] = {"energy": draw(schedule(season_names))}
    components: list[dict[str, Any]] = []
    tier_unit = draw(
        st.sampled_from(
            ["kwh", "kwh_per_day", "kwh_per_kw"] + (["percent_of_baseline"] if has_baseline else [])
        )
    )
    n_tiers = draw(st.integers(1, 4))
    if tier_unit == "percent_of_baseline":
        widths: list[Any] = [draw(st.integers(10, 300)) for _ in range(n_tiers - 1)]
    else:
        widths = [str(Decimal(draw(st.integers(0, 300000))) / 1000) for _ in range(n_tiers - 1)]
    tiers = {
        "unit": tier_unit,
        "widths": [*widths, None],
        "scale_by_households": draw(st.booleans()),
        "quantum": draw(st.sampled_from([None, 1, "0.1"])),
    }
    energy: dict[str, Any] = {"id": "energy", "kind": "energy", "tiers": tiers}
    if tou:
        periods = doc["schedules"]["energy"]["periods"]
        energy["schedule"] = "energy"
        basis = draw(st.sampled_from(["total", "period"]))
        energy["basis"] = basis
        if basis == "total":
            adders = [Decimal(0)] + [Decimal(prices(draw, currency)) for _ in range(n_tiers - 1)]
            energy["prices"] = {
                p: [str(Decimal(base) + a) for a in adders]
                for p, base in ((p, prices(draw, currency)) for p in periods)
            }
        else:
            energy["tiers"] = dict.fromkeys(periods, tiers)
            energy["prices"] = {
                p: [prices(draw, currency) for _ in range(n_tiers)] for p in periods
            }
        if draw(st.booleans()):
            energy["untimed_period"] = periods[-1]
    else:
        energy["prices"] = [prices(draw, currency) for _ in range(n_tiers)]
        if draw(st.booleans()):
            energy["short_lease_tier"] = draw(st.integers(1, n_tiers))
    components.append(energy)
    if draw(st.booleans()):
        components.append(
            {
                "id": "fixed",
                "kind": "fixed",
                "per": draw(st.sampled_from(["day", "month"])),
                "price": prices(draw, currency),
                "program_prices": {"care": prices(draw, currency)} if draw(st.booleans()) else {},
            }
        )
    if draw(st.booleans()):
        demand: dict[str, Any] = {
            "id": "demand",
            "kind": "demand",
            "widths_kw": [str(Decimal(draw(st.integers(1, 50000))) / 1000), None],
            "prices": [prices(draw, currency), prices(draw, currency)],
        }
        if tou and draw(st.booleans()):
            demand["schedule"] = "energy"
            demand["period"] = "peak"
        if two_seasons and draw(st.booleans()):
            demand["seasons"] = ["summer"]
        components.append(demand)
    if has_baseline and draw(st.booleans()):
        components.append(
            {"id": "credit", "kind": "baseline_credit", "price": prices(draw, currency)}
        )
    if draw(st.booleans()):
        components.append(
            {
                "id": "sdp",
                "kind": "event_credit",
                "program": "sdp",
                "months": [6, 7, 8, 9],
                "price_per_ton_day": prices(draw, currency),
            }
        )
    if draw(st.booleans()):
        components.append(
            {
                "id": "care",
                "kind": "discount",
                "program": "care",
                "percent": str(Decimal(draw(st.integers(0, 10000))) / 100),
                "applies_to": draw(st.sampled_from([["energy"], [c["id"] for c in components]])),
            }
        )
    if draw(st.booleans()):
        components.append(
            {
                "id": "minimum",
                "kind": "minimum",
                "per": draw(st.sampled_from(["day", "month"])),
                "amount": prices(draw, currency),
            }
        )
    doc["components"] = components
    return doc


@st.composite
def tariff(draw: Any) -> dict[str, Any]:
    currency = draw(st.sampled_from(["VND", "USD"]))
    time_zone = draw(st.sampled_from(["Asia/Ho_Chi_Minh", "America/Los_Angeles"]))
    start = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 300)))
    versions = []
    count = draw(st.integers(1, 3))
    base = draw(pricing(currency, time_zone))
    for index in range(count):
        length = draw(st.integers(5, 60))
        end = start + timedelta(days=length) if index < count - 1 else None
        body = base if (index == 0 or draw(st.booleans())) else draw(pricing(currency, time_zone))
        versions.append(
            {**body, "from": start.isoformat(), "to": None if end is None else end.isoformat()}
        )
        if end is not None:
            start = end
    return {"tariff": "T", "versions": versions}


@st.composite
def taxes(draw: Any, first: date) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"owner": "x", "taxes": []}
    change = first + timedelta(days=draw(st.integers(1, 200)))
    return {
        "owner": "x",
        "taxes": [
            {
                "code": "vat",
                "rates": [
                    {"from": "2000-01-01", "to": change.isoformat(), "rate": "0.1"},
                    {
                        "from": change.isoformat(),
                        "to": None,
                        "rate": draw(st.sampled_from(["0.08", "0.1", "0.0725"])),
                    },
                ],
            }
        ],
    }


@st.composite
def context_values(draw: Any) -> dict[str, Any]:
    programs = set(draw(st.sets(st.sampled_from(["care", "fera", "medical_baseline", "sdp"]))))
    if {"care", "fera"} <= programs:
        programs.discard("fera")
    return {
        "household_norm": Decimal(draw(st.integers(25, 400))) / 100,
        "short_lease_undeclared": draw(st.booleans()),
        "baseline_region": draw(st.sampled_from(REGIONS)),
        "all_electric": draw(st.booleans()),
        "programs": frozenset(programs),
        "sdp_tons": Decimal(draw(st.integers(0, 6000))) / 1000,
    }
