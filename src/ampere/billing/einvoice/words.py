"""Amounts in Vietnamese words, as Vietnamese invoices write them (TgTTTBChu).

Written here because no library checked gets the invoice convention right: num2words (lang="vi")
writes 1,005,000 as "một triệu năm nghìn" (it drops "không trăm linh") and uses "lẻ"; the
vietnam-number package writes "lẽ" (a misspelling of "lẻ") and has no "linh".

The convention: groups of three digits with the scales nghìn, triệu, tỷ (then nghìn tỷ, triệu tỷ …);
a group after the first says its hundreds even when zero ("không trăm"); a zero ten before a unit
is "linh" (105 → "một trăm linh năm"); 1 after a ten above 10 is "mốt", 5 after any ten is "lăm",
10..19 is "mười …"; a group of all zeros is skipped; the text starts with a capital and ends with
the currency word ("đồng").
"""

from __future__ import annotations

from decimal import Decimal

from ampere.core.errors import InvalidInput

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
BILLION = 10**9


def _group(value: int, *, full: bool) -> list[str]:
    """Words for 0 < value < 1000; ``full`` says the hundreds even when 0 (not the first group)."""
    hundreds, rest = divmod(value, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("linh")
            words.append(DIGITS[units])
        return words
    if tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if units == 1 and tens > 1:
        words.append("mốt")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def _below_billion(value: int, *, leading: bool) -> list[str]:
    words: list[str] = []
    groups = (value // 1_000_000, value // 1000 % 1000, value % 1000)
    for group, scale in zip(groups, ("triệu", "nghìn", ""), strict=True):
        if group == 0:
            continue
        words += _group(group, full=not leading)
        leading = False
        if scale:
            words.append(scale)
    return words


def _words(value: int, *, leading: bool) -> list[str]:
    # Above a billion the count of billions is read like any number, then "tỷ":
    # 10^12 is "một nghìn tỷ", 1,002,000,000,000 "một nghìn không trăm linh hai tỷ".
    high, low = divmod(value, BILLION)
    words: list[str] = []
    if high:
        words += [*_words(high, leading=leading), "tỷ"]
        leading = False
    if low:
        words += _below_billion(low, leading=leading)
    return words


def number_in_words(value: int) -> str:
    """A whole number in Vietnamese words, lower case (0 → "không")."""
    if value < 0:
        return "âm " + number_in_words(-value)
    if value == 0:
        return DIGITS[0]
    return " ".join(_words(value, leading=True))


def amount_in_words(amount: Decimal | int, *, currency_word: str = "đồng") -> str:
    """An invoice total in words: 798660 → "Bảy trăm chín mươi tám nghìn sáu trăm sáu mươi đồng".

    Raises InvalidInput for an amount with a fraction (VND has no minor unit).
    """
    whole = Decimal(amount)
    if whole != whole.to_integral_value():
        raise InvalidInput("an amount in words must be whole", field="amount")
    text = f"{number_in_words(int(whole))} {currency_word}".strip()
    return text[0].upper() + text[1:]
