"""Holiday calendars of utilities, built from the `holidays` package by a named rule."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

from ampere.core.errors import InvalidInput

# SCE prices these as weekend days (TOU schedules); a Sunday holiday is observed on Monday.
SCE_TOU_HOLIDAYS = (
    "New Year's Day",
    "Washington's Birthday",
    "Memorial Day",
    "Independence Day",
    "Labor Day",
    "Veterans Day",
    "Thanksgiving Day",
    "Christmas Day",
)
SUNDAY = 6


def holiday_calendar(rule: str, years: Iterable[int]) -> dict[date, str]:
    """The holidays of ``years`` under ``rule`` ('vn' or 'sce-tou'), date → name."""
    year_list = list(years)
    if rule == "vn":
        return dict(holidays.country_holidays("VN", years=year_list, language="vi"))
    if rule == "sce-tou":
        found: dict[date, str] = {}
        federal = holidays.country_holidays("US", years=year_list, observed=False)
        for day, name in federal.items():
            if name in SCE_TOU_HOLIDAYS:
                found[day] = name
                if day.weekday() == SUNDAY:
                    found[day + timedelta(days=1)] = f"{name} (observed)"
        return found
    raise InvalidInput(f"unknown holiday rule {rule!r}", field="holiday_rule")
