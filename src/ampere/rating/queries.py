"""Reads of the tariff catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from ampere.core.errors import NotFound
from ampere.rating.models import Tariff


class UnknownTariff(NotFound):
    code = "unknown-tariff"


@dataclass(frozen=True)
class TariffHead:
    id: int
    code: str
    name: str
    utility_code: str
    customer_class: str


def get_tariff_head(*, code: str) -> TariffHead:
    """The catalogue head of tariff ``code``; raises UnknownTariff."""
    row = Tariff.objects.filter(code=code).values_list(
        "id", "code", "name", "utility_code", "customer_class"
    )
    found = row.first()
    if found is None:
        raise UnknownTariff(f"no tariff with code {code!r}", field="tariff")
    return TariffHead(*found)
