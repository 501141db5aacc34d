"""The bank / payment-network / POS API over HTTP: look-up, payment, receipt, recall."""

import json
import time
from datetime import date
from decimal import Decimal

import pytest

from ampere.accounts.models import LedgerAllocation, LedgerEntry
from ampere.accounts.numbers import NumberScheme, format_number
from ampere.accounts.operations import add_legacy_number
from ampere.accounts.queries import get_balance, get_open_items
from ampere.api.models import ApiCall
from ampere.api.payments import clear_channel_cache
from ampere.api.signing import signed_headers
from ampere.core.money import Money
from ampere.payments.models import Payment, PaymentReversal
from tests.factories.accounts import AccountFactory, AgreementFactory, UtilityFactory
from tests.factories.payments import bill, partner_channel

pytestmark = pytest.mark.django_db
PAY = "/api/v1/payments/payments"
RECEIVED = "2025-06-02T09:30:00+07:00"


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_channel_cache()
    yield
    clear_channel_cache()


@pytest.fixture
def utility():
    return UtilityFactory(code="evn-hcmc")


@pytest.fixture
def bank(utility):
    return partner_channel(utility.id, "vietcombank")[0]


@pytest.fixture
def account(utility):
    return AgreementFactory(account__utility=utility).account


def payment(account, amount="250000", transaction_id="VCB-0001", **fields):
    return {
        "transaction_id": transaction_id,
        "account_number": account.number,
        "amount": amount,
        "currency": "VND",
        "received_at": RECEIVED,
        **fields,
    }


def counts():
    return (
        Payment.objects.count(),
        LedgerEntry.objects.count(),
        LedgerAllocation.objects.count(),
    )


def test_look_up_shows_the_open_bills_oldest_due_first_by_new_and_legacy_number(bank, account):
    bill(account.id, 300_000, date(2025, 6, 20), "HD-2025-06")
    bill(account.id, 200_000, date(2025, 5, 20), "HD-2025-05")
    add_legacy_number(account_id=account.id, number="PE13000123456", source_system="CMIS 2")
    expected = {
        "account_number": account.number,
        "matched_by": "number",
        "customer_name": account.customer.name,
        "address": f"{account.agreements.get().service_point.premise.address_line}, "
        "Thành phố Hồ Chí Minh",
        "currency": "VND",
        "amount_due": "500000",
        "credit_on_account": "0",
        "balance": "500000",
        "open_bills": [
            {
                "bill_number": "HD-2025-05",
                "kind": "charge",
                "due_date": "2025-05-20",
                "amount": "200000",
                "open_amount": "200000",
            },
            {
                "bill_number": "HD-2025-06",
                "kind": "charge",
                "due_date": "2025-06-20",
                "amount": "300000",
                "open_amount": "300000",
            },
        ],
    }
    response = bank.request("GET", f"/api/v1/payments/accounts/{account.number}")
    assert response.status_code == 200
    assert response.json() == expected
    legacy = bank.request("GET", "/api/v1/payments/accounts/PE13000123456")
    assert legacy.status_code == 200
    assert legacy.json() == {**expected, "matched_by": "legacy"}


def test_payment_is_posted_at_once_and_the_receipt_says_what_it_paid(bank, account):
    may = bill(account.id, 200_000, date(2025, 5, 20), "HD-2025-05")
    bill(account.id, 300_000, date(2025, 6, 20), "HD-2025-06")
    response = bank.request("POST", PAY, payment(account, "250000"))
    assert response.status_code == 201, response.json()
    body = response.json()
    payment_row = Payment.objects.get()
    assert body == {
        "receipt_number": f"R{payment_row.id:010d}",
        "transaction_id": "VCB-0001",
        "channel": "vietcombank",
        "channel_name": "Vietcombank",
        "account_number": account.number,
        "account_number_given": account.number,
        "amount": "250000",
        "currency": "VND",
        "method": "bank_transfer",
        "received_at": "2025-06-02T02:30:00Z",
        "value_date": "2025-06-02",
        "posted_at": body["posted_at"],
        "bill_number": "",
        "settled": [
            {"bill_number": "HD-2025-05", "source_type": "bill", "amount": "200000"},
            {"bill_number": "HD-2025-06", "source_type": "bill", "amount": "50000"},
        ],
        "credit_on_account": "0",
        "balance_after": "250000",
        "status": "posted",
        "replayed": False,
    }
    assert get_balance(account_id=account.id) == Money.of(250_000, "VND")
    assert [i.source_id for i in get_open_items(account_id=account.id)] == ["HD-2025-06"]
    entry = LedgerEntry.objects.get(id=payment_row.ledger_entry_id)
    assert (entry.kind, entry.amount, entry.source_type, entry.source_id) == (
        "payment",
        Decimal(-250_000),
        "payment",
        str(payment_row.id),
    )
    assert LedgerAllocation.objects.filter(debit_entry_id=may).get().amount == Decimal(200_000)
    # The look-up shows it at once.
    after = bank.request("GET", f"/api/v1/payments/accounts/{account.number}").json()
    assert (after["amount_due"], after["balance"]) == ("250000", "250000")


def test_a_legacy_number_pays_the_account_it_now_belongs_to(bank, account):
    bill(account.id, 200_000, date(2025, 5, 20), "HD-2025-05")
    add_legacy_number(account_id=account.id, number="PE13000123456", source_system="CMIS 2")
    response = bank.request("POST", PAY, payment(account, "200000", account_number="PE13000123456"))
    assert response.status_code == 201
    assert (response.json()["account_number"], response.json()["account_number_given"]) == (
        account.number,
        "PE13000123456",
    )
    assert get_balance(account_id=account.id) == Money.of(0, "VND")


def test_the_same_payment_again_returns_the_original_receipt_and_posts_nothing(bank, account):
    bill(account.id, 500_000, date(2025, 5, 20), "HD-2025-05")
    first = bank.request("POST", PAY, payment(account))
    before = counts()
    again = bank.request("POST", PAY, payment(account))
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert counts() == before
    receipt = bank.request("GET", f"{PAY}/VCB-0001")
    assert receipt.status_code == 200
    assert receipt.json() == {**first.json(), "replayed": False}


def test_a_transaction_id_reused_for_another_payment_is_refused(bank, account):
    bill(account.id, 500_000, date(2025, 5, 20), "HD-2025-05")
    bank.request("POST", PAY, payment(account, "100000"))
    before = counts()
    response = bank.request("POST", PAY, payment(account, "120000"))
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "https://ampere.example/problems/transaction-id-reused"
    assert problem["errors"] == [
        {
            "field": "transaction_id",
            "message": "transaction id was used for another payment (100000 VND, receipt "
            f"R{Payment.objects.get().id:010d}); send a new id for a new payment",
        }
    ]
    assert counts() == before


def test_a_bill_paid_through_another_channel_is_refused_with_the_reason(utility, account):
    bank, _ = partner_channel(utility.id, "vietcombank")
    pos, _ = partner_channel(utility.id, "field-pos", kind="pos")
    bill(account.id, 200_000, date(2025, 5, 20), "HD-2025-05")
    bill(account.id, 300_000, date(2025, 6, 20), "HD-2025-06")
    paid = bank.request("POST", PAY, payment(account, "200000", bill_number="HD-2025-05"))
    assert paid.status_code == 201
    before = counts()
    refused = pos.request(
        "POST", PAY, payment(account, "200000", "POS-77", bill_number="HD-2025-05")
    )
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["detail"] == (
        "bill_number: bill HD-2025-05 is not open: paid on 2025-06-02 through Vietcombank "
        f"(receipt {paid.json()['receipt_number']})"
    )
    assert refused.json()["type"].endswith("/bill-already-paid")
    assert counts() == before
    # Naming the bill still open is fine; it is paid first even though it is not the oldest.
    ok = pos.request(
        "POST",
        PAY,
        payment(
            account,
            "300000",
            "POS-78",
            bill_number="HD-2025-06",
            collector="NV-0412",
            device="HH-77",
        ),
    )
    assert ok.status_code == 201
    assert ok.json()["settled"] == [
        {"bill_number": "HD-2025-06", "source_type": "bill", "amount": "300000"}
    ]
    assert ok.json()["method"] == "cash"
    collected = Payment.objects.get(external_reference="POS-78")
    assert (collected.collected_by, collected.device) == ("NV-0412", "HH-77")
    reprint = pos.request("GET", f"{PAY}/POS-78")
    assert reprint.json()["receipt_number"] == ok.json()["receipt_number"]


def test_nothing_owed_and_more_than_owed_are_refused_unless_the_channel_keeps_credit(
    utility, account
):
    bank, _ = partner_channel(utility.id, "vietcombank")
    counter, _ = partner_channel(utility.id, "agribank", accepts_credit=True)
    bill(account.id, 200_000, date(2025, 5, 20), "HD-2025-05")
    too_much = bank.request("POST", PAY, payment(account, "200001"))
    assert too_much.status_code == 409
    assert too_much.json()["errors"] == [
        {
            "field": "amount",
            "message": f"200001 VND is more than the 200000 VND owed on account {account.number}",
        }
    ]
    assert bank.request("POST", PAY, payment(account, "200000")).status_code == 201
    before = counts()
    nothing = bank.request("POST", PAY, payment(account, "1000", "VCB-0002"))
    assert nothing.status_code == 409
    assert nothing.json()["type"].endswith("/nothing-owed")
    assert counts() == before
    credit = counter.request("POST", PAY, payment(account, "50000", "AGR-1"))
    assert credit.status_code == 201
    assert (credit.json()["credit_on_account"], credit.json()["balance_after"]) == (
        "50000",
        "-50000",
    )


def test_allocation_is_exact_to_the_cent():
    sce = UtilityFactory(code="sce")
    bank, _ = partner_channel(sce.id, "chase")
    account = AccountFactory(utility=sce)
    bill(account.id, "10.01", date(2025, 5, 20), "B-1", currency="USD")
    bill(account.id, "20.02", date(2025, 6, 20), "B-2", currency="USD")
    response = bank.request(
        "POST",
        PAY,
        {
            "transaction_id": "CH-1",
            "account_number": account.number,
            "amount": "15.03",
            "currency": "USD",
            "received_at": "2025-06-02T09:30:00-07:00",
        },
    )
    assert response.status_code == 201
    assert response.json()["settled"] == [
        {"bill_number": "B-1", "source_type": "bill", "amount": "10.01"},
        {"bill_number": "B-2", "source_type": "bill", "amount": "5.02"},
    ]
    assert response.json()["balance_after"] == "15.00"
    assert [(i.source_id, i.open.amount) for i in get_open_items(account_id=account.id)] == [
        ("B-2", Decimal("15.00"))
    ]


@pytest.mark.parametrize(
    ("change", "status", "field", "message"),
    [
        ({"amount": "-5000"}, 422, "amount", "the amount must be more than zero, not -5000"),
        ({"amount": "0"}, 422, "amount", "the amount must be more than zero, not 0"),
        ({"amount": "abc"}, 422, "amount", "Input should be a valid decimal"),
        (
            {"amount": 12.5},
            422,
            "amount",
            'Value error, send the amount as a string ("12.34") or an integer, not a JSON fraction',
        ),
        ({"amount": "10.5"}, 422, "amount", "10.5 has more decimals than VND allows (0)"),
        ({"currency": "USD"}, 422, "currency", "evn-hcmc accounts are kept in VND, not USD"),
        ({"currency": "XYZ"}, 422, "currency", "unknown currency 'XYZ'"),
        ({"account_number": "PE0100999999"}, 422, "account_number", None),
        ({"account_number": "PE01009999994"}, 404, "account_number", None),
        ({"transaction_id": ""}, 422, "transaction_id", "String should have at least 1 character"),
        (
            {"received_at": "2099-01-01T00:00:00Z"},
            422,
            "received_at",
            "received_at is in the future",
        ),
    ],
)
def test_malformed_payments_get_a_problem_naming_the_field_and_post_nothing(
    bank, account, change, status, field, message
):
    bill(account.id, 500_000, date(2025, 5, 20), "HD-2025-05")
    before = counts()
    response = bank.request("POST", PAY, {**payment(account), **change})
    assert response.status_code == status, response.json()
    assert response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    if message is not None:
        assert errors[0]["message"] == message
    assert counts() == before


def test_a_body_that_is_not_a_payment_is_refused_and_posts_nothing(bank, account):
    bill(account.id, 500_000, date(2025, 5, 20), "HD-2025-05")
    before = counts()
    broken = bank.request("POST", PAY, body=b"{not json")
    assert broken.status_code == 400
    assert broken.json()["detail"] == "Cannot parse request body"
    partial = bank.request("POST", PAY, {"transaction_id": "VCB-1", "amount": "5"})
    assert partial.status_code == 422
    assert [e["field"] for e in partial.json()["errors"]] == ["account_number", "currency"]
    assert counts() == before


def test_unknown_account_and_mistyped_check_digit_are_told_apart(bank, account):
    bill(account.id, 500_000, date(2025, 5, 20), "HD-2025-05")
    before = counts()
    nobody = format_number(scheme=NumberScheme.EVN13, prefix="PE", area="0100", serial=999_999)
    unknown = bank.request("POST", PAY, payment(account, account_number=nobody))
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"account_number: no account with number {nobody!r}"
    wrong_digit = str((int(account.number[-1]) + 1) % 10)
    mistyped = bank.request(
        "POST", PAY, payment(account, account_number=account.number[:-1] + wrong_digit)
    )
    assert mistyped.status_code == 422
    assert mistyped.json()["type"].endswith("/check-digit")
    assert "fails its check digit (mistyped?)" in mistyped.json()["detail"]
    assert counts() == before


def test_oversized_body_missing_signature_stale_and_replayed_requests_are_refused(bank, account):
    bill(account.id, 500_000, date(2025, 5, 20), "HD-2025-05")
    before = counts()
    huge = bank.request("POST", PAY, {**payment(account), "device": "x" * 9000})
    assert huge.status_code == 413
    assert huge.json()["detail"].startswith("the request body is ")
    unsigned = bank.http.post(
        PAY, data=json.dumps(payment(account)), content_type="application/json"
    )
    assert unsigned.status_code == 401
    assert unsigned.json()["detail"] == "the X-Ampere-Key header is missing"
    stale = bank.request("POST", PAY, payment(account), timestamp=int(time.time()) - 301)
    assert stale.status_code == 401
    assert stale.json()["detail"] == "the request timestamp is stale or in the future"
    body = json.dumps(payment(account)).encode()
    headers = signed_headers(
        key_id=bank.key.key_id,
        secret=bank.key.secret,
        method="POST",
        path=PAY,
        body=body,
        timestamp=int(time.time()),
    )
    tampered = bank.http.generic(
        "POST",
        PAY,
        data=body.replace(b"250000", b"950000"),
        content_type="application/json",
        headers=headers,
    )
    assert tampered.status_code == 401
    assert tampered.json()["detail"] == "the signature does not match the request"
    assert counts() == before
    first = bank.http.generic(
        "POST", PAY, data=body, content_type="application/json", headers=headers
    )
    assert first.status_code == 201
    replay = bank.http.generic(
        "POST", PAY, data=body, content_type="application/json", headers=headers
    )
    assert replay.status_code == 401
    assert replay.json()["detail"] == "this signed request was received before"
    assert Payment.objects.count() == 1
    assert sorted(ApiCall.objects.values_list("outcome", flat=True)) == [
        "accepted",
        "bad-signature",
        "body-too-large",
        "missing-key",
        "replayed",
        "stale-timestamp",
    ]


def test_a_client_without_a_payment_channel_or_scope_cannot_post(utility, account):
    from tests.factories.partners import PartnerClient

    readings = PartnerClient(utility_id=utility.id, scopes=["readings"], code="head-end")
    assert readings.request("POST", PAY, payment(account)).status_code == 403
    no_channel = PartnerClient(utility_id=utility.id, scopes=["payments"], code="no-channel")
    response = no_channel.request("POST", PAY, payment(account))
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "channel: client 'no-channel' is not set up as a payment channel"
    )
    assert Payment.objects.count() == 0


def test_a_recall_restores_the_balance_charges_the_fee_and_is_answered_once(utility, account):
    bank, _ = partner_channel(utility.id, "vietcombank", fee=Decimal(20_000))
    bill(account.id, 200_000, date(2025, 5, 20), "HD-2025-05")
    bank.request("POST", PAY, payment(account, "200000"))
    assert get_balance(account_id=account.id) == Money.of(0, "VND")
    recall = {"recall_id": "RC-9", "reason": "customer disputes the transfer"}
    response = bank.request("POST", f"{PAY}/VCB-0001/recall", recall)
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["fee"], body["balance"], body["replayed"]) == (
        "recall",
        "20000",
        "220000",
        False,
    )
    assert get_balance(account_id=account.id) == Money.of(220_000, "VND")
    assert [(i.source_id, i.open.amount) for i in get_open_items(account_id=account.id)] == [
        ("HD-2025-05", Decimal(200_000)),
        (str(Payment.objects.get().id), Decimal(20_000)),
    ]
    before = counts()
    again = bank.request("POST", f"{PAY}/VCB-0001/recall", recall)
    assert again.status_code == 200
    assert again.json() == {**body, "replayed": True}
    other = bank.request("POST", f"{PAY}/VCB-0001/recall", {**recall, "recall_id": "RC-10"})
    assert other.status_code == 409
    assert counts() == before
    assert PaymentReversal.objects.count() == 1
    receipt = bank.request("GET", f"{PAY}/VCB-0001").json()
    assert receipt["status"] == "reversed"


def test_openapi_documents_the_payment_endpoints(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = {p: set(ops) for p, ops in schema["paths"].items() if p.startswith("/api/v1/payments/")}
    staff = "/api/v1/payments/staff"
    assert paths == {
        "/api/v1/payments/accounts/{account_number}": {"get"},
        "/api/v1/payments/payments": {"post"},
        "/api/v1/payments/payments/{transaction_id}": {"get"},
        "/api/v1/payments/payments/{transaction_id}/recall": {"post"},
        f"{staff}/channels/{{channel}}/tills": {"post"},
        f"{staff}/tills/{{till_id}}/payments": {"post"},
        f"{staff}/tills/{{till_id}}/close": {"post"},
        f"{staff}/tills/{{till_id}}": {"get"},
        f"{staff}/channels/{{channel}}/lockbox-files": {"post"},
        f"{staff}/channels/{{channel}}/quarantine": {"get"},
        f"{staff}/channels/{{channel}}/quarantine/{{row_id}}/release": {"post"},
        f"{staff}/channels/{{channel}}/quarantine/{{row_id}}/reject": {"post"},
        f"{staff}/channels/{{channel}}/settlement-files": {"post"},
        f"{staff}/settlement-files/{{file_id}}": {"get"},
        f"{staff}/reconciliation-items/{{item_id}}/resolve": {"post"},
        f"{staff}/payments/{{payment_id}}": {"get"},
        f"{staff}/payments/{{payment_id}}/reversal": {"post"},
        f"{staff}/payments/{{payment_id}}/transfer": {"post"},
        f"{staff}/refunds": {"post"},
        f"{staff}/mandates": {"post"},
        f"{staff}/mandates/{{mandate_id}}/cancel": {"post"},
        f"{staff}/direct-debits/collect": {"post"},
        f"{staff}/checkouts": {"post"},
        "/api/v1/payments/gateway/{channel}/notifications": {"post"},
        "/api/v1/payments/gateway-simulator/{session_id}": {"get"},
        "/api/v1/payments/gateway-simulator/{session_id}/pay": {"post"},
    }
    post = schema["paths"]["/api/v1/payments/payments"]["post"]
    assert set(post["responses"]) >= {"200", "201", "401", "409", "413", "422"}
    assert post["security"] == [{"PartnerSignature": []}]
    for name in ("PaymentIn", "ReceiptOut", "AccountDebtOut", "Problem", "ReportOut"):
        assert name in schema["components"]["schemas"], name
    amount = schema["components"]["schemas"]["PaymentIn"]["properties"]["amount"]
    assert "string" in str(amount)
