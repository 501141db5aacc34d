from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ampere.accounts.models import LedgerEntry
from ampere.billing.models import Bill, BillReview
from ampere.billing.operations import cancel_held_bill, create_bill, release_bill
from ampere.billing.states import IllegalTransition
from ampere.billing.types import DraftLine
from ampere.core.errors import InvalidInput, NotFound
from tests.factories.billing import billing_utility, evn_agreement, evn_draft, month

pytestmark = pytest.mark.django_db

D = Decimal
RUN = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
# 10 June 2025, 10:00 in Ho Chi Minh City.
CLERK = datetime(2025, 6, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
def held():
    billing_utility("evn-hcmc")
    agreement = evn_agreement()
    create_bill(
        draft=evn_draft(agreement, month(2025, 4), 300, bill_date=date(2025, 5, 2)),
        now=RUN,
        created_by="run-1",
    )
    ref = create_bill(
        draft=evn_draft(agreement, month(2025, 5), 400, bill_date=date(2025, 6, 2)),
        now=RUN,
        created_by="run-2",
    )
    assert ref.status == "held"
    return ref


def test_a_released_bill_is_issued_today_and_posted(held, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        ref = release_bill(
            bill_id=held.id, released_by="clerk.an", now=CLERK, note="meter checked on site"
        )
    # Released on Tuesday 10 June: due 7 days later, Tuesday 17 June.
    assert (ref.status, ref.due_date, ref.total) == ("issued", date(2025, 6, 17), D(1160460))
    bill = Bill.objects.get(id=held.id)
    assert (bill.status, bill.issued_at, bill.due_date, bill.bill_date) == (
        "issued",
        CLERK,
        date(2025, 6, 17),
        date(2025, 6, 2),
    )
    entry = LedgerEntry.objects.get(source_type="bill", source_id=str(held.id))
    assert (entry.kind, entry.amount, entry.due_date, entry.value_date, entry.created_by) == (
        "charge",
        D(1160460),
        date(2025, 6, 17),
        date(2025, 6, 10),
        "clerk.an",
    )
    review = BillReview.objects.get(bill_id=held.id)
    assert (review.decision, review.decided_by, review.note) == (
        "released",
        "clerk.an",
        "meter checked on site",
    )
    # The PDF and the e-invoice are queued once the release commits.
    assert len(callbacks) == 2


def test_a_clerk_cancels_a_held_bill_without_posting(held):
    entries = LedgerEntry.objects.count()
    with pytest.raises(InvalidInput) as error:
        cancel_held_bill(bill_id=held.id, cancelled_by="clerk.an", reason=" ", now=CLERK)
    assert error.value.field == "reason"
    ref = cancel_held_bill(bill_id=held.id, cancelled_by="clerk.an", reason="wrong read", now=CLERK)
    assert ref.status == "cancelled"
    bill = Bill.objects.get(id=held.id)
    assert (bill.status, bill.cancelled_at, bill.issued_at, bill.due_date) == (
        "cancelled",
        CLERK,
        None,
        None,
    )
    assert LedgerEntry.objects.count() == entries
    assert BillReview.objects.get(bill_id=held.id).note == "wrong read"


def test_decisions_on_bills_that_are_not_held_change_nothing(held):
    release_bill(bill_id=held.id, released_by="clerk.an", now=CLERK)
    entries = LedgerEntry.objects.count()
    with pytest.raises(IllegalTransition) as error:
        release_bill(bill_id=held.id, released_by="clerk.binh", now=CLERK)
    assert error.value.message == "a bill issued cannot become issued"
    with pytest.raises(IllegalTransition) as error:
        cancel_held_bill(bill_id=held.id, cancelled_by="clerk.binh", reason="x", now=CLERK)
    assert error.value.message == "an issued bill is cancelled only by a reversing bill"
    assert LedgerEntry.objects.count() == entries
    assert Bill.objects.get(id=held.id).status == "issued"
    assert BillReview.objects.filter(bill_id=held.id).count() == 1
    with pytest.raises(NotFound) as missing:
        release_bill(bill_id=10**9, released_by="clerk", now=CLERK)
    assert missing.value.field == "bill"


def test_a_released_credit_bill_is_posted_as_a_credit_without_due_date():
    billing_utility("evn-hcmc")
    agreement = evn_agreement()
    credit = (
        DraftLine(
            "credit", "adjustment", "Điều chỉnh giảm", D(1), "", D(-50000), D(-50000), D("0.08")
        ),
    )
    draft = evn_draft(agreement, month(2025, 5), 0, bill_date=date(2025, 6, 2), lines=credit)
    ref = create_bill(draft=draft, now=RUN, created_by="run-1")
    assert (ref.status, ref.total) == ("held", D(-54000))
    assert [r.code for r in ref.hold_reasons] == ["negative_total"]
    released = release_bill(bill_id=ref.id, released_by="clerk.an", now=CLERK)
    assert released.due_date is None
    entry = LedgerEntry.objects.get(source_type="bill", source_id=str(ref.id))
    assert (entry.kind, entry.amount, entry.due_date) == ("adjustment", D(-54000), None)
