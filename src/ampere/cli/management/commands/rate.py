"""ampere rate: the bill calculator on the command line."""

from __future__ import annotations

import csv
import json
from argparse import ArgumentParser
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.accounts.calendars import holiday_calendar
from ampere.core.errors import DomainError, InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating import queries
from ampere.rating.engine.model import IntervalUsage, RatingContext, RegisterUsage

PROGRAMS = ("care", "fera", "medical_baseline", "sdp", "life_support")


def _decimal(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(f"{text!r} is not a number", field=field) from None
    if not value.is_finite():
        raise InvalidInput(f"{text!r} is not a number", field=field)
    return value


def _pairs(text: str, field: str) -> tuple[tuple[str, Decimal], ...]:
    pairs: list[tuple[str, Decimal]] = []
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"{item!r} is not name=kWh", field=field)
        pairs.append((name.strip(), _decimal(value, f"{field}.{name.strip()}")))
    return tuple(pairs)


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date YYYY-MM-DD", field=field) from None


def _intervals(path: str, minutes: int) -> IntervalUsage:
    """A CSV file with a header ``start,kwh`` (ISO 8601 instants with their offset)."""
    starts: list[datetime] = []
    values: list[Decimal] = []
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    starts.append(datetime.fromisoformat(row["start"]))
                except (KeyError, TypeError, ValueError):
                    raise InvalidInput(
                        f"line {number}: start is not an ISO 8601 time", field="intervals"
                    ) from None
                values.append(_decimal(row.get("kwh") or "", f"intervals line {number}"))
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}", field="intervals") from None
    return IntervalUsage(starts=tuple(starts), kwh=tuple(values), minutes=minutes)


class Command(BaseCommand):
    help = (
        "Price usage on a tariff for a period, as the bill would (nothing is stored). "
        "Example: ampere rate --tariff EVN-RES --from 2025-06-01 --to 2025-07-01 --kwh 300"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--tariff", required=True, help="tariff code, e.g. EVN-RES")
        parser.add_argument("--from", dest="start", required=True, help="first day YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="reading date (exclusive)")
        usage = parser.add_mutually_exclusive_group(required=True)
        usage.add_argument("--kwh", help="total kWh of the period")
        usage.add_argument("--tou", help="kWh per register: peak=..,normal=..,offpeak=..")
        usage.add_argument("--intervals", help="CSV file start,kwh")
        parser.add_argument("--minutes", type=int, default=60, help="interval length")
        parser.add_argument("--max-kw", help="maximum demand, kW")
        parser.add_argument("--max-kw-by-period", help="maximum kW per period: peak=..")
        parser.add_argument("--households", default="1", help="households on the meter")
        parser.add_argument("--renters", type=int, help="renters: 4 persons = 1 household")
        parser.add_argument(
            "--short-lease", action="store_true", help="undeclared lease < 12 months"
        )
        parser.add_argument("--region", default="", help="SCE baseline region")
        parser.add_argument("--all-electric", action="store_true")
        parser.add_argument(
            "--program", action="append", default=[], choices=PROGRAMS, type=str.lower
        )
        parser.add_argument("--sdp-tons", default="0", help="A/C tons for SDP credits")
        parser.add_argument("--language", default="vi", choices=("vi", "en", "es"))
        parser.add_argument("--json", action="store_true", help="print the bill as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            bill = self._quote(options)
        except DomainError as error:
            raise CommandError(str(error)) from None
        plain = bill.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(plain, ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"{plain['tariff']}  {plain['from']} → {plain['to']}  ({plain['currency']})"
        )
        for line in [*plain["lines"], *plain["taxes"]]:
            self.stdout.write(
                f"  {line['description']:<60} {line['quantity']:>12} {line['unit']:<7} "
                f"× {line['unit_price']:>10} = {line['rounded']:>14}"
            )
        self.stdout.write(f"  {'Total':<60} {plain['total']:>56}")

    def _quote(self, options: dict[str, Any]) -> Any:
        start = _date(options["start"], "from")
        end = _date(options["end"], "to")
        if end <= start:
            raise InvalidInput("must be after --from", field="to")
        period = DatePeriod(start, end)
        if options["intervals"]:
            usage: RegisterUsage | IntervalUsage = _intervals(
                options["intervals"], options["minutes"]
            )
        else:
            usage = RegisterUsage(
                kwh=None if options["kwh"] is None else _decimal(options["kwh"], "kwh"),
                tou_kwh=_pairs(options["tou"], "tou") if options["tou"] else (),
                max_kw=None if options["max_kw"] is None else _decimal(options["max_kw"], "max_kw"),
                max_kw_by_period=_pairs(options["max_kw_by_period"], "max_kw_by_period")
                if options["max_kw_by_period"]
                else (),
            )
        norm = (
            _decimal(options["households"], "households")
            if options["renters"] is None
            else Decimal(options["renters"]) / 4
        )
        rule = queries.get_holiday_rule(tariff_code=options["tariff"], period=period)
        holidays = (
            frozenset(holiday_calendar(rule, range(start.year, end.year + 1)))
            if rule
            else frozenset()
        )
        return queries.quote(
            tariff_code=options["tariff"],
            period=period,
            usage=usage,
            context=RatingContext(
                household_norm=norm,
                short_lease_undeclared=options["short_lease"],
                baseline_region=options["region"],
                all_electric=options["all_electric"],
                programs=frozenset(options["program"]),
                sdp_tons=_decimal(options["sdp_tons"], "sdp_tons"),
            ),
            holidays=holidays,
            language=options["language"],
        )
