from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from ampere.billing.einvoice.document import (
    ADJUSTMENT,
    REPLACEMENT,
    ExtraField,
    InvoiceData,
    InvoiceLine,
    Party,
    RelatedInvoice,
    build_invoice,
    rate_text,
    to_bytes,
)
from ampere.billing.einvoice.signing import (
    SignatureInvalid,
    SigningCredentials,
    SigningCredentialsMissing,
    load_credentials,
    sign_invoice,
    verify_invoice,
)
from ampere.core.errors import InvalidInput
from tests.unit.billing.keys import credentials

D = Decimal
VAT8 = D("0.08")
TIERS = [(1, 50, 1984), (2, 50, 2050), (3, 100, 2380), (4, 100, 2998)]


def invoice(**changes) -> InvoiceData:
    data: dict[str, Any] = {
        "form": "1",
        "symbol": "K25TAA",
        "number": 12345,
        "issue_date": date(2025, 5, 31),
        "seller": Party(
            "Tổng công ty Điện lực Thành phố Hồ Chí Minh",
            "35 Tôn Đức Thắng, Phường Sài Gòn",
            "0300951119",
        ),
        "buyer": Party(
            "Nguyễn Văn An", "1 Nguyễn Huệ, Phường Sài Gòn", customer_code="PE0100900001"
        ),
        "lines": tuple(
            InvoiceLine(f"Điện sinh hoạt bậc {n}", "kWh", D(kwh), D(price), D(kwh * price), VAT8)
            for n, kwh, price in TIERS
        ),
        "extras": (
            ExtraField("KyHoaDon", "01/05/2025-31/05/2025"),
            ExtraField("SoHo", "1", "numeric"),
        ),
    }
    data.update(changes)
    return InvoiceData(**data)


def text(root: etree._Element, path: str) -> str | None:
    return root.findtext(path)


def at(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path)
    assert found is not None, path
    return found


def test_the_layout_of_einvoice_md():
    root = build_invoice(invoice())
    assert root.tag == "HDon"
    assert [child.tag for child in root] == ["DLHDon", "DSCKS"]
    assert at(root, "DLHDon").get("Id") == "HD-1-K25TAA-00012345"
    general = at(root, "DLHDon/TTChung")
    assert [(c.tag, c.text) for c in general][:9] == [
        ("PBan", "2.0.0"),
        ("THDon", "Hóa đơn giá trị gia tăng"),
        ("KHMSHDon", "1"),
        ("KHHDon", "K25TAA"),
        ("SHDon", "12345"),
        ("NLap", "2025-05-31"),
        ("DVTTe", "VND"),
        ("TGia", "1"),
        ("HTTToan", "TM/CK"),
    ]
    extras = [
        (i.findtext("TTruong"), i.findtext("KDLieu"), i.findtext("DLieu"))
        for i in general.findall("TTKhac/TTin")
    ]
    assert extras == [("KyHoaDon", "string", "01/05/2025-31/05/2025"), ("SoHo", "numeric", "1")]
    assert text(root, "DLHDon/NDHDon/NBan/MST") == "0300951119"
    assert text(root, "DLHDon/NDHDon/NMua/MKHang") == "PE0100900001"
    first = at(root, "DLHDon/NDHDon/DSHHDVu/HHDVu")
    assert [(c.tag, c.text) for c in first] == [
        ("TChat", "1"),
        ("STT", "1"),
        ("THHDVu", "Điện sinh hoạt bậc 1"),
        ("DVTinh", "kWh"),
        ("SLuong", "50"),
        ("DGia", "1984"),
        ("ThTien", "99200"),
        ("TSuat", "8%"),
    ]
    assert len(root.findall("DLHDon/NDHDon/DSHHDVu/HHDVu")) == 4
    payment = at(root, "DLHDon/NDHDon/TToan")
    assert [(c.tag, c.text) for c in at(payment, "THTTLTSuat/LTSuat")] == [
        ("TSuat", "8%"),
        ("ThTien", "739500"),
        ("TThue", "59160"),
    ]
    assert [(c.tag, c.text) for c in payment][1:] == [
        ("TgTCThue", "739500"),
        ("TgTThue", "59160"),
        ("TgTTTBSo", "798660"),
        ("TgTTTBChu", "Bảy trăm chín mươi tám nghìn sáu trăm sáu mươi đồng"),
    ]


def test_vat_per_rate_for_mixed_rates():
    lines = (
        InvoiceLine("Điện sinh hoạt bậc 1", "kWh", D(50), D(1984), D(99200), VAT8),
        InvoiceLine("Phí dịch vụ", "lần", D(1), D(98000), D(98000), D("0.10")),
    )
    payment = at(build_invoice(invoice(lines=lines)), "DLHDon/NDHDon/TToan")
    groups = [tuple(c.text for c in group) for group in payment.findall("THTTLTSuat/LTSuat")]
    assert groups == [("8%", "99200", "7936"), ("10%", "98000", "9800")]
    assert payment.findtext("TgTTTBSo") == "214936"
    assert rate_text(D("0.05")) == "5%"


def test_bad_invoices_are_named():
    cases: list[tuple[dict[str, Any], str]] = [
        ({"number": 100_000_000}, "number"),
        ({"lines": ()}, "lines"),
        ({"currency": "USD"}, "currency"),
        ({"seller": Party("X", "Y")}, "seller.tax_code"),
        ({"lines": (InvoiceLine("x", "kWh", D(1), D("0.5"), D("0.5"), VAT8),)}, "lines[0].amount"),
        ({"lines": (InvoiceLine("x", "kWh", D(-1), D(1984), D(-1984), VAT8),)}, "lines"),
        (
            {
                "lines": (InvoiceLine("x", "kWh", D(-1), D(1984), D(-1984), VAT8),),
                "related": RelatedInvoice(REPLACEMENT, "1", "K25TAA", 7, date(2025, 5, 1), "x"),
            },
            "lines",
        ),
        (
            {"related": RelatedInvoice("3", "1", "K25TAA", 7, date(2025, 5, 1), "x")},
            "related.nature",
        ),
        (
            {"related": RelatedInvoice(ADJUSTMENT, "1", "K25TAA", 0, date(2025, 5, 1), "x")},
            "related.number",
        ),
        (
            {"related": RelatedInvoice(ADJUSTMENT, "1", "K25TAA", 12345, date(2025, 5, 1), "x")},
            "related",
        ),
    ]
    for changes, field in cases:
        with pytest.raises(InvalidInput) as error:
            build_invoice(invoice(**changes))
        assert error.value.field == field


def test_signed_invoice_verifies_and_any_change_breaks_it():
    creds = credentials()
    xml = to_bytes(sign_invoice(build_invoice(invoice()), credentials=creds))
    signed = verify_invoice(xml, certificate_pem=creds.certificate_pem)
    assert signed.get("Id") == "HD-1-K25TAA-00012345"
    parsed = etree.fromstring(xml)
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    signature = at(parsed, f"DSCKS/NBan/{ds}Signature")
    assert at(signature, f"{ds}SignedInfo/{ds}Reference").get("URI") == "#HD-1-K25TAA-00012345"
    assert at(signature, f"{ds}SignedInfo/{ds}SignatureMethod").get("Algorithm") == (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    tampered = xml.replace(b"<TgTTTBSo>798660</TgTTTBSo>", b"<TgTTTBSo>698660</TgTTTBSo>")
    with pytest.raises(SignatureInvalid) as error:
        verify_invoice(tampered, certificate_pem=creds.certificate_pem)
    assert error.value.field == "xml"
    other = credentials("someone else")
    with pytest.raises(SignatureInvalid):
        verify_invoice(xml, certificate_pem=other.certificate_pem)


def test_credentials_are_checked_and_loaded_from_files(tmp_path):
    creds = credentials()
    with pytest.raises(InvalidInput) as error:
        SigningCredentials(creds.key_pem, credentials("someone else").certificate_pem)
    assert error.value.field == "credentials"
    with pytest.raises(SigningCredentialsMissing) as missing:
        load_credentials(directory=tmp_path, utility_code="evn-hcmc")
    assert missing.value.field == "signing_credentials"
    (tmp_path / "evn-hcmc.key.pem").write_bytes(creds.key_pem)
    (tmp_path / "evn-hcmc.cert.pem").write_bytes(creds.certificate_pem)
    assert load_credentials(directory=tmp_path, utility_code="evn-hcmc") == creds


def test_a_replacement_invoice_names_the_invoice_it_replaces_before_the_extensions():
    related = RelatedInvoice(REPLACEMENT, "1", "K25TAA", 120, date(2025, 5, 31), "Sai chỉ số")
    root = build_invoice(invoice(number=130, related=related))
    general = at(root, "DLHDon/TTChung")
    assert [e.tag for e in general][-3:] == ["HTTToan", "TTHDLQuan", "TTKhac"]
    assert [(e.tag, e.text) for e in at(general, "TTHDLQuan")] == [
        ("TCHDon", "1"),
        ("LHDCLQuan", "1"),
        ("KHMSHDCLQuan", "1"),
        ("KHHDCLQuan", "K25TAA"),
        ("SHDCLQuan", "120"),
        ("NLHDCLQuan", "2025-05-31"),
        ("GChu", "Sai chỉ số"),
    ]
    assert text(root, "DLHDon/NDHDon/TToan/TgTTTBSo") == "798660"
