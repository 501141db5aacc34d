from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ampere.core.errors import DomainError
from ampere.core.money import VND, CurrencyMismatch, Money, UnknownCurrency, currency


def test_vnd_has_no_minor_digits_and_usd_two():
    assert Money.of("1234.5", "VND").rounded() == Money(Decimal("1235"), VND)
    assert Money.of("10.005", "USD").rounded().amount == Decimal("10.01")
    assert Money.from_minor(12345, "USD").amount == Decimal("123.45")
    assert Money.of("123.45", "USD").to_minor() == 12345


def test_rounding_is_half_up_not_bankers():
    assert Money.of("0.5", "VND").rounded().amount == Decimal(1)
    assert Money.of("2.5", "VND").rounded().amount == Decimal(3)
    assert Money.of("-2.5", "VND").rounded().amount == Decimal(-3)


def test_refuses_to_mix_currencies():
    with pytest.raises(CurrencyMismatch) as error:
        Money.of(1, "VND") + Money.of(1, "USD")
    assert error.value.field == "currency"
    with pytest.raises(CurrencyMismatch):
        assert Money.of(1, "VND") < Money.of(1, "USD")


def test_refuses_float_and_unknown_currency():
    with pytest.raises(TypeError):
        Money.of(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.of(1, "USD") * 1.5  # type: ignore[operator]
    with pytest.raises(UnknownCurrency):
        currency("XYZ")


def test_to_minor_refuses_fractions_of_a_dong():
    with pytest.raises(DomainError) as error:
        Money.of("10.5", "VND").to_minor()
    assert error.value.field == "amount"


def test_allocate_largest_remainder():
    parts = Money.of(100, "VND").allocate([1, 1, 1])
    assert [p.amount for p in parts] == [Decimal(34), Decimal(33), Decimal(33)]
    parts = Money.of("0.05", "USD").allocate([1, 1])
    assert [p.amount for p in parts] == [Decimal("0.03"), Decimal("0.02")]
    parts = Money.of(-10, "VND").allocate([3, 1])
    assert [p.amount for p in parts] == [Decimal(-8), Decimal(-2)]


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(any),
    st.sampled_from(["VND", "USD"]),
)
def test_allocations_sum_exactly(minor, weights, code):
    whole = Money.from_minor(minor, code)
    parts = whole.allocate(weights)
    assert sum(p.to_minor() for p in parts) == minor
    assert all(p.to_minor() == 0 for p, w in zip(parts, weights, strict=True) if w == 0)
