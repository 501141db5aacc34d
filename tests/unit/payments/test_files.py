from datetime import date
from decimal import Decimal

import pytest

from ampere.core.errors import InvalidInput
from ampere.payments.files import Line, parse_amount, parse_date, read_lines


def test_lines_keep_raw_text_and_columns_in_any_order():
    content = '\ufeffAmount, Reference ,extra\n"1,000",LB-1,x\n\n5,"LB ""2""",y\n7\n'.encode()
    assert read_lines(content, required=("reference", "amount")) == [
        Line(2, '"1,000",LB-1,x', {"amount": "1,000", "reference": "LB-1"}),
        Line(4, '5,"LB ""2""",y', {"amount": "5", "reference": 'LB "2"'}),
        Line(5, "7", problem="1 columns where the header has 3"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xc3\x28", "the file is not UTF-8 text (byte 0)"),
        (b"\n1,2\n", "the file has no header line"),
        (b"amount\n1\n", "the header lacks reference"),
    ],
)
def test_an_unusable_file_is_refused_whole(content, message):
    with pytest.raises(InvalidInput) as error:
        read_lines(content, required=("reference", "amount"))
    assert (error.value.message, error.value.field) == (message, "file")


def test_amounts_and_dates():
    assert parse_amount("250 000") == Decimal(250000)
    assert parse_amount("12.34") == Decimal("12.34")
    for text, message in [
        ("", "the amount is missing"),
        ("abc", "'abc' is not an amount"),
        ("-5", "the amount must be more than zero, not -5"),
        ("NaN", "the amount must be more than zero, not NaN"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_amount(text)
    assert parse_date(" 2025-06-02 ") == date(2025, 6, 2)
    with pytest.raises(ValueError, match="is not a date"):
        parse_date("02/06/2025")
