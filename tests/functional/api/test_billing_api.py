from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.accounts.operations import grant_customer_access
from ampere.api.auth import issue_access_token
from ampere.billing.einvoice.signing import verify_invoice
from ampere.billing.models import Bill
from ampere.billing.operations import (
    create_bill,
    declare_invoice_series,
    issue_einvoice,
    set_collection_account,
)
from ampere.billing.runs import execute_bill_run, start_bill_run
from ampere.core.periods import DatePeriod
from tests.factories.billing import evn_draft
from tests.factories.billrun import AS_OF, NOW, customer, scene
from tests.unit.billing.keys import credentials

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def billed(django_user_model, settings, tmp_path: Path):
    settings.MEDIA_ROOT = tmp_path / "media"
    the_scene = scene()
    set_collection_account(
        utility_id=the_scene.utility_id, bank_bin="970436", account_number="0071000888999"
    )
    mine = customer(the_scene, kwh=300, previous_kwh=100)
    other = customer(the_scene, kwh=120)
    ref = start_bill_run(
        cycle_code=the_scene.cycle_code, as_of=AS_OF, now=NOW, created_by="t", documents=False
    )
    execute_bill_run(run_id=ref.id, now=lambda: NOW)
    user = django_user_model.objects.create_user("hanh", password="pw-Very-Long-1")
    grant_customer_access(user_id=user.id, account_number=mine.account.number, now=NOW)
    token = issue_access_token(user_id=user.id, name="app", days=30, now=datetime.now(UTC))
    return mine, other, {"Authorization": f"Bearer {token}"}, the_scene


def bills_of(client, account_id, auth, **params):
    return client.get(f"/api/v1/billing/accounts/{account_id}/bills", params, headers=auth)


def test_a_customer_lists_the_bills_of_their_account(client, billed):
    mine, _, auth, _ = billed
    response = bills_of(client, mine.account_id, auth)
    assert response.status_code == 200
    (only,) = response.json()
    bill = Bill.objects.get(agreement=mine)
    assert only == {
        "id": bill.id,
        "kind": "original",
        "status": "issued",
        "period_start": "2026-07-24",
        "period_end": "2026-08-24",
        "bill_date": "2026-08-24",
        "due_date": "2026-09-03",
        "issued_at": NOW.isoformat().replace("+00:00", "Z"),
        "currency": "VND",
        "consumption_kwh": "300.000",
        "estimated": False,
        "total": "798660.00",
        "reverses_id": None,
        "replaces_id": None,
    }


def test_the_list_is_paged_and_takes_the_same_queries_for_one_or_many_bills(client, billed):
    mine, _, auth, _ = billed
    with CaptureQueriesContext(connection) as one:
        assert len(bills_of(client, mine.account_id, auth).json()) == 1
    for number in range(1, 6):
        create_bill(
            draft=evn_draft(
                mine,
                DatePeriod(date(2026, number, 1), date(2026, number + 1, 1)),
                200,
                bill_date=date(2026, number + 1, 2),
            ),
            now=NOW,
            created_by="t",
        )
    with CaptureQueriesContext(connection) as many:
        page = bills_of(client, mine.account_id, auth, limit=4).json()
    assert len(one) == len(many)
    assert len(page) == 4
    ids = [b["id"] for b in page]
    assert ids == sorted(ids, reverse=True)
    rest = bills_of(client, mine.account_id, auth, limit=4, before_id=ids[-1]).json()
    assert len(rest) == 2 and rest[0]["id"] < ids[-1]
    assert bills_of(client, mine.account_id, auth, limit=0).status_code == 422


def test_a_bill_with_its_lines(client, billed):
    mine, _, auth, _ = billed
    bill = Bill.objects.get(agreement=mine)
    body = client.get(f"/api/v1/billing/bills/{bill.id}", headers=auth).json()
    assert (body["subtotal"], body["tax_total"], body["total"]) == (
        "739500.00",
        "59160.00",
        "798660.00",
    )
    assert [(x["code"], x["quantity"], x["amount"], x["tax_amount"]) for x in body["lines"]] == [
        ("tier-1", "50.0000", "99200.00", "7936.00"),
        ("tier-2", "50.0000", "102500.00", "8200.00"),
        ("tier-3", "100.0000", "238000.00", "19040.00"),
        ("tier-4", "100.0000", "299800.00", "23984.00"),
    ]


def test_a_customer_never_sees_another_customers_bills(client, billed):
    _, other, auth, _ = billed
    bill = Bill.objects.get(agreement=other)
    for path in (
        f"/api/v1/billing/accounts/{other.account_id}/bills",
        f"/api/v1/billing/bills/{bill.id}",
        f"/api/v1/billing/bills/{bill.id}/pdf",
        f"/api/v1/billing/bills/{bill.id}/einvoice",
        "/api/v1/billing/bills/999999999",
    ):
        response = client.get(path, headers=auth)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/problem+json"
    assert client.get(f"/api/v1/billing/bills/{bill.id}").status_code == 401


def test_a_held_bill_is_for_staff_only(client, billed, django_user_model):
    mine, _, auth, _ = billed
    held = create_bill(
        draft=evn_draft(
            mine,
            DatePeriod(date(2026, 8, 24), date(2026, 9, 24)),
            1000,
            bill_date=date(2026, 9, 24),
        ),
        now=NOW,
        created_by="t",
    )
    assert held.status == "held"
    assert client.get(f"/api/v1/billing/bills/{held.id}", headers=auth).status_code == 404
    assert [b["status"] for b in bills_of(client, mine.account_id, auth).json()] == ["issued"]
    staff = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/api/v1/billing/bills/{held.id}").json()["status"] == "held"
    assert [b["status"] for b in bills_of(client, mine.account_id, {}).json()] == [
        "held",
        "issued",
    ]


def test_the_pdf_and_the_einvoice_of_a_bill(client, billed):
    mine, _, auth, the_scene = billed
    bill = Bill.objects.get(agreement=mine)
    pdf = client.get(f"/api/v1/billing/bills/{bill.id}/pdf", headers=auth)
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    again = client.get(f"/api/v1/billing/bills/{bill.id}/pdf", headers=auth)
    assert again.content == pdf.content and again["ETag"] == pdf["ETag"]
    missing = client.get(f"/api/v1/billing/bills/{bill.id}/einvoice", headers=auth)
    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        f"bill: bill {bill.id} has no e-invoice",
    )
    declare_invoice_series(utility_id=the_scene.utility_id, form="1", symbol="K26TAA", year=2026)
    issue_einvoice(bill_id=bill.id, now=NOW, credentials=credentials())
    xml = client.get(f"/api/v1/billing/bills/{bill.id}/einvoice", headers=auth)
    assert xml.status_code == 200
    assert xml["Content-Disposition"] == 'inline; filename="K26TAA-00000001.xml"'
    signed = verify_invoice(xml.content, certificate_pem=credentials().certificate_pem)
    assert signed.findtext("NDHDon/TToan/TgTTTBSo") == "798660"
