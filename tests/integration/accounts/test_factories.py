import pytest

from tests.factories.accounts import AgreementFactory

pytestmark = pytest.mark.django_db


def test_agreement_factory_builds_a_consistent_chain():
    agreement = AgreementFactory()
    assert agreement.account.utility_id == agreement.service_point.utility_id
    assert agreement.account.number.startswith("PE0100")
    assert len(agreement.account.number) == 13
