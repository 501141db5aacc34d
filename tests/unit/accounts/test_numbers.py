import pytest

from ampere.accounts.numbers import (
    InvalidAccountNumber,
    NumberScheme,
    format_number,
    validate_number,
)


def test_evn_number_has_prefix_area_serial_and_check_digit():
    number = format_number(scheme=NumberScheme.EVN13, prefix="PE", area="0101", serial=123)
    assert number == "PE01010001236"  # Luhn by hand over 0101000123: 14 → 6
    assert len(number) == 13
    assert validate_number(" pe0101-0001236 ", scheme=NumberScheme.EVN13, prefix="PE") == number


def test_sce_number_is_twelve_digits_with_check_digit():
    number = format_number(scheme=NumberScheme.SCE12, prefix="700", area="", serial=42)
    assert number == "700000000427"  # Luhn by hand over 70000000042: 13 → 7
    assert validate_number(number, scheme=NumberScheme.SCE12, prefix="700") == number


@pytest.mark.parametrize("position", range(2, 13))
def test_every_single_digit_typo_fails_the_check_digit(position):
    number = format_number(scheme=NumberScheme.EVN13, prefix="PE", area="0101", serial=98765)
    for digit in "0123456789":
        if digit == number[position]:
            continue
        typo = number[:position] + digit + number[position + 1 :]
        with pytest.raises(InvalidAccountNumber) as error:
            validate_number(typo, scheme=NumberScheme.EVN13, prefix="PE")
        assert error.value.field == "account_number"
        assert error.value.code == "check-digit"


def test_wrong_length_prefix_and_letters_are_named():
    with pytest.raises(InvalidAccountNumber, match="has 12 characters; an account number has 13"):
        validate_number("PE0101000123", scheme=NumberScheme.EVN13, prefix="PE")
    with pytest.raises(InvalidAccountNumber, match="does not start with 'PE'"):
        validate_number("PB01010001232", scheme=NumberScheme.EVN13, prefix="PE")
    with pytest.raises(InvalidAccountNumber, match="digits only"):
        validate_number("PE0101000X232", scheme=NumberScheme.EVN13, prefix="PE")
