from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ampere.accounts.models import Account
from ampere.billing.einvoice.signing import verify_invoice
from ampere.billing.models import Bill, EInvoice
from ampere.billing.operations import issue_einvoice

pytestmark = pytest.mark.django_db


def test_demo_command_creates_accounts_and_reports_the_rate():
    out = StringIO()
    call_command("demo", utility="evn-spc", accounts=25, seed=9, stdout=out)
    assert Account.objects.filter(utility__code="evn-spc").count() == 25
    assert "25 accounts for evn-spc" in out.getvalue()
    again = StringIO()
    call_command("demo", utility="evn-spc", accounts=25, seed=9, if_empty=True, stdout=again)
    assert "has accounts already" in again.getvalue()
    assert Account.objects.count() == 25


def test_demo_command_refuses_a_bad_count():
    with pytest.raises(CommandError, match="accounts: create at least one account"):
        call_command("demo", utility="sce", accounts=0)
    assert Account.objects.count() == 0


def test_up_sets_up_without_serving(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    settings.EINVOICE_CREDENTIALS_DIR = tmp_path / "einvoice"
    out = StringIO()
    call_command("up", no_serve=True, demo_accounts=5, stdout=out)
    text = out.getvalue()
    assert "Ampere back office: http://127.0.0.1:8000/admin/" in text
    assert "Log in as admin with password" in text
    assert (tmp_path / "admin-password.txt").exists()
    assert Account.objects.count() == 15
    # Meters, reads and cycles came with the demo, and one run per utility billed them.
    for code in ("evn-hcmc", "evn-spc", "sce"):
        assert f"Bill run of {code} cycle C01" in text
        assert Bill.objects.filter(account__utility__code=code).count() == 5
    # The VND demo utilities sign e-invoices with a self-signed DEMO certificate.
    assert sorted(p.name for p in (tmp_path / "einvoice").iterdir()) == [
        "evn-hcmc.cert.pem",
        "evn-hcmc.key.pem",
        "evn-spc.cert.pem",
        "evn-spc.key.pem",
    ]
    bill = Bill.objects.filter(account__utility__code="evn-hcmc").order_by("id").first()
    assert bill is not None
    invoice = issue_einvoice(bill_id=bill.id, now=datetime.now(UTC))
    xml = EInvoice.objects.get(bill_id=bill.id).xml
    certificate = (tmp_path / "einvoice" / "evn-hcmc.cert.pem").read_bytes()
    assert (
        verify_invoice(
            xml.encode() if isinstance(xml, str) else bytes(xml), certificate_pem=certificate
        )
        is not None
    )
    assert invoice.number == 1
    again = StringIO()
    call_command("up", no_serve=True, demo_accounts=5, stdout=again)
    assert "Bill run of" not in again.getvalue()
    assert Bill.objects.count() == 15
