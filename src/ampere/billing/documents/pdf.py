"""The PDF bill in the customer's language, with the usage history chart and, for VND utilities,
the VietQR code. Pure: takes the document's data and returns bytes (fpdf2, Noto Sans embedded).

Rendering is deterministic (the creation date is the bill's issue time), so a re-render of the same
bill gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ampere.billing.documents.labels import Words, words_for
from ampere.billing.einvoice.words import amount_in_words
from ampere.billing.types import BillLineView, ReadingDetail, UsagePoint
from ampere.billing.vietqr import qr_png
from ampere.core.periods import DatePeriod

FONTS = Path(__file__).parent / "fonts"
FONT = "NotoSans"
INK = (33, 37, 41)
MUTED = (108, 117, 125)
BAR = (13, 110, 253)
BAR_ESTIMATED = (158, 197, 254)
BAR_CURRENT = (25, 135, 84)


@dataclass(frozen=True, slots=True)
class BillDocumentData:
    bill_id: int
    kind: str
    language: str
    legal_language: str
    currency: str
    utility_name: str
    utility_address: str
    utility_tax_code: str
    customer_name: str
    account_number: str
    service_address: str
    period: DatePeriod
    bill_date: date
    due_date: date | None
    issued_at: datetime
    consumption_kwh: Decimal
    estimated: bool
    lines: tuple[BillLineView, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    readings: tuple[ReadingDetail, ...] = ()
    history: tuple[UsagePoint, ...] = ()
    vietqr_payload: str | None = None
    taxes: tuple[tuple[Decimal, Decimal], ...] = field(default_factory=tuple)  # (rate, tax)


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.add_font(FONT, "", str(FONTS / "NotoSans-Regular.ttf"))
        self.add_font(FONT, "B", str(FONTS / "NotoSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)


def _rate(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _taxes(data: BillDocumentData) -> list[tuple[Decimal, Decimal]]:
    if data.taxes:
        return list(data.taxes)
    sums: dict[Decimal, Decimal] = {}
    for line in data.lines:
        sums[line.tax_rate] = sums.get(line.tax_rate, Decimal(0)) + line.tax_amount
    return sorted((rate, tax) for rate, tax in sums.items() if rate)


def render_bill_pdf(data: BillDocumentData) -> bytes:
    """The bill as PDF bytes. Raises InvalidInput (field ``language``) for an unknown language."""
    words = words_for(data.language)
    pdf = _Document()
    pdf.set_creation_date(data.issued_at)
    pdf.set_title(f"{words['title']} {data.bill_id}")
    pdf.set_author(data.utility_name)
    pdf.set_lang(data.language)
    pdf.add_page()
    _header(pdf, data, words)
    _customer(pdf, data, words)
    if data.readings:
        _readings(pdf, data, words)
    _lines(pdf, data, words)
    _totals(pdf, data, words)
    if data.history:
        _chart(pdf, data, words)
    if data.vietqr_payload:
        _vietqr(pdf, data, words)
    return bytes(pdf.output())


def _text(pdf: FPDF, size: float, *, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(*color)


def _row(pdf: FPDF, label: str, value: str, *, width: float = 55) -> None:
    _text(pdf, 9, color=MUTED)
    pdf.cell(width, 5.5, label)
    _text(pdf, 9, bold=True)
    pdf.cell(0, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _header(pdf: FPDF, data: BillDocumentData, words: Words) -> None:
    _text(pdf, 11, bold=True)
    pdf.multi_cell(110, 5.5, data.utility_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _text(pdf, 8.5, color=MUTED)
    pdf.multi_cell(110, 4.5, data.utility_address, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if data.utility_tax_code:
        pdf.cell(110, 4.5, f"{words['tax_code']}: {data.utility_tax_code}")
    pdf.set_xy(130, 15)
    _text(pdf, 14, bold=True)
    title = words["reversal_title"] if data.kind == "reversal" else words["title"]
    pdf.multi_cell(65, 7, title, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), 38))
    pdf.set_draw_color(*MUTED)
    pdf.line(15, pdf.get_y(), 195, pdf.get_y())
    pdf.ln(3)


def _customer(pdf: FPDF, data: BillDocumentData, words: Words) -> None:
    period_end = data.period.inclusive_end()
    assert period_end is not None
    _row(pdf, words["customer"], data.customer_name)
    _row(pdf, words["account_number"], data.account_number)
    _row(pdf, words["service_address"], data.service_address)
    _row(pdf, words["bill_number"], str(data.bill_id))
    _row(
        pdf,
        words["billing_period"],
        f"{words.date(data.period.start)} – {words.date(period_end)}",
    )
    _row(pdf, words["bill_date"], words.date(data.bill_date))
    due = words.date(data.due_date) if data.due_date else words["no_payment_due"]
    _row(pdf, words["due_date"], due)
    _row(pdf, words["consumption"], f"{words.number(data.consumption_kwh)} kWh")
    if data.estimated:
        _text(pdf, 8.5, bold=True, color=(176, 42, 55))
        pdf.multi_cell(0, 5, words["estimated"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _table(
    pdf: FPDF, headings: list[str], widths: list[float], rows: list[list[str]], bold_last: bool
) -> None:
    _text(pdf, 8.5, bold=True)
    pdf.set_fill_color(233, 236, 239)
    for heading, width in zip(headings, widths, strict=True):
        pdf.cell(width, 6, heading, border=0, fill=True, align="L" if width > 40 else "R")
    pdf.ln(6)
    for index, row in enumerate(rows):
        _text(pdf, 8.5, bold=bold_last and index == len(rows) - 1)
        for value, width in zip(row, widths, strict=True):
            pdf.cell(width, 5.5, value, align="L" if width > 40 else "R")
        pdf.ln(5.5)
    pdf.ln(2)


def _readings(pdf: FPDF, data: BillDocumentData, words: Words) -> None:
    _text(pdf, 10, bold=True)
    pdf.cell(0, 7, words["readings"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    rows = [
        [
            f"{r.meter_number} ({r.register})",
            words.number(r.previous_reading),
            words.number(r.current_reading),
            words.number(r.multiplier),
        ]
        for r in data.readings
    ]
    _table(
        pdf,
        [words["meter"], words["previous_reading"], words["current_reading"], words["multiplier"]],
        [75, 35, 35, 35],
        rows,
        bold_last=False,
    )


def _lines(pdf: FPDF, data: BillDocumentData, words: Words) -> None:
    rows = []
    for line in data.lines:
        name = words.line_name(
            code=line.code, description=line.description, legal_language=data.legal_language
        )
        rows.append(
            [
                name,
                f"{words.number(line.quantity)} {line.unit}".strip(),
                words.number(line.unit_price),
                words.money(line.amount, data.currency),
            ]
        )
    _table(
        pdf,
        [words["description"], words["quantity"], words["unit_price"], words["amount"]],
        [85, 30, 30, 35],
        rows,
        bold_last=False,
    )


def _totals(pdf: FPDF, data: BillDocumentData, words: Words) -> None:
    entries = [(words["subtotal"], words.money(data.subtotal, data.currency), False)]
    for rate, tax in _taxes(data):
        entries.append(
            (words["tax"].format(rate=_rate(rate)), words.money(tax, data.currency), False)
        )
    entries.append((words["total"], words.money(data.total, data.currency), True))
    for label, value, strong in entries:
        _text(pdf, 10 if strong else 9, bold=strong)
        pdf.cell(145, 6, label, align="R")
        pdf.cell(35, 6, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if data.currency == "VND" and data.language == "vi" and data.total >= 0:
        _text(pdf, 9)
        pdf.multi_cell(
            0,
            5,
            f"{words['in_words']}: {amount_in_words(data.total)}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.ln(3)


def _chart(pdf: FPDF, data: BillDocumentData, words: Words) -> None:
    """Bars of the last periods' kWh, oldest on the left; the current bill in green and
    estimated periods pale."""
    points = list(data.history)[-12:]
    height, label_space = 38.0, 10.0
    if pdf.get_y() + height + label_space + 12 > pdf.h - 15:
        pdf.add_page()
    _text(pdf, 10, bold=True)
    pdf.cell(0, 7, words["usage_history"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    top = pdf.get_y() + 4
    base = top + height
    left, width = 15.0, 180.0
    slot = width / 12
    peak = max((p.consumption_kwh for p in points), default=Decimal(0))
    pdf.set_draw_color(*MUTED)
    pdf.line(left, base, left + width, base)
    for index, point in enumerate(points):
        share = float(point.consumption_kwh / peak) if peak > 0 else 0.0
        bar_height = max(share * height, 0.3)
        x = left + index * slot + slot * 0.2
        current = point.period == data.period
        color = BAR_CURRENT if current else BAR_ESTIMATED if point.estimated else BAR
        pdf.set_fill_color(*color)
        pdf.rect(x, base - bar_height, slot * 0.6, bar_height, style="F")
        _text(pdf, 6.5, bold=current)
        pdf.set_xy(left + index * slot, base - bar_height - 4)
        value = words.number(point.consumption_kwh, 0)
        pdf.cell(slot, 4, f"{value}*" if point.estimated else value, align="C")
        end = point.period.inclusive_end() or point.period.start
        pdf.set_xy(left + index * slot, base + 1)
        _text(pdf, 6.5, color=MUTED)
        pdf.cell(slot, 4, f"{end:%m/%y}", align="C")
    pdf.set_xy(left, base + label_space)


def _vietqr(pdf: FPDF, data: BillDocumentData, words: Words) -> None:
    assert data.vietqr_payload is not None
    size = 38.0
    if pdf.get_y() + size + 10 > pdf.h - 15:
        pdf.add_page()
    top = pdf.get_y()
    pdf.image(io.BytesIO(qr_png(data.vietqr_payload)), x=15, y=top, w=size, h=size)
    pdf.set_xy(15 + size + 5, top + 8)
    _text(pdf, 10, bold=True)
    pdf.cell(0, 6, words["pay_by_qr"], new_x=XPos.LEFT, new_y=YPos.NEXT)
    _text(pdf, 9)
    pdf.cell(
        0, 5, f"{words['account_number']}: {data.account_number}", new_x=XPos.LEFT, new_y=YPos.NEXT
    )
    if data.total > 0:
        pdf.cell(0, 5, words.money(data.total, data.currency), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(top + size + 4)
