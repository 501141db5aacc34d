"""SCE: baseline tiers, Medical Baseline, seasons, CARE, TOU across DST days and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ampere.core.periods import DatePeriod
from ampere.rating.engine.model import IntervalUsage, RatingContext, RegisterUsage
from ampere.rating.engine.reference import rate_intervals, rate_register
from tests.unit.rating.engine.shipped import taxes, versions

LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def schedule_d(start, end, kwh, **context):
    return rate_register(
        versions=versions("SCE-D"),
        taxes=taxes("sce"),
        period=DatePeriod(start, end),
        usage=RegisterUsage(kwh=Decimal(kwh)),
        context=RatingContext(baseline_region="9", **context),
        language="en",
    )


def table(bill):
    return [(line.description, line.quantity, line.unit_price, line.rounded) for line in bill.lines]


def test_schedule_d_baseline_tiers_and_the_base_services_charge():
    # Region 9 summer basic: 16.9 kWh/day × 30 days = 507 kWh at 0.30, the rest at 0.40.
    bill = schedule_d(date(2026, 6, 1), date(2026, 7, 1), 700)
    assert table(bill) == [
        ("Energy — tier 1", 507, Decimal("0.30"), Decimal("152.10")),
        ("Energy — tier 2", 193, Decimal("0.40"), Decimal("77.20")),
        ("Base Services Charge", 30, Decimal("0.79343"), Decimal("23.80")),
    ]
    assert bill.lines[2].amount == Decimal("23.80290")
    assert (bill.taxes, bill.total) == ((), Decimal("253.10"))


def test_medical_baseline_adds_16_5_kwh_a_day():
    bill = schedule_d(
        date(2026, 6, 1), date(2026, 7, 1), 1200, programs=frozenset({"medical_baseline"})
    )
    # (16.9 + 16.5) × 30 = 1002 kWh in tier 1
    assert [(line.quantity, line.rounded) for line in bill.lines] == [
        (Decimal(1002), Decimal("300.60")),
        (Decimal(198), Decimal("79.20")),
        (Decimal(30), Decimal("23.80")),
    ]
    assert bill.total == Decimal("403.60")


def test_all_electric_takes_the_all_electric_allowance():
    bill = schedule_d(date(2026, 6, 1), date(2026, 7, 1), 700, all_electric=True)
    assert bill.lines[0].quantity == Decimal(375)  # 12.5 × 30


def test_a_period_across_seasons_takes_each_days_allowance():
    # 15 Sep → 15 Oct 2026: 16 summer days (16.9/day), 14 winter days (12.0/day); 600 kWh
    # pro-rated by days: 320 in summer, 280 in winter.
    bill = schedule_d(date(2026, 9, 15), date(2026, 10, 15), 600)
    assert [(line.code, line.quantity, line.rounded) for line in bill.lines] == [
        ("2026-09-15/energy.t1", Decimal("270.4"), Decimal("81.12")),
        ("2026-09-15/energy.t2", Decimal("49.6"), Decimal("19.84")),
        ("2026-09-15/base-services", 16, Decimal("12.69")),
        ("2026-10-01/energy.t1", Decimal(168), Decimal("50.40")),
        ("2026-10-01/energy.t2", Decimal(112), Decimal("44.80")),
        ("2026-10-01/base-services", 14, Decimal("11.11")),
    ]
    assert bill.total == Decimal("219.96")


def test_care_takes_30_percent_off_energy_and_pays_the_care_base_services_charge():
    bill = schedule_d(date(2026, 6, 1), date(2026, 7, 1), 700, programs=frozenset({"care"}))
    assert table(bill) == [
        ("Energy — tier 1", 507, Decimal("0.30"), Decimal("152.10")),
        ("Energy — tier 2", 193, Decimal("0.40"), Decimal("77.20")),
        ("Base Services Charge", 30, Decimal("0.19713"), Decimal("5.91")),
        ("CARE discount 30%", Decimal("229.30"), Decimal("-0.3"), Decimal("-68.79")),
    ]
    assert bill.total == Decimal("166.42")


def test_fera_takes_18_percent_off_energy():
    bill = schedule_d(date(2026, 6, 1), date(2026, 7, 1), 700, programs=frozenset({"fera"}))
    assert [line.rounded for line in bill.lines] == [
        Decimal("152.10"),
        Decimal("77.20"),
        Decimal("11.91"),
        Decimal("-41.27"),
    ]


def hourly(day: date, kwh=Decimal(1)):
    start = datetime(day.year, day.month, day.day, tzinfo=LOS_ANGELES).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), LOS_ANGELES).astimezone(
        UTC
    )
    starts = []
    at = start
    while at < end:
        starts.append(at)
        at += timedelta(hours=1)
    return IntervalUsage(starts=tuple(starts), kwh=tuple(kwh for _ in starts), minutes=60)


def tou(day: date, holidays=frozenset(), code="SCE-TOU-D-4-9PM"):
    return rate_intervals(
        versions=versions(code),
        taxes=taxes("sce"),
        period=DatePeriod(day, day + timedelta(days=1)),
        usage=hourly(day),
        context=RatingContext(baseline_region="9"),
        holidays=holidays,
        language="en",
    )


def test_tou_on_the_day_daylight_saving_ends_prices_25_hours_by_local_time():
    bill = tou(date(2026, 11, 1))  # a Sunday of 25 hours: 1 am comes twice
    assert len(hourly(date(2026, 11, 1)).starts) == 25
    assert [(line.description, line.quantity, line.rounded) for line in bill.lines] == [
        ("Energy — Winter mid-peak (4–9 pm)", 5, Decimal("2.55")),
        ("Energy — Winter super off-peak (8 am–4 pm)", 8, Decimal("2.64")),
        ("Energy — Winter off-peak (9 pm–8 am)", 12, Decimal("4.44")),
        ("Baseline credit", 12, Decimal("-1.20")),  # min(25, 12.0 kWh winter allowance)
        ("Base Services Charge", 1, Decimal("0.79")),
    ]
    assert bill.total == Decimal("9.22")


def test_tou_on_the_day_daylight_saving_starts_prices_23_hours():
    bill = tou(date(2027, 3, 14))  # 2 am does not exist
    assert [(line.code, line.quantity) for line in bill.lines[:3]] == [
        ("energy.p4", 5),
        ("energy.p5", 8),
        ("energy.p6", 10),
    ]


def test_a_holiday_is_priced_as_a_weekend_day():
    labor_day = date(2026, 9, 7)  # a Monday
    ordinary = tou(labor_day)
    holiday = tou(labor_day, holidays=frozenset({labor_day}))
    assert [(line.description, line.quantity, line.rounded) for line in ordinary.lines[:2]] == [
        ("Energy — Summer on-peak (weekdays 4–9 pm)", 5, Decimal("2.90")),
        ("Energy — Summer off-peak", 19, Decimal("6.46")),
    ]
    assert [(line.description, line.quantity, line.rounded) for line in holiday.lines[:2]] == [
        ("Energy — Summer mid-peak (weekends and holidays 4–9 pm)", 5, Decimal("2.30")),
        ("Energy — Summer off-peak", 19, Decimal("6.46")),
    ]
    assert ordinary.total - holiday.total == Decimal("0.60")


def test_tou_5_8pm_register_reads_with_the_baseline_credit():
    bill = rate_register(
        versions=versions("SCE-TOU-D-5-8PM"),
        taxes=taxes("sce"),
        period=DatePeriod(date(2026, 7, 1), date(2026, 7, 31)),
        usage=RegisterUsage(
            tou_kwh=(
                ("summer-on-peak", Decimal(60)),
                ("summer-mid-peak", Decimal(20)),
                ("summer-off-peak", Decimal(420)),
                ("winter-mid-peak", Decimal(0)),
                ("winter-super-off-peak", Decimal(0)),
                ("winter-off-peak", Decimal(0)),
            )
        ),
        context=RatingContext(baseline_region="9"),
        language="en",
    )
    assert [(line.code, line.quantity, line.rounded) for line in bill.lines] == [
        ("energy.p1", Decimal(60), Decimal("44.40")),
        ("energy.p2", Decimal(20), Decimal("10.80")),
        ("energy.p3", Decimal(420), Decimal("142.80")),
        ("baseline-credit", Decimal(500), Decimal("-50.00")),  # min(500, 16.9 × 30 = 507)
        ("base-services", Decimal(30), Decimal("23.80")),
    ]
    assert bill.total == Decimal("171.80")
