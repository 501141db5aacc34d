from datetime import date

import pytest

from ampere.accounts.calendars import holiday_calendar
from ampere.billing.dates import (
    DueDateRule,
    NoWorkingDay,
    ScheduleEntry,
    WorkingCalendar,
    due_date_for,
    first_due_day_on_or_after,
    horizon,
    is_late_charge_allowed_on,
    nth_working_day,
    plan_schedule,
)
from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod

VN_HOLIDAYS = frozenset(holiday_calendar("vn", [2025, 2026]))
SCE_HOLIDAYS = frozenset(holiday_calendar("sce-tou", [2025, 2026]))
EVN = DueDateRule(7)
SCE = DueDateRule(19)
# The system conversion of the issue: 30 March to 6 April, inclusive, as people say it.
CONVERSION = DatePeriod(date(2025, 3, 30), date(2025, 4, 7))


def vn(*blackouts: DatePeriod) -> WorkingCalendar:
    return WorkingCalendar(holidays=VN_HOLIDAYS, blackouts=blackouts)


def test_evn_due_seven_days_after_the_notice_on_a_working_day():
    # Monday 2 June 2025 + 7 = Monday 9 June.
    assert due_date_for(bill_date=date(2025, 6, 2), rule=EVN, calendar=vn()) == date(2025, 6, 9)


def test_evn_due_date_moves_off_the_reunification_holidays_and_the_weekend():
    # Wed 23 April + 7 = Wed 30 April (Victory day), 1 May (Labour day), 2 May (day off in lieu
    # of Saturday 26 April), 3–4 May weekend: due Monday 5 May 2025.
    assert due_date_for(bill_date=date(2025, 4, 23), rule=EVN, calendar=vn()) == date(2025, 5, 5)


def test_evn_due_date_moves_off_tet():
    # Mon 20 Jan 2025 + 7 = Mon 27 Jan (29 Tết); Tết runs to Sat 1 Feb, Sunday 2 Feb: due 3 Feb.
    assert due_date_for(bill_date=date(2025, 1, 20), rule=EVN, calendar=vn()) == date(2025, 2, 3)


def test_sce_past_due_19_days_after_preparation_moves_off_thanksgiving():
    calendar = WorkingCalendar(holidays=SCE_HOLIDAYS)
    # Sat 8 Nov 2025 + 19 = Thu 27 Nov, Thanksgiving: due Friday 28 Nov.
    assert due_date_for(bill_date=date(2025, 11, 8), rule=SCE, calendar=calendar) == date(
        2025, 11, 28
    )
    # Mon 2 June + 19 = Sat 21 June: due Monday 23 June.
    assert due_date_for(bill_date=date(2025, 6, 2), rule=SCE, calendar=calendar) == date(
        2025, 6, 23
    )


def test_a_due_date_inside_a_blackout_moves_to_the_first_working_day_after_it():
    # Wed 26 March + 7 = Wed 2 April, inside the conversion window; the first day after it,
    # Monday 7 April, is Hùng Kings' day (Giỗ Tổ Hùng Vương): due Tuesday 8 April 2025.
    calendar = vn(CONVERSION)
    assert due_date_for(bill_date=date(2025, 3, 26), rule=EVN, calendar=calendar) == date(
        2025, 4, 8
    )
    # The window's first day is inside it, the day after its last day is not.
    assert first_due_day_on_or_after(date(2025, 3, 30), calendar) == date(2025, 4, 8)
    assert first_due_day_on_or_after(date(2025, 3, 28), calendar) == date(2025, 3, 28)
    # Without the window the same bill falls due on 2 April.
    assert due_date_for(bill_date=date(2025, 3, 26), rule=EVN, calendar=vn()) == date(2025, 4, 2)


def test_adjacent_windows_are_crossed_one_after_the_other():
    second = DatePeriod(date(2025, 4, 8), date(2025, 4, 10))
    calendar = vn(CONVERSION, second)
    assert first_due_day_on_or_after(date(2025, 4, 1), calendar) == date(2025, 4, 10)


def test_no_working_day_within_a_year_is_an_error_naming_the_calendar():
    calendar = WorkingCalendar(blackouts=(DatePeriod(date(2025, 1, 1), date(2026, 6, 1)),))
    with pytest.raises(NoWorkingDay) as error:
        first_due_day_on_or_after(date(2025, 1, 1), calendar)
    assert error.value.field == "calendar"


def test_calendar_refuses_open_windows_and_a_week_without_working_days():
    with pytest.raises(InvalidInput) as error:
        WorkingCalendar(blackouts=(DatePeriod(date(2025, 1, 1)),))
    assert error.value.field == "blackouts[0]"
    with pytest.raises(InvalidInput) as error:
        WorkingCalendar(weekend_days=frozenset(range(1, 8)))
    assert error.value.field == "weekend_days"
    with pytest.raises(InvalidInput) as error:
        DueDateRule(121)
    assert error.value.field == "days_after"


def test_late_charges_do_not_accrue_inside_a_window():
    assert not is_late_charge_allowed_on(date(2025, 3, 30), [CONVERSION])
    assert not is_late_charge_allowed_on(date(2025, 4, 6), [CONVERSION])
    assert is_late_charge_allowed_on(date(2025, 4, 7), [CONVERSION])
    assert is_late_charge_allowed_on(date(2025, 3, 29), [CONVERSION])
    assert is_late_charge_allowed_on(date(2025, 4, 2), [])


def test_horizon_reaches_past_the_last_window():
    assert horizon(bill_date=date(2025, 3, 26), rule=EVN, blackouts=[CONVERSION]) == DatePeriod(
        date(2025, 3, 26), date(2025, 5, 8)
    )
    assert horizon(bill_date=date(2025, 6, 2), rule=SCE, blackouts=[]) == DatePeriod(
        date(2025, 6, 2), date(2025, 7, 22)
    )


def test_nth_working_day():
    calendar = vn()
    assert nth_working_day(month=date(2025, 4, 15), n=1, calendar=calendar) == date(2025, 4, 1)
    # April 2025 ends Wednesday 30th, a holiday: the last working day is Tuesday 29th.
    assert nth_working_day(month=date(2025, 4, 1), n=-1, calendar=calendar) == date(2025, 4, 29)
    # 7 April is a holiday, so the 5th working day of April is the 8th.
    assert nth_working_day(month=date(2025, 4, 1), n=5, calendar=calendar) == date(2025, 4, 8)
    with pytest.raises(InvalidInput) as error:
        nth_working_day(month=date(2025, 2, 1), n=23, calendar=calendar)
    assert error.value.field == "n"


def test_plan_an_evn_month_end_cycle():
    entries = plan_schedule(
        first_month=date(2025, 4, 1),
        months=3,
        reading_working_day=-1,
        bill_lag_working_days=1,
        calendar=vn(),
    )
    assert entries == [
        # March ends Monday 31st; April's last working day is 29th; bill the next working day,
        # skipping 30 April – 4 May.
        ScheduleEntry(
            date(2025, 4, 1), DatePeriod(date(2025, 3, 31), date(2025, 4, 29)), date(2025, 5, 5)
        ),
        ScheduleEntry(
            date(2025, 5, 1), DatePeriod(date(2025, 4, 29), date(2025, 5, 30)), date(2025, 6, 2)
        ),
        ScheduleEntry(
            date(2025, 6, 1), DatePeriod(date(2025, 5, 30), date(2025, 6, 30)), date(2025, 7, 1)
        ),
    ]
    assert entries[0].reading_date == date(2025, 4, 29)


def test_plan_an_sce_cycle_on_the_third_working_day():
    calendar = WorkingCalendar(holidays=SCE_HOLIDAYS)
    entries = plan_schedule(
        first_month=date(2025, 7, 1),
        months=2,
        reading_working_day=3,
        bill_lag_working_days=0,
        calendar=calendar,
        previous_reading_date=date(2025, 6, 4),
    )
    # July: 1 Tue, 2 Wed, 3 Thu (4th is Independence Day); August: 1 Fri, 4 Mon, 5 Tue.
    assert [(e.period, e.bill_date) for e in entries] == [
        (DatePeriod(date(2025, 6, 4), date(2025, 7, 3)), date(2025, 7, 3)),
        (DatePeriod(date(2025, 7, 3), date(2025, 8, 5)), date(2025, 8, 5)),
    ]


def test_schedule_entries_refuse_bad_input_by_name():
    with pytest.raises(InvalidInput) as error:
        ScheduleEntry(
            date(2025, 5, 2), DatePeriod(date(2025, 4, 1), date(2025, 5, 1)), date(2025, 5, 2)
        )
    assert error.value.field == "month"
    with pytest.raises(InvalidInput) as error:
        ScheduleEntry(
            date(2025, 5, 1), DatePeriod(date(2025, 4, 1), date(2025, 5, 1)), date(2025, 4, 30)
        )
    assert error.value.field == "bill_date"
    with pytest.raises(InvalidInput) as error:
        ScheduleEntry(date(2025, 5, 1), DatePeriod(date(2025, 4, 1)), date(2025, 5, 2))
    assert error.value.field == "period"
    with pytest.raises(InvalidInput) as error:
        plan_schedule(
            first_month=date(2025, 5, 1),
            months=0,
            reading_working_day=1,
            bill_lag_working_days=0,
            calendar=vn(),
        )
    assert error.value.field == "months"
    with pytest.raises(InvalidInput) as error:
        plan_schedule(
            first_month=date(2025, 5, 1),
            months=1,
            reading_working_day=1,
            bill_lag_working_days=0,
            calendar=vn(),
            previous_reading_date=date(2025, 5, 20),
        )
    assert error.value.field == "previous_reading_date"
