"""Pure date arithmetic of billing: working days, due dates, blackout windows, cycle calendars.

No Django here: queries load the utility's holidays, rule and windows, and these functions decide.
Weekdays are ISO numbers (Monday 1 … Sunday 7) so that data reads the same in SQL and Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from ampere.core.errors import DomainError, InvalidInput
from ampere.core.periods import DatePeriod

SATURDAY = 6
SUNDAY = 7
# A due date is never rolled further than this; beyond it the calendar data is wrong.
MAX_ROLL_DAYS = 366


class NoWorkingDay(DomainError):
    """Holidays, weekends and blackout windows leave no working day within a year."""

    code = "no-working-day"


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Which days are working days for a utility, and where no bill may fall due."""

    weekend_days: frozenset[int] = frozenset({SATURDAY, SUNDAY})
    holidays: frozenset[date] = frozenset()
    blackouts: tuple[DatePeriod, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.weekend_days <= frozenset(range(1, 8)):
            raise InvalidInput("weekend days are ISO weekdays 1..7", field="weekend_days")
        if len(self.weekend_days) == 7:
            raise InvalidInput("a week needs at least one working day", field="weekend_days")
        for index, window in enumerate(self.blackouts):
            if window.end is None:
                raise InvalidInput("a blackout window must end", field=f"blackouts[{index}]")

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() not in self.weekend_days and day not in self.holidays

    def blackout_on(self, day: date) -> DatePeriod | None:
        """The blackout window that holds ``day``, if any."""
        for window in self.blackouts:
            if window.contains(day):
                return window
        return None


@dataclass(frozen=True, slots=True)
class DueDateRule:
    """A utility's due-date rule: ``days_after`` calendar days after the bill (notice) date,
    then rolled forward to a working day outside every blackout window."""

    days_after: int

    def __post_init__(self) -> None:
        if not 0 <= self.days_after <= 120:
            raise InvalidInput("days after the bill date must be 0..120", field="days_after")


def first_due_day_on_or_after(day: date, calendar: WorkingCalendar) -> date:
    """The first day on or after ``day`` on which a bill may fall due: a working day outside
    every blackout window. A day inside a window moves to the first working day after it.

    Raises NoWorkingDay when none is found within a year (wrong calendar data).
    """
    candidate = day
    limit = day + timedelta(days=MAX_ROLL_DAYS)
    while candidate <= limit:
        window = calendar.blackout_on(candidate)
        if window is not None:
            assert window.end is not None
            candidate = window.end
            continue
        if calendar.is_working_day(candidate):
            return candidate
        candidate += timedelta(days=1)
    raise NoWorkingDay(f"no day a bill may fall due within a year of {day}", field="calendar")


def due_date_for(*, bill_date: date, rule: DueDateRule, calendar: WorkingCalendar) -> date:
    """The due date of a bill issued (noticed) on ``bill_date``.

    EVN: 7 days after the notice; SCE: past due 19 days after preparation. Raises NoWorkingDay.
    """
    return first_due_day_on_or_after(bill_date + timedelta(days=rule.days_after), calendar)


def horizon(*, bill_date: date, rule: DueDateRule, blackouts: Iterable[DatePeriod]) -> DatePeriod:
    """The days a due-date calculation may look at (to load holidays for): from the bill date
    to 31 days past the later of the nominal due date and the last window's end."""
    last = bill_date + timedelta(days=rule.days_after)
    for window in blackouts:
        if window.end is not None and window.end > last:
            last = window.end
    return DatePeriod(bill_date, last + timedelta(days=31))


def is_late_charge_allowed_on(day: date, blackouts: Sequence[DatePeriod]) -> bool:
    """No late charge accrues on a day inside a blackout window."""
    return not any(window.contains(day) for window in blackouts)


# --- cycle calendars ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One month of a cycle's calendar: the billing (reading) period and the bill date.

    ``period`` runs from the previous reading date to this reading date, half-open.
    """

    month: date
    period: DatePeriod
    bill_date: date

    def __post_init__(self) -> None:
        if self.month.day != 1:
            raise InvalidInput("a schedule month is given by its first day", field="month")
        if self.period.end is None or self.period.is_empty():
            raise InvalidInput("a billing period must have a start and an end", field="period")
        if self.bill_date < self.period.end:
            raise InvalidInput(
                f"the bill date {self.bill_date} is before the reading date {self.period.end}",
                field="bill_date",
            )

    @property
    def reading_date(self) -> date:
        assert self.period.end is not None
        return self.period.end


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def nth_working_day(*, month: date, n: int, calendar: WorkingCalendar) -> date:
    """The ``n``-th working day (1-based) of ``month``; ``n`` = -1 is the last one.

    Raises InvalidInput when the month has fewer working days.
    """
    first = _month_start(month.year, month.month)
    after = _month_start(month.year, month.month + 1)
    days = [d for d in DatePeriod(first, after).each_day() if calendar.is_working_day(d)]
    if n == 0 or n > len(days) or -n > len(days):
        raise InvalidInput(
            f"{first:%Y-%m} has {len(days)} working days, not a day number {n}", field="n"
        )
    return days[n - 1] if n > 0 else days[n]


def plan_schedule(
    *,
    first_month: date,
    months: int,
    reading_working_day: int,
    bill_lag_working_days: int,
    calendar: WorkingCalendar,
    previous_reading_date: date | None = None,
) -> list[ScheduleEntry]:
    """A cycle calendar read on the ``reading_working_day``-th working day of each month
    (-1: the last working day, as EVN HCMC reads at month end; SCE's cycles 1..21 read on the
    1st..21st working day) and billed ``bill_lag_working_days`` working days later.

    The first period starts at ``previous_reading_date`` (default: the reading date of the
    month before ``first_month`` by the same rule). Raises InvalidInput naming the argument.
    """
    if months < 1:
        raise InvalidInput("plan at least one month", field="months")
    if bill_lag_working_days < 0:
        raise InvalidInput("the bill lag cannot be negative", field="bill_lag_working_days")
    start_month = _month_start(first_month.year, first_month.month)
    if previous_reading_date is None:
        before = _month_start(start_month.year, start_month.month - 1)
        previous_reading_date = nth_working_day(
            month=before, n=reading_working_day, calendar=calendar
        )
    entries: list[ScheduleEntry] = []
    last = previous_reading_date
    for offset in range(months):
        month = _month_start(start_month.year, start_month.month + offset)
        reading = nth_working_day(month=month, n=reading_working_day, calendar=calendar)
        if reading <= last:
            raise InvalidInput(
                f"the reading date {reading} is not after the previous one {last}",
                field="previous_reading_date",
            )
        bill_date = reading
        for _ in range(bill_lag_working_days):
            bill_date += timedelta(days=1)
            while not calendar.is_working_day(bill_date):
                bill_date += timedelta(days=1)
        entries.append(ScheduleEntry(month, DatePeriod(last, reading), bill_date))
        last = reading
    return entries
