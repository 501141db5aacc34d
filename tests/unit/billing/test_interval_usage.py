"""Interval rows of the segments of one period → one usage with TOU Wh per segment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ampere.billing.usage import usage_from_segments
from ampere.core.periods import DatePeriod
from ampere.metering.types import ConsumptionRow

SUMMER = DatePeriod(date(2026, 9, 15), date(2026, 10, 1))
WINTER = DatePeriod(date(2026, 10, 1), date(2026, 10, 14))


def rows(period, source, **kwh):
    found = [
        ConsumptionRow(0, 7, period, "interval", "kwh", b, Decimal(q), "kWh", source)
        for b, q in kwh.items()
    ]
    peak = ConsumptionRow(
        0, 7, period, "interval", "kwh", "max_demand", Decimal("1.5"), "kW", source
    )
    return [*found, peak]


def test_segments_keep_their_own_wh_and_add_up():
    usage = usage_from_segments(
        [
            rows(SUMMER, "actual", summer_on="30", summer_off="162.5"),
            rows(WINTER, "estimated", winter_mid="65", winter_off="247"),
        ]
    )
    assert usage is not None
    assert usage.tou_wh_by_segment == [
        {"summer_on": 30_000, "summer_off": 162_500},
        {"winter_mid": 65_000, "winter_off": 247_000},
    ]
    assert usage.tou_wh == {
        "summer_on": 30_000,
        "summer_off": 162_500,
        "winter_mid": 65_000,
        "winter_off": 247_000,
    }
    assert (usage.total_wh, usage.max_w, usage.source) == (504_500, 1500, "estimated")


def test_a_segment_without_any_interval_data_makes_the_period_incomplete():
    usage = usage_from_segments([rows(SUMMER, "actual", summer_on="30"), []])
    assert usage is not None
    assert (usage.source, usage.tou_wh_by_segment) == ("incomplete", [{"summer_on": 30_000}, {}])


def test_no_interval_data_at_all_is_no_interval_usage():
    assert usage_from_segments([[], []]) is None
