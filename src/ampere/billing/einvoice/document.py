"""The XML of a Vietnamese VAT e-invoice (Decree 123/2020/NĐ-CP, Circular 78/2021/TT-BTC), in the
layout of ``shared/domain/EINVOICE.md``: TTChung (general data), NDHDon (seller, buyer, one line per
tier or time-of-use period, VAT per rate, totals in figures and words) and DSCKS (signatures).
Electricity details go in key–value extension fields (TTKhac/TTin). An invoice that adjusts or
replaces an earlier one names it in TTChung/TTHDLQuan (Circular 78/2021, Decree 70/2025: TCHDon 1
replacement, 2 adjustment; an adjustment that reduces carries negative amounts). Pure: no Django,
no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from ampere.billing.einvoice.words import amount_in_words
from ampere.core.errors import InvalidInput

VERSION = "2.0.0"
TITLE_VAT = "Hóa đơn giá trị gia tăng"
PAYMENT_METHOD = "TM/CK"  # cash or bank transfer


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    address: str
    tax_code: str = ""
    customer_code: str = ""  # MKHang, the buyer's customer code (the account number)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    name: str  # THHDVu, e.g. "Điện sinh hoạt bậc 1"
    unit: str  # DVTinh
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # ThTien, before VAT, whole đồng
    tax_rate: Decimal  # 0.08


@dataclass(frozen=True, slots=True)
class ExtraField:
    """One TTin of TTKhac: name (TTruong), data type (KDLieu) and value (DLieu)."""

    name: str
    value: str
    data_type: str = "string"  # "string", "numeric" or "date"


@dataclass(frozen=True, slots=True)
class RelatedInvoice:
    """TTHDLQuan: the earlier invoice this one adjusts or replaces, and why (GChu)."""

    nature: str  # TCHDon: "1" replacement, "2" adjustment
    form: str  # KHMSHDCLQuan
    symbol: str  # KHHDCLQuan
    number: int  # SHDCLQuan
    issue_date: date  # NLHDCLQuan
    note: str  # GChu


REPLACEMENT = "1"
ADJUSTMENT = "2"
RELATED_KIND_DECREE_123 = "1"  # LHDCLQuan: the related invoice is a Decree 123 e-invoice


@dataclass(frozen=True, slots=True)
class InvoiceData:
    form: str  # KHMSHDon
    symbol: str  # KHHDon
    number: int  # SHDon
    issue_date: date  # NLap
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLine, ...]
    extras: tuple[ExtraField, ...] = field(default_factory=tuple)
    currency: str = "VND"
    related: RelatedInvoice | None = None

    @property
    def element_id(self) -> str:
        """The Id of the signed DLHDon element (an XML NCName)."""
        return f"HD-{self.form}-{self.symbol}-{self.number:08d}"


def decimal_text(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 99200.00 → "99200", 0.50 → "0.5"."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def rate_text(rate: Decimal) -> str:
    """A VAT rate as invoices print it: 0.08 → "8%"."""
    return f"{decimal_text(rate * 100)}%"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _extras(parent: etree._Element, extras: Sequence[ExtraField]) -> None:
    if not extras:
        return
    holder = _sub(parent, "TTKhac")
    for extra in extras:
        item = _sub(holder, "TTin")
        _sub(item, "TTruong", extra.name)
        _sub(item, "KDLieu", extra.data_type)
        _sub(item, "DLieu", extra.value)


def _check(data: InvoiceData) -> None:
    if data.currency != "VND":
        raise InvalidInput("e-invoices are issued in VND", field="currency")
    if not 1 <= data.number <= 99_999_999:
        raise InvalidInput("an invoice number has at most 8 digits", field="number")
    if not data.lines:
        raise InvalidInput("an invoice needs at least one line", field="lines")
    for index, line in enumerate(data.lines):
        if line.amount != line.amount.to_integral_value():
            raise InvalidInput("line amounts are whole đồng", field=f"lines[{index}].amount")
    if not data.seller.tax_code:
        raise InvalidInput("the seller's tax code is required", field="seller.tax_code")
    related = data.related
    if related is not None:
        if related.nature not in (REPLACEMENT, ADJUSTMENT):
            raise InvalidInput(
                f"TCHDon is 1 (replacement) or 2 (adjustment), not {related.nature!r}",
                field="related.nature",
            )
        if not 1 <= related.number <= 99_999_999:
            raise InvalidInput("an invoice number has at most 8 digits", field="related.number")
        if (related.form, related.symbol, related.number) == (data.form, data.symbol, data.number):
            raise InvalidInput("an invoice cannot relate to itself", field="related")
    adjusting = related is not None and related.nature == ADJUSTMENT
    if not adjusting and invoice_totals(data.lines).total < 0:
        raise InvalidInput("only an adjusting invoice may have a negative total", field="lines")


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    taxes: tuple[tuple[Decimal, Decimal, Decimal], ...]  # (rate, base, VAT)
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal


def invoice_totals(lines: Sequence[InvoiceLine]) -> InvoiceTotals:
    """VAT per rate on the sum of that rate's lines, half-up to whole đồng."""
    taxes: list[tuple[Decimal, Decimal, Decimal]] = []
    for rate in sorted({line.tax_rate for line in lines}):
        base = sum((line.amount for line in lines if line.tax_rate == rate), Decimal(0))
        taxes.append((rate, base, (base * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    subtotal = sum((line.amount for line in lines), Decimal(0))
    tax_total = sum((t[2] for t in taxes), Decimal(0))
    return InvoiceTotals(tuple(taxes), subtotal, tax_total, subtotal + tax_total)


def build_invoice(data: InvoiceData) -> etree._Element:
    """The unsigned HDon element (DSCKS/NBan left for the signature). Raises InvalidInput."""
    _check(data)
    adjusting = data.related is not None and data.related.nature == ADJUSTMENT
    totals = invoice_totals(data.lines)
    root = etree.Element("HDon")
    body = _sub(root, "DLHDon")
    body.set("Id", data.element_id)

    general = _sub(body, "TTChung")
    _sub(general, "PBan", VERSION)
    _sub(general, "THDon", TITLE_VAT)
    _sub(general, "KHMSHDon", data.form)
    _sub(general, "KHHDon", data.symbol)
    _sub(general, "SHDon", str(data.number))
    _sub(general, "NLap", data.issue_date.isoformat())
    _sub(general, "DVTTe", data.currency)
    _sub(general, "TGia", "1")
    _sub(general, "HTTToan", PAYMENT_METHOD)
    if data.related is not None:
        related = _sub(general, "TTHDLQuan")
        _sub(related, "TCHDon", data.related.nature)
        _sub(related, "LHDCLQuan", RELATED_KIND_DECREE_123)
        _sub(related, "KHMSHDCLQuan", data.related.form)
        _sub(related, "KHHDCLQuan", data.related.symbol)
        _sub(related, "SHDCLQuan", str(data.related.number))
        _sub(related, "NLHDCLQuan", data.related.issue_date.isoformat())
        _sub(related, "GChu", data.related.note)
    _extras(general, data.extras)

    content = _sub(body, "NDHDon")
    seller = _sub(content, "NBan")
    _sub(seller, "Ten", data.seller.name)
    _sub(seller, "MST", data.seller.tax_code)
    _sub(seller, "DChi", data.seller.address)
    buyer = _sub(content, "NMua")
    _sub(buyer, "Ten", data.buyer.name)
    _sub(buyer, "MST", data.buyer.tax_code)
    _sub(buyer, "DChi", data.buyer.address)
    _sub(buyer, "MKHang", data.buyer.customer_code)

    goods = _sub(content, "DSHHDVu")
    for number, line in enumerate(data.lines, start=1):
        item = _sub(goods, "HHDVu")
        # TChat: 1 goods or service, 3 trade discount; an adjusting invoice that reduces
        # an earlier one repeats its goods lines with negative quantities and amounts.
        _sub(item, "TChat", "3" if line.amount < 0 and not adjusting else "1")
        _sub(item, "STT", str(number))
        _sub(item, "THHDVu", line.name)
        _sub(item, "DVTinh", line.unit)
        _sub(item, "SLuong", decimal_text(line.quantity))
        _sub(item, "DGia", decimal_text(line.unit_price))
        _sub(item, "ThTien", decimal_text(line.amount))
        _sub(item, "TSuat", rate_text(line.tax_rate))

    payment = _sub(content, "TToan")
    per_rate = _sub(payment, "THTTLTSuat")
    for rate, base, tax in totals.taxes:
        group = _sub(per_rate, "LTSuat")
        _sub(group, "TSuat", rate_text(rate))
        _sub(group, "ThTien", decimal_text(base))
        _sub(group, "TThue", decimal_text(tax))
    _sub(payment, "TgTCThue", decimal_text(totals.subtotal))
    _sub(payment, "TgTThue", decimal_text(totals.tax_total))
    _sub(payment, "TgTTTBSo", decimal_text(totals.total))
    _sub(payment, "TgTTTBChu", amount_in_words(totals.total))

    signatures = _sub(root, "DSCKS")
    _sub(signatures, "NBan")
    return root


def to_bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
