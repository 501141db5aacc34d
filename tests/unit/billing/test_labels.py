from datetime import date
from decimal import Decimal

import pytest

from ampere.billing.documents.labels import LABEL_KEYS, LABELS, words_for
from ampere.core.errors import InvalidInput

D = Decimal


def test_every_language_has_every_label():
    for language, labels in LABELS.items():
        assert set(labels) == set(LABEL_KEYS), language


def test_numbers_money_and_dates_per_language():
    vi, en, es = words_for("vi"), words_for("en"), words_for("es")
    assert vi.money(D(798660), "VND") == "798.660 đ"
    assert en.money(D(798660), "VND") == "798,660 VND"
    assert en.money(D("1234.5"), "USD") == "$1,234.50"
    assert es.money(D("-28.116"), "USD") == "-$28,12"
    assert vi.number(D("1300.000")) == "1.300"
    assert en.number(D("0.793430")) == "0.79343"
    assert vi.date(date(2025, 6, 9)) == "09/06/2025"
    assert en.date(date(2025, 6, 9)) == "June 9, 2025"
    assert es.date(date(2025, 6, 9)) == "9 de junio de 2025"


def test_line_names():
    en = words_for("en")
    assert en.line_name(code="tier-3", description="Điện sinh hoạt bậc 3", legal_language="vi") == (
        "Tier 3"
    )
    assert en.line_name(code="tou-peak", description="Giờ cao điểm", legal_language="vi") == (
        "Peak hours"
    )
    assert en.line_name(code="care", description="CARE discount", legal_language="en") == (
        "CARE discount"
    )
    assert words_for("vi").line_name(
        code="tier-1", description="Điện sinh hoạt bậc 1", legal_language="vi"
    ) == ("Điện sinh hoạt bậc 1")
    assert words_for("es").line_name(code="x", description="Otro", legal_language="en") == "Otro"


def test_unknown_language_is_named():
    with pytest.raises(InvalidInput) as error:
        words_for("fr")
    assert error.value.field == "language"
