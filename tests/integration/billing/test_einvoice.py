import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from lxml import etree

from ampere.billing import operations
from ampere.billing.einvoice.signing import verify_invoice
from ampere.billing.models import EInvoice, InvoiceSeries
from ampere.billing.operations import (
    InvoiceSeriesMissing,
    create_bill,
    declare_invoice_series,
    issue_einvoice,
)
from ampere.core.errors import Conflict, InvalidInput
from tests.factories.billing import (
    billing_utility,
    evn_agreement,
    evn_draft,
    month,
    sce_agreement,
    sce_draft,
)
from tests.unit.billing.keys import credentials

D = Decimal
RUN = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
NOW = datetime(2025, 6, 3, 2, 0, tzinfo=UTC)


def issued_bills(count: int) -> list[int]:
    utility = billing_utility("evn-hcmc")
    declare_invoice_series(utility_id=utility, form="1", symbol="K25TAA", year=2025)
    ids = []
    for kwh in range(300, 300 + count):
        agreement = evn_agreement()
        draft = evn_draft(agreement, month(2025, 5), kwh, bill_date=date(2025, 6, 2))
        ids.append(create_bill(draft=draft, now=RUN, created_by="run-1").id)
    return ids


@pytest.mark.django_db
def test_invoices_are_numbered_without_gaps_signed_and_idempotent():
    first, second = issued_bills(2)
    creds = credentials()
    a = issue_einvoice(bill_id=first, now=NOW, credentials=creds)
    b = issue_einvoice(bill_id=second, now=NOW, credentials=creds)
    assert (a.symbol, a.number, a.issue_date, a.created) == ("K25TAA", 1, date(2025, 6, 3), True)
    assert (b.number, b.created) == (2, True)
    again = issue_einvoice(bill_id=first, now=NOW, credentials=creds)
    assert (again.number, again.created) == (1, False)
    assert InvoiceSeries.objects.get().next_number == 3

    xml = EInvoice.objects.get(bill_id=first).xml.encode()
    signed = verify_invoice(xml, certificate_pem=creds.certificate_pem)
    assert signed.findtext("TTChung/SHDon") == "1"
    assert signed.findtext("NDHDon/TToan/TgTTTBSo") == "798660"
    assert signed.findtext("NDHDon/TToan/TgTTTBChu") == (
        "Bảy trăm chín mươi tám nghìn sáu trăm sáu mươi đồng"
    )
    assert signed.findtext("NDHDon/NBan/MST") == "0300951119"
    extras = {
        i.findtext("TTruong"): i.findtext("DLieu")
        for i in etree.fromstring(xml).findall("DLHDon/TTChung/TTKhac/TTin")
    }
    account = signed.findtext("NDHDon/NMua/MKHang")
    assert extras == {
        "MaKhachHang": account,
        "KyHoaDon": "01/05/2025-31/05/2025",
        "SoNgay": "31",
        "SoHo": "1",
        "DienNangTieuThu": "300",
        "SoCongTo": "CT0001",
        "ChiSoCu": "10000",
        "ChiSoMoi": "10300",
        "HeSoNhan": "1",
    }


@pytest.mark.django_db
def test_a_failed_signature_takes_no_number(monkeypatch):
    first, second = issued_bills(2)

    def broken(root, *, credentials):
        raise RuntimeError("token unplugged")

    monkeypatch.setattr(operations, "sign_invoice", broken)
    with pytest.raises(RuntimeError):
        issue_einvoice(bill_id=first, now=NOW, credentials=credentials())
    assert InvoiceSeries.objects.get().next_number == 1
    assert EInvoice.objects.count() == 0
    monkeypatch.undo()
    assert issue_einvoice(bill_id=second, now=NOW, credentials=credentials()).number == 1


@pytest.mark.django_db
def test_refusals_are_named_and_take_no_number():
    (bill,) = issued_bills(1)
    with pytest.raises(InvoiceSeriesMissing) as error:
        issue_einvoice(
            bill_id=bill, now=datetime(2026, 1, 5, 3, tzinfo=UTC), credentials=credentials()
        )
    assert error.value.field == "invoice_series"
    billing_utility("sce")
    usd = create_bill(
        draft=sce_draft(sce_agreement(), month(2025, 5), 400, bill_date=date(2025, 6, 2)),
        now=RUN,
        created_by="run-1",
    )
    with pytest.raises(InvalidInput) as invalid:
        issue_einvoice(bill_id=usd.id, now=NOW, credentials=credentials())
    assert invalid.value.field == "currency"
    assert EInvoice.objects.count() == 0
    assert InvoiceSeries.objects.get().next_number == 1
    utility = InvoiceSeries.objects.get().utility_id
    for symbol, year, field in [
        ("K25TAA", 2025, "symbol"),
        ("K24TAB", 2025, "symbol"),
        ("X25TAB", 2025, "symbol"),
        ("K25Tab", 2025, "symbol"),
    ]:
        with pytest.raises((Conflict, InvalidInput)) as bad:
            declare_invoice_series(utility_id=utility, form="1", symbol=symbol, year=year)
        assert bad.value.field == field
    assert InvoiceSeries.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_invoices_take_consecutive_numbers():
    bills = issued_bills(6)
    creds = credentials()
    errors: list[BaseException] = []

    def issue(bill_id: int) -> None:
        try:
            issue_einvoice(bill_id=bill_id, now=NOW, credentials=creds)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(b,)) for b in bills]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(EInvoice.objects.values_list("number", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert InvoiceSeries.objects.get().next_number == 7
