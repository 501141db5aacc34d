"""Local time of a utility: dates, midnights and days that are 23 or 25 hours long."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod, DateTimePeriod


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raises InvalidInput for an unknown zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", field="time_zone") from None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz`` (aware)."""
    # Midnight exists in every zone we serve; build it in UTC arithmetic to be safe across DST.
    naive = datetime.combine(day, time(0))
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def local_date(at: datetime, tz: ZoneInfo) -> date:
    """The calendar date of the instant ``at`` in ``tz``."""
    if at.tzinfo is None:
        raise InvalidInput("a time must carry its time zone", field="at")
    return at.astimezone(tz).date()


def day_period(day: date, tz: ZoneInfo) -> DateTimePeriod:
    """The local day as a half-open period of instants (23, 24 or 25 hours long)."""
    return DateTimePeriod(local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))


def instants_of(period: DatePeriod, tz: ZoneInfo) -> DateTimePeriod:
    """A period of local dates as the instants it covers."""
    return DateTimePeriod(
        local_midnight(period.start, tz),
        None if period.end is None else local_midnight(period.end, tz),
    )


def intervals_in_day(day: date, tz: ZoneInfo, minutes: int) -> int:
    """How many intervals of ``minutes`` a local day holds (92, 96 or 100 quarter-hours)."""
    if minutes <= 0 or (24 * 60) % minutes:
        raise InvalidInput("interval length must divide a day", field="minutes")
    span = day_period(day, tz).duration
    return int(span.total_seconds()) // (minutes * 60)


def interval_starts(day: date, tz: ZoneInfo, minutes: int) -> Iterator[datetime]:
    """The start instant of each interval of the local day, in local time (aware)."""
    period = day_period(day, tz)
    assert period.end is not None
    step = timedelta(minutes=minutes)
    at = period.start.astimezone(UTC)
    end = period.end.astimezone(UTC)
    while at < end:
        yield at.astimezone(tz)
        at += step
