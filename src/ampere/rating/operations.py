"""Writes to the tariff catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from django.db import transaction

from ampere.core.errors import InvalidInput
from ampere.rating.models import CustomerClass, Tariff


@dataclass(frozen=True)
class LoadReport:
    tariffs_created: int
    tariffs_updated: int


def _shipped(name: str) -> Any:
    text = resources.files("ampere.rating").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_shipped_tariffs() -> LoadReport:
    """Load the catalogue shipped with Ampere (idempotent: a second load changes nothing)."""
    document = _shipped("catalogue.yaml")
    created = updated = 0
    with transaction.atomic():
        for index, head in enumerate(document["tariffs"]):
            field = f"tariffs[{index}]"
            if head.get("customer_class") not in CustomerClass.values:
                raise InvalidInput(
                    f"unknown customer class {head.get('customer_class')!r}",
                    field=f"{field}.customer_class",
                )
            _, was_created = Tariff.objects.update_or_create(
                code=head["code"],
                defaults={
                    "name": head["name"],
                    "utility_code": head["utility_code"],
                    "customer_class": head["customer_class"],
                },
            )
            created += was_created
            updated += not was_created
    return LoadReport(created, updated)
