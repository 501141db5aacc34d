"""Demand, minimum, event credits and fixed charges on a small test tariff, with exact values.

The prices here are test data, not a utility's (the SDP credit per ton-day is not in TARIFFS.md).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine.model import RatingContext, RegisterUsage
from ampere.rating.engine.parse import parse_tariff, parse_taxes
from ampere.rating.engine.reference import rate_register

NO_TAX = parse_taxes({"owner": "test", "taxes": []})
BASE = {"currency": "USD", "time_zone": "America/Los_Angeles"}


def tariff(*components, versions=None):
    if versions is None:
        versions = [{**BASE, "from": "2026-01-01", "to": None, "components": list(components)}]
    return parse_tariff({"tariff": "TEST", "versions": versions})[1]


ENERGY = {"id": "energy", "kind": "energy", "prices": ["0.20"]}


def test_tiered_demand_charge_on_the_maximum_kw():
    versions = tariff(
        ENERGY,
        {"id": "demand", "kind": "demand", "widths_kw": [100, None], "prices": ["13.50", "12.10"]},
    )
    bill = rate_register(
        versions=versions,
        taxes=NO_TAX,
        period=DatePeriod(date(2026, 7, 1), date(2026, 8, 1)),
        usage=RegisterUsage(kwh=Decimal(1000), max_kw=Decimal("150.5")),
        context=RatingContext(),
        language="en",
    )
    assert [(line.description, line.quantity, line.rounded) for line in bill.lines] == [
        ("Energy", Decimal(1000), Decimal("200.00")),
        ("Demand — tier 1", Decimal(100), Decimal("1350.00")),
        ("Demand — tier 2", Decimal("50.5"), Decimal("611.05")),
    ]


def test_demand_and_monthly_fixed_charges_are_prorated_by_days_across_a_price_change():
    common = [{"id": "fixed", "kind": "fixed", "per": "month", "price": "10"}]
    versions = tariff(
        versions=[
            {
                **BASE,
                "from": "2026-01-01",
                "to": "2026-07-11",
                "components": [
                    ENERGY,
                    *common,
                    {"id": "demand", "kind": "demand", "prices": ["12"]},
                ],
            },
            {
                **BASE,
                "from": "2026-07-11",
                "to": None,
                "components": [
                    ENERGY,
                    *common,
                    {"id": "demand", "kind": "demand", "prices": ["15"]},
                ],
            },
        ]
    )
    bill = rate_register(
        versions=versions,
        taxes=NO_TAX,
        period=DatePeriod(date(2026, 7, 1), date(2026, 7, 31)),  # 10 days + 20 days of 30
        usage=RegisterUsage(kwh=Decimal(300), max_kw=Decimal(7)),
        context=RatingContext(),
        language="en",
    )
    tenth = Decimal("1e-10")  # the unrounded amount keeps 60 significant digits
    assert [
        (line.code, line.quantity, line.proration, line.amount.quantize(tenth), line.rounded)
        for line in bill.lines
    ] == [
        ("2026-07-01/energy.t1", Decimal(100), None, Decimal(20), Decimal("20.00")),
        ("2026-07-01/fixed", Decimal(1), (10, 30), Decimal("3.3333333333"), Decimal("3.33")),
        ("2026-07-01/demand.t1", Decimal(7), (10, 30), Decimal(28), Decimal("28.00")),
        ("2026-07-11/energy.t1", Decimal(200), None, Decimal(40), Decimal("40.00")),
        ("2026-07-11/fixed", Decimal(1), (20, 30), Decimal("6.6666666667"), Decimal("6.67")),
        ("2026-07-11/demand.t1", Decimal(7), (20, 30), Decimal(70), Decimal("70.00")),
    ]
    assert bill.total == Decimal("168.00")


def test_a_demand_charge_without_the_maximum_kw_is_refused():
    versions = tariff(ENERGY, {"id": "demand", "kind": "demand", "prices": ["12"]})
    with pytest.raises(InvalidInput) as error:
        rate_register(
            versions=versions,
            taxes=NO_TAX,
            period=DatePeriod(date(2026, 7, 1), date(2026, 8, 1)),
            usage=RegisterUsage(kwh=Decimal(10)),
            context=RatingContext(),
        )
    assert error.value.field == "max_kw"


def test_minimum_charge_tops_the_bill_up():
    versions = tariff(ENERGY, {"id": "minimum", "kind": "minimum", "per": "month", "amount": "25"})
    period = DatePeriod(date(2026, 7, 1), date(2026, 8, 1))
    small = rate_register(
        versions=versions,
        taxes=NO_TAX,
        period=period,
        usage=RegisterUsage(kwh=Decimal("40.125")),
        context=RatingContext(),
        language="en",
    )
    assert [(line.description, line.rounded) for line in small.lines] == [
        ("Energy", Decimal("8.03")),
        ("Minimum charge — top-up to the minimum", Decimal("16.97")),
    ]
    assert small.total == Decimal(25)
    large = rate_register(
        versions=versions,
        taxes=NO_TAX,
        period=period,
        usage=RegisterUsage(kwh=Decimal(200)),
        context=RatingContext(),
        language="en",
    )
    assert [line.kind for line in large.lines] == ["energy"]


def test_summer_discount_plan_credits_per_ton_and_event_day():
    versions = tariff(
        ENERGY,
        {
            "id": "sdp",
            "kind": "event_credit",
            "program": "sdp",
            "months": [6, 7, 8, 9],
            "price_per_ton_day": "1.25",
        },
    )
    events = frozenset({date(2026, 7, 2), date(2026, 7, 15), date(2026, 7, 30), date(2026, 10, 2)})
    bill = rate_register(
        versions=versions,
        taxes=NO_TAX,
        period=DatePeriod(date(2026, 7, 1), date(2026, 10, 10)),
        usage=RegisterUsage(kwh=Decimal(100)),
        context=RatingContext(
            programs=frozenset({"sdp"}), sdp_tons=Decimal("3.5"), sdp_event_dates=events
        ),
        language="en",
    )
    # 3 event days in the plan's months (2 October is outside June–September) × 3.5 tons × 1.25
    assert [
        (line.quantity, line.unit_price, line.amount, line.rounded) for line in bill.lines[1:]
    ] == [
        (Decimal("10.5"), Decimal("-1.25"), Decimal("-13.125"), Decimal("-13.13")),
    ]
    without = rate_register(
        versions=versions,
        taxes=NO_TAX,
        period=DatePeriod(date(2026, 7, 1), date(2026, 10, 10)),
        usage=RegisterUsage(kwh=Decimal(100)),
        context=RatingContext(sdp_tons=Decimal("3.5"), sdp_event_dates=events),
    )
    assert [line.kind for line in without.lines] == ["energy"]
