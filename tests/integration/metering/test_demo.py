from datetime import UTC, date, datetime

import pytest

from ampere.core.periods import DatePeriod
from ampere.metering.demo import install_demo_meters
from ampere.metering.models import Meter, Register, RegisterRead, Route
from ampere.metering.queries import consumption_for_billing
from ampere.metering.types import ConsumptionRequest
from tests.factories.accounts import AgreementFactory, TariffFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 7, 1, tzinfo=UTC)


def test_demo_meters_and_reads_for_every_point_without_a_meter():
    homes = [AgreementFactory() for _ in range(2)]
    shop = AgreementFactory(
        purpose_of_use="business",
        tariff=TariffFactory(code="EVN-BUS-LV", customer_class="business"),
    )
    stages = []
    result = install_demo_meters(
        utility_code="evn-hcmc",
        months=3,
        as_of=date(2025, 6, 30),
        seed=1,
        progress=lambda stage, done, total: stages.append(stage),
        now=NOW,
    )
    assert (result.meters, result.registers, result.routes) == (3, 7, 1)
    assert result.reads == 7 * 3
    assert RegisterRead.objects.filter(kind="initial").count() == 6  # energy registers only
    assert {"meters", "reads"} <= set(stages)
    assert Meter.objects.get(installations__service_point=shop.service_point).phases == 3
    assert Route.objects.count() == 1
    dates = sorted(
        RegisterRead.objects.filter(kind="regular").values_list("read_date", flat=True).distinct()
    )
    assert dates == [date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1)]
    rows = consumption_for_billing(
        requests=[
            ConsumptionRequest(a.service_point_id, DatePeriod(date(2025, 5, 1), date(2025, 6, 1)))
            for a in [*homes, shop]
        ]
    )
    assert [(r.request_index, r.register, r.source) for r in rows] == [
        (0, "kwh", "actual"),
        (1, "kwh", "actual"),
        (2, "kw_max", "actual"),
        (2, "kwh", "actual"),
        (2, "kwh_normal", "actual"),
        (2, "kwh_off_peak", "actual"),
        (2, "kwh_peak", "actual"),
    ]
    assert all(r.quantity is not None and r.quantity > 0 for r in rows)
    again = install_demo_meters(
        utility_code="evn-hcmc", months=3, as_of=date(2025, 6, 30), seed=1, now=NOW
    )
    assert again.meters == 0
    assert Register.objects.count() == 7


def test_demo_is_deterministic_for_a_seed():
    AgreementFactory()
    install_demo_meters(utility_code="evn-hcmc", months=2, as_of=date(2025, 6, 30), seed=5, now=NOW)
    first = list(RegisterRead.objects.order_by("read_at").values_list("value", flat=True))
    assert first == list(RegisterRead.objects.order_by("read_at").values_list("value", flat=True))
    assert len(first) == 3
