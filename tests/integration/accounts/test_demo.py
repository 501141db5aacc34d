from datetime import UTC, date, datetime

import pytest
from django.db import transaction

from ampere.accounts import models
from ampere.accounts.demo import create_demo_data
from ampere.accounts.phones import to_e164
from ampere.core.errors import InvalidInput

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def snapshot(utility: str) -> list[tuple[object, ...]]:
    return list(
        models.Account.objects.filter(utility__code=utility)
        .order_by("number")
        .values_list(
            "number",
            "customer__name",
            "customer__national_id",
            "opened_on",
            "agreements__tariff__code",
            "agreements__households",
        )
    )


def make(utility: str, seed: int, accounts: int = 60):
    return create_demo_data(
        utility_code=utility, accounts=accounts, seed=seed, as_of=date(2026, 11, 1), now=NOW
    )


@pytest.mark.parametrize("utility", ["evn-hcmc", "sce"])
def test_demo_is_deterministic_for_a_seed(utility):
    with transaction.atomic():
        make(utility, seed=3)
        first = snapshot(utility)
        transaction.set_rollback(True)
    make(utility, seed=3)
    assert snapshot(utility) == first
    assert len(first) == 60


def test_demo_data_is_valid_and_complete():
    report = make("sce", seed=1, accounts=300)
    assert report.accounts == 300
    assert models.Account.objects.filter(utility__code="sce").count() == 300
    assert models.ServiceAgreement.objects.filter(account__utility__code="sce").count() == 300
    assert models.LegacyAccountNumber.objects.filter(utility__code="sce").count() == 300
    for number in models.CustomerPhone.objects.values_list("number", flat=True)[:200]:
        assert to_e164(number, country_code="US") == number
    assert set(models.Premise.objects.values_list("baseline_region", flat=True)) <= {
        "5",
        "6",
        "8",
        "9",
        "10",
        "13",
        "14",
        "15",
        "16",
    }
    assert (
        not models.ProgramEnrolment.objects.filter(program="care")
        .filter(agreement__enrolments__program="fera")
        .exists()
    )


def test_demo_refuses_bad_arguments():
    with pytest.raises(InvalidInput) as error:
        make("evn-hcmc", seed=1, accounts=0)
    assert error.value.field == "accounts"
    with pytest.raises(InvalidInput) as error:
        make("pge", seed=1)
    assert error.value.field == "utility"
    assert models.Account.objects.count() == 0
