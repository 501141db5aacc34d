"""Half-open periods ``[start, end)`` of dates and of timezone-aware instants.

``end=None`` means the period is open (runs on without an end).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from ampere.core.errors import InvalidInput


@dataclass(frozen=True, slots=True, order=True)
class DatePeriod:
    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime) or isinstance(self.end, datetime):
            raise TypeError("DatePeriod takes dates; use DateTimePeriod for instants")
        if self.end is not None and self.end < self.start:
            raise InvalidInput(
                f"period ends ({self.end}) before it starts ({self.start})", field="end"
            )

    @property
    def is_open(self) -> bool:
        return self.end is None

    @property
    def days(self) -> int:
        if self.end is None:
            raise InvalidInput("an open period has no length", field="end")
        return (self.end - self.start).days

    def is_empty(self) -> bool:
        return self.end is not None and self.end == self.start

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.contains(day)

    def overlaps(self, other: DatePeriod) -> bool:
        return (other.end is None or self.start < other.end) and (
            self.end is None or other.start < self.end
        )

    def intersection(self, other: DatePeriod) -> DatePeriod | None:
        start = max(self.start, other.start)
        ends = [e for e in (self.end, other.end) if e is not None]
        end = min(ends) if ends else None
        if end is not None and end <= start:
            return None
        return DatePeriod(start, end)

    def split_at(self, points: Iterable[date]) -> list[DatePeriod]:
        """Split at each point strictly inside the period; the parts cover it exactly."""
        inner = sorted({p for p in points if self.start < p and (self.end is None or p < self.end)})
        bounds: list[date | None] = [self.start, *inner, self.end]
        parts: list[DatePeriod] = []
        for lo, hi in pairwise(bounds):
            assert lo is not None
            parts.append(DatePeriod(lo, hi))
        return parts

    def each_day(self) -> Iterator[date]:
        if self.end is None:
            raise InvalidInput("cannot enumerate the days of an open period", field="end")
        day = self.start
        while day < self.end:
            yield day
            day += timedelta(days=1)

    def inclusive_end(self) -> date | None:
        """The last day, as people say it ("1 to 31 May"); only for display."""
        return None if self.end is None else self.end - timedelta(days=1)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat() if self.end else '…'})"


def _require_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInput("a time must carry its time zone", field=field)


@dataclass(frozen=True, slots=True)
class DateTimePeriod:
    """Instants are kept in UTC: Python compares and subtracts two datetimes of one zone by wall
    clock, which is wrong across a daylight-saving change."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start, "start")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        if self.end is not None:
            _require_aware(self.end, "end")
            object.__setattr__(self, "end", self.end.astimezone(UTC))
            if self.end < self.start:
                raise InvalidInput(
                    f"period ends ({self.end.isoformat()}) before it starts "
                    f"({self.start.isoformat()})",
                    field="end",
                )

    @property
    def duration(self) -> timedelta:
        if self.end is None:
            raise InvalidInput("an open period has no length", field="end")
        return self.end - self.start

    def contains(self, at: datetime) -> bool:
        _require_aware(at, "at")
        at = at.astimezone(UTC)
        return self.start <= at and (self.end is None or at < self.end)

    def overlaps(self, other: DateTimePeriod) -> bool:
        return (other.end is None or self.start < other.end) and (
            self.end is None or other.start < self.end
        )

    def intersection(self, other: DateTimePeriod) -> DateTimePeriod | None:
        start = max(self.start, other.start)
        ends = [e for e in (self.end, other.end) if e is not None]
        end = min(ends) if ends else None
        if end is not None and end <= start:
            return None
        return DateTimePeriod(start, end)
