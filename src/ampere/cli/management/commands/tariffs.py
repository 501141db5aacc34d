"""ampere tariffs load | import-urdb | list: the tariff catalogue."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.core.errors import DomainError, InvalidInput
from ampere.rating import operations, queries


def _date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date YYYY-MM-DD", field=field) from None


class Command(BaseCommand):
    help = "The tariff catalogue: load the shipped tariffs, import a URDB rate, list tariffs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("load", help="load the shipped tariffs, versions and tax rates")
        listing = commands.add_parser("list", help="list tariffs and their versions")
        listing.add_argument("--utility", help="tariff owner code, e.g. evn or sce")
        importing = commands.add_parser("import-urdb", help="import an OpenEI URDB rate (JSON)")
        importing.add_argument("file", help="URDB JSON file (a rate or an API answer)")
        importing.add_argument("--tariff", required=True, help="tariff code to create or extend")
        importing.add_argument("--utility", required=True, help="tariff owner code, e.g. sce")
        importing.add_argument("--name", help="tariff name (default: the rate's name)")
        importing.add_argument("--class", dest="customer_class", default="commercial")
        importing.add_argument("--from", dest="start", help="first day (default: startdate)")
        importing.add_argument("--to", dest="end", help="end, exclusive (default: enddate)")
        importing.add_argument("--time-zone", default="America/Los_Angeles")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except DomainError as error:
            raise CommandError(str(error)) from None

    def _load(self, options: dict[str, Any]) -> None:
        report = operations.load_shipped_tariffs()
        self.stdout.write(
            f"tariffs: {report.tariffs_created} created, {report.tariffs_updated} kept; "
            f"versions: {report.versions_created} created, {report.versions_unchanged} unchanged; "
            f"tax rates: {report.tax_rates_created} created, {report.tax_rates_unchanged} unchanged"
        )

    def _list(self, options: dict[str, Any]) -> None:
        for head in queries.list_tariff_heads(utility_code=options["utility"]):
            self.stdout.write(f"{head.code:<20} {head.utility_code:<5} {head.name}")
            for version in queries.list_versions(tariff_code=head.code):
                self.stdout.write(f"    {version.period}  {version.instrument}")

    def _import_urdb(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise InvalidInput(f"cannot read {path}: {error.strerror}", field="file") from None
        except json.JSONDecodeError as error:
            raise InvalidInput(f"{path} is not JSON: {error}", field="file") from None
        report = operations.import_urdb_rate(
            record=record,
            tariff_code=options["tariff"],
            name=options["name"],
            utility_code=options["utility"],
            customer_class=options["customer_class"],
            effective_from=_date(options["start"], "from"),
            effective_to=_date(options["end"], "to"),
            time_zone=options["time_zone"],
        )
        state = "imported" if report.created else "already stored"
        self.stdout.write(f"{report.tariff_code} {report.period}: {state}")
        for warning in report.warnings:
            self.stdout.write(f"  warning: {warning}")
