"""The words of a bill document in each customer language (vi, en, es) and how numbers and dates
are written in it. Data, not code paths: a new language is a new entry here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ampere.core.errors import InvalidInput
from ampere.core.money import currency

LABEL_KEYS = (
    "title",
    "reversal_title",
    "customer",
    "account_number",
    "service_address",
    "bill_number",
    "billing_period",
    "bill_date",
    "due_date",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "subtotal",
    "tax",
    "total",
    "in_words",
    "consumption",
    "estimated",
    "readings",
    "meter",
    "previous_reading",
    "current_reading",
    "multiplier",
    "usage_history",
    "pay_by_qr",
    "tax_code",
    "tier",
    "tou-peak",
    "tou-normal",
    "tou-off-peak",
    "base-services",
    "no_payment_due",
)

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "HÓA ĐƠN TIỀN ĐIỆN",
        "reversal_title": "HÓA ĐƠN ĐIỀU CHỈNH GIẢM",
        "customer": "Khách hàng",
        "account_number": "Mã khách hàng",
        "service_address": "Địa chỉ sử dụng điện",
        "bill_number": "Số hóa đơn",
        "billing_period": "Kỳ hóa đơn",
        "bill_date": "Ngày lập",
        "due_date": "Hạn thanh toán",
        "description": "Nội dung",
        "quantity": "Sản lượng",
        "unit_price": "Đơn giá",
        "amount": "Thành tiền",
        "subtotal": "Cộng tiền điện",
        "tax": "Thuế GTGT {rate}",
        "total": "Tổng cộng tiền thanh toán",
        "in_words": "Số tiền viết bằng chữ",
        "consumption": "Điện năng tiêu thụ",
        "estimated": "Chỉ số ước tính: hóa đơn sẽ được điều chỉnh khi có chỉ số thực tế.",
        "readings": "Chỉ số công tơ",
        "meter": "Công tơ",
        "previous_reading": "Chỉ số cũ",
        "current_reading": "Chỉ số mới",
        "multiplier": "Hệ số nhân",
        "usage_history": "Lịch sử tiêu thụ điện (kWh)",
        "pay_by_qr": "Quét mã VietQR để thanh toán",
        "tax_code": "Mã số thuế",
        "tier": "Bậc {n}",
        "tou-peak": "Giờ cao điểm",
        "tou-normal": "Giờ bình thường",
        "tou-off-peak": "Giờ thấp điểm",
        "base-services": "Phí dịch vụ cơ bản",
        "no_payment_due": "Không phải thanh toán",
    },
    "en": {
        "title": "ELECTRICITY BILL",
        "reversal_title": "CREDIT NOTE",
        "customer": "Customer",
        "account_number": "Account number",
        "service_address": "Service address",
        "bill_number": "Bill number",
        "billing_period": "Billing period",
        "bill_date": "Bill date",
        "due_date": "Due date",
        "description": "Description",
        "quantity": "Quantity",
        "unit_price": "Unit price",
        "amount": "Amount",
        "subtotal": "Subtotal",
        "tax": "Tax {rate}",
        "total": "Total amount due",
        "in_words": "Amount in words",
        "consumption": "Energy used",
        "estimated": "Estimated reading: the bill will be corrected when the meter is read.",
        "readings": "Meter readings",
        "meter": "Meter",
        "previous_reading": "Previous",
        "current_reading": "Current",
        "multiplier": "Multiplier",
        "usage_history": "Usage history (kWh)",
        "pay_by_qr": "Scan the VietQR code to pay",
        "tax_code": "Tax code",
        "tier": "Tier {n}",
        "tou-peak": "Peak hours",
        "tou-normal": "Normal hours",
        "tou-off-peak": "Off-peak hours",
        "base-services": "Base Services Charge",
        "no_payment_due": "No payment due",
    },
    "es": {
        "title": "FACTURA DE ELECTRICIDAD",
        "reversal_title": "NOTA DE CRÉDITO",
        "customer": "Cliente",
        "account_number": "Número de cuenta",
        "service_address": "Dirección de servicio",
        "bill_number": "Número de factura",
        "billing_period": "Período de facturación",
        "bill_date": "Fecha de la factura",
        "due_date": "Fecha de vencimiento",
        "description": "Concepto",
        "quantity": "Cantidad",
        "unit_price": "Precio unitario",
        "amount": "Importe",
        "subtotal": "Subtotal",
        "tax": "Impuesto {rate}",
        "total": "Total a pagar",
        "in_words": "Importe en letras",
        "consumption": "Energía consumida",
        "estimated": "Lectura estimada: la factura se corregirá cuando se lea el medidor.",
        "readings": "Lecturas del medidor",
        "meter": "Medidor",
        "previous_reading": "Anterior",
        "current_reading": "Actual",
        "multiplier": "Multiplicador",
        "usage_history": "Historial de consumo (kWh)",
        "pay_by_qr": "Escanee el código VietQR para pagar",
        "tax_code": "Número de identificación fiscal",
        "tier": "Nivel {n}",
        "tou-peak": "Horas punta",
        "tou-normal": "Horas normales",
        "tou-off-peak": "Horas valle",
        "base-services": "Cargo por servicios básicos",
        "no_payment_due": "No hay pago pendiente",
    },
}

MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio",
        "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
    ),
}  # fmt: skip

_TIER = re.compile(r"^tier-(\d+)$")
LINE_CODES = frozenset({"tou-peak", "tou-normal", "tou-off-peak", "base-services"})


@dataclass(frozen=True, slots=True)
class Words:
    """The labels and formats of one language."""

    language: str
    labels: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.labels[key]

    def date(self, day: date) -> str:
        if self.language == "en":
            return f"{MONTHS['en'][day.month - 1]} {day.day}, {day.year}"
        if self.language == "es":
            return f"{day.day} de {MONTHS['es'][day.month - 1]} de {day.year}"
        return f"{day:%d/%m/%Y}"

    def number(self, value: Decimal, places: int | None = None) -> str:
        """Grouped digits: 798660 → "798.660" (vi, es) or "798,660" (en)."""
        if places is not None:
            value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        elif value == value.to_integral_value():
            value = value.quantize(Decimal(1))
        else:
            value = value.normalize()
        text = f"{value:,f}"
        if self.language == "en":
            return text
        return text.translate(str.maketrans(",.", ".,"))

    def money(self, amount: Decimal, currency_code: str) -> str:
        digits = currency(currency_code).minor_digits
        figure = self.number(amount, digits)
        if currency_code == "USD":
            return f"-${figure[1:]}" if figure.startswith("-") else f"${figure}"
        if currency_code == "VND" and self.language == "vi":
            return f"{figure} đ"
        return f"{figure} {currency_code}"

    def line_name(self, *, code: str, description: str, legal_language: str) -> str:
        """The words of a bill line: the rating text where it is in this language, else the
        words for its code, else the rating text."""
        if self.language == legal_language:
            return description
        tier = _TIER.match(code)
        if tier:
            return self.labels["tier"].format(n=tier.group(1))
        if code in LINE_CODES:
            return self.labels[code]
        return description


def words_for(language: str) -> Words:
    """The labels of ``language``; raises InvalidInput naming ``language`` when unknown."""
    labels = LABELS.get(language)
    if labels is None:
        raise InvalidInput(
            f"no bill document in language {language!r}; known: {', '.join(sorted(LABELS))}",
            field="language",
        )
    return Words(language, labels)
