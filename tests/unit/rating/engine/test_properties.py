"""Hypothesis: batch = reference, a split where nothing changes changes nothing, total = lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine.batch import RegisterBatch, rate_register_batch
from ampere.rating.engine.model import RatedBill, RatingContext, RegisterUsage
from ampere.rating.engine.parse import parse_tariff, parse_taxes
from ampere.rating.engine.plan import plan_period
from ampere.rating.engine.reference import rate_register
from tests.unit.rating.engine.tariff_strategies import context_values, tariff, taxes


@st.composite
def case(draw):
    document = draw(tariff())
    _, versions = parse_tariff(document)
    tax_schedule = parse_taxes(draw(taxes(versions[0].period.start)))
    accounts: list[dict[str, Any]] = []
    first = versions[0].period.start
    last_end = versions[-1].period.end
    schedules = versions[0].pricing.schedules
    periods = list(schedules[0].periods) if schedules else []
    use_tou = bool(periods) and draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        start = first + timedelta(days=draw(st.integers(0, 90)))
        end = start + timedelta(days=draw(st.integers(1, 62)))
        if last_end is not None and end > last_end:
            end = last_end
            start = min(start, end - timedelta(days=1))
        kwh = (
            {p: Decimal(draw(st.integers(0, 1_500_000))) / 1000 for p in periods}
            if use_tou
            else None
        )
        total = (
            sum(kwh.values(), Decimal(0))
            if kwh
            else Decimal(draw(st.integers(0, 2_000_000))) / 1000
        )
        values = draw(context_values())
        events = frozenset(
            date(2025, 6, 1) + timedelta(days=d)
            for d in draw(st.sets(st.integers(0, 400), max_size=5))
        )
        accounts.append(
            {
                "period": DatePeriod(start, end),
                "usage": RegisterUsage(
                    kwh=None if kwh else total,
                    tou_kwh=tuple(kwh.items()) if kwh else (),
                    max_kw=Decimal(draw(st.integers(0, 80_000))) / 1000,
                    max_kw_by_period=(("peak", Decimal(draw(st.integers(0, 80_000))) / 1000),)
                    if periods
                    else (),
                ),
                "context": RatingContext(sdp_event_dates=events, **values),
                "total": total,
            }
        )
    # the batch takes one set of SDP event dates for all accounts
    events = accounts[0]["context"].sdp_event_dates
    for account in accounts:
        values = account["context"]
        account["context"] = RatingContext(
            household_norm=values.household_norm,
            short_lease_undeclared=values.short_lease_undeclared,
            baseline_region=values.baseline_region,
            all_electric=values.all_electric,
            programs=values.programs,
            sdp_tons=values.sdp_tons,
            sdp_event_dates=events,
        )
    return document, versions, tax_schedule, accounts, use_tou, periods, events


def _batch(accounts, use_tou, periods, events):
    def col(f, dtype=np.int64):
        return np.array([f(a) for a in accounts], dtype)

    return RegisterBatch(
        period_start=np.array([a["period"].start for a in accounts], "datetime64[D]"),
        period_end=np.array([a["period"].end for a in accounts], "datetime64[D]"),
        kwh_wh=None if use_tou else col(lambda a: int(a["total"] * 1000)),
        tou_wh={p: col(lambda a, p=p: int(dict(a["usage"].tou_kwh)[p] * 1000)) for p in periods}
        if use_tou
        else {},
        max_w=col(lambda a: int(a["usage"].max_kw * 1000)),
        max_w_by_period={
            "peak": col(lambda a: int(dict(a["usage"].max_kw_by_period)["peak"] * 1000))
        }
        if periods
        else {},
        household_norm=col(lambda a: int(a["context"].household_norm * 100)),
        short_lease_undeclared=col(lambda a: a["context"].short_lease_undeclared, np.bool_),
        region=np.array([a["context"].baseline_region for a in accounts]),
        all_electric=col(lambda a: a["context"].all_electric, np.bool_),
        programs={
            p: col(lambda a, p=p: p in a["context"].programs, np.bool_)
            for p in ("care", "fera", "medical_baseline", "sdp")
        },
        sdp_tons_milli=col(lambda a: int(a["context"].sdp_tons * 1000)),
        sdp_event_dates=events,
    )


def _reference(versions, tax_schedule, accounts) -> list[RatedBill | InvalidInput]:
    """Each account's bill by the reference engine, or its refusal; the first refusal is
    recorded as a Hypothesis event."""
    expected: list[RatedBill | InvalidInput] = []
    for account in accounts:
        try:
            expected.append(
                rate_register(
                    versions=versions,
                    taxes=tax_schedule,
                    period=account["period"],
                    usage=account["usage"],
                    context=account["context"],
                    language="en",
                )
            )
        except InvalidInput as error:
            expected.append(error)
    refused = next((e for e in expected if isinstance(e, InvalidInput)), None)
    if refused is not None:
        event(f"refused: {refused.field}")
    return expected


@given(case())
def test_batch_engine_equals_reference_engine(example):
    _, versions, tax_schedule, accounts, use_tou, periods, events = example
    expected = _reference(versions, tax_schedule, accounts)
    if any(isinstance(e, InvalidInput) for e in expected):
        with pytest.raises(InvalidInput):
            result = rate_register_batch(
                versions=versions,
                taxes=tax_schedule,
                accounts=_batch(accounts, use_tou, periods, events),
                language="en",
            )
            for row in range(len(accounts)):
                result.bill(row)
        return
    result = rate_register_batch(
        versions=versions,
        taxes=tax_schedule,
        accounts=_batch(accounts, use_tou, periods, events),
        language="en",
    )
    assert result.rejected == {}
    bills = [b for b in expected if isinstance(b, RatedBill)]
    event(f"priced, split={any(len(b.segments) > 1 for b in bills)}")
    for row, bill in enumerate(bills):
        assert result.bill(row) == bill
        minor = Decimal(1).scaleb(-result.minor_digits)
        assert Decimal(int(result.total[row])) * minor == bill.total


@given(case())
def test_bill_total_is_the_sum_of_its_lines(example):
    _, versions, tax_schedule, accounts, *_ = example
    for account in accounts:
        try:
            bill = rate_register(
                versions=versions,
                taxes=tax_schedule,
                period=account["period"],
                usage=account["usage"],
                context=account["context"],
            )
        except InvalidInput:
            continue
        assert bill.subtotal == sum((line.rounded for line in bill.lines), Decimal(0))
        assert bill.total == bill.subtotal + sum((t.rounded for t in bill.taxes), Decimal(0))
        for line in (*bill.lines, *bill.taxes):
            assert line.rounded == line.amount.quantize(
                Decimal(1).scaleb(-2 if bill.currency == "USD" else 0), rounding="ROUND_HALF_UP"
            )


@given(case(), st.integers(1, 200), st.sampled_from(["same", "renamed"]))
def test_a_split_where_nothing_changes_gives_the_same_bill(example, cut, how):
    document, versions, tax_schedule, accounts, *_ = example
    first = dict(document["versions"][0])
    start = date.fromisoformat(first["from"])
    end = first["to"]
    middle = start + timedelta(days=cut)
    if end is not None and middle >= date.fromisoformat(end):
        return
    split = {
        "tariff": "T",
        "versions": [
            {**first, "to": middle.isoformat(), "instrument": "before"},
            {
                **first,
                "from": middle.isoformat(),
                "instrument": "after" if how == "renamed" else "",
            },
            *document["versions"][1:],
        ],
    }
    _, split_versions = parse_tariff(split)
    for account in accounts:
        arguments = {
            "taxes": tax_schedule,
            "period": account["period"],
            "usage": account["usage"],
            "context": account["context"],
        }
        try:
            whole = rate_register(versions=versions, **arguments)
        except InvalidInput:
            continue
        assert rate_register(versions=split_versions, **arguments) == whole


@given(case(), st.data())
def test_batch_engine_equals_reference_engine_with_kwh_per_segment(example, data):
    """TOU kWh given per segment (from interval data) price alike in both engines."""
    _, versions, tax_schedule, accounts, _, periods, events = example
    if not periods:
        event("no TOU schedule")
        return
    counts: list[int] = []
    for account in accounts:
        try:
            plan = plan_period(versions=versions, taxes=tax_schedule, period=account["period"])
        except InvalidInput:
            event("not planned")
            return
        counts.append(len(plan.segments))
    width = max(counts)
    tables = {p: np.zeros((len(accounts), width), np.int64) for p in periods}
    for row, (account, count) in enumerate(zip(accounts, counts, strict=True)):
        by_segment = []
        for name in periods:
            values = data.draw(st.lists(st.integers(0, 900_000), min_size=count, max_size=count))
            tables[name][row, :count] = values
            by_segment.append((name, tuple(Decimal(v) / 1000 for v in values)))
        usage = account["usage"]
        account["usage"] = RegisterUsage(
            tou_kwh_by_segment=tuple(by_segment),
            max_kw=usage.max_kw,
            max_kw_by_period=usage.max_kw_by_period,
        )
    batch = _batch(accounts, False, periods, events)
    batch = replace(batch, kwh_wh=None, tou_wh={}, tou_wh_by_segment=tables)
    expected = _reference(versions, tax_schedule, accounts)
    if any(isinstance(e, InvalidInput) for e in expected):
        with pytest.raises(InvalidInput):
            result = rate_register_batch(
                versions=versions, taxes=tax_schedule, accounts=batch, language="en"
            )
            for row in range(len(accounts)):
                result.bill(row)
        return
    result = rate_register_batch(
        versions=versions, taxes=tax_schedule, accounts=batch, language="en"
    )
    assert result.rejected == {}
    event(f"priced, split={max(counts) > 1}")
    for row, bill in enumerate(expected):
        assert result.bill(row) == bill
