"""Hold for review (SAP calls it outsorting): the pure rule that decides whether a priced bill
looks wrong and why. The thresholds are data per utility (``HoldPolicy``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy.typing as npt

from ampere.billing.types import HoldReason
from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod


class HoldCode:
    NEGATIVE = "negative_total"
    ZERO_ON_LIVE_AGREEMENT = "zero_on_live_agreement"
    ABOVE_HISTORY = "above_history"
    BELOW_HISTORY = "below_history"
    ABOVE_AMOUNT_LIMIT = "above_amount_limit"
    ESTIMATED_TOO_OFTEN = "estimated_too_often"

    ALL = (
        "negative_total",
        "zero_on_live_agreement",
        "above_history",
        "below_history",
        "above_amount_limit",
        "estimated_too_often",
    )


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """A utility's thresholds. ``None`` switches a check off.

    - ``high_kwh_ratio``: hold when kWh ≥ ratio × the history baseline (EVN re-checks ≥ 1.3 ×
      the previous period's kWh).
    - ``low_kwh_ratio``: hold when kWh ≤ ratio × the baseline (a stuck meter, a missed read).
    - ``history_periods``: the baseline is the mean of this many previous periods (1: the
      previous period); with fewer periods known, the ones known.
    - ``compare_per_day``: compare kWh per day, for periods of different lengths.
    - ``ratio_floor_kwh``: no ratio check when both this bill and the baseline are below it.
    - ``max_total``: hold any bill whose total is above it (in the bill's currency).
    - ``max_consecutive_estimates``: the most estimated bills in a row issued unreviewed.
    """

    high_kwh_ratio: Decimal | None = None
    low_kwh_ratio: Decimal | None = None
    history_periods: int = 1
    compare_per_day: bool = False
    ratio_floor_kwh: Decimal = Decimal(0)
    max_total: Decimal | None = None
    max_consecutive_estimates: int | None = None

    def __post_init__(self) -> None:
        if self.high_kwh_ratio is not None and self.high_kwh_ratio <= 1:
            raise InvalidInput("the high ratio must be above 1", field="high_kwh_ratio")
        if self.low_kwh_ratio is not None and not 0 <= self.low_kwh_ratio < 1:
            raise InvalidInput("the low ratio must be in [0, 1)", field="low_kwh_ratio")
        if self.history_periods < 1:
            raise InvalidInput("compare with at least one period", field="history_periods")
        if self.ratio_floor_kwh < 0:
            raise InvalidInput("the floor cannot be negative", field="ratio_floor_kwh")
        if self.max_consecutive_estimates is not None and self.max_consecutive_estimates < 0:
            raise InvalidInput(
                "the estimate limit cannot be negative", field="max_consecutive_estimates"
            )

    @property
    def history_needed(self) -> int:
        """How many previous bills the rule reads (newest first)."""
        return max(self.history_periods, self.max_consecutive_estimates or 0)


@dataclass(frozen=True, slots=True)
class PastBill:
    """A previous issued bill of the agreement (cancelled bills are not history)."""

    period: DatePeriod
    consumption_kwh: Decimal
    estimated: bool


@dataclass(frozen=True, slots=True)
class PricedBillFacts:
    """What the rule looks at in the bill being made."""

    period: DatePeriod
    total: Decimal
    consumption_kwh: Decimal
    estimated: bool
    agreement_live: bool


def _kwh(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _per_day(kwh: Decimal, period: DatePeriod) -> Decimal:
    return kwh / Decimal(period.days)


def hold_reasons(
    *, bill: PricedBillFacts, history: Sequence[PastBill], policy: HoldPolicy
) -> tuple[HoldReason, ...]:
    """Why ``bill`` must wait for a clerk (empty: issue it). ``history`` is newest first."""
    reasons: list[HoldReason] = []
    if bill.total < 0:
        reasons.append(HoldReason(HoldCode.NEGATIVE, f"the total {bill.total} is negative"))
    elif bill.total == 0 and bill.agreement_live:
        reasons.append(
            HoldReason(HoldCode.ZERO_ON_LIVE_AGREEMENT, "the total is 0 on a live agreement")
        )
    if policy.max_total is not None and bill.total > policy.max_total:
        reasons.append(
            HoldReason(
                HoldCode.ABOVE_AMOUNT_LIMIT,
                f"the total {bill.total} is above the limit {policy.max_total}",
            )
        )
    reasons.extend(_against_history(bill, history, policy))
    if policy.max_consecutive_estimates is not None and bill.estimated:
        in_row = 1
        for past in history:
            if not past.estimated:
                break
            in_row += 1
        if in_row > policy.max_consecutive_estimates:
            reasons.append(
                HoldReason(
                    HoldCode.ESTIMATED_TOO_OFTEN,
                    f"{in_row} estimated bills in a row; at most "
                    f"{policy.max_consecutive_estimates} are issued unreviewed",
                )
            )
    return tuple(reasons)


def _against_history(
    bill: PricedBillFacts, history: Sequence[PastBill], policy: HoldPolicy
) -> list[HoldReason]:
    if policy.high_kwh_ratio is None and policy.low_kwh_ratio is None:
        return []
    window = list(history[: policy.history_periods])
    if not window:
        return []
    if policy.compare_per_day:
        unit = "kWh/day"
        current = _per_day(bill.consumption_kwh, bill.period)
        baseline = sum(
            (_per_day(p.consumption_kwh, p.period) for p in window), Decimal(0)
        ) / Decimal(len(window))
        current = current.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        baseline = baseline.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    else:
        unit = "kWh"
        current = bill.consumption_kwh
        baseline = sum((p.consumption_kwh for p in window), Decimal(0)) / Decimal(len(window))
        baseline = baseline.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    floor = policy.ratio_floor_kwh
    if policy.compare_per_day:
        floor = floor / Decimal(bill.period.days)
    if current < floor and baseline < floor:
        return []
    what = "the previous period" if len(window) == 1 else f"the mean of {len(window)} periods"
    found: list[HoldReason] = []
    high = policy.high_kwh_ratio
    if high is not None and current >= high * baseline and current > baseline:
        found.append(
            HoldReason(
                HoldCode.ABOVE_HISTORY,
                f"{_kwh(current)} {unit} is at least {_kwh(high)} × {_kwh(baseline)} {unit} "
                f"of {what}",
            )
        )
    low = policy.low_kwh_ratio
    if low is not None and current <= low * baseline and current < baseline:
        found.append(
            HoldReason(
                HoldCode.BELOW_HISTORY,
                f"{_kwh(current)} {unit} is at most {_kwh(low)} × {_kwh(baseline)} {unit} "
                f"of {what}",
            )
        )
    return found


# --- many bills at once ------------------------------------------------------------------------


def _scaled(value: Decimal) -> tuple[int, int]:
    """``value`` as (integer, non-negative power of ten dividing it): 1.3 → (13, 1)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    places = max(-exponent, 0)
    return int(value.scaleb(places)), places


def hold_candidates(
    *,
    policy: HoldPolicy,
    minor_digits: int,
    total_minor: npt.NDArray[np.int64],
    consumption_wh: npt.NDArray[np.int64],
    days: npt.NDArray[np.int64],
    estimated: npt.NDArray[np.bool_],
    live: npt.NDArray[np.bool_],
    history_count: npt.NDArray[np.int64],
    history_sum_wh: npt.NDArray[np.int64],
    history_per_day_centi: npt.NDArray[np.int64],
    leading_estimates: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Which of many priced bills ``hold_reasons`` may hold: a superset of the held ones, found
    with integer arithmetic, so the exact rule (and its words) runs only for these.

    Per bill: ``history_count`` previous periods in the ratio window (at most
    ``policy.history_periods``), their kWh summed in Wh, the mean of their kWh per day in
    hundredths (rounded either way: the check allows one hundredth on each side), and how many
    of the newest previous bills in a row were estimated.
    """
    candidates: npt.NDArray[np.bool_] = (total_minor < 0) | ((total_minor == 0) & live)
    if policy.max_total is not None:
        limit = policy.max_total.scaleb(minor_digits)
        candidates |= total_minor > int(limit.to_integral_value(rounding="ROUND_FLOOR"))
    if policy.max_consecutive_estimates is not None:
        candidates |= estimated & (1 + leading_estimates > policy.max_consecutive_estimates)
    if policy.high_kwh_ratio is None and policy.low_kwh_ratio is None:
        return np.asarray(candidates, dtype=np.bool_)
    known = history_count > 0
    if policy.compare_per_day:
        # Bill kWh per day in hundredths, half-up (± 1 covers any rounding difference).
        current = (2 * consumption_wh + 10 * days) // (20 * days)
        high_current, low_current = current + 1, current - 1
        high_base, low_base = history_per_day_centi - 1, history_per_day_centi + 1
        floored = np.zeros(len(current), np.bool_)
    else:
        count = np.where(known, history_count, 1)
        baseline = (2 * history_sum_wh + count) // (2 * count)
        high_current = low_current = consumption_wh
        high_base = low_base = baseline
        floor_int, floor_places = _scaled(policy.ratio_floor_kwh)
        floor_scaled = floor_int * 10 ** max(3 - floor_places, 0)
        scale = 10 ** max(floor_places - 3, 0)
        floored = (consumption_wh * scale < floor_scaled) & (baseline * scale < floor_scaled)
    ratio = np.zeros(len(candidates), np.bool_)
    if policy.high_kwh_ratio is not None:
        high, places = _scaled(policy.high_kwh_ratio)
        ratio |= (high_current * 10**places >= high * high_base) & (high_current > high_base)
    if policy.low_kwh_ratio is not None:
        low, places = _scaled(policy.low_kwh_ratio)
        ratio |= (low_current * 10**places <= low * low_base) & (low_current < low_base)
    return np.asarray(candidates | (known & ~floored & ratio), dtype=np.bool_)
