"""Hypothesis: the interval batch engine = the reference engine on interval reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import event, given
from hypothesis import strategies as st

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine.batch import IntervalBatch, RegisterBatch, rate_interval_batch
from ampere.rating.engine.model import IntervalUsage, RatedBill, RatingContext
from ampere.rating.engine.parse import parse_tariff, parse_taxes
from ampere.rating.engine.reference import rate_intervals
from tests.unit.rating.engine.tariff_strategies import context_values, pricing, taxes


@st.composite
def case(draw):
    currency = draw(st.sampled_from(["VND", "USD"]))
    time_zone = draw(st.sampled_from(["Asia/Ho_Chi_Minh", "America/Los_Angeles"]))
    body = draw(pricing(currency, time_zone))
    _, versions = parse_tariff(
        {"tariff": "T", "versions": [{**body, "from": "2026-01-01", "to": None}]}
    )
    tax_schedule = parse_taxes(draw(taxes(date(2026, 1, 1))))
    # Around the DST changes of Los Angeles, the summer/winter change and plain days.
    first = draw(
        st.sampled_from([date(2026, 3, 6), date(2026, 5, 28), date(2026, 10, 30), date(2026, 7, 1)])
    )
    days = draw(st.integers(1, 6))
    cut = draw(st.integers(0, days))
    periods = [
        DatePeriod(first, first + timedelta(days=cut)),
        DatePeriod(first + timedelta(days=cut), first + timedelta(days=days)),
    ]
    periods = [p for p in periods if p.days > 0]
    minutes = draw(st.sampled_from([15, 60]))
    from ampere.core.localtime import local_midnight, zone

    tz = zone(time_zone)
    start = local_midnight(first, tz).astimezone(UTC)
    end = local_midnight(first + timedelta(days=days), tz).astimezone(UTC)
    count = int((end - start).total_seconds() // (minutes * 60))
    starts = [start + timedelta(minutes=minutes * i) for i in range(count)]
    accounts = draw(st.integers(1, 3))
    wh = np.array(
        draw(st.lists(st.integers(0, 5000), min_size=count * accounts, max_size=count * accounts)),
        np.int64,
    ).reshape(count, accounts)
    values = [draw(context_values()) for _ in range(accounts)]
    holidays = frozenset({first + timedelta(days=draw(st.integers(0, days)))})
    return versions, tax_schedule, periods, starts, wh, minutes, values, holidays


@given(case())
def test_interval_batch_equals_reference(example):
    versions, tax_schedule, periods, starts, wh, minutes, values, holidays = example
    n = wh.shape[1]
    context = RegisterBatch(
        period_start=np.zeros(n, "datetime64[D]"),
        period_end=np.zeros(n, "datetime64[D]"),
        household_norm=np.array([int(v["household_norm"] * 100) for v in values], np.int64),
        region=np.array([v["baseline_region"] for v in values]),
        all_electric=np.array([v["all_electric"] for v in values]),
        programs={
            p: np.array([p in v["programs"] for v in values])
            for p in ("care", "fera", "medical_baseline", "sdp")
        },
        sdp_tons_milli=np.array([int(v["sdp_tons"] * 1000) for v in values], np.int64),
    )
    expected: list[RatedBill | InvalidInput] = []
    for period in periods:
        for account in range(n):
            inside = [
                (at, Decimal(int(wh[i, account])) / 1000)
                for i, at in enumerate(starts)
                if period.contains(
                    at.astimezone(
                        __import__("zoneinfo").ZoneInfo(versions[0].pricing.time_zone)
                    ).date()
                )
            ]
            try:
                expected.append(
                    rate_intervals(
                        versions=versions,
                        taxes=tax_schedule,
                        period=period,
                        usage=IntervalUsage(
                            starts=tuple(a for a, _ in inside),
                            kwh=tuple(k for _, k in inside),
                            minutes=minutes,
                        ),
                        context=RatingContext(
                            short_lease_undeclared=False,
                            **{
                                k: v
                                for k, v in values[account].items()
                                if k != "short_lease_undeclared"
                            },
                        ),
                        holidays=holidays,
                        language="es",
                    )
                )
            except InvalidInput as error:
                expected.append(error)
    refused = [e for e in expected if isinstance(e, InvalidInput)]
    try:
        results = rate_interval_batch(
            versions=versions,
            taxes=tax_schedule,
            periods=periods,
            accounts=IntervalBatch(
                starts=np.array([s.replace(tzinfo=None) for s in starts], "datetime64[s]"),
                kwh_wh=wh,
                minutes=minutes,
                context=context,
            ),
            holidays=holidays,
            language="es",
        )
        got = [result.bill(account) for result in results for account in range(n)]
    except InvalidInput as error:
        event(f"refused: {error.field}")
        assert refused
        return
    assert not refused
    event(f"priced {len(got)} bills")
    assert got == expected


def test_interval_batch_refuses_negative_kwh_naming_the_account():
    _, versions = parse_tariff(
        {
            "tariff": "T",
            "versions": [
                {
                    "from": "2026-01-01",
                    "to": None,
                    "currency": "USD",
                    "time_zone": "UTC",
                    "components": [{"id": "e", "kind": "energy", "prices": ["0.1"]}],
                }
            ],
        }
    )
    wh = np.array([[1, -1], [2, 3]], np.int64)
    try:
        rate_interval_batch(
            versions=versions,
            taxes=parse_taxes({"owner": "x", "taxes": []}),
            periods=[DatePeriod(date(2026, 1, 1), date(2026, 1, 2))],
            accounts=IntervalBatch(
                starts=np.array(
                    [datetime(2026, 1, 1, 0), datetime(2026, 1, 1, 1)], "datetime64[s]"
                ),
                kwh_wh=wh,
                minutes=60,
                context=RegisterBatch(
                    period_start=np.zeros(2, "datetime64[D]"),
                    period_end=np.zeros(2, "datetime64[D]"),
                ),
            ),
        )
    except InvalidInput as error:
        assert error.field == "kwh_wh[:, 1]"
    else:
        raise AssertionError("negative kWh was priced")
