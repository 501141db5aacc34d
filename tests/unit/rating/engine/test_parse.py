"""The parser refuses bad tariff data naming the field."""

from __future__ import annotations

import copy

import pytest

from ampere.rating.engine.parse import TariffDataError, parse_tariff, parse_taxes

GOOD = {
    "tariff": "T",
    "versions": [
        {
            "from": "2025-01-01",
            "to": "2025-06-01",
            "currency": "VND",
            "time_zone": "Asia/Ho_Chi_Minh",
            "schedules": {
                "energy": {
                    "periods": ["peak", "offpeak"],
                    "weekend_days": [7],
                    "rows": [
                        {
                            "days": ["weekday"],
                            "hours": {
                                "00:00-17:00": "offpeak",
                                "17:00-20:00": "peak",
                                "20:00-24:00": "offpeak",
                            },
                        },
                        {"days": ["weekend"], "hours": {"00:00-24:00": "offpeak"}},
                    ],
                }
            },
            "components": [
                {
                    "id": "energy",
                    "kind": "energy",
                    "schedule": "energy",
                    "prices": {"peak": 3000, "offpeak": 1500},
                },
                {
                    "id": "blocks",
                    "kind": "energy",
                    "tiers": {"widths": [50, 50, None]},
                    "prices": [1, 2, 3],
                },
            ],
        },
        {
            "from": "2025-06-01",
            "to": None,
            "currency": "VND",
            "time_zone": "Asia/Ho_Chi_Minh",
            "components": [{"id": "energy", "kind": "energy", "prices": [2000]}],
        },
    ],
}


def broken(change):
    document = copy.deepcopy(GOOD)
    change(document)
    return document


def test_good_data_parses():
    code, versions = parse_tariff(GOOD)
    assert code == "T"
    assert [v.period.start.isoformat() for v in versions] == ["2025-01-01", "2025-06-01"]
    schedule = versions[0].pricing.schedules[0]
    assert schedule.period_at(3, 0, 17 * 60) == 0
    assert schedule.period_at(3, 1, 17 * 60) == 1


def first_version(document):
    return document["versions"][0]


def schedule_rows(document):
    return first_version(document)["schedules"]["energy"]["rows"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: first_version(d).update({"to": "2025-07-01"}), "versions[1].from", "overlaps"),
        (lambda d: first_version(d).update({"to": "2025-05-01"}), "versions[1].from", "gap"),
        (
            lambda d: schedule_rows(d)[0].update(
                {"hours": {"00:00-17:00": "offpeak", "17:00-20:00": "peak"}}
            ),
            "versions[0].schedules.energy.rows[0].hours",
            "no period at 20:00",
        ),
        (
            lambda d: schedule_rows(d)[1].update({"hours": {"00:00-24:00": "shoulder"}}),
            "versions[0].schedules.energy.rows[1].hours",
            "unknown period 'shoulder'",
        ),
        (
            lambda d: schedule_rows(d).pop(),
            "versions[0].schedules.energy.rows",
            "month 1 weekend has no hours",
        ),
        (
            lambda d: first_version(d)["components"][1]["tiers"].update({"widths": [50, -5, None]}),
            "versions[0].components[1].tiers.widths[1]",
            "must not be below 0",
        ),
        (
            lambda d: first_version(d)["components"][1].update({"prices": [1, 2]}),
            "versions[0].components[1].prices[2]",
            "price is missing",
        ),
        (
            lambda d: first_version(d)["components"][0]["prices"].pop("peak"),
            "versions[0].components[0].prices.peak",
            "price is missing",
        ),
        (
            lambda d: first_version(d)["components"][0]["prices"].update({"peak": None}),
            "versions[0].components[0].prices.peak[0]",
            "is missing",
        ),
        (
            lambda d: first_version(d).update({"currency": "XYZ"}),
            "versions[0].currency",
            "unknown currency",
        ),
        (
            lambda d: first_version(d)["components"][1].update({"id": "energy"}),
            "versions[0].components[1].id",
            "used twice",
        ),
    ],
)
def test_bad_tariff_data_is_refused_naming_the_field(change, field, words):
    with pytest.raises(TariffDataError) as error:
        parse_tariff(broken(change))
    assert error.value.field == field
    assert words in error.value.message


def test_tax_rates_that_overlap_are_refused():
    with pytest.raises(TariffDataError) as error:
        parse_taxes(
            {
                "owner": "evn",
                "taxes": [
                    {
                        "code": "vat",
                        "rates": [
                            {"from": "2022-01-01", "to": "2023-01-01", "rate": "0.1"},
                            {"from": "2022-06-01", "to": None, "rate": "0.08"},
                        ],
                    }
                ],
            }
        )
    assert error.value.field == "taxes[0].rates[1].from"
