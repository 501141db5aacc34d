import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ampere.metering.models import QuarantinedRead, RegisterRead
from tests.factories.metering import metered_point
from tests.factories.partners import PartnerClient

pytestmark = pytest.mark.django_db
URL = "/api/v1/readings/batches"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def head_end():
    agreement = metered_point(
        installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM), initial={"kwh": Decimal(1000)}
    )
    return PartnerClient(utility_id=agreement.account.utility_id, scopes=["readings"], code="hes-1")


BATCH = {
    "batch_id": "HES-2025-02-01",
    "source": "remote",
    "readings": [
        {
            "meter": "M-0001",
            "register": "kwh",
            "read_at": "2025-02-01T00:05:00+07:00",
            "value": 1210,
        },
        {
            "meter": "M-0001",
            "register": "kwh",
            "read_at": "2025-02-02T00:05:00+07:00",
            "value": "12x",
        },
    ],
}


def test_batch_is_stored_with_a_result_per_row_and_replays_the_same(head_end):
    sent = int(time.time())
    first = head_end.request("POST", URL, BATCH, timestamp=sent)
    assert first.status_code == 200
    body = first.json()
    assert (body["rows"], body["accepted"], body["quarantined"]) == (2, 1, 1)
    assert [r["status"] for r in body["results"]] == ["accepted", "quarantined"]
    assert body["results"][1]["problems"] == [
        {"code": "bad-number", "message": "'12x' is not a number", "field": "value"}
    ]
    # A retry is signed at another second (the same signed bytes twice are a replay).
    again = head_end.request("POST", URL, BATCH, timestamp=sent - 1)
    assert again.status_code == 200
    assert again.json() == body
    assert RegisterRead.objects.filter(source="remote").count() == 1
    assert QuarantinedRead.objects.count() == 1
    fetched = head_end.request("GET", f"{URL}/HES-2025-02-01")
    assert fetched.json() == body


def test_same_id_with_other_content_is_a_conflict(head_end):
    sent = int(time.time())
    head_end.request("POST", URL, BATCH, timestamp=sent)
    changed = dict(BATCH, readings=BATCH["readings"][:1])
    response = head_end.request("POST", URL, changed, timestamp=sent - 1)
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {
            "field": "batch_id",
            "message": "batch 'HES-2025-02-01' was received before with other content",
        }
    ]


def test_unsigned_or_out_of_scope_requests_are_refused(head_end):
    unsigned = head_end.http.post(URL, BATCH, content_type="application/json")
    assert unsigned.status_code == 401
    from ampere.accounts.models import Utility

    bank = PartnerClient(
        utility_id=Utility.objects.get(code="evn-hcmc").id, scopes=["payments"], code="bank"
    )
    assert bank.request("POST", URL, BATCH).status_code == 403
    assert RegisterRead.objects.filter(source="remote").count() == 0
