from datetime import date
from decimal import Decimal

from ampere.metering.types import Policy
from ampere.metering.vee import (
    PriorRead,
    ReadContext,
    estimate_by_average,
    estimate_by_last_year,
    interpolate,
    validate_read,
)

POLICY = Policy()


def context(
    previous=None, before=None, following=None, *, live=True, digits=5, energy=True, on=None
):
    def prior(pair):
        return None if pair is None else PriorRead(Decimal(pair[0]), pair[1])

    return ReadContext(
        digits=digits,
        energy=energy,
        previous=prior(previous),
        before_previous=prior(before),
        following=prior(following),
        live_agreement=live,
        read_date=on,
    )


def codes(verdict):
    return [(p.code, p.soft) for p in verdict.problems]


def test_normal_read_has_its_consumption_and_no_problem():
    verdict = validate_read(
        value=Decimal(1250),
        context=context((1000, date(2025, 5, 1)), (800, date(2025, 4, 1))),
        policy=POLICY,
    )
    assert (codes(verdict), verdict.flags, verdict.consumption) == ([], (), Decimal(250))


def test_rollover_at_ten_to_the_digits():
    verdict = validate_read(
        value=Decimal(30), context=context((99950, date(2025, 5, 1))), policy=POLICY
    )
    assert (codes(verdict), verdict.flags, verdict.consumption) == ([], ("rollover",), Decimal(80))


def test_lower_read_that_is_not_a_rollover_is_negative_consumption():
    verdict = validate_read(
        value=Decimal(4990), context=context((5000, date(2025, 5, 1))), policy=POLICY
    )
    assert codes(verdict) == [("negative-consumption", False)]
    assert verdict.problems[0].message == (
        "4990 is below the previous read 5000 of 2025-05-01 and is not a rollover"
    )
    assert verdict.consumption is None


def test_value_beyond_the_register_is_refused():
    verdict = validate_read(value=Decimal(100000), context=context(), policy=POLICY)
    assert codes(verdict) == [("value-exceeds-register", False)]


def test_zero_consumption_is_flagged_only_on_a_live_agreement():
    live = validate_read(
        value=Decimal(700), context=context((700, date(2025, 5, 1))), policy=POLICY
    )
    vacant = validate_read(
        value=Decimal(700), context=context((700, date(2025, 5, 1)), live=False), policy=POLICY
    )
    assert codes(live) == [("zero-consumption", True)]
    assert codes(vacant) == []


def test_high_is_flagged_from_one_point_three_times_the_previous_period():
    history = ((1100, date(2025, 5, 1)), (1000, date(2025, 4, 1)))
    at_threshold = validate_read(value=Decimal(1230), context=context(*history), policy=POLICY)
    below = validate_read(value=Decimal(1229), context=context(*history), policy=POLICY)
    assert codes(at_threshold) == [("high-consumption", True)]
    assert at_threshold.problems[0].message == "130 is at least 1.30 × the previous period's 100"
    assert codes(below) == []


def test_periods_of_different_lengths_are_compared_per_day():
    # 100 kWh in the 30 days of April; 140 in the 40 days to 10 June is 3.5 a day, not high
    history = ((1100, date(2025, 5, 1)), (1000, date(2025, 4, 1)))
    long_period = validate_read(
        value=Decimal(1240), context=context(*history, on=date(2025, 6, 10)), policy=POLICY
    )
    same_length = validate_read(
        value=Decimal(1240), context=context(*history, on=date(2025, 5, 31)), policy=POLICY
    )
    assert codes(long_period) == []
    assert codes(same_length) == [("high-consumption", True)]


def test_high_threshold_is_a_utility_policy():
    history = ((1100, date(2025, 5, 1)), (1000, date(2025, 4, 1)))
    strict = Policy(high_ratio=Decimal("1.20"))
    assert codes(validate_read(value=Decimal(1220), context=context(*history), policy=strict)) == [
        ("high-consumption", True)
    ]


def test_low_is_flagged_at_half_the_previous_period():
    history = ((1100, date(2025, 5, 1)), (1000, date(2025, 4, 1)))
    low = validate_read(value=Decimal(1150), context=context(*history), policy=POLICY)
    fine = validate_read(value=Decimal(1151), context=context(*history), policy=POLICY)
    assert codes(low) == [("low-consumption", True)]
    assert codes(fine) == []


def test_a_late_read_above_the_following_read_is_inconsistent():
    verdict = validate_read(
        value=Decimal(1300),
        context=context((1000, date(2025, 4, 1)), following=(1200, date(2025, 6, 1))),
        policy=POLICY,
    )
    assert codes(verdict) == [("inconsistent-with-later-read", False)]


def test_estimate_is_average_daily_use_of_three_periods_times_days():
    history = [
        PriorRead(Decimal(1000), date(2025, 1, 1)),
        PriorRead(Decimal(1310), date(2025, 2, 1)),  # 310 in 31 days
        PriorRead(Decimal(1590), date(2025, 3, 1)),  # 280 in 28 days
        PriorRead(Decimal(1900), date(2025, 4, 1)),  # 310 in 31 days
    ]
    estimate = estimate_by_average(history=history, on=date(2025, 5, 1), digits=5, policy=POLICY)
    # 900 kWh over 90 days = 10 kWh/day, × 30 days
    assert estimate is not None
    assert (estimate.value, estimate.daily, estimate.method) == (
        Decimal(2200),
        Decimal(10),
        "average_periods",
    )


def test_estimate_uses_only_the_last_three_periods_and_rolls_over():
    history = [
        PriorRead(Decimal(0), date(2024, 12, 1)),  # a fourth, older period is ignored
        PriorRead(Decimal(99000), date(2025, 1, 1)),
        PriorRead(Decimal(99310), date(2025, 2, 1)),
        PriorRead(Decimal(99590), date(2025, 3, 1)),
        PriorRead(Decimal(99900), date(2025, 4, 1)),
    ]
    estimate = estimate_by_average(history=history, on=date(2025, 5, 1), digits=5, policy=POLICY)
    assert estimate is not None
    assert estimate.value == Decimal(200)  # 99900 + 300 rolls over at 100000


def test_estimate_by_same_period_last_year():
    year_ago = [
        PriorRead(Decimal(500), date(2024, 4, 1)),
        PriorRead(Decimal(800), date(2024, 5, 1)),
    ]
    history = [PriorRead(Decimal(5000), date(2025, 4, 1))]
    estimate = estimate_by_last_year(
        history=history, year_ago=year_ago, on=date(2025, 5, 1), digits=5, policy=POLICY
    )
    assert estimate is not None
    assert (estimate.value, estimate.method) == (Decimal(5300), "last_year")


def test_no_history_gives_no_estimate():
    assert estimate_by_average(history=[], on=date(2025, 5, 1), digits=5, policy=POLICY) is None


def test_interpolation_between_actual_reads_is_whole_units():
    value = interpolate(
        earlier=PriorRead(Decimal(1000), date(2025, 4, 1)),
        later=PriorRead(Decimal(1310), date(2025, 5, 2)),
        on=date(2025, 5, 1),
        digits=5,
        policy=POLICY,
    )
    assert value == Decimal(1300)
