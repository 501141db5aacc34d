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

Partitions run in-process, or as Celery tasks on any number of workers when a broker is set;
workers take partitions with ``SKIP LOCKED`` row locks, so two never bill the same one.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import F
from psycopg.types.range import Range

from ampere.accounts.calendars import holiday_calendar
from ampere.accounts.ledger import ChargeRow, copy_entries, settle_credits
from ampere.accounts.models import Utility
from ampere.billing import tasks
from ampere.billing.assembly import (
    LINE_KIND,
    allocate_tax,
    covering,
    line_code,
    month_seasons,
    unrounded_amounts,
)
from ampere.billing.holds import HoldPolicy, PastBill, PricedBillFacts, hold_candidates
from ampere.billing.holds import hold_reasons as exact_hold_reasons
from ampere.billing.models import (
    BillingCycle,
    BillRun,
    BillRunPartition,
    PartitionStatus,
)
from ampere.billing.queries import (
    CycleNotFound,
    as_period,
    get_due_date,
    get_hold_policy,
    get_schedule_entry,
)
from ampere.core.errors import DomainError, InvalidInput, NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.periods import DatePeriod
from ampere.metering.operations import estimate_missing_reads
from ampere.metering.queries import consumption_for_billing
from ampere.metering.types import (
    ConsumptionRequest,
    ConsumptionRow,
    TouCalendar,
    TouSeason,
    TouWindow,
)
from ampere.rating.engine.batch import BatchGroup, RegisterBatch, rate_register_batch
from ampere.rating.engine.model import DemandCharge, EnergyCharge, TariffVersion, TaxSchedule
from ampere.rating.engine.plan import plan_period
from ampere.rating.queries import get_tax_schedule, get_versions

log = logging.getLogger(__name__)

DEFAULT_PARTITION_SIZE = 20_000
NULL = "\\N"  # COPY's text for null
LANGUAGES = ("vi", "en", "es")
TOU_REGISTERS = {"kwh_peak": "peak", "kwh_normal": "normal", "kwh_off_peak": "off_peak"}


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


# --- the context of a run (cached per process) -------------------------------------------------


@dataclass
class _Run:
    id: int
    utility_id: int
    utility_code: str
    currency: str
    minor_digits: int
    legal_language: str
    tariff_owner: str
    time_zone: str
    cycle_id: int | None
    period: DatePeriod
    bill_date: date
    due_date: date | None
    documents: bool
    policy: HoldPolicy
    taxes: TaxSchedule
    versions: dict[str, tuple[TariffVersion, ...] | DomainError] = field(default_factory=dict)
    calendars: dict[tuple[str, DatePeriod], TouCalendar] = field(default_factory=dict)

    @property
    def created_by(self) -> str:
        return f"billrun:{self.id}" if self.id else "rebill"

    def versions_of(self, tariff_code: str) -> tuple[TariffVersion, ...] | DomainError:
        found = self.versions.get(tariff_code)
        if found is None:
            try:
                found = get_versions(tariff_code=tariff_code)
            except DomainError as error:
                found = error
            self.versions[tariff_code] = found
        return found


_RUNS: dict[int, _Run] = {}


def _utility_context(utility_id: int) -> dict[str, Any]:
    from ampere.core.money import currency

    row = dict(
        Utility.objects.values(
            "code", "currency", "default_language", "tariff_owner", "time_zone"
        ).get(id=utility_id)
    )
    row["minor_digits"] = currency(str(row["currency"])).minor_digits
    return row


def _run_context(run_id: int) -> _Run:
    found = _RUNS.get(run_id)
    if found is not None:
        return found
    row = BillRun.objects.values(
        "utility_id", "cycle_id", "period", "bill_date", "due_date", "documents"
    ).get(id=run_id)
    utility = _utility_context(row["utility_id"])
    context = _Run(
        id=run_id,
        utility_id=row["utility_id"],
        utility_code=utility["code"],
        currency=utility["currency"],
        minor_digits=utility["minor_digits"],
        legal_language=utility["default_language"],
        tariff_owner=utility["tariff_owner"],
        time_zone=utility["time_zone"],
        cycle_id=row["cycle_id"],
        period=as_period(row["period"]),
        bill_date=row["bill_date"],
        due_date=row["due_date"],
        documents=row["documents"],
        policy=get_hold_policy(utility_id=row["utility_id"]),
        taxes=get_tax_schedule(owner=utility["tariff_owner"]),
    )
    if len(_RUNS) > 8:
        _RUNS.clear()
    _RUNS[run_id] = context
    return context


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
            context = _run_context(run_id)
            tune_session()
            counts = _bill_partition(context, partition_id, locked[1], locked[2], now)
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
                transaction.on_commit(
                    lambda: tasks.render_partition_documents.delay(partition_id), robust=True
                )
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
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('random_page_cost', '1.1', true),"
            " set_config('max_parallel_workers_per_gather', '0', true),"
            " set_config('work_mem', '64MB', true),"
            " set_config('synchronous_commit', 'off', true)"
        )


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


@dataclass
class _Counts:
    agreements: int = 0
    issued: int = 0
    held: int = 0
    skipped: int = 0
    exceptions: int = 0
    estimated_reads: int = 0
    amount_posted: Decimal = Decimal(0)
    lines: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    bill_ids: list[int] = field(default_factory=list)


class _Clock:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        at = time.perf_counter()
        self.laps[name] = round(self.laps.get(name, 0.0) + at - self.last, 4)
        self.last = at

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started


_TARGETS_SQL = """
SELECT ag.account_id, ag.id, ag.service_point_id, t.code,
       greatest(lower(ag.valid_period), %(start)s) AS start_date,
       CASE WHEN upper_inf(ag.valid_period) THEN %(end)s
            ELSE least(upper(ag.valid_period), %(end)s) END AS end_date,
       ag.status = 'active'
           AND ag.valid_period @> (CASE WHEN upper_inf(ag.valid_period) THEN %(end)s
                                   ELSE least(upper(ag.valid_period), %(end)s) END - 1),
       ag.households, ag.renter_occupants, ag.short_lease_undeclared,
       c.preferred_language, p.baseline_region, p.all_electric, billed.found IS NOT NULL
FROM billing_cycleassignment ca
JOIN accounts_account a ON a.id = ca.account_id
JOIN accounts_customer c ON c.id = a.customer_id
JOIN accounts_serviceagreement ag ON ag.account_id = ca.account_id
JOIN rating_tariff t ON t.id = ag.tariff_id
JOIN accounts_servicepoint sp ON sp.id = ag.service_point_id
JOIN accounts_premise p ON p.id = sp.premise_id
LEFT JOIN LATERAL (
    -- Probed per agreement through its (agreement, period) index: a run re-billing a cycle
    -- must not scan every bill of the run so far.
    SELECT 1 AS found FROM billing_bill b
    WHERE b.agreement_id = ag.id AND b.kind = 'original'
      AND b.period && daterange(%(start)s, %(end)s)
    LIMIT 1
) billed ON true
WHERE ca.cycle_id = %(cycle)s AND ca.valid_period @> %(day)s::date
  AND ca.account_id BETWEEN %(low)s AND %(high)s
  AND ag.status <> 'cancelled' AND ag.valid_period && daterange(%(start)s, %(end)s)
ORDER BY ag.account_id, ag.id
"""


@dataclass
class Targets:
    """The bills to make, column-wise (one entry per agreement and period)."""

    account_id: list[int] = field(default_factory=list)
    agreement_id: list[int] = field(default_factory=list)
    service_point_id: list[int] = field(default_factory=list)
    tariff: list[str] = field(default_factory=list)
    start: list[date] = field(default_factory=list)
    end: list[date] = field(default_factory=list)
    live: list[bool] = field(default_factory=list)
    norm_centi: list[int] = field(default_factory=list)
    short_lease: list[bool] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)
    all_electric: list[bool] = field(default_factory=list)
    programs: list[frozenset[str]] = field(default_factory=list)
    sdp_tons_milli: list[int] = field(default_factory=list)
    replaces: list[int | None] = field(default_factory=list)
    _periods: dict[tuple[date, date], DatePeriod] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.agreement_id)

    def period(self, index: int) -> DatePeriod:
        key = (self.start[index], self.end[index])
        found = self._periods.get(key)
        if found is None:
            found = self._periods[key] = DatePeriod(*key)
        return found


def int_array(values: Sequence[int]) -> str:
    """A bigint[] parameter as its text form: psycopg dumps a list element by element in
    Python, a run passes tens of thousands."""
    return "{" + ",".join(map(str, values)) + "}"


def date_array(values: Sequence[date]) -> str:
    return "{" + ",".join(map(date.isoformat, values)) + "}"


def _norm_centi(households: Decimal, renters: int | None) -> int:
    norm = Decimal(renters) / 4 if renters is not None else households
    return int((norm * 100).to_integral_value())


def load_targets(rows: Sequence[Sequence[Any]], default_language: str) -> Targets:
    """Targets from rows of ``_TARGETS_SQL`` (without the ``billed`` column)."""
    targets = Targets()
    for (
        account_id,
        agreement_id,
        point_id,
        tariff,
        start,
        end,
        live,
        households,
        renters,
        short_lease,
        language,
        region,
        all_electric,
    ) in rows:
        targets.account_id.append(account_id)
        targets.agreement_id.append(agreement_id)
        targets.service_point_id.append(point_id)
        targets.tariff.append(tariff)
        targets.start.append(start)
        targets.end.append(end)
        targets.live.append(bool(live))
        targets.norm_centi.append(_norm_centi(households, renters))
        targets.short_lease.append(short_lease)
        targets.language.append(language if language in LANGUAGES else default_language)
        targets.region.append(region)
        targets.all_electric.append(all_electric)
        targets.programs.append(frozenset())
        targets.sdp_tons_milli.append(0)
        targets.replaces.append(None)
    return targets


def add_programs(targets: Targets) -> None:
    """CARE, FERA, Medical Baseline and SDP enrolments of the targets (one query)."""
    if not len(targets):
        return
    position = {a: i for i, a in enumerate(targets.agreement_id)}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.agreement_id, e.program, e.details
            FROM accounts_programenrolment e
            JOIN unnest(%s::bigint[], %s::date[], %s::date[]) AS t(agreement_id, s, e2)
              ON t.agreement_id = e.agreement_id
            WHERE e.program IN ('care', 'fera', 'medical_baseline', 'sdp')
              AND e.valid_period @> (t.e2 - 1)
            """,
            [int_array(targets.agreement_id), date_array(targets.start), date_array(targets.end)],
        )
        for agreement_id, program, details in cursor.fetchall():
            index = position[agreement_id]
            targets.programs[index] = targets.programs[index] | {program}
            if program == "sdp":
                # Django's connection hands JSON over as text.
                plain = json.loads(details) if isinstance(details, str) else details
                tons = Decimal(str((plain or {}).get("ac_tons", "0")))
                targets.sdp_tons_milli[index] = int(tons * 1000)


def _bill_partition(
    context: _Run, partition_id: int, low: int, high: int, now: datetime
) -> _Counts:
    clock = _Clock()
    assert context.period.end is not None
    with connection.cursor() as cursor:
        cursor.execute(
            _TARGETS_SQL,
            {
                "start": context.period.start,
                "end": context.period.end,
                "day": context.period.end - timedelta(days=1),
                "cycle": context.cycle_id,
                "low": low,
                "high": high,
            },
        )
        rows = cursor.fetchall()
    fresh = [row[:-1] for row in rows if not row[-1]]
    targets = load_targets(fresh, context.legal_language)
    add_programs(targets)
    clock.lap("agreements")
    counts = _Counts(agreements=len(rows), skipped=len(rows) - len(fresh))
    outcome = bill_targets(
        context,
        targets,
        now=now,
        clock=clock,
        partition_id=partition_id,
        kind="original",
    )
    counts.issued, counts.held = outcome.issued, outcome.held
    counts.exceptions = len(outcome.exceptions)
    counts.estimated_reads = outcome.estimated_reads
    counts.amount_posted = outcome.amount_posted
    counts.lines = outcome.lines
    counts.bill_ids = outcome.bill_ids
    counts.seconds = clock.total
    counts.timings = clock.laps
    return counts


# --- usage from metering ------------------------------------------------------------------------


@dataclass
class Usage:
    """One target's consumption, as the engine takes it."""

    total_wh: int | None = None
    tou_wh: dict[str, int] | None = None  # metering bucket or tariff period name → Wh
    # From interval data: the Wh of each bucket in each segment of the period's rating plan
    # (season, version or tax parts), so that each part is priced with its own kWh.
    tou_wh_by_segment: list[dict[str, int]] | None = None
    max_w: int | None = None
    source: str = "missing"  # actual | estimated | missing | incomplete
    from_intervals: bool = False
    readings: str = "[]"  # the meter readings the bill prints, as the JSON it stores


def _wh(quantity: Decimal) -> int:
    return int(quantity.scaleb(3))


READING_REGISTER = {
    "kwh": "total",
    "kwh_peak": "peak",
    "kwh_normal": "normal",
    "kwh_off_peak": "off-peak",
}


def usage_from_rows(rows: Sequence[ConsumptionRow]) -> Usage:
    """Register rows of one request → total, TOU registers and maximum demand."""
    usage = Usage(source="actual")
    tou: dict[str, int] = {}
    readings: list[dict[str, str]] = []
    estimated = missing = False
    for row in rows:
        if row.basis != "register" or row.register == "kvarh":
            continue
        if row.quantity is None:
            missing = True
            continue
        estimated |= row.source == "estimated"
        if row.register in READING_REGISTER and row.opening is not None and row.closing is not None:
            readings.append(
                {
                    "meter_number": row.meter_serial,
                    "register": READING_REGISTER[row.register],
                    "previous_reading": str(row.opening),
                    "current_reading": str(row.closing),
                    "multiplier": str(row.multiplier),
                }
            )
        if row.register == "kwh":
            usage.total_wh = _wh(row.quantity)
        elif row.register in TOU_REGISTERS:
            tou[TOU_REGISTERS[row.register]] = _wh(row.quantity)
        elif row.register == "kw_max":
            usage.max_w = _wh(row.quantity)
    if len(tou) == len(TOU_REGISTERS):
        usage.tou_wh = tou
        if usage.total_wh is None:
            usage.total_wh = sum(tou.values())
    if readings:
        usage.readings = json.dumps(readings, ensure_ascii=False)
    if missing or (usage.total_wh is None and not tou):
        usage.source = "missing"
    elif estimated:
        usage.source = "estimated"
    return usage


def usage_from_intervals(rows: Sequence[ConsumptionRow]) -> Usage | None:
    """Interval rows of one request (TOU buckets named as the tariff's periods)."""
    found = [r for r in rows if r.basis == "interval"]
    if not found:
        return None
    usage = Usage(source=found[0].source, from_intervals=True, tou_wh={})
    for row in found:
        assert row.quantity is not None and usage.tou_wh is not None
        if row.bucket == "max_demand":
            usage.max_w = _wh(row.quantity)
        else:
            usage.tou_wh[row.bucket] = _wh(row.quantity)
    usage.total_wh = sum(usage.tou_wh.values()) if usage.tou_wh else 0
    return usage


def usage_from_segments(parts: Sequence[Sequence[ConsumptionRow]]) -> Usage | None:
    """Interval rows of the segments of one request (in order) → one usage with TOU kWh per
    segment. None when no segment has interval data; ``incomplete`` when one lacks it."""
    found = [usage_from_intervals(rows) for rows in parts]
    present = [u for u in found if u is not None]
    if not present:
        return None
    sources = {u.source for u in present}
    if len(present) < len(found) or "incomplete" in sources:
        source = "incomplete"
    elif "estimated" in sources:
        source = "estimated"
    else:
        source = "actual"
    by_segment = [{} if u is None or u.tou_wh is None else dict(u.tou_wh) for u in found]
    total: dict[str, int] = defaultdict(int)
    for part in by_segment:
        for name, wh in part.items():
            total[name] += wh
    peaks = [u.max_w for u in present if u.max_w is not None]
    return Usage(
        total_wh=sum(total.values()),
        tou_wh=dict(total),
        tou_wh_by_segment=by_segment,
        max_w=max(peaks) if peaks else None,
        source=source,
        from_intervals=True,
    )


def _segments(
    context: _Run, versions: Sequence[TariffVersion], period: DatePeriod
) -> list[DatePeriod] | None:
    """The parts of ``period`` the rating plan prices apart (season, version, tax changes);
    None when it cannot be planned (pricing then refuses it with the reason)."""
    try:
        plan = plan_period(versions=versions, taxes=context.taxes, period=period)
    except DomainError:
        return None
    return [s.period for s in plan.segments]


def _by_request(rows: Sequence[ConsumptionRow], count: int) -> list[list[ConsumptionRow]]:
    grouped: list[list[ConsumptionRow]] = [[] for _ in range(count)]
    for row in rows:
        grouped[row.request_index].append(row)
    return grouped


def _normal(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


@dataclass(frozen=True)
class _TariffNeeds:
    tou_periods: tuple[str, ...]  # period names of the energy TOU schedules (empty: none)
    needs_tou: bool  # a TOU energy charge without an untimed period
    needs_max: bool
    per_period_demand: bool
    schedule_versions: tuple[TariffVersion, ...]


def _needs(versions: Sequence[TariffVersion]) -> _TariffNeeds:
    periods: list[str] = []
    needs_tou = needs_max = per_period = False
    with_schedule: list[TariffVersion] = []
    for version in versions:
        for component in version.pricing.components:
            if isinstance(component, EnergyCharge) and component.schedule is not None:
                schedule = version.pricing.schedule(component.schedule)
                periods += [p for p in schedule.periods if p not in periods]
                needs_tou |= component.untimed_period is None
                if version not in with_schedule:
                    with_schedule.append(version)
            elif isinstance(component, DemandCharge):
                if component.period is None:
                    needs_max = True
                else:
                    per_period = True
    return _TariffNeeds(tuple(periods), needs_tou, needs_max, per_period, tuple(with_schedule))


def tou_calendar(versions: Sequence[TariffVersion], span: DatePeriod) -> TouCalendar | None:
    """The TOU windows of the tariff's energy schedule over ``span`` as metering's plain
    calendar (one season per month and version), with the holidays its rule names."""
    seasons: list[TouSeason] = []
    holidays: frozenset[date] = frozenset()
    for version in sorted(versions, key=lambda v: v.period.start):
        part = version.period.intersection(span)
        if part is None:
            continue
        schedules = [
            version.pricing.schedule(c.schedule)
            for c in version.pricing.components
            if isinstance(c, EnergyCharge) and c.schedule is not None
        ]
        if not schedules:
            continue
        schedule = schedules[0]
        if schedule.holidays_as_weekend and schedule.holiday_rule:
            assert span.end is not None
            days = holiday_calendar(
                schedule.holiday_rule, range(span.start.year, span.end.year + 1)
            )
            holidays = holidays | frozenset(days)
        for season in month_seasons(
            span=part,
            slots=schedule.slots,
            periods=schedule.periods,
            weekend_days=schedule.weekend_days,
            holidays_as_weekend=schedule.holidays_as_weekend,
        ):
            seasons.append(
                TouSeason(
                    season.period,
                    {
                        day_type: tuple(
                            TouWindow(w.period, w.start_minute, w.end_minute) for w in windows
                        )
                        for day_type, windows in season.day_types.items()
                    },
                )
            )
    if not seasons:
        return None
    return TouCalendar(tuple(seasons), holidays)


# --- pricing and writing ------------------------------------------------------------------------


@dataclass
class Unbilled:
    index: int
    code: str
    detail: str
    raw: dict[str, Any]


@dataclass
class _Priced:
    """The priced targets of one engine group: rows into Targets, and their lines."""

    targets: list[int]
    group: BatchGroup
    wh: list[int]  # the kWh priced (Wh) of each target: TOU periods summed, or the total
    line_rates: list[Decimal]
    line_kinds: list[str]
    line_codes: list[str]
    line_tax: np.ndarray[Any, np.dtype[np.int64]]  # [column, position] minor units
    sequence: np.ndarray[Any, np.dtype[np.int64]]  # [column, position], 0 where absent


@dataclass
class Outcome:
    issued: int = 0
    held: int = 0
    estimated_reads: int = 0
    amount_posted: Decimal = Decimal(0)
    lines: int = 0
    bill_ids: list[int] = field(default_factory=list)
    exceptions: list[Unbilled] = field(default_factory=list)
    # bill id → (status, total in minor units, hold reasons) for one-at-a-time callers
    bills: dict[int, tuple[str, int, tuple[tuple[str, str], ...]]] = field(default_factory=dict)


def _usages(
    context: _Run, targets: Targets, clock: _Clock, now: datetime
) -> tuple[list[Usage], int]:
    """Consumption of every target (estimating missing reads first), and how many reads were
    estimated."""
    count = len(targets)
    requests = [
        ConsumptionRequest(targets.service_point_id[i], targets.period(i)) for i in range(count)
    ]
    usages = [
        usage_from_rows(r) for r in _by_request(consumption_for_billing(requests=requests), count)
    ]
    clock.lap("consumption")
    missing = [i for i, u in enumerate(usages) if u.source == "missing"]
    estimated = 0
    if missing:
        wanted = sorted(
            {(targets.service_point_id[i], targets.end[i]) for i in missing}
            | {(targets.service_point_id[i], targets.start[i]) for i in missing}
        )
        estimated = estimate_missing_reads(requests=wanted, now=now).estimated
        again = consumption_for_billing(requests=[requests[i] for i in missing])
        for position, rows in enumerate(_by_request(again, len(missing))):
            usages[missing[position]] = usage_from_rows(rows)
        clock.lap("estimation")
    # TOU tariffs priced per period need TOU kWh: from interval data where registers lack it.
    by_tariff: dict[str, list[int]] = defaultdict(list)
    for index in range(count):
        by_tariff[targets.tariff[index]].append(index)
    for tariff, indexes in by_tariff.items():
        versions = context.versions_of(tariff)
        if isinstance(versions, DomainError):
            continue
        needs = _needs(versions)
        if not needs.needs_tou:
            continue
        lacking = [i for i in indexes if usages[i].tou_wh is None and usages[i].source != "missing"]
        lacking += [i for i in indexes if usages[i].source == "missing"]
        # One request per segment of each period, so that each season part is priced with
        # the kWh of its own days (not a share of the period's by day count). A period the
        # tariff cannot price (no version in force) is not asked for: pricing refuses it.
        parts: dict[DatePeriod, list[DatePeriod] | None] = {}
        for index in lacking:
            period = targets.period(index)
            if period not in parts:
                parts[period] = _segments(context, versions, period)
        lacking = [i for i in lacking if parts[targets.period(i)] is not None]
        if not lacking:
            continue
        span = covering([targets.period(i) for i in lacking])
        key = (tariff, span)
        calendar = context.calendars.get(key)
        if calendar is None:
            calendar = tou_calendar(needs.schedule_versions, span)
            if calendar is None:
                continue
            context.calendars[key] = calendar
        segment_requests: list[ConsumptionRequest] = []
        owners: list[tuple[int, int]] = []  # (position in lacking, segments of its period)
        for position, index in enumerate(lacking):
            pieces = parts[targets.period(index)]
            assert pieces is not None
            owners.append((position, len(pieces)))
            segment_requests += [
                ConsumptionRequest(targets.service_point_id[index], piece) for piece in pieces
            ]
        rows = consumption_for_billing(requests=segment_requests, tou=calendar)
        grouped = _by_request(rows, len(segment_requests))
        at = 0
        for position, count_of_parts in owners:
            interval = usage_from_segments(grouped[at : at + count_of_parts])
            at += count_of_parts
            if interval is not None:
                usages[lacking[position]] = interval
        clock.lap("intervals")
    return usages, estimated


def _raw(targets: Targets, index: int, usage: Usage | None) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "tariff": targets.tariff[index],
        "service_point_id": targets.service_point_id[index],
        "period": [targets.start[index].isoformat(), targets.end[index].isoformat()],
    }
    if usage is not None:
        raw["usage"] = {
            "total_wh": usage.total_wh,
            "tou_wh": usage.tou_wh,
            "tou_wh_by_segment": usage.tou_wh_by_segment,
            "max_w": usage.max_w,
            "source": usage.source,
        }
    return raw


def _price(
    context: _Run, targets: Targets, usages: list[Usage], exceptions: list[Unbilled]
) -> list[_Priced]:
    """Price every target with the batch engine, one call per tariff and shape of usage;
    targets that cannot be priced become exceptions with the reason."""
    by_tariff: dict[str, list[int]] = defaultdict(list)
    for index in range(len(targets)):
        usage = usages[index]
        if usage.source == "missing":
            exceptions.append(
                Unbilled(
                    index,
                    "reads-missing",
                    "no reads for the period and too little history to estimate them",
                    _raw(targets, index, usage),
                )
            )
        elif usage.source == "incomplete":
            exceptions.append(
                Unbilled(
                    index,
                    "intervals-incomplete",
                    "interval data does not cover every day of the period",
                    _raw(targets, index, usage),
                )
            )
        else:
            by_tariff[targets.tariff[index]].append(index)
    priced: list[_Priced] = []
    for tariff, indexes in sorted(by_tariff.items()):
        versions = context.versions_of(tariff)
        if isinstance(versions, DomainError):
            for index in indexes:
                exceptions.append(
                    Unbilled(
                        index,
                        "no-tariff-version",
                        f"{tariff}: {versions.message}"[:300],
                        _raw(targets, index, usages[index]),
                    )
                )
            continue
        priced += _price_tariff(
            context=context,
            targets=targets,
            usages=usages,
            exceptions=exceptions,
            tariff=tariff,
            versions=versions,
            indexes=indexes,
        )
    return priced


def _price_tariff(
    *,
    context: _Run,
    targets: Targets,
    usages: list[Usage],
    exceptions: list[Unbilled],
    tariff: str,
    versions: tuple[TariffVersion, ...],
    indexes: list[int],
) -> list[_Priced]:
    needs = _needs(versions)
    periods = {_normal(p): p for p in needs.tou_periods}
    plans: dict[tuple[date, date], str | None] = {}
    shapes: dict[tuple[tuple[str, ...], bool, bool], list[int]] = defaultdict(list)

    def refuse(index: int, code: str, detail: str) -> None:
        exceptions.append(Unbilled(index, code, detail[:300], _raw(targets, index, usages[index])))

    for index in indexes:
        key = (targets.start[index], targets.end[index])
        if key not in plans:
            try:
                plan = plan_period(versions=versions, taxes=context.taxes, period=DatePeriod(*key))
            except DomainError as error:
                plans[key] = f"{error.code}: {tariff}: {error.message}"
            else:
                several = [s for s in plan.segments if len(s.taxes) > 1]
                plans[key] = (
                    "several taxes on one segment: a bill line carries one tax rate"
                    if several
                    else None
                )
        problem = plans[key]
        if problem is not None:
            code, _, detail = problem.partition(": ")
            if not detail:
                code, detail = "not-rateable", problem
            refuse(index, "no-tariff-version" if code == "no-tariff-version" else code, detail)
            continue
        usage = usages[index]
        tou: tuple[str, ...] = ()
        if needs.tou_periods and usage.tou_wh is not None:
            names = {_normal(k) for k in usage.tou_wh}
            # Registers give every period; interval data only the periods the days touched.
            if names == set(periods) or (usage.from_intervals and names <= set(periods)):
                tou = tuple(sorted(periods.values()))
        if needs.needs_tou and not tou:
            refuse(
                index,
                "tou-usage-missing",
                f"{tariff} prices kWh by time of use: the meter gives no kWh per TOU period",
            )
            continue
        if needs.per_period_demand:
            refuse(index, "demand-missing", f"{tariff} prices demand per TOU period")
            continue
        if needs.needs_max and usage.max_w is None:
            refuse(index, "demand-missing", f"{tariff} has a demand charge: no maximum demand")
            continue
        segmented = bool(tou) and usage.tou_wh_by_segment is not None
        shapes[(tou, needs.needs_max, segmented)].append(index)
    priced: list[_Priced] = []
    for (tou, with_max, segmented), members in shapes.items():
        priced += _rate_shape(
            context=context,
            targets=targets,
            usages=usages,
            exceptions=exceptions,
            tariff=tariff,
            versions=versions,
            tou=tou,
            with_max=with_max,
            segmented=segmented,
            members=members,
        )
    return priced


def _rate_shape(
    *,
    context: _Run,
    targets: Targets,
    usages: list[Usage],
    exceptions: list[Unbilled],
    tariff: str,
    versions: tuple[TariffVersion, ...],
    tou: tuple[str, ...],
    with_max: bool,
    segmented: bool,
    members: list[int],
) -> list[_Priced]:
    programs = {
        name: np.array([name in targets.programs[i] for i in members], np.bool_)
        for name in ("care", "fera", "medical_baseline", "sdp")
    }
    tou_wh: dict[str, Any] = {}
    tou_wh_by_segment: dict[str, Any] = {}
    if segmented:
        widest = max(len(usages[i].tou_wh_by_segment or ()) for i in members)
        for name in tou:
            key = _normal(name)
            table = np.zeros((len(members), widest), np.int64)
            for row, i in enumerate(members):
                for column, part in enumerate(usages[i].tou_wh_by_segment or ()):
                    table[row, column] = next((v for k, v in part.items() if _normal(k) == key), 0)
            tou_wh_by_segment[name] = table
    elif tou:
        for name in tou:
            key = _normal(name)
            values = []
            for i in members:
                found = usages[i].tou_wh
                assert found is not None
                values.append(next((v for k, v in found.items() if _normal(k) == key), 0))
            tou_wh[name] = np.array(values, np.int64)
    batch = RegisterBatch(
        period_start=np.array([targets.start[i] for i in members], "datetime64[D]"),
        period_end=np.array([targets.end[i] for i in members], "datetime64[D]"),
        kwh_wh=None if tou else np.array([usages[i].total_wh for i in members], np.int64),
        tou_wh=tou_wh,
        tou_wh_by_segment=tou_wh_by_segment,
        max_w=np.array([usages[i].max_w or 0 for i in members], np.int64) if with_max else None,
        household_norm=np.array([targets.norm_centi[i] for i in members], np.int64),
        short_lease_undeclared=np.array([targets.short_lease[i] for i in members], np.bool_),
        region=np.array([targets.region[i] for i in members], np.str_),
        all_electric=np.array([targets.all_electric[i] for i in members], np.bool_),
        programs=programs,
        sdp_tons_milli=np.array([targets.sdp_tons_milli[i] for i in members], np.int64),
    )
    try:
        result = rate_register_batch(
            versions=versions, taxes=context.taxes, accounts=batch, language=context.legal_language
        )
    except DomainError as error:
        for index in members:
            exceptions.append(
                Unbilled(
                    index,
                    "rating-refused",
                    f"{tariff}: {error}"[:300],
                    _raw(targets, index, usages[index]),
                )
            )
        return []
    for row, reason in sorted(result.rejected.items()):
        index = members[row]
        exceptions.append(
            Unbilled(
                index,
                "rating-rejected",
                f"{tariff}: {reason}"[:300],
                _raw(targets, index, usages[index]),
            )
        )
    if tou and not segmented:
        wh = sum(tou_wh.values(), np.zeros(len(members), np.int64)).tolist()
    else:
        wh = [int(usages[i].total_wh or 0) for i in members]
    return [_assemble(group, members, wh, versions) for group in result.groups]


def _assemble(
    group: BatchGroup, members: list[int], wh: list[int], versions: Sequence[TariffVersion]
) -> _Priced:
    """Bill lines of an engine group: kinds, codes, tax rates, tax shares and sequences."""
    columns = group.columns
    size = len(group.rows)
    rate_of_segment = {
        s.period: (s.taxes[0].rate if s.taxes else Decimal(0)) for s in group.plan.segments
    }
    energy_ids = frozenset(
        c.id for v in versions for c in v.pricing.components if isinstance(c, EnergyCharge)
    )
    periods_of: dict[str, tuple[str, ...]] = {}
    for version in versions:
        for component in version.pricing.components:
            if isinstance(component, EnergyCharge) and component.schedule is not None:
                periods_of[component.id] = version.pricing.schedule(component.schedule).periods
    rates = [rate_of_segment[c.segment] for c in columns]
    kinds = [LINE_KIND.get(c.kind, "other") for c in columns]
    codes = [
        line_code(
            c.code,
            kind=c.kind,
            energy_ids=energy_ids,
            periods=periods_of.get(c.component, ()),
        )
        for c in columns
    ]
    present = np.stack([c.present for c in columns]) if columns else np.zeros((0, size), np.bool_)
    rounded = np.stack([c.rounded for c in columns]) if columns else np.zeros((0, size), np.int64)
    line_tax = np.zeros((len(columns), size), np.int64)
    for rate in sorted(set(rates)):
        selected = [i for i, r in enumerate(rates) if r == rate]
        tax = np.zeros(size, np.int64)
        for item in group.taxes:
            if item.rate == rate:
                tax = tax + item.rounded
        if rate == 0 and not tax.any():
            continue
        line_tax[selected] = allocate_tax(rounded[selected], present[selected], tax)
    sequence = np.where(present, np.cumsum(present, axis=0), 0)
    return _Priced(
        targets=[members[int(r)] for r in group.rows],
        group=group,
        wh=[wh[int(r)] for r in group.rows],
        line_rates=rates,
        line_kinds=kinds,
        line_codes=codes,
        line_tax=line_tax,
        sequence=sequence,
    )


_HISTORY_SQL = """
SELECT t.agreement_id, h.rn, h.consumption_kwh, h.estimated, h.days
FROM unnest(%s::bigint[], %s::date[]) AS t(agreement_id, before)
CROSS JOIN LATERAL (
    SELECT row_number() OVER (ORDER BY b.period DESC) AS rn, b.consumption_kwh, b.estimated,
           upper(b.period) - lower(b.period) AS days
    FROM (SELECT period, consumption_kwh, estimated FROM billing_bill b
          WHERE b.agreement_id = t.agreement_id AND b.status = 'issued'
            AND b.kind IN ('original', 'rebill') AND upper(b.period) <= t.before
          ORDER BY b.period DESC LIMIT %s) b
) h
"""


@dataclass
class _Facts:
    """Per priced bill (flat, in the order of the priced groups' targets)."""

    index: list[int] = field(default_factory=list)  # target index
    total: list[int] = field(default_factory=list)
    subtotal: list[int] = field(default_factory=list)
    tax_total: list[int] = field(default_factory=list)
    wh: list[int] = field(default_factory=list)


def _holds(
    context: _Run, targets: Targets, usages: list[Usage], facts: _Facts
) -> dict[int, tuple[tuple[str, str], ...]]:
    """Hold reasons of the priced bills that have any (by target index)."""
    policy = context.policy
    needed = policy.history_needed
    count = len(facts.index)
    if not count:
        return {}
    agreements = [targets.agreement_id[i] for i in facts.index]
    starts = [targets.start[i] for i in facts.index]
    history_count = np.zeros(count, np.int64)
    history_sum = np.zeros(count, np.int64)
    per_day_centi = np.zeros(count, np.int64)
    leading = np.zeros(count, np.int64)
    if needed:
        position = {a: n for n, a in enumerate(agreements)}
        with connection.cursor() as cursor:
            cursor.execute(_HISTORY_SQL, [int_array(agreements), date_array(starts), needed])
            records = cursor.fetchall()
        per_day: dict[int, list[Decimal]] = defaultdict(list)
        broken: set[int] = set()
        for agreement_id, rn, kwh, was_estimated, days in sorted(
            records, key=lambda r: (r[0], r[1])
        ):
            n = position[agreement_id]
            if rn <= policy.history_periods:
                history_count[n] += 1
                history_sum[n] += _wh(kwh)
                per_day[n].append(kwh / Decimal(days))
            if n not in broken:
                if was_estimated:
                    leading[n] += 1
                else:
                    broken.add(n)
        for n, values in per_day.items():
            mean = sum(values, Decimal(0)) / len(values)
            per_day_centi[n] = int((mean * 100).to_integral_value())
    days = np.array([(targets.end[i] - targets.start[i]).days for i in facts.index], np.int64)
    candidates = hold_candidates(
        policy=policy,
        minor_digits=context.minor_digits,
        total_minor=np.array(facts.total, np.int64),
        consumption_wh=np.array(facts.wh, np.int64),
        days=days,
        estimated=np.array([usages[i].source == "estimated" for i in facts.index], np.bool_),
        live=np.array([targets.live[i] for i in facts.index], np.bool_),
        history_count=history_count,
        history_sum_wh=history_sum,
        history_per_day_centi=per_day_centi,
        leading_estimates=leading,
    )
    found: dict[int, tuple[tuple[str, str], ...]] = {}
    flagged = np.flatnonzero(candidates).tolist()
    if not flagged:
        return found
    periods = _history_periods(
        [agreements[n] for n in flagged], [starts[n] for n in flagged], needed
    )
    scale = Decimal(1).scaleb(-context.minor_digits)
    for n in flagged:
        index = facts.index[n]
        past = [PastBill(period, kwh, est) for period, kwh, est in periods.get(agreements[n], [])]
        reasons = exact_hold_reasons(
            bill=PricedBillFacts(
                period=targets.period(index),
                total=Decimal(facts.total[n]) * scale,
                consumption_kwh=Decimal(facts.wh[n]).scaleb(-3),
                estimated=usages[index].source == "estimated",
                agreement_live=targets.live[index],
            ),
            history=past,
            policy=policy,
        )
        if reasons:
            found[index] = tuple((r.code, r.detail) for r in reasons)
    return found


def _history_periods(
    agreements: list[int], starts: list[date], limit: int
) -> dict[int, list[tuple[DatePeriod, Decimal, bool]]]:
    if not limit or not agreements:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.agreement_id, b.period, b.consumption_kwh, b.estimated
            FROM unnest(%s::bigint[], %s::date[]) AS t(agreement_id, before)
            CROSS JOIN LATERAL (
                SELECT period, consumption_kwh, estimated FROM billing_bill b
                WHERE b.agreement_id = t.agreement_id AND b.status = 'issued'
                  AND b.kind IN ('original', 'rebill') AND upper(b.period) <= t.before
                ORDER BY b.period DESC LIMIT %s) b
            ORDER BY t.agreement_id, b.period DESC
            """,
            [int_array(agreements), date_array(starts), limit],
        )
        found: dict[int, list[tuple[DatePeriod, Decimal, bool]]] = defaultdict(list)
        for agreement_id, period, kwh, estimated in cursor.fetchall():
            found[agreement_id].append((as_period(period), kwh, estimated))
    return found


def _reserve_ids(count: int) -> list[int]:
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('billing_bill', 'id')) "
            "FROM generate_series(1, %s)",
            [count],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(sql: str, chunks: Iterator[str]) -> None:
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer: list[str] = []
        size = 0
        for chunk in chunks:
            buffer.append(chunk)
            size += 1
            if size >= 20_000:
                copy.write("".join(buffer))
                buffer, size = [], 0
        if buffer:
            copy.write("".join(buffer))


def _text(value: str) -> str:
    """A text value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


BILL_COLUMNS = (
    "id, account_id, agreement_id, cycle_id, bill_run_id, kind, status, period, bill_date, "
    "due_date, issued_at, currency, language, consumption_kwh, estimated, subtotal, tax_total, "
    "total, replaces_id, readings, created_at"
)
LINE_COLUMNS = (
    "bill_id, sequence, kind, code, description, quantity, unit, unit_price, "
    "amount_unrounded, amount, tax_rate, tax_amount"
)


def bill_targets(
    context: _Run,
    targets: Targets,
    *,
    now: datetime,
    clock: _Clock | None = None,
    partition_id: int | None = None,
    kind: str = "original",
    bill_date: date | None = None,
    due_date: date | None = None,
) -> Outcome:
    """Consumption, rating, holds and the writes for ``targets``, inside the caller's
    transaction. Targets that cannot be billed are returned (and, in a run, stored) as
    exceptions with the reason."""
    clock = clock or _Clock()
    outcome = Outcome()
    if not len(targets):
        return outcome
    usages, outcome.estimated_reads = _usages(context, targets, clock, now)
    exceptions = outcome.exceptions
    priced = _price(context, targets, usages, exceptions)
    clock.lap("rating")
    facts = _Facts()
    for item in priced:
        group = item.group
        totals = (group.subtotal + group.tax_total).tolist()
        subtotals = group.subtotal.tolist()
        taxes = group.tax_total.tolist()
        for position, index in enumerate(item.targets):
            facts.index.append(index)
            facts.total.append(totals[position])
            facts.subtotal.append(subtotals[position])
            facts.tax_total.append(taxes[position])
            facts.wh.append(item.wh[position])
    reasons = _holds(context, targets, usages, facts)
    clock.lap("holds")
    ids = _reserve_ids(len(facts.index))
    bill_of = dict(zip(facts.index, ids, strict=True))
    _write(
        clock=clock,
        context=context,
        targets=targets,
        usages=usages,
        facts=facts,
        priced=priced,
        reasons=reasons,
        bill_of=bill_of,
        now=now,
        kind=kind,
        bill_date=bill_date,
        due_date=due_date,
        outcome=outcome,
    )
    if exceptions and partition_id is not None:
        _write_exceptions(context, targets, partition_id, exceptions, now)
    return outcome


def _write(
    *,
    clock: _Clock,
    context: _Run,
    targets: Targets,
    usages: list[Usage],
    facts: _Facts,
    priced: list[_Priced],
    reasons: dict[int, tuple[tuple[str, str], ...]],
    bill_of: dict[int, int],
    now: datetime,
    kind: str,
    bill_date: date | None,
    due_date: date | None,
    outcome: Outcome,
) -> None:
    minor = context.minor_digits
    stamp = now.isoformat()
    run_text = str(context.id) if context.id else NULL
    cycle_text = NULL if context.cycle_id is None else str(context.cycle_id)
    bill_day = bill_date or context.bill_date
    owed_due = due_date if due_date is not None else context.due_date
    charges: list[ChargeRow] = []
    held_rows: list[str] = []

    minor_suffix = f"e-{minor}" if minor else ""
    currency_text = context.currency
    bill_day_text = bill_day.isoformat()
    due_text = NULL if owed_due is None else owed_due.isoformat()
    # The text of "kind, status, ..., period" is shared by every bill of a period.
    fixed = f"{cycle_text}\t{run_text}\t{kind}\t"
    periods: dict[tuple[date, date], str] = {}
    posted_minor = 0

    def bills() -> Iterator[str]:
        nonlocal posted_minor
        account_ids, agreement_ids = targets.account_id, targets.agreement_id
        starts, ends, languages = targets.start, targets.end, targets.language
        for n, index in enumerate(facts.index):
            bill_id = bill_of[index]
            total = facts.total[n]
            held = index in reasons
            usage = usages[index]
            replaces = targets.replaces[index]
            outcome.bill_ids.append(bill_id)
            key = (starts[index], ends[index])
            period = periods.get(key)
            if period is None:
                period = periods[key] = f"[{key[0]},{key[1]})\t{bill_day_text}"
            if held:
                outcome.held += 1
                status, due, issued = "held", NULL, NULL
                for code, detail in reasons[index]:
                    held_rows.append(f"{bill_id}\t{_text(code)}\t{_text(detail[:300])}\n")
            else:
                outcome.issued += 1
                status, due, issued = "issued", NULL, stamp
                if total > 0:
                    due = due_text
                    posted_minor += total
                    end = key[1] - timedelta(days=1)
                    charges.append(
                        ChargeRow(
                            account_id=account_ids[index],
                            kind="charge",
                            amount=Decimal(total).scaleb(-minor),
                            currency=currency_text,
                            value_date=bill_day,
                            due_date=owed_due,
                            source_type="bill",
                            source_id=str(bill_id),
                            description=f"Bill {bill_id} {key[0]}..{end}",
                        )
                    )
            outcome.bills[bill_id] = (status, total, reasons.get(index, ()))
            yield (
                f"{bill_id}\t{account_ids[index]}\t{agreement_ids[index]}\t{fixed}{status}\t"
                f"{period}\t{due}\t{issued}\t{currency_text}\t{languages[index]}\t"
                f"{facts.wh[n]}e-3\t{'t' if usage.source == 'estimated' else 'f'}\t"
                f"{facts.subtotal[n]}{minor_suffix}\t{facts.tax_total[n]}{minor_suffix}\t"
                f"{total}{minor_suffix}\t{NULL if replaces is None else replaces}\t"
                f"{_text(usage.readings)}\t"
                f"{stamp}\n"
            )

    _copy(f"COPY billing_bill ({BILL_COLUMNS}) FROM STDIN", bills())
    outcome.amount_posted = Decimal(posted_minor).scaleb(-minor)
    clock.lap("write_bills")

    def lines() -> Iterator[str]:
        for item in priced:
            ids = [bill_of[index] for index in item.targets]
            for c, column in enumerate(item.group.columns):
                where = np.flatnonzero(column.present)
                if not len(where):
                    continue
                head = (
                    f"\t{item.line_kinds[c]}\t{_text(item.line_codes[c])}\t"
                    f"{_text(column.description[:200])}\t"
                )
                unit = f"\t{_text(column.unit[:10])}\t"
                rate = f"\t{item.line_rates[c]}\t"
                quantity = column.quantity[where]
                price = column.price[where]
                unrounded, unrounded_exp = unrounded_amounts(
                    quantity, column.quantity_exp, price, column.price_exp, column.proration
                )
                q_suffix = f"e{column.quantity_exp}" if column.quantity_exp else ""
                p_suffix = f"e{column.price_exp}" if column.price_exp else ""
                u_suffix = f"e{unrounded_exp}" if unrounded_exp else ""
                for position, q, pr, u, amount, tax, seq in zip(
                    where.tolist(),
                    quantity.tolist(),
                    price.tolist(),
                    unrounded.tolist() if isinstance(unrounded, np.ndarray) else unrounded,
                    column.rounded[where].tolist(),
                    item.line_tax[c, where].tolist(),
                    item.sequence[c, where].tolist(),
                    strict=True,
                ):
                    yield (
                        f"{ids[position]}\t{seq}{head}{q}{q_suffix}{unit}{pr}{p_suffix}\t"
                        f"{u}{u_suffix}\t{amount}{minor_suffix}{rate}{tax}{minor_suffix}\n"
                    )
                outcome.lines += len(where)

    _copy(f"COPY billing_billline ({LINE_COLUMNS}) FROM STDIN", lines())
    clock.lap("write_lines")
    if held_rows:
        _copy("COPY billing_billhold (bill_id, code, detail) FROM STDIN", iter(held_rows))
    if charges:
        copy_entries(rows=charges, created_by=context.created_by, now=now)
        clock.lap("write_ledger")
        settle_credits(account_ids=sorted({c.account_id for c in charges}), now=now)
        clock.lap("settle_credits")


def _write_exceptions(
    context: _Run,
    targets: Targets,
    partition_id: int,
    exceptions: list[Unbilled],
    now: datetime,
) -> None:
    stamp = now.isoformat()

    def rows() -> Iterator[str]:
        for item in exceptions:
            index = item.index
            raw = json.dumps(item.raw, ensure_ascii=False, default=str)
            yield (
                f"{context.id}\t{partition_id}\t{targets.account_id[index]}\t"
                f"{targets.agreement_id[index]}\t[{targets.start[index]},{targets.end[index]})\t"
                f"{_text(item.code[:40])}\t{_text(item.detail[:300])}\t{_text(raw)}\t{stamp}\n"
            )

    _copy(
        "COPY billing_billrunexception (run_id, partition_id, account_id, agreement_id, period,"
        " code, detail, raw, created_at) FROM STDIN",
        rows(),
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
        transaction.on_commit(
            lambda pid=partition_id: tasks.run_bill_partition.delay(pid)  # type: ignore[misc]
        )
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
    from ampere.billing.models import Bill
    from ampere.billing.operations import issue_einvoice, render_bill_document

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


# --- one bill at a time through the same path (rebills) --------------------------------------

_AGREEMENT_TARGETS_SQL = """
SELECT ag.account_id, ag.id, ag.service_point_id, t.code, r.s, r.e,
       ag.status = 'active' AND ag.valid_period @> (r.e - 1),
       ag.households, ag.renter_occupants, ag.short_lease_undeclared,
       c.preferred_language, p.baseline_region, p.all_electric
FROM unnest(%s::bigint[], %s::date[], %s::date[]) WITH ORDINALITY AS r(agreement_id, s, e, n)
JOIN accounts_serviceagreement ag ON ag.id = r.agreement_id
JOIN accounts_account a ON a.id = ag.account_id
JOIN accounts_customer c ON c.id = a.customer_id
JOIN rating_tariff t ON t.id = ag.tariff_id
JOIN accounts_servicepoint sp ON sp.id = ag.service_point_id
JOIN accounts_premise p ON p.id = sp.premise_id
ORDER BY r.n
"""


def targets_for(
    *,
    bills: Sequence[tuple[int, DatePeriod]],
    default_language: str,
    replaces: Sequence[int | None],
) -> Targets:
    """Targets for (agreement id, period) pairs (rebills: ``replaces`` the bill each one
    replaces), with the programmes they are enrolled in."""
    with connection.cursor() as cursor:
        cursor.execute(
            _AGREEMENT_TARGETS_SQL,
            [
                [agreement for agreement, _ in bills],
                [period.start for _, period in bills],
                [period.end for _, period in bills],
            ],
        )
        rows = cursor.fetchall()
    if len(rows) != len(bills):
        raise NotFound("an agreement to bill does not exist", field="agreement")
    targets = load_targets(rows, default_language)
    targets.replaces = list(replaces)
    add_programs(targets)
    return targets


def utility_context(*, utility_id: int, bill_date: date, due_date: date | None) -> _Run:
    """The context of bills made outside a run (rebills) for a utility, dated ``bill_date``."""
    utility = _utility_context(utility_id)
    return _Run(
        id=0,
        utility_id=utility_id,
        utility_code=utility["code"],
        currency=utility["currency"],
        minor_digits=utility["minor_digits"],
        legal_language=utility["default_language"],
        tariff_owner=utility["tariff_owner"],
        time_zone=utility["time_zone"],
        cycle_id=None,
        period=DatePeriod(bill_date, bill_date + timedelta(days=1)),
        bill_date=bill_date,
        due_date=due_date,
        documents=True,
        policy=get_hold_policy(utility_id=utility_id),
        taxes=get_tax_schedule(owner=utility["tariff_owner"]),
    )
