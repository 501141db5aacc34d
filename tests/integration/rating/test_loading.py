from datetime import date
from decimal import Decimal

import pytest

from ampere.rating.models import Tariff, TariffVersion, TaxRate
from ampere.rating.operations import load_shipped_tariffs

pytestmark = pytest.mark.django_db


def test_shipped_tariffs_load_once_and_a_second_load_changes_nothing():
    first = load_shipped_tariffs()
    assert first.tariffs_created == 16
    assert first.versions_created == TariffVersion.objects.count() > 0
    assert first.tax_rates_created == 5
    rows = sorted(TariffVersion.objects.values_list("id", "tariff__code", "effective_period"))
    second = load_shipped_tariffs()
    assert (second.tariffs_created, second.versions_created, second.tax_rates_created) == (0, 0, 0)
    assert second.versions_unchanged == first.versions_created
    assert sorted(TariffVersion.objects.values_list("id", "tariff__code", "effective_period")) == rows
    assert Tariff.objects.count() == 16
    assert TaxRate.objects.get(owner="evn", effective_period__contains=date(2025, 6, 1)).rate == Decimal("0.0800")
