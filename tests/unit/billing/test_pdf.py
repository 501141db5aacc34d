import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from ampere.billing.documents.pdf import BillDocumentData, render_bill_pdf
from ampere.billing.types import BillLineView, ReadingDetail, UsagePoint
from ampere.billing.vietqr import VietQRRequest, vietqr_payload
from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod

D = Decimal
MAY = DatePeriod(date(2025, 5, 1), date(2025, 6, 1))
PAYLOAD = vietqr_payload(
    VietQRRequest(
        bank_bin="970403",
        account_number="0011012345678",
        amount_vnd=798660,
        bill_number="4242",
        purpose="TIEN DIEN PE0100900001",
    )
)


def month(year: int, number: int) -> DatePeriod:
    end = date(year + number // 12, number % 12 + 1, 1)
    return DatePeriod(date(year, number, 1), end)


def lines() -> tuple[BillLineView, ...]:
    rows = [(1, 50, 1984, 7936), (2, 50, 2050, 8200), (3, 100, 2380, 19040), (4, 100, 2998, 23984)]
    return tuple(
        BillLineView(
            n,
            "energy",
            f"tier-{n}",
            f"Điện sinh hoạt bậc {n}",
            D(kwh),
            "kWh",
            D(price),
            D(kwh * price),
            D(kwh * price),
            D("0.08"),
            D(tax),
        )
        for n, kwh, price, tax in rows
    )


def document(language: str, **changes) -> BillDocumentData:
    history = tuple(
        UsagePoint(month(2024, m), D(200 + 10 * m), m == 9) for m in range(6, 13)
    ) + tuple(UsagePoint(month(2025, m), D(250 + m), False) for m in range(1, 5))
    data: dict[str, Any] = {
        "bill_id": 4242,
        "kind": "original",
        "language": language,
        "legal_language": "vi",
        "currency": "VND",
        "utility_name": "Tổng công ty Điện lực Thành phố Hồ Chí Minh",
        "utility_address": "35 Tôn Đức Thắng, Phường Sài Gòn, Thành phố Hồ Chí Minh",
        "utility_tax_code": "0300951119",
        "customer_name": "Nguyễn Thị Ánh Tuyết",
        "account_number": "PE0100900001",
        "service_address": "12 Nguyễn Huệ, Phường Sài Gòn",
        "period": MAY,
        "bill_date": date(2025, 6, 2),
        "due_date": date(2025, 6, 9),
        "issued_at": datetime(2025, 6, 2, 1, 30, tzinfo=UTC),
        "consumption_kwh": D(300),
        "estimated": False,
        "lines": lines(),
        "subtotal": D(739500),
        "tax_total": D(59160),
        "total": D(798660),
        "readings": (ReadingDetail("CT123456", "total", D(10250), D(10550)),),
        "history": (*history, UsagePoint(MAY, D(300), False)),
        "vietqr_payload": PAYLOAD,
    }
    data.update(changes)
    return BillDocumentData(**data)


def lines_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def text_of(pdf: bytes) -> str:
    """The text with line breaks as spaces (a long title may wrap)."""
    return " ".join(lines_of(pdf).split())


def test_vietnamese_bill_renders_real_glyphs_and_the_chart():
    pdf = render_bill_pdf(document("vi"))
    text = text_of(pdf)
    for expected in [
        "HÓA ĐƠN TIỀN ĐIỆN",
        "Nguyễn Thị Ánh Tuyết",
        "Kỳ hóa đơn 01/05/2025 – 31/05/2025",
        "Hạn thanh toán 09/06/2025",
        "Điện sinh hoạt bậc 4 100 kWh 2.998 299.800 đ",
        "Thuế GTGT 8% 59.160 đ",
        "Tổng cộng tiền thanh toán 798.660 đ",
        "Số tiền viết bằng chữ: Bảy trăm chín mươi tám nghìn sáu trăm sáu mươi đồng",
        "Lịch sử tiêu thụ điện (kWh)",
        "Quét mã VietQR để thanh toán",
        "CT123456 (total) 10.250 10.550 1",
    ]:
        assert expected in text, expected
    # The chart: twelve periods, oldest first, the estimated one starred, the current last.
    chart = lines_of(pdf).split("Lịch sử tiêu thụ điện (kWh)\n")[1].split("\nQuét")[0]
    assert chart.split("\n") == [
        "260",
        "06/24",
        "270",
        "07/24",
        "280",
        "08/24",
        "290*",
        "09/24",
        "300",
        "10/24",
        "310",
        "11/24",
        "320",
        "12/24",
        "251",
        "01/25",
        "252",
        "02/25",
        "253",
        "03/25",
        "254",
        "04/25",
        "300",
        "05/25",
    ]
    resources: list[Any] = [page["/Resources"] for page in PdfReader(io.BytesIO(pdf)).pages]
    fonts = {str(font["/BaseFont"]) for r in resources for font in r["/Font"].values()}
    # Only the embedded subsets of Noto Sans, regular and bold: no fallback core font.
    assert {name.split("+")[1] for name in fonts} == {"NotoSans", "NotoSansBold"}


def test_english_and_spanish_bills():
    english = text_of(render_bill_pdf(document("en")))
    for expected in [
        "ELECTRICITY BILL",
        "Billing period May 1, 2025 – May 31, 2025",
        "Due date June 9, 2025",
        "Tier 1 50 kWh 1,984 99,200 VND",
        "Tax 8% 59,160 VND",
        "Total amount due 798,660 VND",
        "Usage history (kWh)",
        "Scan the VietQR code to pay",
    ]:
        assert expected in english, expected
    assert "bằng chữ" not in english
    spanish = text_of(render_bill_pdf(document("es", estimated=True)))
    for expected in [
        "FACTURA DE ELECTRICIDAD",
        "Período de facturación 1 de mayo de 2025 – 31 de mayo de 2025",
        "Fecha de vencimiento 9 de junio de 2025",
        "Nivel 3 100 kWh 2.380 238.000 VND",
        "Total a pagar 798.660 VND",
        "Lectura estimada: la factura se corregirá cuando se lea el medidor.",
        "Historial de consumo (kWh)",
    ]:
        assert expected in spanish, expected


def test_usd_bill_has_no_qr_and_no_words():
    sce_line = BillLineView(
        1,
        "fixed",
        "base-services",
        "Base Services Charge",
        D(30),
        "day",
        D("0.79343"),
        D("23.8029"),
        D("23.80"),
        D(0),
        D(0),
    )
    pdf = render_bill_pdf(
        document(
            "es",
            currency="USD",
            legal_language="en",
            lines=(sce_line,),
            subtotal=D("23.80"),
            tax_total=D(0),
            total=D("23.80"),
            vietqr_payload=None,
            readings=(),
            history=(),
            utility_tax_code="",
        )
    )
    text = text_of(pdf)
    assert "Cargo por servicios básicos 30 day 0,79343 $23,80" in text
    assert "Total a pagar $23,80" in text
    assert "VietQR" not in text
    assert "Historial" not in text


def test_the_qr_code_in_the_pdf_reads_back():
    reader = PdfReader(io.BytesIO(render_bill_pdf(document("vi"))))
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[0].data)))
    assert found.text == PAYLOAD


def test_rendering_is_deterministic_and_refuses_unknown_languages():
    assert render_bill_pdf(document("vi")) == render_bill_pdf(document("vi"))
    with pytest.raises(InvalidInput) as error:
        render_bill_pdf(document("fr"))
    assert error.value.field == "language"
