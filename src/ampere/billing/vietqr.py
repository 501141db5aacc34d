"""VietQR: the NAPAS profile of the EMVCo merchant-presented QR code (TLV, CRC-16/CCITT-FALSE)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import segno

from ampere.core.errors import InvalidInput

NAPAS_GUID = "A000000727"
SERVICE_ACCOUNT = "QRIBFTTA"  # transfer to an account number
SERVICE_CARD = "QRIBFTTC"  # transfer to a card number
CURRENCY_VND = "704"
_ASCII_TEXT = re.compile(r"^[ -~]*$")


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    """One field: two-digit tag, two-digit length, value (at most 99 characters)."""
    if len(tag) != 2 or not tag.isdigit():
        raise InvalidInput(f"tag {tag!r} is not two digits", field="tag")
    if len(value) > 99:
        raise InvalidInput(f"tag {tag} holds at most 99 characters", field=f"tag_{tag}")
    return f"{tag}{len(value):02d}{value}"


def with_crc(payload_before_crc: str) -> str:
    """Append the CRC to a payload that ends with "6304"."""
    if not payload_before_crc.endswith("6304"):
        raise InvalidInput("the CRC follows the field header 6304", field="payload")
    crc = crc16_ccitt_false(payload_before_crc.encode("utf-8"))
    return f"{payload_before_crc}{crc:04X}"


@dataclass(frozen=True, slots=True)
class VietQRRequest:
    bank_bin: str
    account_number: str
    to_card: bool = False
    amount_vnd: int | None = None
    bill_number: str = ""
    purpose: str = ""


def _ascii(value: str, field: str, limit: int) -> str:
    if not _ASCII_TEXT.match(value):
        raise InvalidInput("only printable ASCII is allowed", field=field)
    if len(value) > limit:
        raise InvalidInput(f"at most {limit} characters", field=field)
    return value


def vietqr_payload(request: VietQRRequest) -> str:
    """The full payload with its CRC. Static (tag 01 = 11) without an amount, dynamic (12)
    with one. Raises InvalidInput naming the field."""
    if not re.fullmatch(r"\d{6}", request.bank_bin):
        raise InvalidInput("a bank BIN has 6 digits", field="bank_bin")
    if not re.fullmatch(r"[0-9A-Za-z]{1,19}", request.account_number):
        raise InvalidInput(
            "an account or card number has 1..19 letters or digits", field="account_number"
        )
    if request.amount_vnd is not None and request.amount_vnd <= 0:
        raise InvalidInput("a QR amount must be positive", field="amount_vnd")
    beneficiary = tlv("00", request.bank_bin) + tlv("01", request.account_number)
    merchant = (
        tlv("00", NAPAS_GUID)
        + tlv("01", beneficiary)
        + tlv("02", SERVICE_CARD if request.to_card else SERVICE_ACCOUNT)
    )
    parts = [
        tlv("00", "01"),
        tlv("01", "11" if request.amount_vnd is None else "12"),
        tlv("38", merchant),
        tlv("53", CURRENCY_VND),
    ]
    if request.amount_vnd is not None:
        parts.append(tlv("54", str(request.amount_vnd)))
    parts.append(tlv("58", "VN"))
    additional = ""
    if request.bill_number:
        additional += tlv("01", _ascii(request.bill_number, "bill_number", 25))
    if request.purpose:
        additional += tlv("08", _ascii(request.purpose, "purpose", 25))
    if additional:
        parts.append(tlv("62", additional))
    return with_crc("".join(parts) + "6304")


def qr_png(payload: str, *, scale: int = 6) -> bytes:
    """The QR image of ``payload`` (error correction M, 4-module quiet zone) as PNG bytes."""
    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
