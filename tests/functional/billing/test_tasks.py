"""Documents are made by tasks queued when a bill is issued (eager without a broker)."""

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from celery.result import EagerResult
from django.core.files.storage import default_storage
from django.utils import timezone
from pypdf import PdfReader

from ampere.billing import tasks
from ampere.billing.einvoice.signing import verify_invoice
from ampere.billing.models import BillDocument, EInvoice
from ampere.billing.operations import (
    create_bill,
    declare_invoice_series,
    render_bill_document,
    set_collection_account,
)
from ampere.billing.queries import CollectionAccountMissing
from ampere.config.celery import app
from tests.factories.billing import (
    billing_utility,
    evn_agreement,
    evn_draft,
    month,
    sce_agreement,
    sce_draft,
)
from tests.unit.billing.keys import credentials

pytestmark = pytest.mark.django_db

RUN = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def storage(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    keys = tmp_path / "keys"
    keys.mkdir()
    creds = credentials()
    (keys / "evn-hcmc.key.pem").write_bytes(creds.key_pem)
    (keys / "evn-hcmc.cert.pem").write_bytes(creds.certificate_pem)
    settings.EINVOICE_CREDENTIALS_DIR = keys
    return tmp_path


def pdf_text(path: str) -> str:
    with default_storage.open(path, "rb") as stored:
        reader = PdfReader(io.BytesIO(stored.read()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_without_a_broker_tasks_run_in_process():
    assert app.conf.task_always_eager is True
    assert app.conf.broker_url in ("", None)
    assert tasks.render_bill_pdf.app is app


def test_issuing_a_vnd_bill_queues_its_pdf_and_its_einvoice(
    storage, django_capture_on_commit_callbacks
):
    utility = billing_utility("evn-hcmc")
    set_collection_account(utility_id=utility, bank_bin="970436", account_number="0071000888999")
    # The task invoices on the day it runs (it reads the clock): a series for this year.
    year = timezone.now().year
    symbol = f"K{year % 100:02d}TAA"
    declare_invoice_series(utility_id=utility, form="1", symbol=symbol, year=year)
    agreement = evn_agreement(account__customer__name="Trần Thị Ánh")
    for number in range(1, 5):
        create_bill(
            draft=evn_draft(
                agreement, month(2025, number), 280 + number, bill_date=date(2025, number + 1, 2)
            ),
            now=RUN,
            created_by="run-1",
        )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ref = create_bill(
            draft=evn_draft(agreement, month(2025, 5), 300, bill_date=date(2025, 6, 2)),
            now=RUN,
            created_by="run-1",
        )
    assert len(callbacks) == 2
    document = BillDocument.objects.get(bill_id=ref.id)
    assert document.path == f"bills/2025/06/{ref.id}.pdf"
    text = pdf_text(document.path)
    assert "Trần Thị Ánh" in text
    assert "Tổng cộng tiền thanh toán 798.660 đ" in text
    assert "Lịch sử tiêu thụ điện (kWh) 281 01/25 282 02/25 283 03/25 284 04/25 300 05/25" in text
    assert "Quét mã VietQR để thanh toán" in text
    invoice = EInvoice.objects.get(bill_id=ref.id)
    assert invoice.number == 1
    signed = verify_invoice(invoice.xml.encode(), certificate_pem=credentials().certificate_pem)
    assert signed.findtext("NDHDon/TToan/TgTTTBSo") == "798660"

    # A repeated delivery of the task returns the first document and writes nothing new.
    result = tasks.render_bill_pdf.delay(ref.id)
    assert isinstance(result, EagerResult)
    assert result.get() == document.path
    assert BillDocument.objects.filter(bill_id=ref.id).count() == 1
    assert tasks.issue_einvoice.delay(ref.id).get() == f"{symbol}/1"
    assert EInvoice.objects.count() == 1


def test_a_spanish_usd_bill_has_its_pdf_without_qr(storage):
    billing_utility("sce")
    ref = create_bill(
        draft=sce_draft(sce_agreement(), month(2025, 5), 400, bill_date=date(2025, 6, 2)),
        now=RUN,
        created_by="run-1",
    )
    made = render_bill_document(bill_id=ref.id, now=RUN)
    assert made.created
    text = pdf_text(made.path)
    assert "María González" in text
    assert "Total a pagar $144,60" in text
    assert "Cargo por servicios básicos 31 day 0,79343 $24,60" in text
    assert "VietQR" not in text
    again = render_bill_document(bill_id=ref.id, now=RUN)
    assert (again.created, again.sha256) == (False, made.sha256)


def test_a_vnd_utility_without_collection_account_gets_a_named_error(storage):
    billing_utility("evn-hcmc")
    ref = create_bill(
        draft=evn_draft(evn_agreement(), month(2025, 5), 300, bill_date=date(2025, 6, 2)),
        now=RUN,
        created_by="run-1",
    )
    with pytest.raises(CollectionAccountMissing) as error:
        render_bill_document(bill_id=ref.id, now=RUN)
    assert error.value.field == "collection_account"
    assert BillDocument.objects.count() == 0
