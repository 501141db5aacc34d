from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from psycopg.types.range import Range

from ampere.core.errors import Conflict
from ampere.rating import operations
from ampere.rating.engine.parse import TariffDataError
from ampere.rating.models import Tariff, TariffVersion, TaxRate
from ampere.rating.operations import load_shipped_tariffs

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        sorted(Tariff.objects.values_list("code", flat=True)),
        sorted(TariffVersion.objects.values_list("tariff__code", "effective_period", "document")),
        sorted(TaxRate.objects.values_list("owner", "code", "rate", "effective_period")),
    )


def test_shipped_tariffs_load_once_and_a_second_load_changes_nothing():
    first = load_shipped_tariffs()
    assert (first.tariffs_created, first.versions_created, first.tax_rates_created) == (16, 21, 5)
    before = snapshot()
    second = load_shipped_tariffs()
    assert (second.tariffs_created, second.versions_created, second.tax_rates_created) == (0, 0, 0)
    assert (second.versions_unchanged, second.tax_rates_unchanged) == (21, 5)
    assert snapshot() == before
    assert list(
        TariffVersion.objects.filter(tariff__code="EVN-RES")
        .order_by("effective_period")
        .values_list("effective_period", flat=True)
    ) == [
        Range(date(2019, 3, 20), date(2023, 5, 4), "[)"),
        Range(date(2023, 5, 4), date(2023, 11, 9), "[)"),
        Range(date(2023, 11, 9), date(2024, 10, 11), "[)"),
        Range(date(2024, 10, 11), date(2025, 5, 10), "[)"),
        Range(date(2025, 5, 10), None, "[)"),
    ]
    assert TaxRate.objects.get(
        owner="evn", effective_period__contains=date(2025, 6, 1)
    ).rate == Decimal("0.0800")


def test_a_bad_tariff_file_loads_nothing(monkeypatch):
    shipped = operations._shipped_tariff_files()
    bad = {
        "tariff": "EVN-RES-PREPAID",
        "versions": [
            {
                "from": "2025-05-10",
                "to": None,
                "currency": "VND",
                "time_zone": "Asia/Ho_Chi_Minh",
                "components": [
                    {
                        "id": "energy",
                        "kind": "energy",
                        "tiers": {"widths": [-5, None]},
                        "prices": [1, 2],
                    }
                ],
            }
        ],
    }
    monkeypatch.setattr(operations, "_shipped_tariff_files", lambda: [*shipped[:3], bad])
    with pytest.raises(TariffDataError) as error:
        load_shipped_tariffs()
    assert error.value.field == "EVN-RES-PREPAID.versions[0].components[0].tiers.widths[0]"
    assert snapshot() == ([], [], [])


def test_a_changed_published_version_is_refused_and_nothing_changes(monkeypatch):
    load_shipped_tariffs()
    before = snapshot()
    shipped = operations._shipped_tariff_files()
    changed = [dict(d) for d in shipped]
    residential = next(d for d in changed if d["tariff"] == "EVN-RES")
    residential["versions"] = [dict(v) for v in residential["versions"]]
    residential["versions"][4] = {**residential["versions"][4], "instrument": "edited"}
    monkeypatch.setattr(operations, "_shipped_tariff_files", lambda: changed)
    with pytest.raises(Conflict) as error:
        load_shipped_tariffs()
    assert error.value.field == "EVN-RES.versions[4]"
    assert snapshot() == before


def test_the_database_refuses_overlapping_versions():
    load_shipped_tariffs()
    tariff = Tariff.objects.get(code="EVN-RES")
    count = TariffVersion.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        TariffVersion.objects.create(
            tariff=tariff,
            effective_period=Range(date(2025, 1, 1), date(2025, 2, 1), "[)"),
            document={},
        )
    assert TariffVersion.objects.count() == count
