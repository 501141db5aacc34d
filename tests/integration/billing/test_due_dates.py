from datetime import UTC, date, datetime
from typing import Any

import pytest

from ampere.billing.models import BlackoutWindow
from ampere.billing.operations import cancel_blackout, declare_blackout, set_due_date_rule
from ampere.billing.queries import (
    DueDateRuleMissing,
    HolidayCalendarMissing,
    get_due_date,
    get_effective_due_date,
    is_late_charge_allowed,
)
from ampere.core.errors import Conflict, DomainError, InvalidInput
from ampere.core.periods import DatePeriod
from tests.factories.accounts import UtilityFactory
from tests.factories.billing import billing_utility

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
CONVERSION = DatePeriod(date(2025, 3, 30), date(2025, 4, 7))


def test_evn_due_dates_from_the_holiday_table():
    evn = billing_utility("evn-hcmc")
    assert get_due_date(utility_id=evn, bill_date=date(2025, 6, 2)) == date(2025, 6, 9)
    assert get_due_date(utility_id=evn, bill_date=date(2025, 4, 23)) == date(2025, 5, 5)


def test_sce_due_date_moves_off_thanksgiving():
    sce = billing_utility("sce")
    assert get_due_date(utility_id=sce, bill_date=date(2025, 11, 8)) == date(2025, 11, 28)


def test_a_declared_blackout_moves_due_dates_and_stops_late_charges_until_cancelled():
    evn = billing_utility("evn-hcmc")
    window = declare_blackout(
        utility_id=evn,
        period=CONVERSION,
        reason="Chuyển đổi hệ thống CMIS",
        declared_by="ops",
        now=NOW,
    )
    assert get_due_date(utility_id=evn, bill_date=date(2025, 3, 26)) == date(2025, 4, 8)
    assert not is_late_charge_allowed(utility_id=evn, on_date=date(2025, 3, 30))
    assert not is_late_charge_allowed(utility_id=evn, on_date=date(2025, 4, 6))
    assert is_late_charge_allowed(utility_id=evn, on_date=date(2025, 4, 7))
    # A due date stored before the window was declared is read as moved out of it.
    assert get_effective_due_date(utility_id=evn, due_date=date(2025, 4, 2)) == date(2025, 4, 8)
    assert get_effective_due_date(utility_id=evn, due_date=date(2025, 3, 28)) == date(2025, 3, 28)

    cancel_blackout(window_id=window, cancelled_by="ops", now=NOW)
    assert get_due_date(utility_id=evn, bill_date=date(2025, 3, 26)) == date(2025, 4, 2)
    assert is_late_charge_allowed(utility_id=evn, on_date=date(2025, 4, 1))
    row = BlackoutWindow.objects.get(id=window)
    assert (row.cancelled_by, row.cancelled_at, row.declared_by) == ("ops", NOW, "ops")
    with pytest.raises(Conflict) as error:
        cancel_blackout(window_id=window, cancelled_by="ops", now=NOW)
    assert error.value.field == "window"


def test_blackout_refusals_change_nothing():
    evn = billing_utility("evn-hcmc")
    declare_blackout(
        utility_id=evn, period=CONVERSION, reason="conversion", declared_by="ops", now=NOW
    )
    cases: list[tuple[dict[str, Any], type[DomainError], str]] = [
        ({"period": DatePeriod(date(2025, 4, 6), date(2025, 4, 9))}, Conflict, "period"),
        ({"period": DatePeriod(date(2025, 5, 1))}, InvalidInput, "period"),
        ({"period": DatePeriod(date(2025, 5, 1), date(2025, 5, 1))}, InvalidInput, "period"),
        ({"reason": "  "}, InvalidInput, "reason"),
        ({"declared_by": ""}, InvalidInput, "declared_by"),
    ]
    for changes, kind, field in cases:
        arguments: dict[str, Any] = {
            "utility_id": evn,
            "period": DatePeriod(date(2025, 5, 1), date(2025, 5, 3)),
            "reason": "x",
            "declared_by": "ops",
            "now": NOW,
            **changes,
        }
        with pytest.raises(kind) as error:
            declare_blackout(**arguments)
        assert error.value.field == field
    assert BlackoutWindow.objects.count() == 1
    # Windows that touch (end = start) do not overlap.
    declare_blackout(
        utility_id=evn,
        period=DatePeriod(date(2025, 4, 7), date(2025, 4, 9)),
        reason="more",
        declared_by="ops",
        now=NOW,
    )
    assert get_due_date(utility_id=evn, bill_date=date(2025, 3, 26)) == date(2025, 4, 9)


def test_missing_rule_and_missing_holidays_are_named():
    bare = UtilityFactory(code="evn-spc")
    with pytest.raises(DueDateRuleMissing) as error:
        get_due_date(utility_id=bare.id, bill_date=date(2025, 6, 2))
    assert error.value.field == "due_date_rule"
    set_due_date_rule(utility_id=bare.id, valid_from=date(2025, 1, 1), days_after_bill_date=7)
    with pytest.raises(HolidayCalendarMissing) as no_holidays:
        get_due_date(utility_id=bare.id, bill_date=date(2025, 6, 2))
    assert no_holidays.value.field == "holidays"
    assert no_holidays.value.message == f"utility {bare.id} has no holidays loaded for 2025"


def test_a_new_rule_takes_over_from_its_first_day():
    evn = billing_utility("evn-hcmc")
    set_due_date_rule(
        utility_id=evn, valid_from=date(2025, 7, 1), days_after_bill_date=10, description="10 days"
    )
    assert get_due_date(utility_id=evn, bill_date=date(2025, 6, 30)) == date(2025, 7, 7)
    assert get_due_date(utility_id=evn, bill_date=date(2025, 7, 1)) == date(2025, 7, 11)
    with pytest.raises(Conflict) as error:
        set_due_date_rule(utility_id=evn, valid_from=date(2025, 6, 1), days_after_bill_date=5)
    assert error.value.field == "valid_from"
    with pytest.raises(InvalidInput) as invalid:
        set_due_date_rule(
            utility_id=evn, valid_from=date(2025, 9, 1), days_after_bill_date=5, weekend_days=[0]
        )
    assert invalid.value.field == "weekend_days"
