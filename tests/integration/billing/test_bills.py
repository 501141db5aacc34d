from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg.errors
import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb
from psycopg.types.range import Range

from ampere.accounts.models import LedgerEntry
from ampere.billing.models import Bill, BillHold, BillLine
from ampere.billing.operations import BillExists, create_bill, reserve_bill_ids
from ampere.billing.queries import get_bill, get_held_bill_ids, get_hold_reasons
from ampere.billing.types import ReadingDetail
from ampere.core.errors import InvalidInput
from tests.factories.billing import billing_utility, evn_agreement, evn_draft, month

pytestmark = pytest.mark.django_db

D = Decimal
NOW = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
MAY = month(2025, 5)
APRIL = month(2025, 4)


@pytest.fixture
def agreement():
    billing_utility("evn-hcmc")
    return evn_agreement()


def test_an_issued_bill_is_posted_with_its_due_date(agreement, django_assert_num_queries):
    ref = create_bill(
        draft=evn_draft(agreement, MAY, 300, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="run-1",
    )
    assert (ref.status, ref.total, ref.currency, ref.due_date, ref.hold_reasons) == (
        "issued",
        D(798660),
        "VND",
        date(2025, 6, 9),
        (),
    )
    with django_assert_num_queries(2):
        bill = get_bill(bill_id=ref.id)
    assert (bill.kind, bill.period, bill.bill_date, bill.issued_at) == (
        "original",
        MAY,
        date(2025, 6, 2),
        NOW,
    )
    assert (bill.subtotal, bill.tax_total, bill.total) == (D(739500), D(59160), D(798660))
    assert [(line.sequence, line.code, line.amount, line.tax_amount) for line in bill.lines] == [
        (1, "tier-1", D(99200), D(7936)),
        (2, "tier-2", D(102500), D(8200)),
        (3, "tier-3", D(238000), D(19040)),
        (4, "tier-4", D(299800), D(23984)),
    ]
    assert bill.readings == (ReadingDetail("CT0001", "total", D(10000), D(10300), D(1)),)
    entry = LedgerEntry.objects.get(source_type="bill", source_id=str(ref.id))
    assert (entry.kind, entry.amount, entry.currency, entry.due_date, entry.value_date) == (
        "charge",
        D(798660),
        "VND",
        date(2025, 6, 9),
        date(2025, 6, 2),
    )
    assert entry.account_id == agreement.account_id
    assert entry.created_by == "run-1"


def test_a_bill_that_looks_wrong_is_held_with_its_reasons_and_not_posted(agreement):
    create_bill(
        draft=evn_draft(agreement, APRIL, 300, bill_date=date(2025, 5, 2)),
        now=NOW,
        created_by="run-1",
    )
    entries = LedgerEntry.objects.count()
    ref = create_bill(
        draft=evn_draft(agreement, MAY, 400, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="run-2",
    )
    assert ref.status == "held"
    assert ref.due_date is None
    assert get_hold_reasons(bill_id=ref.id) == [
        ("above_history", "400 kWh is at least 1.3 × 300 kWh of the previous period")
    ]
    assert LedgerEntry.objects.count() == entries
    assert get_held_bill_ids(utility_id=agreement.account.utility_id) == [ref.id]
    held = Bill.objects.get(id=ref.id)
    assert (held.issued_at, held.due_date, held.total) == (None, None, D(1160460))


def test_one_original_bill_per_agreement_and_period(agreement):
    create_bill(
        draft=evn_draft(agreement, MAY, 300, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="run-1",
    )
    counts = (Bill.objects.count(), BillLine.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(BillExists) as error:
        create_bill(
            draft=evn_draft(agreement, MAY, 250, bill_date=date(2025, 6, 2)),
            now=NOW,
            created_by="run-1",
        )
    assert error.value.field == "period"
    assert (Bill.objects.count(), BillLine.objects.count(), LedgerEntry.objects.count()) == counts


def test_bad_drafts_are_named_and_write_nothing(agreement):
    good = evn_draft(agreement, MAY, 300, bill_date=date(2025, 6, 2))
    other = evn_agreement()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"language": "fr"}, "language"),
        ({"currency": "USD"}, "currency"),
        ({"agreement_id": other.id}, "agreement"),
        ({"lines": ()}, "lines"),
        ({"cycle_id": 10**9}, "cycle"),
    ]
    for changes, field in cases:
        draft = type(good)(**{**{f: getattr(good, f) for f in good.__slots__}, **changes})
        with pytest.raises(InvalidInput) as error:
            create_bill(draft=draft, now=NOW, created_by="run-1")
        assert error.value.field == field
    assert Bill.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def refused(statement: str, params: list[Any]) -> str:
    """PostgreSQL refuses the statement (a trigger or a constraint); returns its message."""
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as c:
        c.execute(statement, params)
    return str(error.value)


def test_postgresql_keeps_issued_bills_and_lines_as_written(agreement):
    ref = create_bill(
        draft=evn_draft(agreement, MAY, 300, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="run-1",
    )
    assert "changes only its status" in refused(
        "UPDATE billing_bill SET total = 1, subtotal = 1, tax_total = 0 WHERE id = %s", [ref.id]
    )
    assert "keeps its issue and due dates" in refused(
        "UPDATE billing_bill SET due_date = '2025-07-01' WHERE id = %s", [ref.id]
    )
    assert "is never deleted" in refused("DELETE FROM billing_bill WHERE id = %s", [ref.id])
    assert "cancelled only by a reversing bill" in refused(
        "UPDATE billing_bill SET status = 'cancelled', cancelled_at = now() WHERE id = %s",
        [ref.id],
    )
    assert "cannot go from issued to held" in refused(
        "UPDATE billing_bill SET status = 'held' WHERE id = %s", [ref.id]
    )
    refused("UPDATE billing_billline SET amount = 0 WHERE bill_id = %s", [ref.id])
    refused("DELETE FROM billing_billline WHERE bill_id = %s", [ref.id])
    bill = Bill.objects.get(id=ref.id)
    assert (bill.status, bill.total, bill.due_date) == ("issued", D(798660), date(2025, 6, 9))
    assert sorted(BillLine.objects.filter(bill_id=ref.id).values_list("amount", flat=True)) == [
        D(99200),
        D(102500),
        D(238000),
        D(299800),
    ]


def test_an_issued_bill_is_cancelled_once_a_reversing_bill_exists(agreement):
    ref = create_bill(
        draft=evn_draft(agreement, MAY, 300, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="run-1",
    )
    original = Bill.objects.get(id=ref.id)
    Bill.objects.create(
        account_id=original.account_id,
        agreement_id=original.agreement_id,
        kind="reversal",
        status="issued",
        period=original.period,
        bill_date=date(2025, 6, 10),
        issued_at=NOW,
        currency="VND",
        language="vi",
        consumption_kwh=-original.consumption_kwh,
        subtotal=-original.subtotal,
        tax_total=-original.tax_total,
        total=-original.total,
        reverses=original,
        created_at=NOW,
    )
    Bill.objects.filter(id=ref.id).update(status="cancelled", cancelled_at=NOW)
    assert Bill.objects.get(id=ref.id).status == "cancelled"
    assert "cannot go from cancelled to issued" in refused(
        "UPDATE billing_bill SET status = 'issued', cancelled_at = NULL WHERE id = %s", [ref.id]
    )


def test_bills_are_written_held_or_issued_and_hold_reasons_are_kept(agreement):
    assert "Cannot insert rows" in refused(
        "INSERT INTO billing_bill (account_id, agreement_id, kind, status, period, bill_date, "
        "cancelled_at, currency, language, consumption_kwh, estimated, subtotal, tax_total, "
        "total, readings, created_at) VALUES (%s, %s, 'original', 'cancelled', '[2025-05-01, "
        "2025-06-01)', '2025-06-02', now(), 'VND', 'vi', 1, false, 0, 0, 0, '[]', now())",
        [agreement.account_id, agreement.id],
    )
    create_bill(
        draft=evn_draft(agreement, APRIL, 300, bill_date=date(2025, 5, 2)),
        now=NOW,
        created_by="run-1",
    )
    held = create_bill(
        draft=evn_draft(agreement, MAY, 900, bill_date=date(2025, 6, 2)),
        now=NOW,
        created_by="run-1",
    )
    refused("DELETE FROM billing_billhold WHERE bill_id = %s", [held.id])
    assert BillHold.objects.filter(bill_id=held.id).count() == 1


def test_bills_and_lines_can_be_written_by_copy_with_reserved_ids(agreement):
    """The bulk path of bill runs: ids from the sequence, then one COPY for bills and one for
    their lines; the constraints and triggers hold for COPY as for INSERT."""
    first, second = reserve_bill_ids(count=2)
    assert second > first
    columns = (
        "id, account_id, agreement_id, kind, status, period, bill_date, due_date, "
        "issued_at, currency, language, consumption_kwh, estimated, subtotal, tax_total, "
        "total, readings, created_at"
    )
    rows = [
        (
            first,
            agreement.account_id,
            agreement.id,
            "original",
            "issued",
            Range(date(2025, 4, 1), date(2025, 5, 1), "[)"),
            date(2025, 5, 2),
            date(2025, 5, 12),
            NOW,
            "VND",
            "vi",
            D(50),
            False,
            D(99200),
            D(7936),
            D(107136),
            Jsonb([]),
            NOW,
        ),
        (
            second,
            agreement.account_id,
            agreement.id,
            "original",
            "held",
            Range(date(2025, 5, 1), date(2025, 6, 1), "[)"),
            date(2025, 6, 2),
            None,
            None,
            "VND",
            "vi",
            D(50),
            True,
            D(99200),
            D(7936),
            D(107136),
            Jsonb([]),
            NOW,
        ),
    ]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY billing_bill ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        with cursor.cursor.copy(
            "COPY billing_billline (bill_id, sequence, kind, code, description, quantity, unit, "
            "unit_price, amount_unrounded, amount, tax_rate, tax_amount) FROM STDIN"
        ) as copy:
            for bill_id in (first, second):
                copy.write_row(
                    (
                        bill_id,
                        1,
                        "energy",
                        "tier-1",
                        "Điện sinh hoạt bậc 1",
                        D(50),
                        "kWh",
                        D(1984),
                        D(99200),
                        D(99200),
                        D("0.08"),
                        D(7936),
                    )
                )
    assert get_bill(bill_id=first).total == D(107136)
    assert [line.description for line in get_bill(bill_id=second).lines] == ["Điện sinh hoạt bậc 1"]
    # The unique constraint stops a second original for the same period, also by COPY.
    duplicate = (reserve_bill_ids(count=1)[0], *rows[0][1:])
    with (
        pytest.raises(psycopg.errors.UniqueViolation),
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY billing_bill ({columns}) FROM STDIN") as copy,
    ):
        copy.write_row(duplicate)
    assert Bill.objects.count() == 2
    with pytest.raises(InvalidInput) as error:
        reserve_bill_ids(count=0)
    assert error.value.field == "count"


@settings(max_examples=25)
@given(kwh=st.integers(min_value=1, max_value=2000), estimated=st.booleans())
def test_stored_totals_add_up_and_the_ledger_holds_the_issued_total(agreement, kwh, estimated):
    other = evn_agreement(account=agreement.account)
    draft = evn_draft(other, MAY, kwh, bill_date=date(2025, 6, 2), estimated=estimated)
    ref = create_bill(draft=draft, now=NOW, created_by="run-1")
    bill = get_bill(bill_id=ref.id)
    assert bill.subtotal == sum((line.amount for line in bill.lines), D(0))
    assert bill.tax_total == sum((line.tax_amount for line in bill.lines), D(0))
    assert bill.total == bill.subtotal + bill.tax_total == ref.total
    posted = LedgerEntry.objects.filter(source_type="bill", source_id=str(ref.id))
    assert list(posted.values_list("amount", flat=True)) == [bill.total]


def test_the_held_worklist_is_one_query_per_page(agreement, django_assert_num_queries):
    create_bill(
        draft=evn_draft(agreement, APRIL, 300, bill_date=date(2025, 5, 2)),
        now=NOW,
        created_by="run-1",
    )
    held = []
    for _ in range(3):
        other = evn_agreement(account=agreement.account)
        create_bill(
            draft=evn_draft(other, APRIL, 100, bill_date=date(2025, 5, 2)),
            now=NOW,
            created_by="run-1",
        )
        held.append(
            create_bill(
                draft=evn_draft(other, MAY, 400, bill_date=date(2025, 6, 2)),
                now=NOW,
                created_by="run-1",
            ).id
        )
    utility = agreement.account.utility_id
    with django_assert_num_queries(1):
        first = get_held_bill_ids(utility_id=utility, limit=2)
    assert first == held[:2]
    assert get_held_bill_ids(utility_id=utility, after_id=first[-1]) == held[2:]
