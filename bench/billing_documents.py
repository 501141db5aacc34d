"""Billing documents throughput, one process, no database: PDF bills rendered per second,
e-invoices built and signed (XML-DSig, RSA-2048) per second, VietQR payloads per second.

These are the per-bill costs of the work queued after a bill run (PDFs and e-invoices are never
made inside it). Full size: 200 PDFs, 500 e-invoices, 100,000 payloads; --quick: 20, 50, 10,000.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ampere.billing.documents.pdf import BillDocumentData, render_bill_pdf
from ampere.billing.einvoice.document import (
    InvoiceData,
    InvoiceLine,
    Party,
    build_invoice,
    to_bytes,
)
from ampere.billing.einvoice.signing import SigningCredentials, sign_invoice
from ampere.billing.types import BillLineView, UsagePoint
from ampere.billing.vietqr import VietQRRequest, vietqr_payload
from ampere.core.periods import DatePeriod

D = Decimal
TIERS = [(1, 50, 1984), (2, 50, 2050), (3, 100, 2380), (4, 100, 2998)]


def credentials() -> SigningCredentials:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(datetime(2035, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    return SigningCredentials(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        certificate.public_bytes(serialization.Encoding.PEM),
    )


def document(bill_id: int) -> BillDocumentData:
    lines = tuple(
        BillLineView(
            n,
            "energy",
            f"tier-{n}",
            f"Điện sinh hoạt bậc {n}",
            D(k),
            "kWh",
            D(p),
            D(k * p),
            D(k * p),
            D("0.08"),
            D(k * p) * D("0.08"),
        )
        for n, k, p in TIERS
    )
    history = tuple(
        UsagePoint(DatePeriod(date(2024, m, 1), date(2024, m + 1, 1)), D(250 + m), False)
        for m in range(1, 12)
    )
    payload = vietqr_payload(
        VietQRRequest(
            "970436",
            "0071000888999",
            amount_vnd=798660,
            bill_number=str(bill_id),
            purpose="TIEN DIEN PE0100900001",
        )
    )
    return BillDocumentData(
        bill_id=bill_id,
        kind="original",
        language="vi",
        legal_language="vi",
        currency="VND",
        utility_name="Tổng công ty Điện lực Thành phố Hồ Chí Minh",
        utility_address="35 Tôn Đức Thắng, Phường Sài Gòn",
        utility_tax_code="0300951119",
        customer_name="Nguyễn Văn An",
        account_number="PE0100900001",
        service_address="1 Nguyễn Huệ, Phường Sài Gòn",
        period=DatePeriod(date(2024, 12, 1), date(2025, 1, 1)),
        bill_date=date(2025, 1, 2),
        due_date=date(2025, 1, 9),
        issued_at=datetime(2025, 1, 2, tzinfo=UTC),
        consumption_kwh=D(300),
        estimated=False,
        lines=lines,
        subtotal=D(739500),
        tax_total=D(59160),
        total=D(798660),
        history=history,
        vietqr_payload=payload,
    )


def invoice(number: int) -> InvoiceData:
    return InvoiceData(
        form="1",
        symbol="K25TAA",
        number=number,
        issue_date=date(2025, 1, 2),
        seller=Party("EVN HCMC", "35 Tôn Đức Thắng", "0300951119"),
        buyer=Party("Nguyễn Văn An", "1 Nguyễn Huệ", customer_code="PE0100900001"),
        lines=tuple(
            InvoiceLine(f"Điện sinh hoạt bậc {n}", "kWh", D(k), D(p), D(k * p), D("0.08"))
            for n, k, p in TIERS
        ),
    )


def rate(count: int, work: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for index in range(count):
        work(index + 1)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    pdfs, invoices, payloads = (20, 50, 10_000) if args.quick else (200, 500, 100_000)
    creds = credentials()

    def pdf(i: int) -> bytes:
        return render_bill_pdf(document(i))

    def einvoice(i: int) -> bytes:
        return to_bytes(sign_invoice(build_invoice(invoice(i)), credentials=creds))

    def payload(i: int) -> str:
        return vietqr_payload(VietQRRequest("970436", "0071000888999", amount_vnd=i))

    figures = {
        "pdfs": pdfs,
        "pdf_bytes": len(pdf(1)),
        "pdfs_per_second": round(rate(pdfs, pdf), 1),
        "einvoices": invoices,
        "einvoice_bytes": len(einvoice(1)),
        "einvoices_per_second": round(rate(invoices, einvoice), 1),
        "vietqr_payloads": payloads,
        "vietqr_payloads_per_second": round(rate(payloads, payload)),
        "processes": 1,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
