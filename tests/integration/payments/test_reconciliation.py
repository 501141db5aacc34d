from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ampere.accounts.models import LedgerEntry
from ampere.core.errors import Conflict
from ampere.core.money import Money
from ampere.payments import operations, reconciliation
from ampere.payments.models import Payment, ReconciliationItem
from ampere.payments.types import PaymentInput, receipt_number
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db
DAY = date(2025, 6, 2)
RECEIVED = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)  # 10:00 in Hồ Chí Minh City
NOW = datetime(2025, 6, 3, 1, 0, tzinfo=UTC)
HEADER = "transaction_id,account_number,amount,currency,paid_at\n"


def test_the_clerks_report_lists_missing_extra_and_mismatched_items():
    bank = channel(UtilityFactory().id, "vietcombank", accepts_credit=True)
    accounts = [AccountFactory(utility_id=bank.utility_id) for _ in range(5)]
    for account in accounts:
        bill(account.id, 500_000, date(2025, 5, 20), f"B-{account.id}")
    posted = {
        f"VCB-{i}": operations.post_payment(
            channel=bank,
            data=PaymentInput(f"VCB-{i}", account.number, Decimal(100_000), "VND", RECEIVED),
            created_by="t",
            now=RECEIVED,
        )
        for i, account in enumerate(accounts)
    }
    operations.reverse_payment(
        payment_id=posted["VCB-3"].payment_id,
        kind="recall",
        reason="recall",
        created_by="bank",
        now=RECEIVED,
    )
    a = accounts
    content = (
        HEADER
        + f"VCB-0,{a[0].number},100000,VND,2025-06-02T10:00:00+07:00\n"
        + f"VCB-1,{a[1].number},120000,VND,2025-06-02T10:00:00+07:00\n"
        + f"VCB-2,{a[0].number},100000,VND,2025-06-02T10:00:00+07:00\n"
        + f"VCB-3,{a[3].number},100000,VND,2025-06-02T10:00:00+07:00\n"
        + f"VCB-9,{a[4].number},70000,VND,2025-06-02T10:00:00+07:00\n"
        + "VCB-10,x,abc,VND,\n"
    )
    ledger_rows = LedgerEntry.objects.count()
    report = reconciliation.import_settlement_file(
        channel=bank,
        name="vcb-settlement-20250602.csv",
        content=content.encode(),
        business_date=DAY,
        created_by="clerk",
        now=NOW,
    )
    assert report.counts == {
        "mismatched": 3,
        "extra": 1,
        "missing": 1,
        "unreadable": 1,
        "matched": 1,
    }
    assert report.bank_total == Money.of(490_000, "VND")
    assert report.unresolved == 6
    assert [(i.kind, i.line_number, i.transaction_id, i.detail) for i in report.items] == [
        ("mismatched", 3, "VCB-1", "amount: bank 120000 VND, posted 100000 VND"),
        ("mismatched", 4, "VCB-2", f"account: bank {a[0].number}, posted {a[2].number}"),
        ("mismatched", 5, "VCB-3", "reversed (recall) on 2025-06-02"),
        ("extra", 6, "VCB-9", "not posted in Ampere"),
        (
            "missing",
            None,
            "VCB-4",
            "posted 100000 VND on 2025-06-02, in no settlement of the channel",
        ),
        ("unreadable", 7, "VCB-10", "'abc' is not an amount"),
    ]
    assert report.items[4].receipt_number == receipt_number(posted["VCB-4"].payment_id)
    # Nothing was changed: no ledger rows, no payments.
    assert LedgerEntry.objects.count() == ledger_rows
    assert Payment.objects.count() == 5
    resolved = reconciliation.resolve_item(
        item_id=report.items[3].item_id,
        resolution="bank confirms VCB-9 was for another biller; they reverse it",
        resolved_by="thu",
        now=NOW,
    )
    assert (resolved.resolved_by, resolved.kind) == ("thu", "extra")
    with pytest.raises(Conflict, match="resolved by thu"):
        reconciliation.resolve_item(
            item_id=resolved.item_id, resolution="x", resolved_by="an", now=NOW
        )
    again = reconciliation.import_settlement_file(
        channel=bank,
        name="same.csv",
        content=content.encode(),
        business_date=DAY,
        created_by="clerk",
        now=NOW,
    )
    assert again.replayed and again.file_id == report.file_id
    assert again.unresolved == 5
    assert ReconciliationItem.objects.count() == 7


def test_a_payment_settled_in_two_files_is_flagged_in_the_second():
    bank = channel(UtilityFactory().id, "vietcombank", accepts_credit=True)
    account = AccountFactory(utility_id=bank.utility_id)
    operations.post_payment(
        channel=bank,
        data=PaymentInput("VCB-1", account.number, Decimal(100_000), "VND", RECEIVED),
        created_by="t",
        now=RECEIVED,
    )
    line = f"VCB-1,{account.number},100000,VND,\n"
    first = reconciliation.import_settlement_file(
        channel=bank,
        name="d1.csv",
        content=(HEADER + line).encode(),
        business_date=DAY,
        created_by="c",
        now=NOW,
    )
    assert first.counts["matched"] == 1 and first.unresolved == 0
    second = reconciliation.import_settlement_file(
        channel=bank,
        name="d2.csv",
        content=(HEADER + line + line).encode(),
        business_date=date(2025, 6, 3),
        created_by="c",
        now=NOW,
    )
    assert [i.detail for i in second.items] == [
        "settled 2 times in this file; settled before in d1.csv",
        "settled 2 times in this file; settled before in d1.csv",
    ]
