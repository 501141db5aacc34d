from datetime import date

import pytest

from ampere.accounts.calendars import holiday_calendar
from ampere.billing.dates import ScheduleEntry, WorkingCalendar, plan_schedule
from ampere.billing.models import CycleAssignment, CycleSchedule
from ampere.billing.operations import assign_cycle, create_cycle, set_cycle_schedule
from ampere.billing.queries import (
    CycleScheduleMissing,
    get_account_cycle_id,
    get_cycle_account_ids,
    get_cycle_id,
    get_cycles_billing_on,
    get_schedule,
    get_schedule_entry,
)
from ampere.core.errors import Conflict, InvalidInput
from ampere.core.periods import DatePeriod
from tests.factories.accounts import AccountFactory, UtilityFactory

pytestmark = pytest.mark.django_db

VN = WorkingCalendar(holidays=frozenset(holiday_calendar("vn", [2025])))


def month_end_cycle(utility_id: int, code: str = "HCM-31") -> int:
    cycle = create_cycle(utility_id=utility_id, code=code, name="Đọc cuối tháng")
    entries = plan_schedule(
        first_month=date(2025, 4, 1),
        months=3,
        reading_working_day=-1,
        bill_lag_working_days=1,
        calendar=VN,
    )
    assert set_cycle_schedule(cycle_id=cycle, entries=entries) == 3
    return cycle


def test_a_cycle_and_its_calendar():
    utility = UtilityFactory()
    cycle = month_end_cycle(utility.id)
    assert get_cycle_id(utility_id=utility.id, code="HCM-31") == cycle
    assert get_schedule_entry(cycle_id=cycle, month=date(2025, 5, 17)) == ScheduleEntry(
        date(2025, 5, 1), DatePeriod(date(2025, 4, 29), date(2025, 5, 30)), date(2025, 6, 2)
    )
    schedule = get_schedule(cycle_id=cycle, months=DatePeriod(date(2025, 5, 1), date(2025, 7, 1)))
    assert [e.month for e in schedule] == [date(2025, 5, 1), date(2025, 6, 1)]
    assert get_cycles_billing_on(utility_id=utility.id, bill_date=date(2025, 6, 2)) == [
        ("HCM-31", schedule[0])
    ]


def test_a_cycle_with_no_schedule_for_the_month_is_named():
    utility = UtilityFactory()
    cycle = month_end_cycle(utility.id)
    with pytest.raises(CycleScheduleMissing) as error:
        get_schedule_entry(cycle_id=cycle, month=date(2025, 9, 1))
    assert error.value.field == "cycle"
    assert error.value.message == "billing cycle 'HCM-31' has no schedule for 2025-09"


def test_schedule_rows_are_all_or_nothing():
    utility = UtilityFactory()
    cycle = month_end_cycle(utility.id)
    before = CycleSchedule.objects.count()
    july = ScheduleEntry(
        date(2025, 7, 1), DatePeriod(date(2025, 6, 30), date(2025, 7, 31)), date(2025, 8, 1)
    )
    # The second entry repeats June: July must not be written either.
    june = ScheduleEntry(
        date(2025, 6, 1), DatePeriod(date(2025, 5, 30), date(2025, 6, 30)), date(2025, 7, 1)
    )
    with pytest.raises(Conflict) as error:
        set_cycle_schedule(cycle_id=cycle, entries=[july, june])
    assert error.value.field == "entries[1]"
    assert CycleSchedule.objects.count() == before
    # A period that overlaps another month's is refused as well.
    overlapping = ScheduleEntry(
        date(2025, 8, 1), DatePeriod(date(2025, 6, 20), date(2025, 8, 29)), date(2025, 9, 1)
    )
    with pytest.raises(Conflict) as error:
        set_cycle_schedule(cycle_id=cycle, entries=[overlapping])
    assert error.value.field == "entries[0]"
    assert error.value.message.endswith("overlaps another month's")
    assert CycleSchedule.objects.count() == before


def test_accounts_move_between_cycles_over_half_open_periods():
    account = AccountFactory()
    first = month_end_cycle(account.utility_id, "C1")
    second = month_end_cycle(account.utility_id, "C2")
    one = assign_cycle(account_id=account.id, cycle_id=first, from_date=date(2025, 1, 1))
    assert assign_cycle(account_id=account.id, cycle_id=first, from_date=date(2025, 3, 1)) == one
    assign_cycle(account_id=account.id, cycle_id=second, from_date=date(2025, 6, 1))
    assert get_account_cycle_id(account_id=account.id, on_date=date(2025, 5, 31)) == first
    assert get_account_cycle_id(account_id=account.id, on_date=date(2025, 6, 1)) == second
    assert get_account_cycle_id(account_id=account.id, on_date=date(2024, 12, 31)) is None
    periods = sorted(
        (a.valid_period.lower, a.valid_period.upper)
        for a in CycleAssignment.objects.filter(account=account)
    )
    assert periods == [(date(2025, 1, 1), date(2025, 6, 1)), (date(2025, 6, 1), None)]


def test_cycle_assignment_refusals_change_nothing():
    account = AccountFactory()
    cycle = month_end_cycle(account.utility_id, "C1")
    later = month_end_cycle(account.utility_id, "C2")
    assign_cycle(account_id=account.id, cycle_id=cycle, from_date=date(2025, 6, 1))
    with pytest.raises(Conflict) as error:
        assign_cycle(account_id=account.id, cycle_id=later, from_date=date(2025, 1, 1))
    assert error.value.field == "from_date"
    with pytest.raises(Conflict) as error:
        assign_cycle(account_id=account.id, cycle_id=later, from_date=date(2025, 6, 1))
    assert error.value.field == "from_date"
    sce_cycle = month_end_cycle(UtilityFactory(code="sce").id, "SCE-01")
    with pytest.raises(InvalidInput) as invalid:
        assign_cycle(account_id=account.id, cycle_id=sce_cycle, from_date=date(2025, 7, 1))
    assert invalid.value.field == "cycle"
    assert list(CycleAssignment.objects.values_list("cycle_id", flat=True)) == [cycle]


def test_the_accounts_of_a_cycle_in_pages(django_assert_num_queries):
    utility = UtilityFactory()
    cycle = month_end_cycle(utility.id)
    accounts = sorted(AccountFactory(utility=utility).id for _ in range(5))
    for account_id in accounts:
        assign_cycle(account_id=account_id, cycle_id=cycle, from_date=date(2025, 1, 1))
    with django_assert_num_queries(1):
        first = get_cycle_account_ids(cycle_id=cycle, on_date=date(2025, 5, 1), limit=3)
    assert first == accounts[:3]
    assert (
        get_cycle_account_ids(cycle_id=cycle, on_date=date(2025, 5, 1), after_id=first[-1])
        == (accounts[3:])
    )
