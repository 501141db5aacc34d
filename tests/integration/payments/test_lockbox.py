from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.accounts.models import LedgerEntry
from ampere.accounts.operations import add_legacy_number
from ampere.accounts.queries import get_balance, get_open_items
from ampere.core.errors import Conflict, InvalidInput
from ampere.core.money import Money
from ampere.payments import lockbox
from ampere.payments.models import LockboxRow, Payment, PaymentFile
from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.payments import bill, channel

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 3, 2, 0, tzinfo=UTC)
HEADER = "reference,account_number,amount,currency,paid_on,cheque_number\n"


@pytest.fixture
def mailbox():
    return channel(UtilityFactory().id, "lockbox-hcm", kind="lockbox", accepts_credit=True)


def counts():
    return (Payment.objects.count(), LedgerEntry.objects.count(), LockboxRow.objects.count())


def test_good_rows_post_bad_rows_wait_in_quarantine_with_the_reason(mailbox):
    a, b = (AccountFactory(utility_id=mailbox.utility_id) for _ in range(2))
    add_legacy_number(account_id=b.id, number="HCM-000777", source_system="CMIS 2")
    bill(a.id, 200_000, date(2025, 5, 20), "A-05")
    bill(b.id, 50_000, date(2025, 5, 20), "B-05")
    wrong_digit = a.number[:-1] + str((int(a.number[-1]) + 1) % 10)
    content = (
        HEADER
        + f"LB-1,{a.number},150000,VND,2025-06-02,100201\n"
        + "LB-2,HCM-000777,80000,VND,2025-06-01,100202\n"
        + f"LB-3,{wrong_digit},1000,VND,2025-06-02,100203\n"
        + f"LB-4,{a.number},12.5,VND,2025-06-02,100204\n"
        + f"LB-1,{a.number},150000,VND,2025-06-02,100205\n"
        + f"LB-6,{a.number},5000,USD,2025-06-02,100206\n"
        + f"LB-7,{a.number},5000,VND,2025-13-02,100207\n"
        + "LB-8,only,three\n"
        + f"LB-9,{a.number},5000,VND,2025-06-30,100209\n"
    ).encode()
    result = lockbox.import_lockbox_file(
        channel=mailbox, name="hcm-20250603.csv", content=content, created_by="clerk", now=NOW
    )
    assert [(r.line_number, r.status, r.field, r.reason) for r in result.rows] == [
        (2, "posted", "", ""),
        (3, "posted", "", ""),
        (4, "quarantined", "account_number", f"{wrong_digit!r} fails its check digit (mistyped?)"),
        (5, "quarantined", "amount", "12.5 has more decimals than VND allows"),
        (6, "quarantined", "reference", "the reference is on line 2 too"),
        (7, "quarantined", "currency", "'USD' is not VND"),
        (8, "quarantined", "paid_on", "'2025-13-02' is not a date (YYYY-MM-DD)"),
        (9, "quarantined", "line", "3 columns where the header has 6"),
        (10, "quarantined", "paid_on", "2025-06-30 is in the future"),
    ]
    assert result.rows[7].raw == "LB-8,only,three"
    assert get_balance(account_id=a.id) == Money.of(50_000, "VND")
    assert get_balance(account_id=b.id) == Money.of(-30_000, "VND")
    legacy = Payment.objects.get(external_reference="LB-2")
    assert (legacy.account_id, legacy.account_number_given, legacy.value_date) == (
        b.id,
        "HCM-000777",
        date(2025, 6, 1),
    )
    assert (legacy.method, legacy.balance_after) == ("cheque", Decimal(-30_000))
    # The same file again: the first result, nothing posted twice.
    before = counts()
    again = lockbox.import_lockbox_file(
        channel=mailbox, name="again.csv", content=content, created_by="clerk", now=NOW
    )
    assert again.replayed and again.file_id == result.file_id
    assert counts() == before
    # A later file repeating LB-1 reports it as a duplicate of the first payment.
    later = lockbox.import_lockbox_file(
        channel=mailbox,
        name="hcm-20250604.csv",
        content=(HEADER + f"LB-1,{a.number},150000,VND,2025-06-02,100201\n").encode(),
        created_by="clerk",
        now=NOW,
    )
    assert [(r.status, r.payment_id) for r in later.rows] == [
        ("duplicate", Payment.objects.get(external_reference="LB-1").id)
    ]
    assert Payment.objects.count() == before[0]


def test_a_clerk_corrects_and_posts_a_quarantined_row_or_rejects_it(mailbox):
    account = AccountFactory(utility_id=mailbox.utility_id)
    bill(account.id, 200_000, date(2025, 5, 20), "A-05")
    result = lockbox.import_lockbox_file(
        channel=mailbox,
        name="f.csv",
        content=(
            HEADER
            + "LB-1,PE0100XXXXXXX,200000,VND,2025-06-02,1\n"
            + "LB-2,PE0100YYYYYYY,1000,VND,2025-06-02,2\n"
        ).encode(),
        created_by="clerk",
        now=NOW,
    )
    first, second = (r.row_id for r in result.rows)
    assert [r.row_id for r in lockbox.quarantined_rows(channel=mailbox)] == [first, second]
    released = lockbox.release_row(
        channel=mailbox,
        row_id=first,
        account_number=account.number,
        amount=None,
        released_by="thu",
        now=NOW,
    )
    assert (released.status, released.account_number) == ("released", account.number)
    assert get_open_items(account_id=account.id) == []
    assert Payment.objects.get().external_reference == "LB-1"
    with pytest.raises(Conflict, match="not in quarantine"):
        lockbox.release_row(
            channel=mailbox,
            row_id=first,
            account_number=account.number,
            amount=None,
            released_by="thu",
            now=NOW,
        )
    rejected = lockbox.reject_row(
        channel=mailbox,
        row_id=second,
        reason="cheque returned to sender",
        rejected_by="thu",
        now=NOW,
    )
    assert rejected.status == "rejected"
    assert lockbox.quarantined_rows(channel=mailbox) == []
    assert Payment.objects.count() == 1


def test_a_file_that_is_not_a_lockbox_file_is_refused_whole(mailbox):
    for content, message in [
        (b"\xff\xfe\x00bad", "the file is not UTF-8 text (byte 0)"),
        (b"reference,amount\nLB-1,5\n", "the header lacks account_number, currency, paid_on"),
        (b"", "the file has no header line"),
    ]:
        with pytest.raises(InvalidInput) as error:
            lockbox.import_lockbox_file(
                channel=mailbox, name="x", content=content, created_by="c", now=NOW
            )
        assert error.value.message == message
    assert PaymentFile.objects.count() == 0


def test_a_large_file_is_posted_set_based(mailbox):
    accounts = [AccountFactory(utility_id=mailbox.utility_id) for _ in range(30)]
    rows = "".join(
        f"LB-{i},{a.number},{1000 + i},VND,2025-06-02,{i}\n" for i, a in enumerate(accounts)
    )
    with CaptureQueriesContext(connection) as queries:
        result = lockbox.import_lockbox_file(
            channel=mailbox,
            name="big.csv",
            content=(HEADER + rows).encode(),
            created_by="c",
            now=NOW,
        )
    assert result.count("posted") == 30
    # Independent of the number of rows: find file, accounts, scheme, duplicates, savepoint,
    # file, lock, positions, ids, bulk post (lock, insert, allocate), payments, rows, release,
    # then the result (file, rows).
    assert len(queries.captured_queries) == 17
    assert sum(get_balance(account_id=a.id).amount for a in accounts) == -sum(
        Decimal(1000 + i) for i in range(30)
    )


@pytest.mark.django_db(transaction=True)
def test_two_files_with_one_reference_imported_at_once_post_it_once():
    """Both files find LB-1 new; one posts it, the other's insert breaks the unique reference
    and that import looks again and reports LB-1 as a duplicate."""
    from tests.concurrency import run_in_threads

    box = channel(UtilityFactory().id, "lockbox-race", kind="lockbox", accepts_credit=True)
    account = AccountFactory(utility_id=box.utility_id)
    bill(account.id, 200_000, date(2025, 5, 20), "A-05")

    def work(index):
        content = HEADER + f"LB-1,{account.number},150000,VND,2025-06-02,10020{index}\n"
        return lockbox.import_lockbox_file(
            channel=box, name=f"race-{index}.csv", content=content.encode(), created_by="c", now=NOW
        )

    results, errors = run_in_threads(4, work)
    assert errors == []
    payment = Payment.objects.get(external_reference="LB-1")
    assert sorted((r.status, r.payment_id) for result in results for r in result.rows) == [
        ("duplicate", payment.id),
        ("duplicate", payment.id),
        ("duplicate", payment.id),
        ("posted", payment.id),
    ]
    assert get_balance(account_id=account.id) == Money.of(50_000, "VND")
    assert PaymentFile.objects.filter(channel_id=box.id).count() == 4
