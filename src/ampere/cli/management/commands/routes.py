"""`ampere routes export`: the handheld route file (JSON) for a route and reading date."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ampere.core.errors import DomainError
from ampere.metering.queries import route_file


class Command(BaseCommand):
    help = "Export a route file for the meter readers' handhelds."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write a route's handheld file")
        export.add_argument("--utility", default="evn-hcmc")
        export.add_argument("--route", required=True)
        export.add_argument("--date", required=True, type=date.fromisoformat, help="reading date")
        export.add_argument("--output", type=Path, help="default: standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            document = route_file(
                utility_code=options["utility"],
                route_code=options["route"],
                reading_date=options["date"],
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        text = json.dumps(document, ensure_ascii=False, indent=1)
        if options["output"] is None:
            self.stdout.write(text)
        else:
            options["output"].write_text(text + "\n", encoding="utf-8")
            self.stdout.write(f"{len(document['stops'])} stops written to {options['output']}")
