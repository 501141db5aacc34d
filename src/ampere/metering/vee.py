"""Validation, estimation and editing rules of register reads. Pure: no Django, no database.

Consumption between two reads of a cumulative register is ``later − earlier``; when the later
value is lower the register may have rolled over at ``10^digits``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ampere.metering.types import Policy, RowProblem

WHOLE = Decimal(1)


@dataclass(frozen=True)
class PriorRead:
    value: Decimal
    read_date: date
    estimated: bool = False


@dataclass(frozen=True)
class ReadContext:
    """What a new read is checked against."""

    digits: int
    energy: bool  # a cumulative energy register (not a demand register)
    previous: PriorRead | None  # the last actual read before it on the same installation
    before_previous: PriorRead | None  # the actual read before that (the previous period)
    following: PriorRead | None  # the first actual read after it, when a read arrives late
    live_agreement: bool
    read_date: date | None = None  # when known, high/low compare use per day of each period


@dataclass(frozen=True)
class Verdict:
    problems: tuple[RowProblem, ...]
    flags: tuple[str, ...]
    consumption: Decimal | None

    @property
    def hard(self) -> bool:
        return any(not p.soft for p in self.problems)


def rolled_difference(
    *, earlier: Decimal, later: Decimal, digits: int, policy: Policy
) -> tuple[Decimal | None, bool]:
    """(consumption, rolled over) between two reads; consumption None when it is negative and
    too large to be a rollover."""
    difference = later - earlier
    if difference >= 0:
        return difference, False
    span = Decimal(10) ** digits
    rolled = difference + span
    if rolled <= span * policy.rollover_max_fraction:
        return rolled, True
    return None, False


def validate_read(*, value: Decimal, context: ReadContext, policy: Policy) -> Verdict:
    """Check a new read: register range, rollover, negative consumption, zero consumption on a
    live agreement, high and low against the previous period. Soft problems (high, low, zero)
    may be accepted by a clerk; hard ones need a correction."""
    problems: list[RowProblem] = []
    flags: list[str] = []
    span = Decimal(10) ** context.digits
    if value >= span:
        problems.append(
            RowProblem(
                "value-exceeds-register",
                f"{value} does not fit a register of {context.digits} digits",
                "value",
            )
        )
        return Verdict(tuple(problems), (), None)
    if not context.energy or context.previous is None:
        return Verdict((), (), None)
    consumption, rolled = rolled_difference(
        earlier=context.previous.value, later=value, digits=context.digits, policy=policy
    )
    if consumption is None:
        problems.append(
            RowProblem(
                "negative-consumption",
                f"{_shown(value)} is below the previous read {_shown(context.previous.value)} of "
                f"{context.previous.read_date.isoformat()} and is not a rollover",
                "value",
            )
        )
        return Verdict(tuple(problems), (), None)
    if rolled:
        flags.append("rollover")
    if context.following is not None:
        after, _ = rolled_difference(
            earlier=value, later=context.following.value, digits=context.digits, policy=policy
        )
        if after is None:
            problems.append(
                RowProblem(
                    "inconsistent-with-later-read",
                    f"{_shown(value)} is above the later read {_shown(context.following.value)} of "
                    f"{context.following.read_date.isoformat()}",
                    "value",
                )
            )
            return Verdict(tuple(problems), tuple(flags), consumption)
    if consumption == 0:
        if context.live_agreement and policy.flag_zero_on_live_agreement:
            problems.append(
                RowProblem(
                    "zero-consumption",
                    "no consumption since the previous read although an agreement is live",
                    "value",
                    soft=True,
                )
            )
        return Verdict(tuple(problems), tuple(flags), consumption)
    if context.before_previous is not None:
        reference, _ = rolled_difference(
            earlier=context.before_previous.value,
            later=context.previous.value,
            digits=context.digits,
            policy=policy,
        )
        if reference is not None and reference > 0:
            reference_days = (context.previous.read_date - context.before_previous.read_date).days
            days = (
                (context.read_date - context.previous.read_date).days
                if context.read_date is not None
                else 0
            )
            if days > 0 and reference_days > 0 and days != reference_days:
                # periods of different lengths are compared per day
                reference = reference * days / reference_days
            if consumption >= reference * policy.high_ratio:
                problems.append(
                    RowProblem(
                        "high-consumption",
                        f"{_shown(consumption)} is at least {policy.high_ratio} × the previous "
                        f"period's {_shown(reference)}",
                        "value",
                        soft=True,
                    )
                )
            elif policy.low_ratio > 0 and consumption <= reference * policy.low_ratio:
                problems.append(
                    RowProblem(
                        "low-consumption",
                        f"{_shown(consumption)} is at most {policy.low_ratio} × the previous "
                        f"period's {_shown(reference)}",
                        "value",
                        soft=True,
                    )
                )
    return Verdict(tuple(problems), tuple(flags), consumption)


def _shown(value: Decimal) -> Decimal:
    """A quantity for a message: whole when whole, else to a tenth."""
    if value == value.to_integral_value():
        return value.quantize(WHOLE)
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- estimation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    value: Decimal
    daily: Decimal
    method: str


def wrap(value: Decimal, digits: int) -> Decimal:
    """A register value after rollover: modulo 10^digits."""
    return value % (Decimal(10) ** digits)


def average_daily_use(
    *, history: Sequence[PriorRead], periods: int, digits: int, policy: Policy
) -> Decimal | None:
    """Average daily use over the last ``periods`` periods of ``history`` (oldest first); None
    when there is no complete period."""
    recent = list(history)[-(periods + 1) :]
    if len(recent) < 2:
        return None
    used = Decimal(0)
    for earlier, later in itertools.pairwise(recent):
        consumption, _ = rolled_difference(
            earlier=earlier.value, later=later.value, digits=digits, policy=policy
        )
        if consumption is None:
            return None
        used += consumption
    days = (recent[-1].read_date - recent[0].read_date).days
    if days <= 0:
        return None
    return used / days


def estimate_by_average(
    *, history: Sequence[PriorRead], on: date, digits: int, policy: Policy
) -> Estimate | None:
    """EVN's rule: average daily use of the previous periods × the days since the last read."""
    if not history:
        return None
    daily = average_daily_use(
        history=history, periods=policy.estimation_periods, digits=digits, policy=policy
    )
    if daily is None:
        return None
    last = history[-1]
    used = (daily * (on - last.read_date).days).quantize(WHOLE, rounding=ROUND_HALF_UP)
    return Estimate(wrap(last.value + used, digits), daily, "average_periods")


def value_on(
    *, reads: Sequence[PriorRead], on: date, digits: int, policy: Policy
) -> Decimal | None:
    """The register value on a date, linearly interpolated between the reads around it
    (unrolled: may exceed 10^digits); None when ``on`` is outside the reads."""
    for earlier, later in itertools.pairwise(reads):
        if earlier.read_date <= on <= later.read_date:
            consumption, _ = rolled_difference(
                earlier=earlier.value, later=later.value, digits=digits, policy=policy
            )
            if consumption is None:
                return None
            days = (later.read_date - earlier.read_date).days
            if days == 0:
                return earlier.value
            return earlier.value + consumption * (on - earlier.read_date).days / days
    return None


def estimate_by_last_year(
    *,
    history: Sequence[PriorRead],
    year_ago: Sequence[PriorRead],
    on: date,
    digits: int,
    policy: Policy,
) -> Estimate | None:
    """The same period a year earlier: consumption between the two dates a year back
    (interpolated between the reads around them), added to the last read. Falls back to the
    average rule without a year of history."""
    if not history:
        return None
    last = history[-1]
    start = _year_before(last.read_date)
    end = _year_before(on)
    opening = value_on(reads=year_ago, on=start, digits=digits, policy=policy)
    closing = value_on(reads=year_ago, on=end, digits=digits, policy=policy)
    if opening is None or closing is None or (on - last.read_date).days <= 0:
        return estimate_by_average(history=history, on=on, digits=digits, policy=policy)
    used = (closing - opening).quantize(WHOLE, rounding=ROUND_HALF_UP)
    daily = used / (on - last.read_date).days
    return Estimate(wrap(last.value + used, digits), daily, "last_year")


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def interpolate(
    *, earlier: PriorRead, later: PriorRead, on: date, digits: int, policy: Policy
) -> Decimal | None:
    """The register value on ``on`` between two actual reads, whole units, rolled over."""
    value = value_on(reads=(earlier, later), on=on, digits=digits, policy=policy)
    if value is None:
        return None
    return wrap(value.quantize(WHOLE, rounding=ROUND_HALF_UP), digits)
