"""Signed partner calls through the served WSGI application take the lean handler (no
sessions, CSRF, locale, login, messages), keep every check and audit, and reach nothing that
needs a person's login."""

import io
import json
import time
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from ampere.accounts.models import LedgerEntry
from ampere.api.models import ApiCall
from ampere.api.payments import clear_channel_cache
from ampere.api.signing import body_digest, signed_headers
from ampere.config.wsgi import application
from ampere.payments.models import Payment
from tests.factories.accounts import AgreementFactory, UtilityFactory
from tests.factories.payments import bill, partner_channel

pytestmark = pytest.mark.django_db
PAY = "/api/v1/payments/payments"


@pytest.fixture(autouse=True)
def _fresh_cache_and_kept_connection():
    # As Django's test client does: the test's connection holds its transaction open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    clear_channel_cache()
    yield
    clear_channel_cache()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bank():
    utility = UtilityFactory(code="evn-hcmc")
    client, _ = partner_channel(utility.id, "vietcombank")
    account = AgreementFactory(account__utility=utility).account
    bill(account.id, 400_000, date(2025, 5, 20), "HD-2025-05")
    return client.issued, account


def call(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: list[Any] = []
    chunks = application(environ, lambda status, headers, *exc: started.append((status, headers)))
    out = b"".join(chunks)
    status, response_headers = started[0]
    response = dict(response_headers)
    parsed = json.loads(out) if "json" in response.get("Content-Type", "") else out
    return int(status.split()[0]), response, parsed


def payment_body(account: Any, transaction_id: str, amount: str) -> bytes:
    return json.dumps(
        {
            "transaction_id": transaction_id,
            "account_number": account.number,
            "amount": amount,
            "currency": "VND",
        }
    ).encode()


def signed(
    key: Any, method: str, path: str, body: bytes, stamp: int | None = None
) -> dict[str, str]:
    return signed_headers(
        key_id=key.key_id,
        secret=key.secret,
        method=method,
        path=path,
        body=body,
        timestamp=int(time.time()) if stamp is None else stamp,
    )


def test_signed_payment_is_posted_and_audited_without_the_people_middleware(bank):
    key, account = bank
    body = payment_body(account, "VCB-1", "150000")
    status, headers, answer = call("POST", PAY, body, signed(key, "POST", PAY, body))
    assert status == 201, answer
    payment = Payment.objects.get()
    assert (answer["receipt_number"], answer["amount"], answer["balance_after"]) == (
        f"R{payment.id:010d}",
        "150000",
        "250000",
    )
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert list(ApiCall.objects.values_list("outcome", "path")) == [("accepted", PAY)]
    # The locale and session middleware did not run; the security middleware did.
    assert "Content-Language" not in headers and "Vary" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    # Without the key header the full stack answers (the locale middleware says its language).
    status, headers, _ = call("GET", "/api/v1/openapi.json")
    assert (status, headers["Content-Language"]) == (200, "en")


def test_replay_bad_signature_and_stale_stamp_are_refused_and_audited(bank):
    key, account = bank
    body = payment_body(account, "VCB-2", "150000")
    headers = signed(key, "POST", PAY, body)
    assert call("POST", PAY, body, headers)[0] == 201
    assert call("POST", PAY, body, headers)[0] == 401
    tampered = body.replace(b"150000", b"160000")
    assert call("POST", PAY, tampered, headers)[0] == 401
    stale = signed(key, "POST", PAY, body, stamp=int(time.time()) - 3600)
    assert call("POST", PAY, body, stale)[0] == 401
    assert Payment.objects.count() == 1
    assert sorted(ApiCall.objects.values_list("outcome", flat=True)) == [
        "accepted",
        "bad-signature",
        "replayed",
        "stale-timestamp",
    ]


def test_a_staff_endpoint_called_with_a_partner_key_and_a_session_is_refused(bank):
    key, _ = bank
    staff = Client()
    staff.force_login(User.objects.create_user("thu", is_staff=True))
    cookie = staff.cookies["sessionid"].value
    path = "/api/v1/payments/staff/payments/1"
    headers = {**signed(key, "GET", path, b""), "Cookie": f"sessionid={cookie}"}
    status, _, answer = call("GET", path, b"", headers)
    assert status == 401, answer
    # The same session without the partner key is staff, and gets an answer (no such payment).
    status, _, answer = call("GET", path, b"", {"Cookie": f"sessionid={cookie}"})
    assert status == 404, answer


def test_the_audit_row_is_written_with_the_posting_or_alone_when_nothing_is_posted(bank):
    key, account = bank

    def send(transaction_id: str, amount: str) -> tuple[int, Any]:
        body = payment_body(account, transaction_id, amount)
        sent.append(body)
        status, _, answer = call("POST", PAY, body, signed(key, "POST", PAY, body))
        return status, answer

    sent: list[bytes] = []
    assert send("VCB-3", "400000")[0] == 201  # pays the bill in full
    status, problem = send("VCB-4", "1000")  # refused by the posting: nothing is owed
    assert (status, problem["type"]) == (409, "https://ampere.example/problems/nothing-owed")
    assert send("VCB-5", "-5")[0] == 422  # refused before posting
    assert send("VCB-6", "many")[0] == 422  # refused by the schema, before the operation
    assert Payment.objects.count() == 1
    assert list(ApiCall.objects.order_by("id").values_list("outcome", "body_sha256")) == [
        ("accepted", body_digest(body)) for body in sent
    ]


def test_a_replayed_request_refused_before_posting_is_refused_as_a_replay(bank):
    key, account = bank
    body = payment_body(account, "VCB-7", "-5")
    headers = signed(key, "POST", PAY, body)
    assert call("POST", PAY, body, headers)[0] == 422
    status, _, problem = call("POST", PAY, body, headers)
    assert (status, problem["detail"]) == (401, "this signed request was received before")
    assert list(ApiCall.objects.order_by("id").values_list("outcome", flat=True)) == [
        "accepted",
        "replayed",
    ]
    assert Payment.objects.count() == 0
