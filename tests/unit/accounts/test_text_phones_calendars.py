from datetime import date
from decimal import Decimal

import pytest

from ampere.accounts.calendars import holiday_calendar
from ampere.accounts.phones import InvalidPhone, to_e164
from ampere.accounts.text import search_key
from ampere.accounts.types import household_norm


def test_search_key_drops_diacritics_and_case():
    assert search_key("  Nguyễn   Đức Thắng ") == "nguyen duc thang"
    assert search_key("José Muñoz") == "jose munoz"


def test_phones_become_e164_for_the_utility_country():
    assert to_e164("0903 123 456", country_code="VN") == "+84903123456"
    assert to_e164("(562) 234-5678", country_code="us") == "+15622345678"


def test_malformed_phone_names_the_field():
    with pytest.raises(InvalidPhone) as error:
        to_e164("12345", country_code="VN", field="customer.phones[1]")
    assert error.value.field == "customer.phones[1]"
    with pytest.raises(InvalidPhone, match="not a phone number"):
        to_e164("call me", country_code="VN")


def test_sce_tou_holidays_observe_sunday_on_monday_only():
    days = holiday_calendar("sce-tou", [2023, 2026])
    assert days[date(2023, 1, 2)] == "New Year's Day (observed)"
    assert date(2026, 7, 4) in days  # Saturday: not moved
    assert date(2026, 7, 3) not in days
    assert days[date(2026, 2, 16)] == "Washington's Birthday"
    assert date(2026, 1, 19) not in days  # Martin Luther King Jr. Day is not a TOU holiday
    assert len([d for d in days if d.year == 2026]) == 8


def test_vietnamese_calendar_has_national_day_and_tet():
    days = holiday_calendar("vn", [2026])
    assert date(2026, 9, 2) in days
    assert date(2026, 2, 17) in days  # Tết Nguyên Đán 2026


def test_renters_count_four_persons_per_household():
    assert household_norm(Decimal(1), 3) == Decimal("0.75")
    assert household_norm(Decimal(2), None) == Decimal(2)
