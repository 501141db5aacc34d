from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ampere.core.periods import DatePeriod
from ampere.metering import operations, parsing, queries
from ampere.metering.types import ConsumptionRequest
from tests.factories.metering import NOW, metered_point

pytestmark = pytest.mark.django_db
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_smoke():
    agreement = metered_point(installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM))
    rows = [
        parsing.RawRow(
            1,
            {
                "meter": "M-0001",
                "register": "kwh",
                "read_at": "2025-02-01T10:00:00+07:00",
                "value": "120",
            },
        ),
        parsing.RawRow(
            2,
            {
                "meter": "M-0001",
                "register": "kwh",
                "read_at": "2025-03-01T10:00:00+07:00",
                "value": "250",
            },
        ),
    ]
    result = operations.import_read_batch(
        utility_code="evn-hcmc",
        rows=rows,
        external_id="b1",
        channel="cli",
        submitted_by="x",
        default_source="handheld",
        now=NOW,
    )
    print(result)
    out = queries.consumption_for_billing(
        requests=[
            ConsumptionRequest(
                agreement.service_point_id, DatePeriod(date(2025, 2, 1), date(2025, 3, 1))
            )
        ]
    )
    print(out)
    assert out[0].quantity == Decimal(130)
