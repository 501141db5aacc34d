from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ampere.billing.totals import TaxOfRate, allocate_signed, price_lines
from ampere.billing.types import DraftLine
from ampere.core.errors import InvalidInput

D = Decimal
VAT8 = D("0.08")


def tier(n: int, kwh: int, price: int) -> DraftLine:
    return DraftLine(
        "energy",
        f"tier-{n}",
        f"Điện sinh hoạt bậc {n}",
        D(kwh),
        "kWh",
        D(price),
        D(kwh) * D(price),
        VAT8,
    )


def test_evn_300_kwh_at_the_prices_of_2025_05_10():
    lines = [tier(1, 50, 1984), tier(2, 50, 2050), tier(3, 100, 2380), tier(4, 100, 2998)]
    priced, totals = price_lines(lines, currency_code="VND")
    assert [p.amount for p in priced] == [D(99200), D(102500), D(238000), D(299800)]
    assert [p.tax_amount for p in priced] == [D(7936), D(8200), D(19040), D(23984)]
    assert [p.sequence for p in priced] == [1, 2, 3, 4]
    assert totals.subtotal == D(739500)
    assert totals.taxes == (TaxOfRate(VAT8, D(739500), D(59160)),)
    assert totals.tax_total == D(59160)
    assert totals.total == D(798660)


def test_evn_250_kwh_at_the_prices_of_2024_10_11():
    lines = [tier(1, 50, 1893), tier(2, 50, 1956), tier(3, 100, 2271), tier(4, 50, 2860)]
    _, totals = price_lines(lines, currency_code="VND")
    assert (totals.subtotal, totals.tax_total, totals.total) == (D(562550), D(45004), D(607554))


def test_vat_is_rounded_half_up_once_per_rate_and_spread_by_largest_remainder():
    # 3 × 1,015 = 3,045 đồng at 10 %: 304.5 → 305 half-up (banker's rounding would give 304,
    # and rounding each line's 101.5 would give 306).
    lines = [
        DraftLine("energy", f"x{i}", "x", D(1), "kWh", D(1015), D(1015), D("0.10"))
        for i in range(3)
    ]
    priced, totals = price_lines(lines, currency_code="VND")
    assert totals.tax_total == D(305)
    assert [p.tax_amount for p in priced] == [D(102), D(102), D(101)]


def test_usd_lines_round_once_to_cents_and_credits_take_their_share():
    lines = [
        DraftLine("energy", "tier-1", "Tier 1", D("312.4"), "kWh", D("0.30"), D("93.72"), D(0)),
        DraftLine(
            "fixed",
            "base-services",
            "Base Services Charge",
            D(30),
            "day",
            D("0.79343"),
            D("23.8029"),
            D(0),
        ),
        DraftLine("discount", "care", "CARE discount", D(1), "", D("-28.116"), D("-28.116"), D(0)),
    ]
    priced, totals = price_lines(lines, currency_code="USD")
    assert [p.amount for p in priced] == [D("93.72"), D("23.80"), D("-28.12")]
    assert totals.subtotal == D("89.40")
    assert totals.total == D("89.40")
    assert totals.taxes == (TaxOfRate(D(0), D("89.40"), D("0.00")),)


def test_allocate_signed_sums_exactly_with_negative_weights():
    # Shares 8, -1.6, 1.6: floors 8, -2, 1 and the one unit left goes to the larger remainder.
    assert allocate_signed(8, [100, -20, 20]) == [8, -2, 2]
    assert allocate_signed(10, [3, 3, 3]) == [4, 3, 3]
    assert allocate_signed(-7, [1, 1]) == [-3, -4]
    assert allocate_signed(0, [5, -5]) == [0, 0]
    with pytest.raises(InvalidInput) as error:
        allocate_signed(3, [5, -5])
    assert error.value.field == "weights"


def test_bad_lines_are_named():
    with pytest.raises(InvalidInput) as error:
        price_lines([], currency_code="VND")
    assert error.value.field == "lines"
    bad = DraftLine("energy", "x", "x", D(1), "kWh", D(1), D(1), D("1.5"))
    with pytest.raises(InvalidInput) as error:
        price_lines([tier(1, 1, 1), bad], currency_code="VND")
    assert error.value.field == "lines[1].tax_rate"


amounts = st.decimals(min_value=-(10**7), max_value=10**8, places=4, allow_nan=False)
rates = st.sampled_from([D(0), D("0.05"), D("0.08"), D("0.10")])


@given(
    st.lists(st.tuples(amounts, rates), min_size=1, max_size=12), st.sampled_from(["VND", "USD"])
)
def test_the_total_is_the_sum_of_the_lines_and_their_taxes(rows, code):
    lines = [
        DraftLine("energy", f"l{i}", "l", D(1), "kWh", a, a, r) for i, (a, r) in enumerate(rows)
    ]
    priced, totals = price_lines(lines, currency_code=code)
    assert totals.subtotal == sum((p.amount for p in priced), D(0))
    assert totals.tax_total == sum((p.tax_amount for p in priced), D(0))
    assert totals.total == sum((p.amount + p.tax_amount for p in priced), D(0))
    for tax in totals.taxes:
        members = [p for p in priced if p.line.tax_rate == tax.rate]
        assert sum((p.tax_amount for p in members), D(0)) == tax.tax
        assert tax.base == sum((p.amount for p in members), D(0))
    quantum = D(1) if code == "VND" else D("0.01")
    assert all(p.amount == p.amount.quantize(quantum) for p in priced)
    assert all(p.tax_amount == p.tax_amount.quantize(quantum) for p in priced)
