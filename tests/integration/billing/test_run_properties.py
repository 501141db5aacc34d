"""Invariants of any bill run: the ledger charges it posts add up to its issued bills, each bill
adds up to its lines, and a bill's tax shares are those the one-bill path computes."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ampere.accounts.models import LedgerEntry
from ampere.billing.models import Bill, BillLine
from ampere.billing.runs import execute_bill_run, start_bill_run
from ampere.billing.totals import price_lines
from ampere.billing.types import DraftLine
from tests.factories.billrun import AS_OF, NOW, customer, scene

pytestmark = pytest.mark.django_db

customers = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 3000)),  # kWh of the period; None: no read
        st.sampled_from(["EVN-RES", "EVN-BUS-LV", "EVN-ADM-SCHOOL-LV", "EVN-MFG-LV"]),
        st.sampled_from([Decimal(1), Decimal(2), Decimal("1.5")]),
        st.sampled_from(["vi", "en"]),
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture
def the_scene():
    return scene()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(customers, st.integers(1, 4))
def test_the_ledger_matches_the_bills_and_each_bill_its_lines(the_scene, people, size):
    point = transaction.savepoint()
    try:
        for kwh, tariff, households, language in people:
            customer(the_scene, kwh=kwh, tariff=tariff, households=households, language=language)
        ref = start_bill_run(
            cycle_code=the_scene.cycle_code,
            as_of=AS_OF,
            now=NOW,
            created_by="property",
            partition_size=size,
            documents=False,
        )
        execute_bill_run(run_id=ref.id, now=lambda: NOW)
        bills = Bill.objects.filter(bill_run_id=ref.id)
        issued = bills.filter(status="issued").aggregate(total=Sum("total"))["total"] or 0
        posted = (
            LedgerEntry.objects.filter(created_by=f"billrun:{ref.id}").aggregate(
                total=Sum("amount")
            )["total"]
            or 0
        )
        assert issued == posted
        for bill in bills:
            lines = list(BillLine.objects.filter(bill=bill).order_by("sequence"))
            assert [line.sequence for line in lines] == list(range(1, len(lines) + 1))
            assert bill.subtotal == sum((line.amount for line in lines), Decimal(0))
            assert bill.tax_total == sum((line.tax_amount for line in lines), Decimal(0))
            assert bill.total == bill.subtotal + bill.tax_total
            if not lines:  # nothing used, nothing charged: held for review
                assert (bill.total, bill.status) == (Decimal(0), "held")
                continue
            priced, totals = price_lines(
                [
                    DraftLine(
                        line.kind,
                        line.code,
                        line.description,
                        line.quantity,
                        line.unit,
                        line.unit_price,
                        line.amount_unrounded,
                        line.tax_rate,
                    )
                    for line in lines
                ],
                currency_code="VND",
            )
            assert [(p.amount, p.tax_amount) for p in priced] == [
                (line.amount, line.tax_amount) for line in lines
            ]
            assert (totals.subtotal, totals.tax_total) == (bill.subtotal, bill.tax_total)
    finally:
        transaction.savepoint_rollback(point)
