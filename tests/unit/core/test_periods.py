from datetime import UTC, date, datetime, timedelta

import pytest

from ampere.core.errors import InvalidInput
from ampere.core.localtime import day_period, interval_starts, intervals_in_day, local_date, zone
from ampere.core.periods import DatePeriod, DateTimePeriod

LA = zone("America/Los_Angeles")
HCM = zone("Asia/Ho_Chi_Minh")


def test_half_open_date_period():
    may = DatePeriod(date(2025, 5, 1), date(2025, 6, 1))
    assert may.days == 31
    assert may.contains(date(2025, 5, 31))
    assert not may.contains(date(2025, 6, 1))
    assert may.inclusive_end() == date(2025, 5, 31)
    assert not may.overlaps(DatePeriod(date(2025, 6, 1), date(2025, 7, 1)))
    assert may.overlaps(DatePeriod(date(2025, 5, 31)))


def test_split_covers_the_period_exactly():
    period = DatePeriod(date(2025, 4, 15), date(2025, 5, 15))
    parts = period.split_at([date(2025, 5, 10), date(2025, 1, 1), date(2025, 5, 15)])
    assert parts == [
        DatePeriod(date(2025, 4, 15), date(2025, 5, 10)),
        DatePeriod(date(2025, 5, 10), date(2025, 5, 15)),
    ]
    assert sum(p.days for p in parts) == period.days


def test_period_refuses_end_before_start_and_naive_times():
    with pytest.raises(InvalidInput) as error:
        DatePeriod(date(2025, 5, 2), date(2025, 5, 1))
    assert error.value.field == "end"
    with pytest.raises(InvalidInput):
        DateTimePeriod(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC))


def test_daylight_saving_days_in_los_angeles():
    assert intervals_in_day(date(2026, 3, 8), LA, 15) == 92
    assert intervals_in_day(date(2026, 11, 1), LA, 15) == 100
    assert intervals_in_day(date(2026, 6, 1), LA, 15) == 96
    assert intervals_in_day(date(2026, 3, 8), HCM, 15) == 96
    assert day_period(date(2026, 3, 8), LA).duration == timedelta(hours=23)
    starts = list(interval_starts(date(2026, 11, 1), LA, 60))
    assert len(starts) == 25
    assert [s.hour for s in starts[:3]] == [0, 1, 1]


def test_local_date():
    at = datetime(2026, 1, 1, 7, 30, tzinfo=UTC)
    assert local_date(at, LA) == date(2025, 12, 31)
    assert local_date(at, HCM) == date(2026, 1, 1)
