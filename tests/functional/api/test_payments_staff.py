"""Counters, files, reconciliation, refunds, transfers, mandates, portal gateway: over HTTP."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ampere.accounts.queries import get_balance
from ampere.core.money import Money
from ampere.payments import gateway, operations, queries
from ampere.payments.models import Payment
from ampere.payments.types import PaymentInput
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db
STAFF = "/api/v1/payments/staff"


@pytest.fixture
def utility():
    return UtilityFactory(code="evn-hcmc")


@pytest.fixture
def clerk():
    client = Client()
    client.force_login(User.objects.create_user("thu", is_staff=True))
    return client


def post(client, path, payload):
    return client.post(path, payload, content_type="application/json")


def test_staff_endpoints_need_a_staff_session(utility):
    channel(utility.id, "counter-q1", kind="counter")
    anonymous = post(Client(), f"{STAFF}/channels/counter-q1/tills", {"counter_code": "Q1"})
    assert anonymous.status_code == 401
    customer = Client()
    customer.force_login(User.objects.create_user("khach"))
    refused = post(customer, f"{STAFF}/channels/counter-q1/tills", {"counter_code": "Q1"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "staff only"


def test_a_cashiers_day_over_http(utility, clerk):
    channel(utility.id, "counter-q1", kind="counter", accepts_credit=True)
    account = AccountFactory(utility=utility)
    bill(account.id, 300_000, date(2025, 6, 10), "HD-1")
    opened = post(
        clerk,
        f"{STAFF}/channels/counter-q1/tills",
        {"counter_code": "Q1-03", "opening_float": "500000"},
    )
    assert opened.status_code == 201, opened.json()
    till = opened.json()["till_id"]
    taken = post(
        clerk,
        f"{STAFF}/tills/{till}/payments",
        {
            "transaction_id": "Q1-03-0001",
            "account_number": account.number,
            "amount": "300000",
            "currency": "VND",
        },
    )
    assert taken.status_code == 201
    assert taken.json()["settled"] == [
        {"bill_number": "HD-1", "source_type": "bill", "amount": "300000"}
    ]
    closed = post(clerk, f"{STAFF}/tills/{till}/close", {"counted_cash": "800000", "note": "ok"})
    assert closed.status_code == 200
    body = closed.json()
    assert (body["expected_cash"], body["counted_cash"], body["difference"], body["cashier"]) == (
        "800000",
        "800000",
        "0",
        "thu",
    )
    late = post(
        clerk,
        f"{STAFF}/tills/{till}/payments",
        {
            "transaction_id": "Q1-03-0002",
            "account_number": account.number,
            "amount": "1",
            "currency": "VND",
        },
    )
    assert late.status_code == 409
    assert late.json()["type"].endswith("/till-closed")
    assert Payment.objects.count() == 1


def test_lockbox_upload_with_quarantine_and_release(utility, clerk):
    channel(utility.id, "lockbox-hcm", kind="lockbox", accepts_credit=True)
    account = AccountFactory(utility=utility)
    content = (
        "reference,account_number,amount,currency,paid_on\n"
        f"LB-1,{account.number},100000,VND,2025-06-02\n"
        "LB-2,nobody,5000,VND,2025-06-02\n"
    ).encode()
    upload = clerk.post(
        f"{STAFF}/channels/lockbox-hcm/lockbox-files",
        {"file": SimpleUploadedFile("lb.csv", content, content_type="text/csv")},
    )
    assert upload.status_code == 201, upload.json()
    body = upload.json()
    assert (body["posted"], body["quarantined"], body["replayed"]) == (1, 1, False)
    bad = body["rows"][1]
    assert (bad["status"], bad["field"], bad["reason"], bad["raw"]) == (
        "quarantined",
        "account_number",
        "no account with number 'nobody'",
        "LB-2,nobody,5000,VND,2025-06-02",
    )
    waiting = clerk.get(f"{STAFF}/channels/lockbox-hcm/quarantine").json()
    assert [r["row_id"] for r in waiting] == [bad["row_id"]]
    released = post(
        clerk,
        f"{STAFF}/channels/lockbox-hcm/quarantine/{bad['row_id']}/release",
        {"account_number": account.number},
    )
    assert released.status_code == 200
    assert released.json()["status"] == "released"
    assert get_balance(account_id=account.id) == Money.of(-105_000, "VND")
    again = clerk.post(
        f"{STAFF}/channels/lockbox-hcm/lockbox-files",
        {"file": SimpleUploadedFile("lb.csv", content, content_type="text/csv")},
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert Payment.objects.count() == 2


def test_settlement_upload_report_and_resolution(utility, clerk):
    channel(utility.id, "vietcombank", accepts_credit=True)
    upload = clerk.post(
        f"{STAFF}/channels/vietcombank/settlement-files",
        {
            "business_date": "2025-06-02",
            "file": SimpleUploadedFile(
                "s.csv",
                b"transaction_id,account_number,amount,currency\nVCB-9,PE01,70000,VND\n",
            ),
        },
    )
    assert upload.status_code == 201, upload.json()
    report = upload.json()
    assert (report["counts"]["extra"], report["bank_total"], report["unresolved"]) == (
        1,
        "70000",
        1,
    )
    item = report["items"][0]
    resolved = post(
        clerk,
        f"{STAFF}/reconciliation-items/{item['item_id']}/resolve",
        {"resolution": "bank reverses it"},
    )
    assert resolved.status_code == 200
    assert resolved.json()["resolved_by"] == "thu"
    assert clerk.get(f"{STAFF}/settlement-files/{report['file_id']}").json()["unresolved"] == 0


def test_refund_transfer_and_reversal_by_a_clerk(utility, clerk):
    bank = channel(utility.id, "agribank", accepts_credit=True)
    wrong, right = AccountFactory(utility=utility), AccountFactory(utility=utility)
    bill(right.id, 100_000, date(2025, 5, 20), "R-1")
    from datetime import UTC, datetime

    now = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)
    receipt = operations.post_payment(
        channel=bank,
        data=PaymentInput("AG-1", wrong.number, Decimal(150_000), "VND", now),
        created_by="t",
        now=now,
    )
    moved = post(
        clerk,
        f"{STAFF}/payments/{receipt.payment_id}/transfer",
        {"to_account_number": right.number, "reason": "wrong customer code"},
    )
    assert moved.status_code == 201, moved.json()
    assert (moved.json()["from_balance_after"], moved.json()["to_balance_after"]) == ("0", "-50000")
    refund = {
        "reference": "RF-1",
        "account_number": right.number,
        "amount": "50000",
        "currency": "VND",
        "method": "bank_transfer",
        "payee": "VCB 0071000123456",
        "reason": "overpaid",
    }
    refunded = post(clerk, f"{STAFF}/refunds", refund)
    assert refunded.status_code == 201
    assert refunded.json()["balance"] == "0"
    assert post(clerk, f"{STAFF}/refunds", refund).json()["replayed"] is True
    too_much = post(clerk, f"{STAFF}/refunds", {**refund, "reference": "RF-2"})
    assert too_much.status_code == 409
    reversed_ = post(
        clerk,
        f"{STAFF}/payments/{receipt.payment_id}/reversal",
        {"kind": "error", "reason": "cheque bounced after all"},
    )
    assert reversed_.status_code == 201
    assert get_balance(account_id=right.id) == Money.of(150_000, "VND")


def test_mandates_and_a_collection_run_over_http(utility, clerk):
    channel(utility.id, "autopay-vcb", kind="direct_debit")
    account = AccountFactory(utility=utility)
    bill(account.id, 300_000, date(2025, 6, 20), "HD-06")
    created = post(
        clerk,
        f"{STAFF}/mandates",
        {
            "channel": "autopay-vcb",
            "account_number": account.number,
            "reference": "MD-1",
            "payer_name": "Nguyễn Văn An",
            "payer_bank_account": "0071000123456",
            "starts_on": "2025-05-01",
        },
    )
    assert created.status_code == 201, created.json()
    assert created.json()["payer_bank_account"] == "****3456"
    run = post(clerk, f"{STAFF}/direct-debits/collect", {"as_of": "2025-06-20"})
    assert run.json() == {
        "as_of": "2025-06-20",
        "mandates": 1,
        "collected": 1,
        "collected_amounts": {"VND": "300000"},
        "skipped": 0,
    }
    assert (
        post(clerk, f"{STAFF}/direct-debits/collect", {"as_of": "2025-06-20"}).json()["collected"]
        == 0
    )
    ended = post(
        clerk, f"{STAFF}/mandates/{created.json()['mandate_id']}/cancel", {"ends_on": "2025-07-01"}
    )
    assert ended.json()["ends_on"] == "2025-07-01"


def test_portal_payment_through_the_simulated_gateway(utility, clerk, client, monkeypatch):
    monkeypatch.setenv("AMPERE_GATEWAY_SIMULATOR", "1")
    channel(utility.id, "portal-card", kind="gateway", accepts_credit=True, gateway="simulator")
    account = AccountFactory(utility=utility)
    bill(account.id, 250_000, date(2025, 6, 10), "HD-1")
    started = post(
        clerk,
        f"{STAFF}/checkouts",
        {
            "channel": "portal-card",
            "account_number": account.number,
            "amount": "250000",
            "currency": "VND",
            "return_url": "https://portal.example/done",
        },
    )
    assert started.status_code == 201, started.json()
    page_url = started.json()["redirect_url"]
    page = client.get(page_url)
    assert page.status_code == 200
    assert (page.json()["amount"], page.json()["checkout"]) == (
        "250000",
        started.json()["reference"],
    )
    declined = post(client, f"{page_url}/pay", {"card_number": "4000000000000002"})
    assert declined.json()["status"] == "declined"
    assert declined.json()["checkout"]["status"] == "failed"
    paid = post(client, f"{page_url}/pay", {"card_number": "4242424242424242"})
    assert paid.status_code == 200
    body = paid.json()
    assert body["checkout"]["status"] == "paid"
    assert body["redirect_url"] == (
        f"https://portal.example/done?checkout={started.json()['reference']}&status=paid"
    )
    assert get_balance(account_id=account.id) == Money.of(0, "VND")
    # The gateway retries its webhook: nothing more is posted.
    simulator = gateway.simulator_for(queries.get_channel(code="portal-card"))
    note, headers = simulator.pay(
        session_id=page_url.rsplit("/", 1)[1],
        card_number="4242424242424242",
        now=datetime.now(UTC),
    )
    webhook = client.post(
        "/api/v1/payments/gateway/portal-card/notifications",
        note,
        content_type="application/json",
        headers=headers,
    )
    assert webhook.status_code == 200
    assert webhook.json()["receipt_number"] == body["checkout"]["receipt_number"]
    forged = client.post(
        "/api/v1/payments/gateway/portal-card/notifications", note, content_type="application/json"
    )
    assert forged.status_code == 422
    assert forged.json()["errors"] == [
        {"field": "signature", "message": "the notification's signature does not match"}
    ]
    assert Payment.objects.count() == 1
    monkeypatch.setenv("AMPERE_GATEWAY_SIMULATOR", "0")
    assert client.get(page_url).status_code == 404
