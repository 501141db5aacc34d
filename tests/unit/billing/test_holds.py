from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ampere.billing.holds import HoldPolicy, PastBill, PricedBillFacts, hold_reasons
from ampere.billing.presets import PRESETS
from ampere.billing.types import HoldReason
from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod

D = Decimal
EVN = PRESETS["evn-hcmc"].hold_policy
MAY = DatePeriod(date(2025, 5, 1), date(2025, 6, 1))
APRIL = DatePeriod(date(2025, 4, 1), date(2025, 5, 1))
MARCH = DatePeriod(date(2025, 3, 1), date(2025, 4, 1))
FEBRUARY = DatePeriod(date(2025, 2, 1), date(2025, 3, 1))


def bill(kwh, total=None, *, estimated=False, live=True, period=MAY):
    amount = D(kwh) * 2000 if total is None else D(total)
    return PricedBillFacts(period, amount, D(kwh), estimated, live)


def past(kwh, period=APRIL, estimated=False):
    return PastBill(period, D(kwh), estimated)


def test_a_bill_like_its_history_is_not_held():
    assert hold_reasons(bill=bill(320), history=[past(300)], policy=EVN) == ()


def test_evn_rechecks_kwh_at_least_1_3_times_the_previous_period():
    assert hold_reasons(bill=bill(390), history=[past(300)], policy=EVN) == (
        HoldReason("above_history", "390 kWh is at least 1.3 × 300 kWh of the previous period"),
    )
    assert hold_reasons(bill=bill(389), history=[past(300)], policy=EVN) == ()


def test_no_ratio_check_below_the_floor_or_without_history():
    assert hold_reasons(bill=bill(45), history=[past(20)], policy=EVN) == ()
    assert hold_reasons(bill=bill(900), history=[], policy=EVN) == ()


def test_negative_and_zero_bills():
    assert hold_reasons(bill=bill(0, -15000), history=[], policy=EVN) == (
        HoldReason("negative_total", "the total -15000 is negative"),
    )
    assert hold_reasons(bill=bill(0, 0), history=[], policy=EVN) == (
        HoldReason("zero_on_live_agreement", "the total is 0 on a live agreement"),
    )
    # A final bill of an ended agreement may be zero.
    assert hold_reasons(bill=bill(0, 0, live=False), history=[], policy=EVN) == ()


def test_estimated_too_many_periods_in_a_row():
    history = [past(300, APRIL, estimated=True), past(300, MARCH, estimated=True)]
    assert hold_reasons(bill=bill(300, estimated=True), history=history, policy=EVN) == (
        HoldReason(
            "estimated_too_often", "3 estimated bills in a row; at most 2 are issued unreviewed"
        ),
    )
    # An actual read in between resets the count.
    history = [past(300, APRIL, estimated=True), past(300, MARCH, estimated=False)]
    assert hold_reasons(bill=bill(300, estimated=True), history=history, policy=EVN) == ()
    # An actual bill is never held for estimates before it.
    history = [past(300, APRIL, estimated=True), past(300, MARCH, estimated=True)]
    assert hold_reasons(bill=bill(300), history=history, policy=EVN) == ()


def test_sce_style_per_day_against_the_mean_of_three_periods():
    policy = PRESETS["sce"].hold_policy
    history = [past(600, APRIL), past(620, MARCH), past(560, FEBRUARY)]
    # Per day: April 20.00, March 20.00, February 20.00 → baseline 20.00 kWh/day.
    # May: 62 kWh × 31 days = 1922 kWh → 62.00 kWh/day ≥ 3 × 20 → held.
    assert hold_reasons(bill=bill(1922), history=history, policy=policy) == (
        HoldReason(
            "above_history", "62 kWh/day is at least 3 × 20 kWh/day of the mean of 3 periods"
        ),
    )
    # 3.1 kWh/day ≤ 0.2 × 20 → held as below.
    assert hold_reasons(bill=bill("96.1"), history=history, policy=policy) == (
        HoldReason(
            "below_history", "3.1 kWh/day is at most 0.2 × 20 kWh/day of the mean of 3 periods"
        ),
    )
    assert hold_reasons(bill=bill(620), history=history, policy=policy) == ()


def test_several_reasons_come_together_in_a_fixed_order():
    policy = HoldPolicy(
        high_kwh_ratio=D("1.3"), max_total=D(1_000_000), max_consecutive_estimates=0
    )
    reasons = hold_reasons(
        bill=bill(1000, 2_000_000, estimated=True), history=[past(300)], policy=policy
    )
    assert [r.code for r in reasons] == [
        "above_amount_limit",
        "above_history",
        "estimated_too_often",
    ]
    assert reasons[0].detail == "the total 2000000 is above the limit 1000000"


def test_policy_refuses_meaningless_thresholds_by_name():
    cases: list[tuple[dict[str, Any], str]] = [
        ({"high_kwh_ratio": D("0.9")}, "high_kwh_ratio"),
        ({"low_kwh_ratio": D("1.2")}, "low_kwh_ratio"),
        ({"history_periods": 0}, "history_periods"),
        ({"ratio_floor_kwh": D(-1)}, "ratio_floor_kwh"),
        ({"max_consecutive_estimates": -1}, "max_consecutive_estimates"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as error:
            HoldPolicy(**kwargs)
        assert error.value.field == field
    assert EVN.history_needed == 2
