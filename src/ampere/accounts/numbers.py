"""Account numbers: formats by scheme, with a Luhn check digit. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stdnum import luhn

from ampere.core.errors import InvalidInput


class InvalidAccountNumber(InvalidInput):
    code = "invalid-account-number"


class NumberScheme(StrEnum):
    # EVN-like customer code: 2 letters + 4-digit area + 6-digit serial + check digit = 13.
    EVN13 = "evn13"
    # SCE-like: 3-digit prefix + 8-digit serial + check digit = 12 digits.
    SCE12 = "sce12"


@dataclass(frozen=True)
class SchemeRule:
    length: int
    prefix_length: int
    prefix_is_alpha: bool
    area_digits: int
    serial_digits: int


RULES: dict[NumberScheme, SchemeRule] = {
    NumberScheme.EVN13: SchemeRule(13, 2, True, 4, 6),
    NumberScheme.SCE12: SchemeRule(12, 3, False, 0, 8),
}


def format_number(*, scheme: NumberScheme, prefix: str, area: str, serial: int) -> str:
    """Build a number with its check digit."""
    rule = RULES[scheme]
    if len(prefix) != rule.prefix_length:
        raise InvalidInput(f"prefix must have {rule.prefix_length} characters", field="prefix")
    if rule.area_digits and (len(area) != rule.area_digits or not area.isdigit()):
        raise InvalidInput(f"area must be {rule.area_digits} digits", field="area")
    if not 0 <= serial < 10**rule.serial_digits:
        raise InvalidInput(f"serial must fit {rule.serial_digits} digits", field="serial")
    body = f"{area if rule.area_digits else ''}{serial:0{rule.serial_digits}d}"
    checked = body if rule.prefix_is_alpha else prefix + body
    return f"{prefix}{body}{luhn.calc_check_digit(checked)}"


def validate_number(number: str, *, scheme: NumberScheme, prefix: str) -> str:
    """Return the normalised number; raises InvalidAccountNumber naming what is wrong."""
    rule = RULES[scheme]
    cleaned = "".join(number.split()).replace("-", "").upper()
    field = "account_number"
    if len(cleaned) != rule.length:
        raise InvalidAccountNumber(
            f"{number!r} has {len(cleaned)} characters; an account number has {rule.length}",
            field=field,
        )
    if not cleaned.startswith(prefix.upper()):
        raise InvalidAccountNumber(f"{number!r} does not start with {prefix!r}", field=field)
    digits = cleaned[rule.prefix_length :] if rule.prefix_is_alpha else cleaned
    if not digits.isdigit():
        raise InvalidAccountNumber(f"{number!r} must end in digits only", field=field)
    if not luhn.is_valid(digits):
        raise InvalidAccountNumber(
            f"{number!r} fails its check digit (mistyped?)", field=field, code="check-digit"
        )
    return cleaned
