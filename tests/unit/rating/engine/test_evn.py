"""EVN residential: the worked examples of TARIFFS.md and each rule, with exact values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine.model import Denominator, RatingContext, RegisterUsage
from ampere.rating.engine.reference import rate_register
from tests.unit.rating.engine.shipped import taxes, versions


def rate(start, end, kwh, *, language="vi", **context):
    return rate_register(
        versions=versions("EVN-RES"),
        taxes=taxes("evn"),
        period=DatePeriod(start, end),
        usage=RegisterUsage(kwh=Decimal(kwh)),
        context=RatingContext(**context),
        language=language,
    )


def lines(bill):
    return [(line.quantity, line.unit_price, line.rounded) for line in bill.lines]


def test_worked_example_300_kwh_at_the_prices_of_2025_05_10():
    bill = rate(date(2025, 6, 1), date(2025, 7, 1), 300)
    assert lines(bill) == [
        (50, 1984, 99200),
        (50, 2050, 102500),
        (100, 2380, 238000),
        (100, 2998, 299800),
    ]
    assert (bill.subtotal, bill.tax_total, bill.total) == (739500, 59160, 798660)
    assert [(t.description, t.quantity, t.rounded) for t in bill.taxes] == [
        ("Thuế GTGT 8%", 739500, 59160)
    ]
    assert next(line.description for line in bill.lines) == "Điện sinh hoạt — bậc 1"


def test_worked_example_250_kwh_at_the_prices_of_2024_10_11():
    bill = rate(date(2024, 11, 1), date(2024, 12, 1), 250)
    assert lines(bill) == [
        (50, 1893, 94650),
        (50, 1956, 97800),
        (100, 2271, 227100),
        (50, 2860, 143000),
    ]
    assert (bill.subtotal, bill.tax_total, bill.total) == (562550, 45004, 607554)


def test_descriptions_in_english_and_spanish():
    assert rate(date(2025, 6, 1), date(2025, 7, 1), 60, language="en").lines[1].description == (
        "Residential energy — tier 2"
    )
    spanish = rate(date(2025, 6, 1), date(2025, 7, 1), 60, language="es")
    assert [line.description for line in spanish.lines] == [
        "Energía residencial — bloque 1",
        "Energía residencial — bloque 2",
    ]
    assert spanish.taxes[0].description == "IVA 8%"


def test_price_change_inside_the_period_splits_kwh_and_widths_by_days():
    # 20 April → 20 May 2025 (T = 30): 20 days at the 2024-10-11 prices, 10 days at 2025-05-10.
    bill = rate(date(2025, 4, 20), date(2025, 5, 20), 300)
    assert bill.segments == (
        DatePeriod(date(2025, 4, 20), date(2025, 5, 10)),
        DatePeriod(date(2025, 5, 10), date(2025, 5, 20)),
    )
    # A_old = 300 / 30 × 20 = 200; widths 50 × 20/30 = 33.3 → 33, 100 × 20/30 = 66.7 → 67
    # A_new = 100; widths 50 × 10/30 = 16.7 → 17, 100 × 10/30 = 33.3 → 33
    assert lines(bill) == [
        (33, 1893, 62469),
        (33, 1956, 64548),
        (67, 2271, 152157),
        (67, 2860, 191620),
        (17, 1984, 33728),
        (17, 2050, 34850),
        (33, 2380, 78540),
        (33, 2998, 98934),
    ]
    assert bill.lines[0].description == "Điện sinh hoạt — bậc 1 (từ 20/04/2025 đến 09/05/2025)"
    assert bill.lines[0].code == "2025-04-20/energy.t1"
    assert (bill.subtotal, bill.tax_total, bill.total) == (716846, 57348, 774194)


@pytest.mark.parametrize(
    ("policy", "expected_lines", "totals"),
    [
        (
            Denominator.BILLING_DAYS,  # widths × 15/25 and × 10/25
            [
                (30, 1893, 56790),
                (30, 1956, 58680),
                (60, 2271, 136260),
                (30, 2860, 85800),
                (20, 1984, 39680),
                (20, 2050, 41000),
                (40, 2380, 95200),
                (20, 2998, 59960),
            ],
            (573370, 45870, 619240),
        ),
        (
            Denominator.PREVIOUS_MONTH_DAYS,  # April has 30 days: widths × 15/30 and × 10/30
            [
                (25, 1893, 47325),
                (25, 1956, 48900),
                (50, 2271, 113550),
                (50, 2860, 143000),
                (17, 1984, 33728),
                (17, 2050, 34850),
                (33, 2380, 78540),
                (33, 2998, 98934),
            ],
            (598827, 47906, 646733),
        ),
    ],
)
def test_the_width_denominator_is_a_policy(policy, expected_lines, totals):
    bill = rate_register(
        versions=versions("EVN-RES"),
        taxes=taxes("evn"),
        period=DatePeriod(date(2025, 4, 25), date(2025, 5, 20)),  # T = 25 days: 15 old, 10 new
        usage=RegisterUsage(kwh=Decimal(250)),
        context=RatingContext(),
        denominator=policy,
    )
    assert lines(bill) == expected_lines
    assert (bill.subtotal, bill.tax_total, bill.total) == totals


def test_vat_change_inside_the_period_splits_it_and_taxes_each_part_at_its_rate():
    # 15 June → 15 July 2023: VAT 10 % until 30 June, 8 % from 1 July; prices of 2023-05-04.
    bill = rate(date(2023, 6, 15), date(2023, 7, 15), 300)
    assert lines(bill) == [
        (27, 1728, 46656),
        (27, 1786, 48222),
        (53, 2074, 109922),
        (53, 2612, 138436),
        (23, 1728, 39744),
        (23, 1786, 41078),
        (47, 2074, 97478),
        (47, 2612, 122764),
    ]
    assert [(t.quantity, t.unit_price, t.amount, t.rounded) for t in bill.taxes] == [
        (343236, Decimal("0.10"), Decimal("34323.6"), 34324),
        (301064, Decimal("0.08"), Decimal("24085.12"), 24085),
    ]
    assert bill.total == 702709


def test_two_households_double_every_tier_width():
    bill = rate(date(2025, 6, 1), date(2025, 7, 1), 300, household_norm=Decimal(2))
    assert lines(bill) == [(100, 1984, 198400), (100, 2050, 205000), (100, 2380, 238000)]
    assert (bill.subtotal, bill.tax_total, bill.total) == (641400, 51312, 692712)


def test_three_renters_are_three_quarters_of_a_household():
    # widths 50 × ¾ = 37.5 → 38 (half-up), 100 × ¾ = 75
    bill = rate(date(2025, 6, 1), date(2025, 7, 1), 300, household_norm=Decimal(3) / 4)
    assert lines(bill) == [
        (38, 1984, 75392),
        (38, 2050, 77900),
        (75, 2380, 178500),
        (75, 2998, 224850),
        (74, 3350, 247900),
    ]
    assert (bill.subtotal, bill.tax_total, bill.total) == (804542, 64363, 868905)


def test_an_undeclared_short_lease_pays_the_101_200_price_on_all_kwh():
    bill = rate(date(2025, 6, 1), date(2025, 7, 1), 300, short_lease_undeclared=True)
    assert lines(bill) == [(300, 2380, 714000)]
    assert (
        bill.lines[0].description
        == "Điện sinh hoạt — toàn bộ theo giá bậc 3 (thuê nhà chưa kê khai)"
    )
    assert bill.total == 771120


def test_zero_kwh_gives_an_empty_bill():
    bill = rate(date(2025, 6, 1), date(2025, 7, 1), 0)
    assert (bill.lines, bill.total) == ((), 0)


@pytest.mark.parametrize(
    ("kwh", "context", "field"),
    [
        ("-1", {}, "kwh"),
        ("1.2345", {}, "kwh"),
        ("10", {"household_norm": Decimal(0)}, "households"),
        ("10", {"household_norm": Decimal("0.125")}, "households"),
        ("10", {"programs": frozenset({"care", "fera"})}, "programs"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kwh, context, field):
    with pytest.raises(InvalidInput) as error:
        rate(date(2025, 6, 1), date(2025, 7, 1), kwh, **context)
    assert error.value.field == field


def test_a_period_before_the_first_version_is_refused():
    with pytest.raises(InvalidInput) as error:
        rate(date(2019, 3, 1), date(2019, 4, 1), 100)
    assert (error.value.field, error.value.code) == ("period", "no-tariff-version")
