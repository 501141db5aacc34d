import time

import pytest

from ampere.api.models import ApiCall
from ampere.api.signing import SIGNATURE_HEADER, signed_headers
from tests.factories.accounts import UtilityFactory
from tests.factories.partners import PartnerClient

pytestmark = pytest.mark.django_db
WHOAMI = "/api/v1/partners/whoami"


@pytest.fixture
def bank():
    return PartnerClient(utility_id=UtilityFactory(code="evn-hcmc").id, scopes=["payments"])


def test_signed_request_is_accepted_and_audited(bank):
    response = bank.request("GET", WHOAMI)
    assert response.status_code == 200
    assert response.json() == {
        "client": "test-bank",
        "name": "Test Bank",
        "utility": "evn-hcmc",
        "scopes": ["payments"],
        "key_id": bank.key.key_id,
    }
    assert list(ApiCall.objects.values_list("outcome", "path")) == [("accepted", WHOAMI)]


def test_replayed_signature_is_refused(bank):
    stamp = int(time.time())
    assert bank.request("GET", WHOAMI, timestamp=stamp).status_code == 200
    again = bank.request("GET", WHOAMI, timestamp=stamp)
    assert again.status_code == 401
    assert again["Content-Type"] == "application/problem+json"
    assert again.json()["detail"] == "this signed request was received before"
    assert sorted(ApiCall.objects.values_list("outcome", flat=True)) == ["accepted", "replayed"]


def test_stale_timestamp_is_refused(bank):
    response = bank.request("GET", WHOAMI, timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert response.json()["detail"] == "the request timestamp is stale or in the future"


def test_missing_signature_and_tampered_body_are_refused(bank):
    missing = bank.http.get(
        WHOAMI,
        headers={"X-Ampere-Key": bank.key.key_id, "X-Ampere-Timestamp": str(int(time.time()))},
    )
    assert missing.status_code == 401
    assert missing.json()["detail"] == "the X-Ampere-Signature header is missing"
    headers = signed_headers(
        key_id=bank.key.key_id,
        secret=bank.key.secret,
        method="POST",
        path=WHOAMI,
        body=b'{"amount": 1}',
        timestamp=int(time.time()),
    )
    tampered = bank.http.generic("POST", WHOAMI, data=b'{"amount": 9}', headers=headers)
    assert tampered.status_code in (401, 405)
    wrong = bank.request("GET", WHOAMI, headers={SIGNATURE_HEADER: "0" * 64})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "the signature does not match the request"


def test_unknown_key_and_wrong_secret_are_refused(bank):
    headers = signed_headers(
        key_id="ak_unknown",
        secret="x",
        method="GET",
        path=WHOAMI,
        body=b"",
        timestamp=int(time.time()),
    )
    assert bank.http.get(WHOAMI, headers=headers).json()["detail"] == "unknown key"
    headers = signed_headers(
        key_id=bank.key.key_id,
        secret="not-the-secret",
        method="GET",
        path=WHOAMI,
        body=b"",
        timestamp=int(time.time()),
    )
    assert bank.http.get(WHOAMI, headers=headers).status_code == 401
    assert ApiCall.objects.filter(outcome="accepted").count() == 0
