import io
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from ampere.billing.vietqr import VietQRRequest, crc16_ccitt_false, qr_png, vietqr_payload, with_crc
from ampere.core.errors import InvalidInput

# The NAPAS vectors of EINVOICE.md: payload before the CRC → CRC.
VECTORS = [
    (
        "00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA53037045802VN6304",
        "F4E5",
    ),
    (
        "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045802VN6304",
        "4F52",
    ),
    (
        "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA530370454061800005802"
        "VN62340107NPS68690819thanh toan don hang6304",
        "2E2E",
    ),
]


@pytest.mark.parametrize(("payload", "crc"), VECTORS)
def test_napas_vectors(payload, crc):
    assert with_crc(payload) == payload + crc


def test_crc_check_value():
    # The catalogued check value of CRC-16/CCITT-FALSE.
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_builder_reproduces_the_card_and_the_dynamic_vectors():
    card = VietQRRequest(bank_bin="970403", account_number="9704031101234567", to_card=True)
    assert vietqr_payload(card) == VECTORS[1][0] + VECTORS[1][1]
    dynamic = VietQRRequest(
        bank_bin="970403",
        account_number="0011012345678",
        amount_vnd=180000,
        bill_number="NPS6869",
        purpose="thanh toan don hang",
    )
    assert vietqr_payload(dynamic) == VECTORS[2][0] + VECTORS[2][1]


def test_the_first_vector_has_a_wrong_inner_length_which_the_builder_does_not_copy():
    # Vector 1 declares the account "0011012345678" (13 digits) with length 12; its CRC is right
    # for the bytes as published, and an encoder writes the length 13 (as vector 3 does).
    static = VietQRRequest(bank_bin="970403", account_number="0011012345678")
    payload = vietqr_payload(static)
    assert payload[:-4] == VECTORS[0][0].replace("01120011012345678", "01130011012345678")
    assert payload == with_crc(payload[:-4])


def test_bad_input_is_named():
    cases: list[tuple[dict[str, Any], str]] = [
        ({"bank_bin": "97040", "account_number": "1"}, "bank_bin"),
        ({"bank_bin": "970403", "account_number": "12-34"}, "account_number"),
        ({"bank_bin": "970403", "account_number": "1", "amount_vnd": 0}, "amount_vnd"),
        ({"bank_bin": "970403", "account_number": "1", "purpose": "tiền điện"}, "purpose"),
        ({"bank_bin": "970403", "account_number": "1", "bill_number": "x" * 26}, "bill_number"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as error:
            vietqr_payload(VietQRRequest(**kwargs))
        assert error.value.field == field
    with pytest.raises(InvalidInput) as error:
        with_crc("000201")
    assert error.value.field == "payload"


def test_the_qr_image_reads_back_as_the_payload():
    payload = vietqr_payload(
        VietQRRequest(
            bank_bin="970403",
            account_number="0011012345678",
            amount_vnd=798660,
            bill_number="123",
            purpose="TIEN DIEN PE0100900001",
        )
    )
    image = Image.open(io.BytesIO(qr_png(payload, scale=4)))
    assert image.format == "PNG"
    (found,) = zxingcpp.read_barcodes(image)
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    assert found.text == payload
