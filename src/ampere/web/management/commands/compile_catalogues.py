"""`ampere compile_catalogues`: the ``.mo`` files of the catalogues in LOCALE_PATHS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ampere.web.catalogues import compile_catalogues


class Command(BaseCommand):
    help = "Compile the gettext catalogues (.po) of LOCALE_PATHS into .mo files."

    def handle(self, *args: Any, **options: Any) -> None:
        written = compile_catalogues([Path(p) for p in settings.LOCALE_PATHS])
        if options["verbosity"] > 0:
            self.stdout.write(f"{len(written)} catalogue(s) compiled.")
