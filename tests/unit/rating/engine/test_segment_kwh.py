"""TOU kWh given per segment of a period (from interval data): each season part is priced
with its own kWh, in both engines, as pricing the intervals themselves does; bad input is
refused naming the field."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from ampere.core.errors import InvalidInput
from ampere.core.localtime import local_midnight, zone
from ampere.core.periods import DatePeriod
from ampere.rating.engine.batch import RegisterBatch, rate_register_batch
from ampere.rating.engine.model import IntervalUsage, RatingContext, RegisterUsage
from ampere.rating.engine.reference import rate_intervals, rate_register
from tests.unit.rating.engine.shipped import taxes, versions

D = Decimal
TARIFF = "SCE-TOU-D-4-9PM"
PERIOD = DatePeriod(date(2026, 9, 15), date(2026, 10, 14))  # 16 summer + 13 winter days
NAMES = (
    "summer-on-peak",
    "summer-mid-peak",
    "summer-off-peak",
    "winter-mid-peak",
    "winter-super-off-peak",
    "winter-off-peak",
)
# Per segment (summer 15–30 Sep, winter 1–13 Oct), kWh of 12 kWh/day flat in summer and
# 24 kWh/day flat in winter: 12 weekdays × 2.5 on-peak, 4 weekend days × 2.5 mid-peak,
# 16 × 9.5 off-peak; 13 × 5 mid-peak, 13 × 8 super off-peak, 13 × 11 off-peak.
BY_SEGMENT = {
    "summer-on-peak": (D(30), D(0)),
    "summer-mid-peak": (D(10), D(0)),
    "summer-off-peak": (D(152), D(0)),
    "winter-mid-peak": (D(0), D(65)),
    "winter-super-off-peak": (D(0), D(104)),
    "winter-off-peak": (D(0), D(143)),
}
CONTEXT = RatingContext(baseline_region="6")


def _batch(tables: dict[str, np.ndarray], rows: int | None = None, **kwargs) -> RegisterBatch:
    n = len(next(iter(tables.values()))) if rows is None else rows
    return RegisterBatch(
        period_start=np.full(n, PERIOD.start, "datetime64[D]"),
        period_end=np.full(n, PERIOD.end, "datetime64[D]"),
        tou_wh_by_segment=tables,
        region=np.full(n, "6"),
        **kwargs,
    )


def _tables(rows: int = 1) -> dict[str, np.ndarray]:
    return {
        name: np.array([[int(v * 1000) for v in values]] * rows, np.int64)
        for name, values in BY_SEGMENT.items()
    }


def _rate_reference(usage: RegisterUsage):
    return rate_register(
        versions=versions(TARIFF),
        taxes=taxes("sce"),
        period=PERIOD,
        usage=usage,
        context=CONTEXT,
        language="en",
    )


def _rate_batch(batch: RegisterBatch):
    return rate_register_batch(
        versions=versions(TARIFF), taxes=taxes("sce"), accounts=batch, language="en"
    )


def test_each_season_part_is_priced_with_its_own_kwh_as_the_intervals_price():
    by_segment = _rate_reference(RegisterUsage(tou_kwh_by_segment=tuple(BY_SEGMENT.items())))
    tz = zone("America/Los_Angeles")
    start = local_midnight(PERIOD.start, tz).astimezone(UTC)
    starts = tuple(start + timedelta(minutes=15 * i) for i in range(PERIOD.days * 96))
    kwh = tuple(D("0.125") if at.astimezone(tz).month == 9 else D("0.25") for at in starts)
    from_intervals = rate_intervals(
        versions=versions(TARIFF),
        taxes=taxes("sce"),
        period=PERIOD,
        usage=IntervalUsage(starts, kwh, 15),
        context=CONTEXT,
        language="en",
    )
    batch = _rate_batch(_batch(_tables()))
    assert batch.rejected == {}
    assert by_segment == from_intervals == batch.bill(0)
    assert [(x.code, x.quantity, x.rounded) for x in by_segment.lines] == [
        ("2026-09-15/energy.p1", D(30), D("17.40")),
        ("2026-09-15/energy.p2", D(10), D("4.60")),
        ("2026-09-15/energy.p3", D(152), D("51.68")),
        ("2026-09-15/baseline-credit", D("182.4"), D("-18.24")),  # 16 days × 11.4 kWh
        ("2026-09-15/base-services", D(16), D("12.69")),
        ("2026-10-01/energy.p4", D(65), D("33.15")),
        ("2026-10-01/energy.p5", D(104), D("34.32")),
        ("2026-10-01/energy.p6", D(143), D("52.91")),
        ("2026-10-01/baseline-credit", D(143), D("-14.30")),  # 13 days × 11.0 kWh
        ("2026-10-01/base-services", D(13), D("10.31")),
    ]
    assert (by_segment.total, int(batch.total[0])) == (D("184.52"), 18452)


def test_splitting_the_period_total_by_days_would_misprice_the_baseline_credit():
    """What the bill run did before: the period's TOU kWh shared out by day count. A customer
    away in September (no kWh in summer) got 16/29 of October's kWh credited against the
    summer baseline."""
    winter_only = tuple(
        (name, (D(0), values[1])) for name, values in BY_SEGMENT.items() if name[0] == "w"
    ) + tuple((name, (D(0), D(0))) for name in NAMES[:3])
    by_segment = _rate_reference(RegisterUsage(tou_kwh_by_segment=winter_only))
    totals = tuple((name, sum(values, D(0))) for name, values in winter_only)
    by_days = _rate_reference(RegisterUsage(tou_kwh=totals))

    def credits(bill):
        return [(x.code, x.quantity, x.rounded) for x in bill.lines if x.kind == "credit"]

    # Energy: 33.15 + 34.32 + 52.91 = 120.38 either way (one price per TOU period);
    # Base Services Charge 12.69 + 10.31.
    assert credits(by_segment) == [("2026-10-01/baseline-credit", D(143), D("-14.30"))]
    assert by_segment.total == D("129.08")  # 120.38 + 23.00 − 14.30
    # By days: 36 + 57 + 79 = 172 kWh in summer (credited up to 182.4), 140 in winter.
    assert credits(by_days) == [
        ("2026-09-15/baseline-credit", D(172), D("-17.20")),
        ("2026-10-01/baseline-credit", D(140), D("-14.00")),
    ]
    assert by_days.total == D("112.18")  # 120.38 + 23.00 − 17.20 − 14.00


def test_both_tou_inputs_at_once_are_refused():
    with pytest.raises(InvalidInput) as reference:
        _rate_reference(
            RegisterUsage(
                tou_kwh=(("summer-on-peak", D(1)),),
                tou_kwh_by_segment=tuple(BY_SEGMENT.items()),
            )
        )
    assert reference.value.field == "tou_kwh"
    one = np.array([1000], np.int64)
    with pytest.raises(InvalidInput) as batch:
        _rate_batch(_batch(_tables(), tou_wh={"summer-on-peak": one}))
    assert (batch.value.field, batch.value.message) == (
        "tou_wh",
        "give tou_wh or tou_wh_by_segment, not both",
    )


def test_a_reference_segment_count_that_does_not_fit_the_period_is_refused():
    three = tuple((name, (*values, D(0))) for name, values in BY_SEGMENT.items())
    with pytest.raises(InvalidInput) as error:
        _rate_reference(RegisterUsage(tou_kwh_by_segment=three))
    assert (error.value.field, error.value.message) == (
        "tou_kwh_by_segment.summer-on-peak",
        "gives 3 segment values: the period has 2 segments",
    )


@pytest.mark.parametrize(
    ("tables", "field", "message"),
    [
        (
            {"summer-on-peak": np.array([30_000, 0], np.int64)},
            "tou_wh_by_segment.summer-on-peak",
            "needs an array of shape (1, segments), got (2,)",
        ),
        (
            {"summer-on-peak": np.array([[30.0, 0.0]])},
            "tou_wh_by_segment.summer-on-peak",
            "must hold integer Wh, not float64",
        ),
    ],
)
def test_a_malformed_batch_is_refused_whole(tables, field, message):
    with pytest.raises(InvalidInput) as error:
        _rate_batch(_batch(tables, rows=1))
    assert (error.value.field, error.value.message) == (field, message)


def test_bad_rows_are_rejected_with_the_reason_and_the_good_row_priced():
    tables = _tables(rows=4)
    wide = {name: np.zeros((4, 3), np.int64) for name in tables}
    for name, table in tables.items():
        wide[name][:, :2] = table
    wide["summer-off-peak"][1, 0] = -1  # negative
    wide["winter-off-peak"][2, 2] = 5  # Wh in a third segment the period does not have
    kwh = sum((table.sum(axis=1) for table in wide.values()), np.zeros(4, np.int64))
    kwh[3] += 1  # row 3: not the sum of its TOU Wh
    result = _rate_batch(_batch(wide, kwh_wh=kwh))
    assert {row: (e.field, e.message) for row, e in result.rejected.items()} == {
        1: ("tou_wh_by_segment.summer-off-peak[1]", "must not be negative"),
        2: ("tou_wh_by_segment.winter-off-peak[2]", "gives Wh beyond the 2 segments of the period"),
        3: ("kwh_wh[3]", "differs from the sum of the TOU registers"),
    }
    assert result.total.tolist() == [18452, 0, 0, 0]
    narrow = {name: table[:, :1] for name, table in tables.items()}
    refused = _rate_batch(_batch(narrow))
    message = "gives 1 segment columns: the period 2026-09-15 to 2026-10-14 has 2 segments"
    assert {row: e.message for row, e in refused.rejected.items()} == dict.fromkeys(
        range(4), message
    )
    assert refused.total.tolist() == [0, 0, 0, 0]
