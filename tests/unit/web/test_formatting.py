from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ampere.core.money import Money
from ampere.core.periods import DatePeriod
from ampere.web import formatting
from ampere.web.formatting import locale_for

NBSP = "\xa0"
THIN = "\u2009"
HCMC = ZoneInfo("Asia/Ho_Chi_Minh")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("vi", "VN", "vi_VN"),
        ("en", "VN", "en"),
        ("es", "VN", "es"),
        ("en", "US", "en_US"),
        ("es", "US", "es_US"),
        ("vi", "US", "vi"),
        ("en", "", "en"),
        ("xx", "VN", "en"),
    ],
)
def test_the_locale_is_the_language_in_the_utility_country_where_babel_knows_it(
    language, country, expected
):
    assert locale_for(language, country) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("vi_VN", f"318.082{NBSP}₫"), ("en", "₫318,082"), ("es", f"318.082{NBSP}₫")],
)
def test_dong_have_no_decimals(locale, expected):
    assert formatting.money(Money.of(Decimal("318082.00"), "VND"), locale=locale) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en_US", "$1,234.50"), ("es_US", "$1,234.50"), ("es", f"1.234,50{NBSP}US$")],
)
def test_dollars_have_cents(locale, expected):
    assert formatting.money(Money.of(Decimal("1234.5"), "USD"), locale=locale) == expected


def test_a_negative_balance_keeps_its_sign():
    assert formatting.money(Money.of(Decimal("-25.10"), "USD"), locale="en_US") == "-$25.10"


@pytest.mark.parametrize(
    ("locale", "decimals", "expected"),
    [
        ("vi_VN", None, "1.234.567,5"),
        ("en_US", None, "1,234,567.5"),
        ("es_US", 2, "1,234,567.50"),
        ("vi_VN", 0, "1.234.568"),
        ("es", 3, "1.234.567,500"),
    ],
)
def test_numbers(locale, decimals, expected):
    assert formatting.number(Decimal("1234567.5"), locale=locale, decimals=decimals) == expected


AT = datetime(2026, 3, 12, 20, 4, tzinfo=UTC)  # 03:04 on the 13th in Ho Chi Minh City


@pytest.mark.parametrize(
    ("locale", "tz", "expected"),
    [
        ("vi_VN", HCMC, "13 thg 3, 2026"),
        ("en", HCMC, "Mar 13, 2026"),
        ("en_US", LOS_ANGELES, "Mar 12, 2026"),
        ("es_US", LOS_ANGELES, "12 mar 2026"),
    ],
)
def test_an_instant_is_dated_in_the_utility_zone(locale, tz, expected):
    assert formatting.local_date(AT, locale=locale, tz=tz) == expected


@pytest.mark.parametrize(
    ("locale", "tz", "expected"),
    [
        ("vi_VN", HCMC, "03:04 13 thg 3, 2026"),
        ("en", HCMC, "Mar 13, 2026, 3:04\u202fAM"),
        ("en_US", LOS_ANGELES, "Mar 12, 2026, 1:04\u202fPM"),
        ("es", HCMC, "13 mar 2026, 3:04"),
        ("es_US", LOS_ANGELES, "12 mar 2026, 1:04\u202fp.m."),
    ],
)
def test_local_datetime(locale, tz, expected):
    assert formatting.local_datetime(AT, locale=locale, tz=tz) == expected


def test_a_date_is_shown_as_given():
    assert formatting.local_date(date(2026, 1, 31), locale="vi_VN") == "31 thg 1, 2026"
    assert formatting.long_date(date(2026, 1, 31), locale="es") == "sábado, 31 de enero de 2026"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("vi_VN", f"15 thg 2{THIN}–{THIN}14 thg 3, 2026"),
        ("en_US", f"Feb 15{THIN}–{THIN}Mar 14, 2026"),
        ("es", f"15 feb{THIN}–{THIN}14 mar 2026"),
    ],
)
def test_a_half_open_period_is_shown_with_its_last_day(locale, expected):
    period = DatePeriod(date(2026, 2, 15), date(2026, 3, 15))
    assert formatting.date_range(period, locale=locale) == expected


def test_a_one_day_period_is_one_date():
    period = DatePeriod(date(2026, 2, 15), date(2026, 2, 16))
    assert formatting.date_range(period, locale="en_US") == "Feb 15, 2026"


def test_zone_names_follow_the_season():
    summer = datetime(2026, 7, 1, tzinfo=UTC)
    winter = datetime(2026, 1, 1, tzinfo=UTC)
    assert formatting.zone_name(LOS_ANGELES, locale="en_US", at=summer) == "Pacific Daylight Time"
    assert formatting.zone_name(LOS_ANGELES, locale="en_US", at=winter) == "Pacific Standard Time"
    assert formatting.zone_name(HCMC, locale="vi_VN", at=winter) == "Giờ Đông Dương"


def test_language_names_are_their_own():
    assert [formatting.language_name(c) for c in ("vi", "en", "es")] == [
        "Tiếng Việt",
        "English",
        "Español",
    ]
