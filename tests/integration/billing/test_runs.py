import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.accounts.ledger import copy_entries
from ampere.accounts.models import LedgerEntry
from ampere.billing.dates import ScheduleEntry
from ampere.billing.models import (
    Bill,
    BillHold,
    BillRun,
    BillRunException,
    BillRunPartition,
)
from ampere.billing.operations import declare_blackout, set_cycle_schedule
from ampere.billing.queries import CycleScheduleMissing, get_bill
from ampere.billing.runs import (
    AsOfInFuture,
    ReadsNotDue,
    execute_bill_run,
    pending_partition_ids,
    run_partition,
    start_bill_run,
)
from ampere.billing.types import ReadingDetail
from ampere.core.periods import DatePeriod
from ampere.metering.models import Meter, RegisterRead
from ampere.rating.models import Tariff
from tests.factories.billrun import AS_OF, DUE, NOW, PERIOD, READ_ON, customer, scene

pytestmark = pytest.mark.django_db

D = Decimal


def start(the_scene, **kwargs):
    options = {"cycle_code": the_scene.cycle_code, "as_of": AS_OF, "now": NOW, "created_by": "t"}
    return start_bill_run(**{**options, "documents": False, **kwargs})


def bill_of(agreement) -> Bill:
    return Bill.objects.get(agreement=agreement, kind="original", period=(PERIOD.start, PERIOD.end))


def test_a_run_bills_each_agreement_with_exact_amounts_and_the_holiday_shifted_due_date():
    the_scene = scene()
    small, medium, large = (customer(the_scene, kwh=kwh) for kwh in (100, 300, 450))
    ref = start(the_scene)
    assert (ref.month, ref.period, ref.bill_date, ref.due_date) == (
        date(2026, 8, 1),
        PERIOD,
        date(2026, 8, 24),
        DUE,  # 31 Aug (+7 days) to 2 Sep are holidays: Thursday 3 September
    )
    assert (ref.partitions, ref.accounts, ref.resumed) == (1, 3, False)
    outcomes = execute_bill_run(run_id=ref.id, now=lambda: NOW)
    assert [(o.status, o.issued, o.held, o.exceptions) for o in outcomes] == [("done", 3, 0, 0)]
    totals = {
        a.id: (b.subtotal, b.tax_total, b.total, b.due_date, b.status, b.consumption_kwh)
        for a in (small, medium, large)
        for b in [bill_of(a)]
    }
    assert totals == {
        small.id: (D(201700), D(16136), D(217836), DUE, "issued", D(100)),
        medium.id: (D(739500), D(59160), D(798660), DUE, "issued", D(300)),
        large.id: (D(1247500), D(99800), D(1347300), DUE, "issued", D(450)),
    }
    view = get_bill(bill_id=bill_of(medium).id)
    serial = Meter.objects.get(installations__service_point=medium.service_point).serial
    assert view.readings == (ReadingDetail(serial, "total", D(10000), D(10300), D(1)),)
    lines = view.lines
    assert [
        (x.sequence, x.code, x.quantity, x.unit_price, x.amount, x.tax_amount) for x in lines
    ] == [
        (1, "tier-1", D(50), D(1984), D(99200), D(7936)),
        (2, "tier-2", D(50), D(2050), D(102500), D(8200)),
        (3, "tier-3", D(100), D(2380), D(238000), D(19040)),
        (4, "tier-4", D(100), D(2998), D(299800), D(23984)),
    ]
    entries = LedgerEntry.objects.filter(created_by=f"billrun:{ref.id}").order_by("amount")
    assert [(e.kind, e.amount, e.due_date, e.value_date, e.source_type) for e in entries] == [
        ("charge", D(217836), DUE, date(2026, 8, 24), "bill"),
        ("charge", D(798660), DUE, date(2026, 8, 24), "bill"),
        ("charge", D(1347300), DUE, date(2026, 8, 24), "bill"),
    ]
    run = BillRun.objects.get(id=ref.id)
    assert (run.status, run.finished_at is not None) == ("completed", True)
    partition = BillRunPartition.objects.get(run=run)
    assert (partition.status, partition.bills_issued, partition.lines) == ("done", 3, 2 + 4 + 6)
    assert partition.amount_posted == D(217836 + 798660 + 1347300)


def test_a_blackout_window_moves_the_due_date_to_the_first_working_day_after_it():
    the_scene = scene()
    agreement = customer(the_scene, kwh=100)
    declare_blackout(
        utility_id=the_scene.utility_id,
        period=DatePeriod(date(2026, 9, 3), date(2026, 9, 10)),
        reason="billing system conversion",
        declared_by="ops",
        now=NOW,
    )
    ref = start(the_scene)
    execute_bill_run(run_id=ref.id, now=lambda: NOW)
    assert ref.due_date == date(2026, 9, 10)  # Thursday, the day the window ends
    bill = bill_of(agreement)
    assert (bill.due_date, bill.total) == (date(2026, 9, 10), D(217836))
    entry = LedgerEntry.objects.get(source_type="bill", source_id=str(bill.id))
    assert entry.due_date == date(2026, 9, 10)


def test_bills_that_look_wrong_are_held_with_their_reasons_and_not_posted():
    the_scene = scene()
    jump = customer(the_scene, kwh=300, previous_kwh=100)
    zero = customer(the_scene, kwh=0, previous_kwh=80)
    steady = customer(the_scene, kwh=110, previous_kwh=100)
    july = start(the_scene, as_of=date(2026, 7, 24))
    execute_bill_run(run_id=july.id, now=lambda: NOW)
    assert Bill.objects.filter(bill_run_id=july.id, status="issued").count() == 3
    ref = start(the_scene)
    (outcome,) = execute_bill_run(run_id=ref.id, now=lambda: NOW)
    assert (outcome.issued, outcome.held) == (1, 2)
    held = {
        a.id: sorted(BillHold.objects.filter(bill=bill_of(a)).values_list("code", "detail"))
        for a in (jump, zero)
    }
    assert held == {
        jump.id: [("above_history", "300 kWh is at least 1.3 × 100 kWh of the previous period")],
        zero.id: [("zero_on_live_agreement", "the total is 0 on a live agreement")],
    }
    assert [bill_of(a).status for a in (jump, zero, steady)] == ["held", "held", "issued"]
    assert bill_of(jump).due_date is None and bill_of(jump).total == D(798660)
    posted = LedgerEntry.objects.filter(created_by=f"billrun:{ref.id}")
    assert [e.source_id for e in posted] == [str(bill_of(steady).id)]


def test_agreements_that_cannot_be_billed_wait_with_the_reason_and_the_others_are_billed():
    the_scene = scene()
    good = customer(the_scene, kwh=100)
    no_reads = customer(the_scene, kwh=None)
    RegisterRead.objects.filter(installation__service_point=no_reads.service_point).delete()
    Tariff.objects.create(
        code="EVN-NEW",
        name="A tariff without versions",
        utility_code="evn",
        customer_class="business",
    )
    no_version = customer(the_scene, kwh=100, tariff="EVN-NEW")
    ref = start(the_scene)
    (outcome,) = execute_bill_run(run_id=ref.id, now=lambda: NOW)
    assert (outcome.issued, outcome.exceptions) == (1, 2)
    found = {
        e.agreement_id: (e.code, e.detail, e.raw["tariff"])
        for e in BillRunException.objects.filter(run_id=ref.id)
    }
    assert found == {
        no_reads.id: (
            "reads-missing",
            "no reads for the period and too little history to estimate them",
            "EVN-RES",
        ),
        no_version.id: (
            "no-tariff-version",
            "EVN-NEW: EVN-NEW has no version in force then",
            "EVN-NEW",
        ),
    }
    assert list(Bill.objects.values_list("agreement_id", flat=True)) == [good.id]


def test_a_missing_closing_read_is_estimated_and_the_bill_says_so():
    the_scene = scene()
    agreement = customer(the_scene, kwh=None, start=10_000)
    ref = start(the_scene)
    execute_bill_run(run_id=ref.id, now=lambda: NOW)
    estimate = RegisterRead.objects.get(
        installation__service_point=agreement.service_point, read_date=READ_ON
    )
    assert (estimate.source, estimate.estimation_method) == ("estimated", "average_periods")
    bill = bill_of(agreement)
    assert bill.estimated is True
    assert bill.consumption_kwh == estimate.value - 10_000
    assert BillRunPartition.objects.get(run_id=ref.id).estimated_reads == 1


def test_bad_input_is_refused_before_anything_is_written():
    the_scene = scene(schedule=False)
    customer(the_scene, kwh=100)
    with pytest.raises(CycleScheduleMissing) as missing:
        start(the_scene)
    assert (missing.value.field, str(missing.value)) == (
        "cycle",
        "cycle: billing cycle 'C24' has no schedule for 2026-08",
    )
    set_cycle_schedule(
        cycle_id=the_scene.cycle_id, entries=[ScheduleEntry(date(2026, 8, 1), PERIOD, AS_OF)]
    )
    with pytest.raises(ReadsNotDue) as early:
        start(the_scene, as_of=date(2026, 8, 23))
    assert str(early.value) == (
        "as_of: the reads of [2026-07-24, 2026-08-24) are due on 2026-08-24, after 2026-08-23"
    )
    with pytest.raises(AsOfInFuture) as future:
        start(the_scene, now=NOW - timedelta(days=1))
    assert future.value.field == "as_of"
    assert (BillRun.objects.count(), Bill.objects.count(), LedgerEntry.objects.count()) == (0, 0, 0)


def test_a_failing_partition_commits_nothing_and_the_run_resumes(monkeypatch):
    the_scene = scene()
    agreements = [customer(the_scene, kwh=100 + n) for n in range(4)]
    ref = start(the_scene, partition_size=2)
    first, second = pending_partition_ids(run_id=ref.id)
    real_copy = copy_entries
    calls = {"n": 0}

    def broken(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real_copy(**kwargs)

    monkeypatch.setattr("ampere.billing.writing.copy_entries", broken)
    outcomes = execute_bill_run(run_id=ref.id, now=lambda: NOW)
    assert [o.status for o in outcomes] == ["done", "failed"]
    failed = BillRunPartition.objects.get(id=second)
    assert (failed.status, failed.error, failed.attempts) == (
        "failed",
        "RuntimeError: disk full",
        1,
    )
    assert Bill.objects.count() == 2
    assert LedgerEntry.objects.count() == 2
    assert BillRun.objects.get(id=ref.id).status == "running"
    monkeypatch.setattr("ampere.billing.writing.copy_entries", real_copy)
    again = start(the_scene)
    assert (again.id, again.resumed) == (ref.id, True)
    assert pending_partition_ids(run_id=ref.id) == [second]
    execute_bill_run(run_id=ref.id, now=lambda: NOW)
    assert BillRun.objects.get(id=ref.id).status == "completed"
    assert sorted(Bill.objects.values_list("agreement_id", flat=True)) == sorted(
        a.id for a in agreements
    )
    assert BillRunPartition.objects.get(id=second).attempts == 2
    assert run_partition(partition_id=first, now=NOW).status == "done"  # idempotent
    assert Bill.objects.count() == 4


def test_a_second_run_of_the_month_skips_what_was_billed():
    the_scene = scene()
    customer(the_scene, kwh=100)
    first = start(the_scene)
    execute_bill_run(run_id=first.id, now=lambda: NOW)
    late = customer(the_scene, kwh=300)
    second = start(the_scene)
    assert second.id != first.id
    (outcome,) = execute_bill_run(run_id=second.id, now=lambda: NOW)
    assert (outcome.agreements, outcome.skipped, outcome.issued) == (2, 1, 1)
    assert Bill.objects.get(bill_run_id=second.id).agreement_id == late.id
    assert Bill.objects.count() == 2


def partition_queries(the_scene) -> list[str]:
    """The statements of billing one partition, literals left out."""
    ref = start(the_scene)
    (partition_id,) = pending_partition_ids(run_id=ref.id)
    with CaptureQueriesContext(connection) as queries:
        assert run_partition(partition_id=partition_id, now=NOW).status == "done"
    pattern = re.compile(r"'[^']*'|\"[^\"]*_x\d+\"|\b\d+\b|\s+")
    return [pattern.sub(" ", q["sql"])[:80] for q in queries.captured_queries]


def test_a_partition_takes_the_same_queries_whatever_its_size():
    # COPY goes to psycopg directly and is not among these: bills, lines, ledger charges.
    the_scene = scene()
    for n in range(3):
        customer(the_scene, kwh=100 + 37 * n, start=10_000 + n)
    few = partition_queries(the_scene)
    for n in range(12):
        customer(the_scene, kwh=150 + 41 * n, start=20_000 + n)
    many = partition_queries(the_scene)  # a second run of the month: 12 billed, 3 skipped
    assert Bill.objects.count() == 15
    assert many == few
    assert len(few) == 25


def test_documents_are_queued_after_the_partition_commits(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    from ampere.billing.models import BillDocument, EInvoice
    from ampere.billing.operations import declare_invoice_series, set_collection_account
    from tests.unit.billing.keys import credentials

    settings.MEDIA_ROOT = tmp_path / "media"
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "evn-hcmc.key.pem").write_bytes(credentials().key_pem)
    (keys / "evn-hcmc.cert.pem").write_bytes(credentials().certificate_pem)
    settings.EINVOICE_CREDENTIALS_DIR = keys
    the_scene = scene()
    set_collection_account(
        utility_id=the_scene.utility_id, bank_bin="970436", account_number="0071000888999"
    )
    declare_invoice_series(utility_id=the_scene.utility_id, form="1", symbol="K26TAA", year=2026)
    agreements = [customer(the_scene, kwh=kwh) for kwh in (100, 300)]
    ref = start(the_scene, documents=True)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        execute_bill_run(run_id=ref.id, now=lambda: NOW)
    assert len(queued) == 1  # one task for the partition, after it commits
    assert BillDocument.objects.count() == 0
    for callback in queued:
        callback()
    bills = [bill_of(a).id for a in agreements]
    assert sorted(BillDocument.objects.values_list("bill_id", flat=True)) == sorted(bills)
    assert sorted(EInvoice.objects.values_list("number", flat=True)) == [1, 2]


def test_a_rating_rejection_waits_with_the_reason():
    from datetime import UTC, datetime

    from psycopg.types.range import Range

    from ampere.billing.batch import bill_targets
    from ampere.billing.run_context import utility_context
    from ampere.billing.targets import targets_for
    from ampere.core.localtime import local_midnight, zone
    from ampere.metering import operations as metering
    from ampere.metering.types import MeterInput
    from ampere.rating.operations import load_shipped_tariffs
    from tests.factories.accounts import AgreementFactory, UtilityFactory
    from tests.factories.billing import billing_utility

    load_shipped_tariffs()
    utility_id = billing_utility("sce", years=(2026, 2027))
    agreement = AgreementFactory(
        account__utility=UtilityFactory(code="sce"),
        service_point__premise__baseline_region="99",  # no such baseline region
        tariff=Tariff.objects.get(code="SCE-D"),
        valid_period=Range(date(2026, 1, 1), None, "[)"),
    )
    la = zone("America/Los_Angeles")
    metering.register_meter(
        utility_code="sce",
        meter=MeterInput(serial="AMI-1", kind="smart", phases=1, register_digits=6),
    )
    metering.install_meter(
        utility_code="sce",
        service_point_code=agreement.service_point.code,
        meter_serial="AMI-1",
        at=local_midnight(date(2026, 6, 1), la),
        initial_reads={"kwh": D(1000)},
        now=NOW,
    )
    installation = agreement.service_point.meter_installations.get()
    register = installation.meter.registers.get()
    RegisterRead.objects.create(
        register=register,
        installation=installation,
        read_at=local_midnight(date(2026, 7, 1), la) + timedelta(hours=9),
        read_date=date(2026, 7, 1),
        value=D(1450),
        source="remote",
        recorded_at=NOW,
    )
    period = DatePeriod(date(2026, 6, 1), date(2026, 7, 1))
    context = utility_context(utility_id=utility_id, bill_date=date(2026, 7, 2), due_date=None)
    targets = targets_for(bills=[(agreement.id, period)], default_language="en", replaces=[None])
    outcome = bill_targets(context, targets, now=datetime(2026, 7, 2, 20, tzinfo=UTC))
    assert outcome.bill_ids == []
    assert [(u.code, u.detail) for u in outcome.exceptions] == [
        (
            "rating-rejected",
            "SCE-D: region[0]: unknown baseline region (one of 5, 6, 8, 9, 10, 13, 14, 15, 16)",
        )
    ]
    assert Bill.objects.count() == 0
