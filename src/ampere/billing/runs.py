"""Bill runs: every live agreement of a cycle billed for one month of its calendar, in bulk.

A run is planned once into partitions of consecutive account ids (one row each, with counts and
timings). A partition is billed in one transaction, set-based from start to end:

1. the agreements of its accounts on the cycle that have no bill for the period yet (one query),
2. their consumption from metering (one set-based query; missing reads are estimated and read
   again; TOU tariffs without TOU registers are summed from interval data per TOU period),
3. priced by the batch rating engine, one call per tariff (and per shape of usage),
4. checked against the hold rules (a vectorised pre-check, the exact rule for the few it flags),
5. written with COPY: bills, bill lines, hold reasons, unbillable agreements with the reason
   (quarantine), and the ledger charges of the issued bills with the run's one due date.

The date rules: the run bills the cycle's calendar row of the ``as_of`` month, which must not be
before the row's reading date nor after today; the bill date is the row's, or ``as_of`` when the
run is late; every owed bill of the run falls due on one day (the utility's rule, holidays,
blackout windows), computed once.

The partition's row turns ``done`` in the same transaction, so a partition commits whole or not
at all; a run killed mid-way resumes with the partitions not done, and a re-run skips what was
billed (one original bill per agreement and period, a unique constraint). Documents (PDF,
e-invoice) are queued after the commit, never rendered inside the run.

The modules, each calling only those after it: ``runs`` (this one: start, partitions, progress,
documents after the run), ``batch`` (one batch of targets, steps 1-5), ``writing`` (5),
``hold_checks`` (4), ``pricing`` (3), ``usage`` (2), ``targets`` (1), ``run_context`` (what a run's
bills share). Tasks are queued by name (``queueing``), so nothing here imports ``tasks``.

Partitions run in-process, or as Celery tasks on any number of workers when a broker is set;
workers take partitions with ``SKIP LOCKED`` row locks, so two never bill the same one.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from psycopg.types.range import Range

from ampere.accounts.models import Utility
from ampere.billing.batch import bill_partition
from ampere.billing.models import (
    Bill,
    BillingCycle,
    BillRun,
    BillRunPartition,
    PartitionStatus,
)
from ampere.billing.operations import issue_einvoice, render_bill_document
from ampere.billing.queries import (
    CycleNotFound,
    as_period,
    get_due_date,
    get_hold_policy,
    get_schedule_entry,
)
from ampere.billing.queueing import (
    RENDER_PARTITION_DOCUMENTS,
    RUN_BILL_PARTITION,
    enqueue_after_commit,
)
from ampere.billing.run_context import run_context
from ampere.core.errors import DomainError, InvalidInput, NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.periods import DatePeriod
from ampere.database import apply_settings

log = logging.getLogger(__name__)

DEFAULT_PARTITION_SIZE = 20_000


class ReadsNotDue(InvalidInput):
    code = "reads-not-due"


class AsOfInFuture(InvalidInput):
    code = "as-of-in-future"


class AmbiguousCycle(InvalidInput):
    code = "ambiguous-cycle"


class RunNotFound(NotFound):
    code = "bill-run-not-found"


@dataclass(frozen=True, slots=True)
class RunRef:
    id: int
    utility_code: str
    cycle_code: str
    month: date
    period: DatePeriod
    bill_date: date
    due_date: date
    status: str
    partitions: int
    accounts: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class PartitionOutcome:
    partition_id: int
    status: str  # done | busy (another worker has it) | failed
    agreements: int = 0
    issued: int = 0
    held: int = 0
    skipped: int = 0
    exceptions: int = 0
    error: str = ""


# --- starting a run ---------------------------------------------------------------------------


def _cycle(utility_code: str | None, cycle_code: str) -> tuple[int, int, str]:
    cycles = BillingCycle.objects.filter(code=cycle_code)
    if utility_code is not None:
        cycles = cycles.filter(utility__code=utility_code)
    found = list(cycles.values_list("id", "utility_id", "utility__code")[:2])
    if not found:
        where = f" of {utility_code}" if utility_code else ""
        raise CycleNotFound(f"no billing cycle {cycle_code!r}{where}", field="cycle")
    if len(found) > 1:
        raise AmbiguousCycle(
            f"several utilities have a cycle {cycle_code!r}: name the utility", field="utility"
        )
    return found[0]


def start_bill_run(
    *,
    cycle_code: str,
    as_of: date,
    now: datetime,
    created_by: str,
    utility_code: str | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    documents: bool = True,
) -> RunRef:
    """Plan the run of a cycle for the schedule row of ``as_of``'s month, or resume the run of
    that month that has not finished.

    The bill date is the schedule's, or ``as_of`` when the run is late; every owed bill of the
    run falls due on the same day (the utility's rule, holidays, blackout windows). Raises
    CycleNotFound, AmbiguousCycle (``utility``), CycleScheduleMissing (``cycle``), ReadsNotDue
    and AsOfInFuture (``as_of``), InvalidInput (``partition_size``), and the errors of the
    due-date and hold-policy queries (a utility without its rules).
    """
    if now.tzinfo is None:
        raise InvalidInput("a time must carry its time zone", field="now")
    if not created_by.strip():
        raise InvalidInput("say who runs the bills", field="created_by")
    if not 1 <= partition_size <= 1_000_000:
        raise InvalidInput("a partition holds 1 to 1,000,000 accounts", field="partition_size")
    cycle_id, utility_id, _ = _cycle(utility_code, cycle_code)
    entry = get_schedule_entry(cycle_id=cycle_id, month=as_of)
    utility = Utility.objects.values("time_zone").get(id=utility_id)
    today = local_date(now, zone(utility["time_zone"]))
    if as_of > today:
        raise AsOfInFuture(
            f"{as_of} is after today ({today}): no reads exist for it yet", field="as_of"
        )
    if as_of < entry.reading_date:
        raise ReadsNotDue(
            f"the reads of {entry.period} are due on {entry.reading_date}, after {as_of}",
            field="as_of",
        )
    existing = (
        BillRun.objects.filter(cycle_id=cycle_id, month=entry.month, status="running")
        .values_list("id", flat=True)
        .first()
    )
    if existing is not None:
        return get_run_ref(run_id=existing, resumed=True)
    bill_date = max(entry.bill_date, as_of)
    due_date = get_due_date(utility_id=utility_id, bill_date=bill_date)
    get_hold_policy(utility_id=utility_id)  # refuse a run that could not apply the rules
    assert entry.period.end is not None
    with transaction.atomic():
        run = BillRun.objects.create(
            utility_id=utility_id,
            cycle_id=cycle_id,
            month=entry.month,
            period=Range(entry.period.start, entry.period.end, "[)"),
            bill_date=bill_date,
            due_date=due_date,
            as_of=as_of,
            partition_size=partition_size,
            partition_count=0,
            account_count=0,
            documents=documents,
            created_by=created_by.strip()[:64],
            created_at=now,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH members AS (
                    SELECT ca.account_id,
                           (row_number() OVER (ORDER BY ca.account_id) - 1) / %(size)s AS part
                    FROM billing_cycleassignment ca
                    WHERE ca.cycle_id = %(cycle)s AND ca.valid_period @> %(day)s::date
                )
                INSERT INTO billing_billrunpartition (
                    run_id, number, first_account_id, last_account_id, account_count, status,
                    attempts, agreements, bills_issued, bills_held, skipped, exceptions,
                    estimated_reads, amount_posted, lines, timings, error, worker)
                SELECT %(run)s, part + 1, min(account_id), max(account_id), count(*), 'pending',
                       0, 0, 0, 0, 0, 0, 0, 0, 0, '{}', '', ''
                FROM members GROUP BY part
                RETURNING account_count
                """,
                {
                    "size": partition_size,
                    "cycle": cycle_id,
                    "day": entry.period.end - timedelta(days=1),
                    "run": run.id,
                },
            )
            counts = [row[0] for row in cursor.fetchall()]
        BillRun.objects.filter(id=run.id).update(
            partition_count=len(counts), account_count=sum(counts)
        )
        if not counts:
            BillRun.objects.filter(id=run.id).update(status="completed", finished_at=now)
    return get_run_ref(run_id=run.id, resumed=False)


def get_run_ref(*, run_id: int, resumed: bool = False) -> RunRef:
    row = (
        BillRun.objects.filter(id=run_id)
        .values_list(
            "id",
            "utility__code",
            "cycle__code",
            "month",
            "period",
            "bill_date",
            "due_date",
            "status",
            "partition_count",
            "account_count",
        )
        .first()
    )
    if row is None:
        raise RunNotFound(f"no bill run {run_id}", field="run")
    return RunRef(
        id=row[0],
        utility_code=row[1],
        cycle_code=row[2],
        month=row[3],
        period=as_period(row[4]),
        bill_date=row[5],
        due_date=row[6],
        status=row[7],
        partitions=row[8],
        accounts=row[9],
        resumed=resumed,
    )


def pending_partition_ids(*, run_id: int) -> list[int]:
    """The partitions of a run not done yet, in order."""
    return list(
        BillRunPartition.objects.filter(run_id=run_id)
        .exclude(status=PartitionStatus.DONE)
        .order_by("number")
        .values_list("id", flat=True)
    )


# --- billing one partition --------------------------------------------------------------------


def run_partition(*, partition_id: int, now: datetime, worker: str = "") -> PartitionOutcome:
    """Bill one partition in one transaction; idempotent (a partition done is not billed again;
    one another worker holds is left to it). A failure rolls the partition back whole, is
    recorded on its row with the error, and is raised again."""
    with transaction.atomic():
        row = (
            BillRunPartition.objects.select_for_update(skip_locked=True)
            .filter(id=partition_id)
            .values_list("run_id", "status")
            .first()
        )
        if row is None:
            if not BillRunPartition.objects.filter(id=partition_id).exists():
                raise NotFound(f"no bill run partition {partition_id}", field="partition")
            return PartitionOutcome(partition_id, "busy")
        run_id, status = row
        if status == PartitionStatus.DONE:
            return PartitionOutcome(partition_id, "done")
        BillRunPartition.objects.filter(id=partition_id).update(
            status=PartitionStatus.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            finished_at=None,
            error="",
            worker=worker[:100],
        )
    try:
        with transaction.atomic():
            locked = (
                BillRunPartition.objects.select_for_update(skip_locked=True)
                .filter(id=partition_id)
                .values_list("status", "first_account_id", "last_account_id")
                .first()
            )
            if locked is None:
                return PartitionOutcome(partition_id, "busy")
            if locked[0] == PartitionStatus.DONE:
                return PartitionOutcome(partition_id, "done")
            context = run_context(run_id)
            tune_session()
            counts = bill_partition(context, partition_id, locked[1], locked[2], now)
            BillRunPartition.objects.filter(id=partition_id).update(
                status=PartitionStatus.DONE,
                agreements=counts.agreements,
                bills_issued=counts.issued,
                bills_held=counts.held,
                skipped=counts.skipped,
                exceptions=counts.exceptions,
                estimated_reads=counts.estimated_reads,
                amount_posted=counts.amount_posted,
                lines=counts.lines,
                finished_at=now + timedelta(seconds=counts.seconds),
                timings=counts.timings,
            )
            _complete_run_if_done(run_id, now + timedelta(seconds=counts.seconds))
            if context.documents and counts.issued:
                enqueue_after_commit(RENDER_PARTITION_DOCUMENTS, partition_id)
    except Exception as error:
        message = "".join(traceback.format_exception_only(error)).strip()
        log.exception("bill run partition %s failed", partition_id)
        BillRunPartition.objects.filter(id=partition_id).update(
            status=PartitionStatus.FAILED, error=message[:4000]
        )
        raise
    return PartitionOutcome(
        partition_id,
        "done",
        counts.agreements,
        counts.issued,
        counts.held,
        counts.skipped,
        counts.exceptions,
    )


RUN_SETTINGS = {
    "jit": "off",
    "random_page_cost": "1.1",
    "max_parallel_workers_per_gather": "0",
    "work_mem": "64MB",
    "synchronous_commit": "off",
}


def tune_session() -> None:
    """Settings of this transaction for bulk work:

    - no JIT: compiling the consumption query costs a second per partition and saves nothing;
    - index lookups priced as what they are for a run's working set (in memory or on SSD),
      and no parallel workers (the run's workers use the cores): without these the planner
      hashes whole tables of a million rows to join twenty thousand;
    - room to sort in memory;
    - a commit that does not wait for its WAL to reach the disk. Safe here: a crash can lose
      only the last partitions committed, whole (their ``done`` with them), and the run bills
      them again when it resumes; a later durable commit that depends on them flushes them.
    """
    apply_settings(RUN_SETTINGS, local=True)


def _complete_run_if_done(run_id: int, now: datetime) -> None:
    """Mark the run completed once no partition is left (the run row is locked, so two
    partitions finishing together see each other's commit)."""
    BillRun.objects.select_for_update().filter(id=run_id).values_list("id").first()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE billing_billrun SET status = 'completed', finished_at = %s
            WHERE id = %s AND status = 'running'
              AND NOT EXISTS (SELECT 1 FROM billing_billrunpartition p
                              WHERE p.run_id = %s AND p.status <> 'done')
            """,
            [now, run_id, run_id],
        )


# --- driving a run ------------------------------------------------------------------------------


def execute_bill_run(
    *,
    run_id: int,
    now: Callable[[], datetime],
    progress: Callable[[PartitionOutcome], None] | None = None,
    worker: str = "in-process",
) -> list[PartitionOutcome]:
    """Bill the partitions of a run not done yet, in this process, one after the other; a
    failed partition is recorded and the others go on. ``now`` is read per partition. Several
    processes may do this at once: each partition is billed by one of them."""
    outcomes: list[PartitionOutcome] = []
    for partition_id in pending_partition_ids(run_id=run_id):
        try:
            outcome = run_partition(partition_id=partition_id, now=now(), worker=worker)
        except Exception as error:
            outcome = PartitionOutcome(partition_id, "failed", error=str(error))
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes


def enqueue_bill_run(*, run_id: int) -> int:
    """Queue one task per partition not done (after the current transaction commits); the
    workers bill them in any order and on any number of machines. Returns how many."""
    ids = pending_partition_ids(run_id=run_id)
    for partition_id in ids:
        enqueue_after_commit(RUN_BILL_PARTITION, partition_id, robust=False)
    return len(ids)


@dataclass(frozen=True, slots=True)
class RunProgress:
    status: str
    partitions: int
    done: int
    failed: int
    issued: int
    held: int
    exceptions: int


def get_run_progress(*, run_id: int) -> RunProgress:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.status, count(p.id), count(p.id) FILTER (WHERE p.status = 'done'),
                   count(p.id) FILTER (WHERE p.status = 'failed'),
                   coalesce(sum(p.bills_issued), 0), coalesce(sum(p.bills_held), 0),
                   coalesce(sum(p.exceptions), 0)
            FROM billing_billrun r LEFT JOIN billing_billrunpartition p ON p.run_id = r.id
            WHERE r.id = %s GROUP BY r.status
            """,
            [run_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise RunNotFound(f"no bill run {run_id}", field="run")
    return RunProgress(*row)


# --- documents after the run ---------------------------------------------------------------------


def render_partition_documents(*, partition_id: int, now: datetime) -> dict[str, int]:
    """The PDF of each issued bill of a partition (and the e-invoice of a VND bill), each made
    once; a bill whose document cannot be made (no credentials, no VietQR account) is logged
    and counted, and the others go on. Returns counts."""
    row = (
        BillRunPartition.objects.filter(id=partition_id)
        .values_list("run_id", "first_account_id", "last_account_id")
        .first()
    )
    if row is None:
        raise NotFound(f"no bill run partition {partition_id}", field="partition")
    run_id, low, high = row
    bills = (
        Bill.objects.filter(
            bill_run_id=run_id, account_id__gte=low, account_id__lte=high, status="issued"
        )
        .order_by("id")
        .values_list("id", "currency")
    )
    counts = {"pdf": 0, "einvoice": 0, "failed": 0}
    for bill_id, currency_code in bills:
        try:
            render_bill_document(bill_id=bill_id, now=now)
            counts["pdf"] += 1
            if currency_code == "VND":
                issue_einvoice(bill_id=bill_id, now=now)
                counts["einvoice"] += 1
        except DomainError as error:
            counts["failed"] += 1
            log.warning("documents of bill %s not made: %s", bill_id, error)
    return counts
