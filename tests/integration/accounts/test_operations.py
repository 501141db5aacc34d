from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from psycopg.types.range import Range

from ampere.accounts import models
from ampere.accounts.numbers import InvalidAccountNumber
from ampere.accounts.operations import (
    AgreementOverlap,
    EnrolmentConflict,
    add_legacy_number,
    connect_customer,
    enrol,
    ensure_utility,
    sign_agreement,
)
from ampere.accounts.queries import AccountNotFound, find_account, search_account_ids
from ampere.accounts.types import AgreementInput, CustomerInput, PremiseInput, ServicePointInput
from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.operations import load_shipped_tariffs

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 5, 1, 2, 0, tzinfo=UTC)

CUSTOMER = CustomerInput(
    kind="person",
    name="Trần Thị Hạnh",
    preferred_language="vi",
    phones=("0903 123 456",),
    email="hanh@example.com",
    consent_sms=True,
)
PREMISE = PremiseInput(
    address_line="12 Lê Lợi", ward="Phường Bến Thành", province="TP. Hồ Chí Minh"
)
POINT = ServicePointInput(code="SP-TEST-1", voltage_class="lv", nominal_voltage_v=220, phases=1)
AGREEMENT = AgreementInput(
    tariff_code="EVN-RES", purpose_of_use="residential", period=DatePeriod(date(2025, 5, 1))
)

TABLES = (
    models.Customer,
    models.CustomerPhone,
    models.Premise,
    models.ServicePoint,
    models.Account,
    models.LegacyAccountNumber,
    models.ServiceAgreement,
)


@pytest.fixture(autouse=True)
def catalogue():
    load_shipped_tariffs()
    ensure_utility(code="evn-hcmc")
    ensure_utility(code="sce")


def counts() -> list[int]:
    return [model.objects.count() for model in TABLES]


def connect(**changes):
    arguments: dict[str, Any] = {
        "utility_code": "evn-hcmc",
        "customer": CUSTOMER,
        "premise": PREMISE,
        "service_point": POINT,
        "agreement": AGREEMENT,
        "legacy_numbers": (("HCM000000777", "CMIS2"),),
        "now": NOW,
    }
    arguments.update(changes)
    return connect_customer(**arguments)


def test_connect_customer_writes_the_whole_chain():
    connected = connect()
    account = models.Account.objects.get(id=connected.account.id)
    assert account.number == "PE01000000016"  # area 0100, serial 1, Luhn over 0100000001 → 6
    assert account.customer.search_name == "tran thi hanh"
    assert list(account.customer.phones.values_list("number", "kind", "is_primary")) == [
        ("+84903123456", "mobile", True)
    ]
    agreement = models.ServiceAgreement.objects.get(id=connected.agreement_id)
    assert agreement.valid_period == Range(date(2025, 5, 1), None, "[)")
    assert agreement.tariff.code == "EVN-RES"
    assert counts() == [1, 1, 1, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"customer": replace(CUSTOMER, phones=("0903 12",))},
            "customer.phones[0]",
            "not a valid phone",
        ),
        ({"customer": replace(CUSTOMER, name="   ")}, "customer.name", "needs a name"),
        ({"customer": replace(CUSTOMER, email="hanh@")}, "customer.email", "not an e-mail"),
        (
            {"customer": replace(CUSTOMER, preferred_language="fr")},
            "customer.preferred_language",
            "'fr' is not one of",
        ),
        (
            {"agreement": replace(AGREEMENT, tariff_code="EVN-NOPE")},
            "agreement.tariff_code",
            "unknown tariff code 'EVN-NOPE'",
        ),
        (
            {"agreement": replace(AGREEMENT, tariff_code="SCE-D")},
            "agreement.tariff_code",
            "filed by 'sce'",
        ),
        (
            {"agreement": replace(AGREEMENT, households=Decimal(0))},
            "agreement.households",
            "positive",
        ),
        ({"service_point": replace(POINT, phases=2)}, "service_point.phases", "1 or 3"),
        (
            {"premise": replace(PREMISE, latitude=Decimal(91), longitude=Decimal(106))},
            "premise.latitude",
            "±90",
        ),
        ({"legacy_numbers": (("", "CMIS2"),)}, "legacy_numbers[0]", "cannot be empty"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(changes, field, message):
    before = counts()
    with pytest.raises(InvalidInput) as error:
        connect(**changes)
    assert error.value.field == field
    assert message in error.value.message
    assert counts() == before
    assert models.AccountNumberSeries.objects.filter(next_serial__gt=1).count() == 0


def test_overlapping_agreement_is_refused_and_nothing_changes():
    connected = connect()
    before = counts()
    with pytest.raises(AgreementOverlap) as error:
        sign_agreement(
            account_id=connected.account.id,
            service_point_id=connected.service_point_id,
            agreement=replace(AGREEMENT, period=DatePeriod(date(2025, 6, 1), date(2025, 7, 1))),
        )
    assert error.value.field == "agreement.period"
    assert counts() == before
    # The period after the first one ends is free: end the first, then sign the next.
    models.ServiceAgreement.objects.filter(id=connected.agreement_id).update(
        valid_period=Range(date(2025, 5, 1), date(2025, 6, 1), "[)")
    )
    sign_agreement(
        account_id=connected.account.id,
        service_point_id=connected.service_point_id,
        agreement=replace(AGREEMENT, period=DatePeriod(date(2025, 6, 1))),
    )
    assert models.ServiceAgreement.objects.count() == 2


def test_database_itself_refuses_overlapping_agreements():
    connected = connect()
    first = models.ServiceAgreement.objects.get(id=connected.agreement_id)
    with (
        pytest.raises(IntegrityError, match="one_live_agreement_per_service_point"),
        transaction.atomic(),
    ):
        models.ServiceAgreement.objects.create(
            account=first.account,
            service_point=first.service_point,
            tariff=first.tariff,
            purpose_of_use="residential",
            valid_period=Range(date(2030, 1, 1), None, "[)"),
        )
    cancelled = models.ServiceAgreement.objects.create(
        account=first.account,
        service_point=first.service_point,
        tariff=first.tariff,
        purpose_of_use="residential",
        valid_period=Range(date(2030, 1, 1), None, "[)"),
        status="cancelled",
    )
    assert cancelled.pk is not None


def test_legacy_number_resolves_and_mistyped_number_fails_its_check_digit():
    connected = connect()
    assert find_account(number="HCM000000777").id == connected.account.id
    assert find_account(number="HCM000000777").matched_by == "legacy"
    assert find_account(number="pe0100 0000 016").matched_by == "number"
    with pytest.raises(InvalidAccountNumber) as error:
        find_account(number="PE01000000017")
    assert error.value.code == "check-digit"
    with pytest.raises(AccountNotFound):
        find_account(number="PE01000000024")  # well-formed, not issued
    add_legacy_number(account_id=connected.account.id, number="OLD-1", source_system="paper")
    assert find_account(number="OLD-1", utility_code="evn-hcmc").id == connected.account.id
    with pytest.raises(AccountNotFound):
        find_account(number="OLD-1", utility_code="sce")


def test_search_finds_accounts_by_number_legacy_phone_and_name_without_accents():
    connected = connect()
    for term in (
        "PE01000000016",
        "HCM000000777",
        "0903123456",
        "+84 903 123 456",
        "tran thi",
        "Hạnh",
    ):
        assert search_account_ids(term=term) == [connected.account.id], term
    assert search_account_ids(term="zz") == []


def test_care_and_fera_cannot_overlap():
    connected = connect(
        utility_code="sce",
        customer=replace(CUSTOMER, phones=("(562) 234-5678",), preferred_language="en"),
        agreement=replace(AGREEMENT, tariff_code="SCE-TOU-D-4-9PM"),
        legacy_numbers=(),
    )
    enrol(agreement_id=connected.agreement_id, program="care", period=DatePeriod(date(2025, 5, 1)))
    with pytest.raises(EnrolmentConflict, match="CARE and FERA"):
        enrol(
            agreement_id=connected.agreement_id, program="fera", period=DatePeriod(date(2026, 1, 1))
        )
    enrol(
        agreement_id=connected.agreement_id,
        program="medical_baseline",
        period=DatePeriod(date(2025, 5, 1)),
    )
    assert models.ProgramEnrolment.objects.count() == 2
