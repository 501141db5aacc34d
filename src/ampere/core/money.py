"""Money: an exact Decimal amount in one ISO 4217 currency."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ampere.core.errors import DomainError


class CurrencyMismatch(DomainError):
    """Two amounts in different currencies were combined."""

    code = "currency-mismatch"


class UnknownCurrency(DomainError):
    code = "unknown-currency"


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    minor_digits: int

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_digits)

    def __str__(self) -> str:
        return self.code


# ISO 4217 minor units of the currencies Ampere's utilities bill in.
_CURRENCIES: dict[str, Currency] = {
    code: Currency(code, digits)
    for code, digits in (("VND", 0), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("THB", 2))
}
VND = _CURRENCIES["VND"]
USD = _CURRENCIES["USD"]


def currency(code: str) -> Currency:
    """Return the currency for an ISO 4217 code; raises UnknownCurrency."""
    try:
        return _CURRENCIES[code.upper()]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {code!r}", field="currency") from None


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"money needs Decimal, int or str, not {type(value).__name__}")
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of money. Arithmetic is exact; rounding happens only when asked."""

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _as_decimal(self.amount))
        if not self.amount.is_finite():
            raise DomainError("amount must be finite", field="amount")

    @classmethod
    def of(cls, amount: Decimal | int | str, code: str | Currency) -> Money:
        cur = code if isinstance(code, Currency) else currency(code)
        return cls(_as_decimal(amount), cur)

    @classmethod
    def zero(cls, code: str | Currency) -> Money:
        return cls.of(0, code)

    @classmethod
    def from_minor(cls, minor: int, code: str | Currency) -> Money:
        cur = code if isinstance(code, Currency) else currency(code)
        return cls(Decimal(minor).scaleb(-cur.minor_digits), cur)

    def to_minor(self) -> int:
        """The amount in minor units; refuses an amount finer than the currency allows."""
        scaled = self.amount.scaleb(self.currency.minor_digits)
        if scaled != scaled.to_integral_value():
            raise DomainError(
                f"{self.amount} has more than {self.currency.minor_digits} decimals for "
                f"{self.currency.code}",
                field="amount",
            )
        return int(scaled)

    def rounded(self, rounding: str = ROUND_HALF_UP) -> Money:
        return Money(self.amount.quantize(self.currency.quantum, rounding=rounding), self.currency)

    def is_rounded(self) -> bool:
        return self.amount == self.amount.quantize(self.currency.quantum)

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency.code} with {other.currency.code}", field="currency"
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, Money | float):
            raise TypeError("multiply money by a Decimal or int")
        return Money(self.amount * _as_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency.code}"

    def allocate(self, weights: Sequence[Decimal | int]) -> list[Money]:
        """Split this amount in proportion to ``weights`` with the largest-remainder method.

        The parts are in whole minor units and always sum exactly to the (rounded) whole.
        """
        if not weights:
            raise DomainError("allocation needs at least one weight", field="weights")
        decimal_weights = [_as_decimal(w) for w in weights]
        if any(w < 0 for w in decimal_weights):
            raise DomainError("allocation weights must not be negative", field="weights")
        total_weight = sum(decimal_weights, Decimal(0))
        if total_weight == 0:
            raise DomainError("allocation weights must not all be zero", field="weights")
        total_minor = self.rounded().to_minor()
        sign = -1 if total_minor < 0 else 1
        magnitude = abs(total_minor)
        exact = [Decimal(magnitude) * w / total_weight for w in decimal_weights]
        floors = [int(e) for e in exact]
        leftover = magnitude - sum(floors)
        order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
        for index in order[:leftover]:
            floors[index] += 1
        return [Money.from_minor(sign * part, self.currency) for part in floors]


def total(amounts: Iterable[Money], code: str | Currency) -> Money:
    """Sum of amounts (all in ``code``); zero when empty."""
    result = Money.zero(code)
    for amount in amounts:
        result = result + amount
    return result
