"""Amounts, numbers, dates and times in a person's locale (Babel); no Django here.

The locale is the person's language with the utility's country where Babel knows that pair
(``vi`` + VN → ``vi_VN``, ``es`` + US → ``es_US``, ``en`` + US → ``en_US``), else the language
alone (``es`` for a Spanish reader of EVN, ``en`` for an English reader of EVN). So formats
follow data (the language and the utility's country), never a currency test. The number of
decimals is the currency's own (ISO 4217 through Babel's data: đồng none, dollars two).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_interval, get_datetime_format, get_timezone_name
from babel.dates import format_time as babel_format_time
from babel.localedata import exists
from babel.numbers import format_currency, format_decimal

from ampere.core.money import Money
from ampere.core.periods import DatePeriod

# The country of the utility whose data a person reads (set per request by the web middleware).
region: ContextVar[str] = ContextVar("ampere_region", default="")


@lru_cache(maxsize=64)
def locale_for(language: str, country: str = "") -> str:
    """The Babel locale for ``language`` read in ``country`` (see the module's docstring)."""
    language = (language or "en").split("-")[0].lower()
    if country and exists(f"{language}_{country.upper()}"):
        return f"{language}_{country.upper()}"
    return language if exists(language) else "en"


def money(value: Money, *, locale: str) -> str:
    """``value`` with its currency symbol, its currency's decimals, grouped as in ``locale``."""
    return format_currency(value.amount, value.currency.code, locale=locale)


def number(value: Decimal | int, *, locale: str, decimals: int | None = None) -> str:
    """A number grouped as in ``locale``; ``decimals`` fixes the places shown."""
    if decimals is None:
        return format_decimal(value, locale=locale)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=locale, decimal_quantization=True)


def local_date(value: date | datetime, *, locale: str, tz: tzinfo | None = None) -> str:
    """A calendar date (``medium``: "Mar 12, 2026", "12 thg 3, 2026"); an aware instant is
    first turned into ``tz``."""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date() if tz is not None else value.date()
    return babel_format_date(value, format="medium", locale=locale)


def long_date(value: date | datetime, *, locale: str, tz: tzinfo | None = None) -> str:
    """A date with its weekday ("Thursday, March 12, 2026")."""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date() if tz is not None else value.date()
    return babel_format_date(value, format="full", locale=locale)


def date_range(period: DatePeriod, *, locale: str) -> str:
    """A half-open period of dates as people read it, with its last day included
    ("Mar 1 – 31, 2026"); an open period from its first day ("from Mar 1, 2026" is the
    caller's wording: here just the first day)."""
    if period.end is None:
        return babel_format_date(period.start, format="medium", locale=locale)
    last = period.end - timedelta(days=1)
    if last <= period.start:
        return babel_format_date(period.start, format="medium", locale=locale)
    return str(format_interval(period.start, last, "yMMMd", locale=locale))


def local_datetime(value: datetime, *, locale: str, tz: tzinfo) -> str:
    """An instant as the date and the hour and minute in ``tz`` ("Mar 12, 2026, 3:04 PM")."""
    at = value.astimezone(tz)
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace(
        "{1}", babel_format_date(at.date(), format="medium", locale=locale)
    ).replace("{0}", babel_format_time(at, format="short", locale=locale))


def local_time(value: datetime, *, locale: str, tz: tzinfo) -> str:
    """The hour and minute of an instant in ``tz``."""
    return babel_format_time(value.astimezone(tz), format="short", locale=locale)


def zone_name(tz: tzinfo, *, locale: str, at: datetime) -> str:
    """The zone's name at the instant ``at`` ("Indochina Time", "Pacific Daylight Time")."""
    return str(get_timezone_name(at.astimezone(tz), width="long", locale=locale))


def language_name(code: str) -> str:
    """A language's own name ("Tiếng Việt", "English", "Español")."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]
