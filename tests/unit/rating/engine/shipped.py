"""The shipped tariff data, parsed straight from the package (no database)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from ampere.rating.engine.model import TariffVersion, TaxSchedule
from ampere.rating.engine.parse import parse_tariff, parse_taxes


def _load(name: str):
    return yaml.safe_load(
        resources.files("ampere.rating").joinpath("data", name).read_text(encoding="utf-8")
    )


@cache
def versions(code: str) -> tuple[TariffVersion, ...]:
    folder = resources.files("ampere.rating").joinpath("data", "tariffs")
    for path in folder.iterdir():
        document = _load(f"tariffs/{path.name}")
        for tariff in document.get("tariffs", [document]):
            if tariff["tariff"] == code:
                return parse_tariff(tariff)[1]
    raise KeyError(code)


@cache
def taxes(owner: str) -> TaxSchedule:
    return parse_taxes(next(o for o in _load("taxes.yaml")["owners"] if o["owner"] == owner))
