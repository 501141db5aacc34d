from decimal import Decimal

import pytest

from ampere.billing.einvoice.words import amount_in_words, number_in_words
from ampere.core.errors import InvalidInput


def test_the_invoice_example_of_einvoice_md():
    assert amount_in_words(798660) == "Bảy trăm chín mươi tám nghìn sáu trăm sáu mươi đồng"
    assert amount_in_words(Decimal(607554)) == (
        "Sáu trăm linh bảy nghìn năm trăm năm mươi bốn đồng"
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "không"),
        (5, "năm"),
        (10, "mười"),
        (11, "mười một"),
        (15, "mười lăm"),
        (20, "hai mươi"),
        (21, "hai mươi mốt"),
        (24, "hai mươi bốn"),
        (25, "hai mươi lăm"),
        (101, "một trăm linh một"),
        (105, "một trăm linh năm"),
        (110, "một trăm mười"),
        (115, "một trăm mười lăm"),
        (1_000, "một nghìn"),
        (1_005, "một nghìn không trăm linh năm"),
        (1_010, "một nghìn không trăm mười"),
        (10_000, "mười nghìn"),
        (100_010, "một trăm nghìn không trăm mười"),
        (1_000_000, "một triệu"),
        (1_005_000, "một triệu không trăm linh năm nghìn"),
        (2_000_005, "hai triệu không trăm linh năm"),
        (15_500_000, "mười lăm triệu năm trăm nghìn"),
        (1_000_000_000, "một tỷ"),
        (1_000_005_000, "một tỷ không trăm linh năm nghìn"),
        (
            1_234_567_891,
            "một tỷ hai trăm ba mươi bốn triệu năm trăm sáu mươi bảy nghìn tám trăm chín mươi mốt",
        ),
        (1_002_000_000_000, "một nghìn không trăm linh hai tỷ"),
        (5_000_000_000_000_000, "năm triệu tỷ"),
    ],
)
def test_numbers(value, words):
    assert number_in_words(value) == words


def test_currency_word_capital_and_whole_amounts_only():
    assert amount_in_words(1_005_000) == "Một triệu không trăm linh năm nghìn đồng"
    assert amount_in_words(0) == "Không đồng"
    with pytest.raises(InvalidInput) as error:
        amount_in_words(Decimal("10.5"))
    assert error.value.field == "amount"
