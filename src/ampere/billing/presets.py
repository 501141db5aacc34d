"""Billing rules of the utilities Ampere knows out of the box (data; see TARIFFS.md).

Published: EVN payment within 7 days of the notice (EVN SPC practice, 2025) and its re-check of
bills whose kWh reach 1.3 × the previous period's; SCE's bills are past due 19 days after
preparation. The other thresholds are Ampere's defaults, not published rules: each utility sets
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ampere.billing.holds import HoldPolicy


@dataclass(frozen=True)
class BillingPreset:
    days_after_bill_date: int
    due_date_description: str
    weekend_days: tuple[int, ...]
    hold_policy: HoldPolicy


_EVN = BillingPreset(
    days_after_bill_date=7,
    due_date_description="Payment within 7 days of the notice (EVN SPC, 2025)",
    weekend_days=(6, 7),
    hold_policy=HoldPolicy(
        high_kwh_ratio=Decimal("1.3"),
        history_periods=1,
        ratio_floor_kwh=Decimal(50),  # default: below 50 kWh both ways, no ratio check
        max_consecutive_estimates=2,  # default
    ),
)

PRESETS: dict[str, BillingPreset] = {
    "evn-hcmc": _EVN,
    "evn-spc": _EVN,
    "sce": BillingPreset(
        days_after_bill_date=19,
        due_date_description="Past due 19 days after bill preparation (SCE)",
        weekend_days=(6, 7),
        hold_policy=HoldPolicy(  # defaults, per day over the mean of three periods
            high_kwh_ratio=Decimal(3),
            low_kwh_ratio=Decimal("0.2"),
            history_periods=3,
            compare_per_day=True,
            ratio_floor_kwh=Decimal(100),
            max_consecutive_estimates=2,
        ),
    ),
}
