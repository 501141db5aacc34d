"""Phone numbers: parsed for the utility's country and stored in E.164."""

from __future__ import annotations

import phonenumbers

from ampere.core.errors import InvalidInput


class InvalidPhone(InvalidInput):
    code = "invalid-phone"


def to_e164(raw: str, *, country_code: str, field: str = "phone") -> str:
    """Return ``raw`` as E.164 (+84901234567); raises InvalidPhone naming ``field``."""
    try:
        parsed = phonenumbers.parse(raw, country_code.upper())
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"{raw!r} is not a phone number", field=field) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(
            f"{raw!r} is not a valid phone number for {country_code.upper()}", field=field
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    number_type = phonenumbers.number_type(phonenumbers.parse(e164))
    return number_type in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
