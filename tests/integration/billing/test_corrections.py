from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree

from ampere.accounts.models import LedgerAllocation, LedgerEntry
from ampere.accounts.queries import get_balance
from ampere.billing.corrections import cancel_and_rebill, rebill_revised_consumption
from ampere.billing.einvoice.signing import verify_invoice
from ampere.billing.models import Bill, BillLine, EInvoice, InvoiceSeries, RebillCursor
from ampere.billing.operations import declare_invoice_series, issue_einvoice
from ampere.billing.runs import execute_bill_run, start_bill_run
from ampere.billing.states import IllegalTransition
from ampere.core.errors import InvalidInput
from ampere.core.localtime import local_midnight
from ampere.core.money import Money
from ampere.metering import operations as metering
from ampere.metering.models import RegisterRead
from ampere.metering.parsing import RawRow
from tests.factories.billrun import AS_OF, NOW, READ_ON, TZ, customer, read, scene
from tests.unit.billing.keys import credentials

pytestmark = pytest.mark.django_db

D = Decimal
LATER = datetime(2026, 9, 7, 3, tzinfo=UTC)  # Monday 7 September, 10:00 in Ho Chi Minh City


def run(the_scene) -> int:
    ref = start_bill_run(
        cycle_code=the_scene.cycle_code, as_of=AS_OF, now=NOW, created_by="t", documents=False
    )
    execute_bill_run(run_id=ref.id, now=lambda: NOW)
    return ref.id


def test_cancel_and_rebill_posts_a_reversing_bill_and_a_new_bill():
    the_scene = scene()
    agreement = customer(the_scene, kwh=300)
    run(the_scene)
    original = Bill.objects.get(agreement=agreement)
    charge = LedgerEntry.objects.get(source_type="bill", source_id=str(original.id))
    # The reader mistyped the closing read; the corrected read is taken later the same day.
    read(agreement, READ_ON, 10_250, hour=15)
    correction = cancel_and_rebill(bill_id=original.id, reason="misread", by="clerk", now=LATER)
    original.refresh_from_db()
    assert correction.reversal_id is not None
    reversal = Bill.objects.get(id=correction.reversal_id)
    rebill = Bill.objects.get(id=correction.rebill_id)
    assert (original.status, original.cancelled_at, original.total) == (
        "cancelled",
        LATER,
        D(798660),
    )
    assert (reversal.kind, reversal.status, reversal.reverses_id, reversal.total) == (
        "reversal",
        "issued",
        original.id,
        D(-798660),
    )
    assert (reversal.bill_date, reversal.due_date, reversal.subtotal, reversal.tax_total) == (
        date(2026, 9, 7),
        None,
        D(-739500),
        D(-59160),
    )
    assert list(
        BillLine.objects.filter(bill=reversal)
        .order_by("sequence")
        .values_list("quantity", "amount")
    ) == [(D(-50), D(-99200)), (D(-50), D(-102500)), (D(-100), D(-238000)), (D(-100), D(-299800))]
    assert (rebill.kind, rebill.status, rebill.replaces_id, rebill.consumption_kwh) == (
        "rebill",
        "issued",
        original.id,
        D(250),
    )
    # 50 × 1,984 + 50 × 2,050 + 100 × 2,380 + 50 × 2,998 = 589,600; VAT 8 % = 47,168.
    assert (rebill.subtotal, rebill.tax_total, rebill.total) == (D(589600), D(47168), D(636768))
    assert (rebill.bill_date, rebill.due_date) == (date(2026, 9, 7), date(2026, 9, 14))
    entries = LedgerEntry.objects.filter(account_id=agreement.account_id).order_by("id")
    assert [(e.kind, e.amount, e.source_type, e.reverses_id) for e in entries] == [
        ("charge", D(798660), "bill", None),
        ("reversal", D(-798660), "ledger_entry", charge.id),
        ("charge", D(636768), "bill", None),
    ]
    assert entries[2].source_id == str(rebill.id)
    assert get_balance(account_id=agreement.account_id) == Money.of(636768, "VND")
    assert LedgerAllocation.objects.filter(debit_entry=charge).count() == 1  # set off
    with pytest.raises(IllegalTransition):
        cancel_and_rebill(bill_id=original.id, reason="again", by="clerk", now=LATER)
    with pytest.raises(IllegalTransition):
        cancel_and_rebill(bill_id=reversal.id, reason="again", by="clerk", now=LATER)
    assert Bill.objects.count() == 3


def test_an_estimated_bill_is_rebilled_when_the_actual_read_arrives():
    the_scene = scene()
    agreement = customer(the_scene, kwh=None, start=10_000)
    run(the_scene)
    estimated = Bill.objects.get(agreement=agreement)
    assert estimated.estimated is True
    estimate = RegisterRead.objects.get(source="estimated")
    assert rebill_revised_consumption(utility_code="evn-hcmc", now=LATER, by="t").rebilled == 0
    actual = estimate.value + 4
    result = metering.import_read_batch(
        utility_code="evn-hcmc",
        rows=[
            RawRow(
                1,
                {
                    "meter": estimate.register.meter.serial,
                    "register": "kwh",
                    "read_at": (local_midnight(READ_ON, TZ) + timedelta(hours=9)).isoformat(),
                    "value": str(actual),
                },
            )
        ],
        external_id="late-reads",
        channel="cli",
        submitted_by="reader",
        default_source="handheld",
        now=LATER,
    )
    assert result.accepted == 1
    report = rebill_revised_consumption(utility_code="evn-hcmc", now=LATER, by="t")
    assert (report.revisions, report.rebilled, report.failed) == (1, 1, ())
    estimated.refresh_from_db()
    rebill = Bill.objects.get(replaces=estimated)
    assert (estimated.status, rebill.estimated, rebill.consumption_kwh) == (
        "cancelled",
        False,
        actual - 10_000,
    )
    assert RebillCursor.objects.get().processed_until == LATER
    again = rebill_revised_consumption(utility_code="evn-hcmc", now=LATER, by="t")
    assert (again.revisions, again.rebilled) == (0, 0)
    assert Bill.objects.filter(kind="rebill").count() == 1


def _issued_vnd_bill():
    """A 300 kWh bill issued by a run of a utility with the invoice series 1K26TAA of 2026:
    (agreement, bill)."""
    the_scene = scene()
    declare_invoice_series(utility_id=the_scene.utility_id, form="1", symbol="K26TAA", year=2026)
    agreement = customer(the_scene, kwh=300)
    run(the_scene)
    return agreement, Bill.objects.get(agreement=agreement)


def test_a_cancelled_invoiced_bill_gets_an_adjusting_einvoice_and_its_rebill_a_new_one():
    agreement, original = _issued_vnd_bill()
    creds = credentials()
    first = issue_einvoice(bill_id=original.id, now=NOW, credentials=creds)
    assert (first.symbol, first.number, first.issue_date) == ("K26TAA", 1, date(2026, 8, 24))
    read(agreement, READ_ON, 10_250, hour=15)
    correction = cancel_and_rebill(bill_id=original.id, reason="misread", by="clerk", now=LATER)
    assert correction.reversal_id is not None
    adjusting = issue_einvoice(bill_id=correction.reversal_id, now=LATER, credentials=creds)
    rebilled = issue_einvoice(bill_id=correction.rebill_id, now=LATER, credentials=creds)
    assert (adjusting.number, adjusting.issue_date, rebilled.number) == (2, date(2026, 9, 7), 3)

    xml = EInvoice.objects.get(bill_id=correction.reversal_id).xml.encode()
    signed = verify_invoice(xml, certificate_pem=creds.certificate_pem)
    related = signed.find("TTChung/TTHDLQuan")
    assert related is not None
    assert [(e.tag, e.text) for e in related] == [
        ("TCHDon", "2"),
        ("LHDCLQuan", "1"),
        ("KHMSHDCLQuan", "1"),
        ("KHHDCLQuan", "K26TAA"),
        ("SHDCLQuan", "1"),
        ("NLHDCLQuan", "2026-08-24"),
        (
            "GChu",
            "Điều chỉnh giảm toàn bộ hóa đơn ký hiệu 1K26TAA số 1 ngày 24/08/2026"
            " (tiền điện kỳ 24/07/2026-23/08/2026) do hủy hóa đơn",
        ),
    ]
    goods = [
        (i.findtext("TChat"), i.findtext("SLuong"), i.findtext("DGia"), i.findtext("ThTien"))
        for i in signed.findall("NDHDon/DSHHDVu/HHDVu")
    ]
    assert goods == [
        ("1", "-50", "1984", "-99200"),
        ("1", "-50", "2050", "-102500"),
        ("1", "-100", "2380", "-238000"),
        ("1", "-100", "2998", "-299800"),
    ]
    assert [signed.findtext(f"NDHDon/TToan/{tag}") for tag in ("TgTCThue", "TgTThue")] == [
        "-739500",
        "-59160",
    ]
    assert signed.findtext("NDHDon/TToan/TgTTTBSo") == "-798660"
    assert signed.findtext("NDHDon/TToan/TgTTTBChu") == (
        "Âm bảy trăm chín mươi tám nghìn sáu trăm sáu mươi đồng"
    )
    new = etree.fromstring(EInvoice.objects.get(bill_id=correction.rebill_id).xml.encode())
    assert new.find("DLHDon/TTChung/TTHDLQuan") is None
    assert new.findtext("DLHDon/NDHDon/TToan/TgTTTBSo") == "636768"


def test_a_bill_cancelled_before_it_was_invoiced_is_not_invoiced_nor_its_reversal():
    agreement, original = _issued_vnd_bill()
    read(agreement, READ_ON, 10_250, hour=15)
    correction = cancel_and_rebill(bill_id=original.id, reason="misread", by="clerk", now=LATER)
    assert correction.reversal_id is not None
    creds = credentials()
    with pytest.raises(InvalidInput) as cancelled:
        issue_einvoice(bill_id=original.id, now=LATER, credentials=creds)
    assert (cancelled.value.field, str(cancelled.value)) == (
        "status",
        f"status: bill {original.id} was cancelled before it was invoiced",
    )
    with pytest.raises(InvalidInput) as reversal:
        issue_einvoice(bill_id=correction.reversal_id, now=LATER, credentials=creds)
    assert reversal.value.field == "kind"
    assert EInvoice.objects.count() == 0
    assert InvoiceSeries.objects.get().next_number == 1
    assert issue_einvoice(bill_id=correction.rebill_id, now=LATER, credentials=creds).number == 1
