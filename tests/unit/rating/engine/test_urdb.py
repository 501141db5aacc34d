"""The URDB importer on every record in shared/urdb/, and on broken records."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal

import pytest

from ampere.core.periods import DatePeriod
from ampere.rating.engine.model import (
    DemandCharge,
    EnergyCharge,
    FixedCharge,
    MinimumCharge,
    RatingContext,
    RegisterUsage,
)
from ampere.rating.engine.parse import TariffDataError, parse_taxes, parse_version
from ampere.rating.engine.reference import rate_register
from ampere.rating.engine.urdb import to_document, unwrap
from tests.shared_data import URDB

RECORDS = sorted(URDB.glob("*.json"))


def version_of(record):
    document, warnings = to_document(record, time_zone="America/Los_Angeles")
    return parse_version(
        {**document, "from": "2020-01-01", "to": None}, tariff_code="URDB"
    ), warnings


def test_every_shared_record_is_there():
    assert len(RECORDS) == 10


@pytest.mark.parametrize("path", RECORDS, ids=[p.name for p in RECORDS])
def test_every_shared_record_imports_and_prices_a_month(path):
    record = json.loads(path.read_text())
    version, _ = version_of(record)
    schedules = {s.name: s for s in version.pricing.schedules}
    energy = next(c for c in version.pricing.components if isinstance(c, EnergyCharge))
    tou: tuple[tuple[str, Decimal], ...] = ()
    if energy.schedule is not None:
        tou = tuple((p, Decimal(100)) for p in schedules[energy.schedule].periods)
    demand = (
        tuple((p, Decimal(50)) for p in schedules["demand"].periods)
        if "demand" in schedules
        else ()
    )
    bill = rate_register(
        versions=[version],
        taxes=parse_taxes({"owner": "x", "taxes": []}),
        period=DatePeriod(date(2021, 7, 1), date(2021, 8, 1)),
        usage=RegisterUsage(
            kwh=None if tou else Decimal(1000),
            tou_kwh=tou,
            max_kw=Decimal(50),
            max_kw_by_period=demand,
        ),
        context=RatingContext(),
        language="en",
    )
    assert bill.total == sum((line.rounded for line in bill.lines), Decimal(0))
    assert bill.total > 0


def load(name):
    return json.loads((URDB / name).read_text())


def test_pge_e19_tou_energy_demand_and_fixed_charge():
    version, warnings = version_of(load("ecc_pge_E-19_TOU_secondary_2014-05.json"))
    components = {c.id: c for c in version.pricing.components}
    assert isinstance(components["fixed"], FixedCharge)
    assert components["fixed"].price == 139
    energy = components["energy"]
    assert isinstance(energy, EnergyCharge)
    assert [row[0] for row in energy.prices] == [
        Decimal("0.082"),
        Decimal("0.10479"),
        Decimal("0.07818"),
        Decimal("0.11156"),
        Decimal("0.16253"),
    ]
    peak = components["demand-p4"]
    assert isinstance(peak, DemandCharge) and peak.prices == (Decimal("17.65"),)
    assert isinstance(components["flat-demand-1"], DemandCharge)
    assert components["flat-demand-1"].prices == (Decimal("12.56"),)
    assert warnings == []


def test_adj_is_added_to_the_rate():
    version, _ = version_of(
        load("reopt_re_emissions_Entergy_LPS_TOU_5a592c995457a3371c423a7d.json")
    )
    energy = version.pricing.components[0]
    assert isinstance(energy, EnergyCharge)
    assert energy.prices[0] == (Decimal("0.03855"),)  # 0.01973 + 0.01882
    assert version.pricing.components[1] == FixedCharge(
        "fixed",
        version.pricing.components[1].label,
        version.pricing.components[1].per,
        Decimal("468.6"),
    )


def test_old_fixed_charge_fields_in_dollars_per_day():
    version, _ = version_of(load("reopt_leap_year_daily_fixed.json"))
    fixed = next(c for c in version.pricing.components if isinstance(c, FixedCharge))
    assert (fixed.per.value, fixed.price) == ("day", Decimal("24.878"))


def test_kwh_per_kw_tiers_tiered_flat_demand_and_the_v7_minimum():
    lp1, warnings = version_of(load("pysam_tests_urdb_539f6a23ec4f024411ec8beb_LP1.json"))
    energy = lp1.pricing.components[0]
    assert isinstance(energy, EnergyCharge)
    assert energy.tiers[0].unit.value == "kwh_per_kw"
    assert energy.tiers[0].widths == (Decimal(300), None)
    flat = [c for c in lp1.pricing.components if isinstance(c, DemandCharge)]
    assert [(c.widths_kw, c.prices) for c in flat] == [
        ((Decimal(100), None), (Decimal("13.5"), Decimal("12.1"))),
        ((Decimal(100), None), (Decimal("16.3"), Decimal("14.9"))),
    ]
    v7, warnings = version_of(load("pysam_tests_urdbv7.json"))
    minimum = next(c for c in v7.pricing.components if isinstance(c, MinimumCharge))
    assert minimum.amount == Decimal("1.0")
    assert "annualmincharge: an annual minimum needs a year of bills: not applied" in warnings


def test_tier_bounds_that_differ_between_periods_climb_per_period():
    version, _ = version_of(load("reopt_multi_tier_urdb_response.json"))
    energy = version.pricing.components[0]
    assert isinstance(energy, EnergyCharge)
    assert energy.basis.value == "period"
    assert energy.tiers[1].widths == (Decimal(20000), None)
    assert energy.tiers[0].widths == (None,)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["energyweekdayschedule"][3].pop(), "energyweekdayschedule[3]"),
        (lambda r: r["energyweekendschedule"][0].__setitem__(5, 9), "energyweekendschedule[0][5]"),
        (lambda r: r["energyratestructure"][1][0].pop("rate"), "energyratestructure[1][0].rate"),
        (lambda r: r.update({"fixedchargeunits": "$/year"}), "fixedchargeunits"),
        (
            lambda r: r["energyratestructure"][0][0].update({"unit": "kWh/kVA"}),
            "energyratestructure[0][0].unit",
        ),
    ],
)
def test_a_broken_record_is_refused_naming_the_urdb_field(change, field):
    record = copy.deepcopy(dict(unwrap(load("ecc_pge_A-1_TOU_2014-05.json"))))
    change(record)
    with pytest.raises(TariffDataError) as error:
        to_document(record, time_zone="America/Los_Angeles")
    assert error.value.field == field
