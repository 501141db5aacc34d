"""Pure assembly of bills from the batch rating engine's arrays (no Django): the bill lines of
every account of a group, their tax shares, their codes for documents, and the plain TOU
calendar metering needs to sum interval data per TOU period.

Amounts stay exact integers in minor units. A bill's tax per rate is the engine's (rounded once
on the sum of the rate's rounded lines), spread over the lines of that rate by largest remainder
exactly as ``totals.price_lines`` does one bill at a time, so that the lines' tax amounts add up
to the bill's tax and both paths store the same figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from ampere.billing.totals import allocate_signed
from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# The kinds of bill line (BillLine.kind) for the engine's line kinds.
LINE_KIND = {
    "energy": "energy",
    "demand": "demand",
    "fixed": "fixed",
    "discount": "discount",
    "credit": "credit",
    "minimum": "surcharge",
}
# TOU period names as documents spell them ("tou-off-peak").
_PERIOD_WORD = {"offpeak": "off-peak", "onpeak": "on-peak"}
_ENERGY_CODE = re.compile(r"^(?P<id>[^.]+)(?:\.p(?P<period>\d+))?(?:\.t(?P<tier>\d+))?$")


def line_code(
    engine_code: str, *, kind: str, energy_ids: frozenset[str], periods: Sequence[str] = ()
) -> str:
    """The stable slug of a bill line from the engine's column code: ``tier-2``,
    ``tou-peak``, ``tou-peak-tier-2``; other components keep their id (``base-services``).
    A split period's segment prefix (``2025-05-10/``) is dropped: the description says it."""
    code = engine_code.rsplit("/", 1)[-1]
    match = _ENERGY_CODE.match(code)
    if kind != "energy" or match is None or match["id"] not in energy_ids:
        return code[:40]
    parts: list[str] = []
    if match["period"] is not None:
        index = int(match["period"]) - 1
        name = periods[index] if index < len(periods) else match["period"]
        parts.append(f"tou-{_PERIOD_WORD.get(name, name)}")
    if match["tier"] is not None:
        parts.append(f"tier-{match['tier']}")
    return ("-".join(parts) or code)[:40]


def allocate_tax(weights: Ints, present: Bools, tax: Ints) -> Ints:
    """Spread ``tax[j]`` (minor units) of each account ``j`` over its present lines ``i`` in
    proportion to ``weights[i, j]`` (the lines' rounded amounts) by largest remainder, ties to
    the earlier line: ``totals.allocate_signed`` for every account at once. Returns ``[i, j]``.

    Two lines whose shares have the same fraction above their floor are ordered by
    ``allocate_signed`` through 28-digit Decimals, whose last digit depends on the size of the
    share: accounts with such a tie are handed to ``allocate_signed`` itself, so the result is
    always the same as the one-bill path's. Raises InvalidInput when an account's weights sum
    to 0 but its tax does not.
    """
    if weights.shape[0] == 0:
        return np.zeros_like(weights)
    w = np.where(present, weights, 0).astype(np.int64)
    total = w.sum(axis=0)
    if ((total == 0) & (tax != 0)).any():
        raise InvalidInput("cannot spread an amount over weights summing to 0", field="weights")
    safe = np.where(total == 0, 1, total)
    numerator = w * tax[None, :]
    floors = numerator // safe[None, :]
    # The fraction above the floor as a non-negative numerator over |total|, comparable
    # within an account (all its lines share the denominator).
    fraction = (numerator % safe[None, :]) * np.sign(safe)[None, :]
    leftover = tax - floors.sum(axis=0)
    lines = w.shape[0]
    index = np.arange(lines)[:, None, None]
    other = np.arange(lines)[None, :, None]
    both = present[None, :, :] & present[:, None, :]
    same = (fraction[None, :, :] == fraction[:, None, :]) & both
    # Rank of line i among the account's present lines: larger fractions first, then order.
    ahead = ((fraction[None, :, :] > fraction[:, None, :]) | (same & (other < index))) & both
    rank = ahead.sum(axis=1)
    result = np.where(present, floors + (present & (rank < leftover[None, :])), 0)
    tied = (same & (other != index) & (fraction[:, None, :] != 0)).any(axis=(0, 1))
    for account in np.flatnonzero(tied).tolist():
        members = np.flatnonzero(present[:, account])
        parts = allocate_signed(int(tax[account]), [int(w[i, account]) for i in members.tolist()])
        result[members, account] = parts
    return result.astype(np.int64)


_INT64_SAFE = 2**62


def unrounded_amounts(
    quantity: Ints,
    quantity_exp: int,
    price: Ints,
    price_exp: int,
    proration: tuple[int, int] | None,
) -> tuple[Ints | list[int], int]:
    """``quantity × price × proration`` as integers and their exponent: exact when it has at
    most 8 decimals, else rounded half-up to 8 (the unrounded amount a bill line keeps)."""
    exp = quantity_exp + price_exp
    days, over = proration if proration is not None else (1, 1)
    if proration is None and exp >= -8:
        bound = int(np.abs(quantity).max(initial=0)) * int(np.abs(price).max(initial=0))
        if bound < _INT64_SAFE:
            return (quantity * price).astype(np.int64), exp
        return [q * p for q, p in zip(quantity.tolist(), price.tolist(), strict=True)], exp
    shift = 8 + exp
    values: list[int] = []
    for q, p in zip(quantity.tolist(), price.tolist(), strict=True):
        numerator = q * p * days
        denominator = over
        if shift >= 0:
            numerator *= 10**shift
        else:
            denominator *= 10**-shift
        sign = -1 if numerator < 0 else 1
        values.append(sign * ((2 * abs(numerator) + denominator) // (2 * denominator)))
    return values, -8


# --- TOU calendars for interval data ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Local minutes ``[start_minute, end_minute)`` priced in TOU period ``period``."""

    period: str
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class SeasonWindows:
    """The windows of each day type over ``period`` (weekday, saturday, sunday, holiday)."""

    period: DatePeriod
    day_types: dict[str, tuple[Window, ...]]


def windows_of(slots: Sequence[int], periods: Sequence[str]) -> tuple[Window, ...]:
    """Runs of equal quarter-hour slots as windows covering the day."""
    windows: list[Window] = []
    start = 0
    for index in range(1, len(slots) + 1):
        if index == len(slots) or slots[index] != slots[start]:
            windows.append(Window(periods[slots[start]], start * 15, index * 15))
            start = index
    return tuple(windows)


def month_seasons(
    *,
    span: DatePeriod,
    slots: Sequence[Sequence[Sequence[int]]],
    periods: Sequence[str],
    weekend_days: frozenset[int],
    holidays_as_weekend: bool,
) -> list[SeasonWindows]:
    """One season per calendar month of ``span`` (clipped), with the schedule's windows for
    each day type: the plain form metering's ``TouCalendar`` takes."""
    assert span.end is not None
    seasons: list[SeasonWindows] = []
    day = span.start
    while day < span.end:
        following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(following, span.end)
        table = slots[day.month - 1]
        weekday, weekend = windows_of(table[0], periods), windows_of(table[1], periods)
        seasons.append(
            SeasonWindows(
                DatePeriod(day, end),
                {
                    "weekday": weekday,
                    "saturday": weekend if 6 in weekend_days else weekday,
                    "sunday": weekend if 7 in weekend_days else weekday,
                    "holiday": weekend if holidays_as_weekend else weekday,
                },
            )
        )
        day = end
    return seasons


def covering(periods: Sequence[DatePeriod]) -> DatePeriod:
    """The smallest period covering all of ``periods`` (bounded)."""
    start = min(p.start for p in periods)
    ends = [p.end for p in periods if p.end is not None]
    return DatePeriod(start, max(ends) if ends else start + timedelta(days=1))


def days_between(start: date, end: date) -> int:
    return (end - start).days
