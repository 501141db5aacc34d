"""Writes and use cases of the metering domain. Each owns its transaction."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from psycopg.types.range import Range

from ampere.accounts.models import ServicePoint, Utility
from ampere.core.errors import Conflict, DomainError, InvalidInput, NotFound
from ampere.core.localtime import local_midnight, zone
from ampere.database import constraint_name, copy_rows, reserve_ids
from ampere.metering import parsing
from ampere.metering.models import (
    ConsumptionRevision,
    EstimationRule,
    Installation,
    Meter,
    MeteringPolicy,
    MeterKind,
    QuarantinedRead,
    QuarantineStatus,
    ReadBatch,
    ReadingCycle,
    ReadingDate,
    ReadKind,
    ReadSource,
    ReadStatus,
    Register,
    RegisterCode,
    RegisterRead,
    Route,
    RouteStop,
)
from ampere.metering.queries import get_policy
from ampere.metering.types import (
    ENERGY_REGISTERS,
    BatchResult,
    MeterInput,
    Policy,
    ReadingRow,
    RowProblem,
    RowResult,
)
from ampere.metering.vee import (
    Estimate,
    PriorRead,
    ReadContext,
    estimate_by_average,
    estimate_by_last_year,
    interpolate,
    validate_read,
    wrap,
)


class MeterNotInstalled(Conflict):
    code = "meter-not-installed"


class InstallationOverlap(Conflict):
    code = "installation-overlap"


class BatchConflict(Conflict):
    code = "batch-conflict"


class QuarantineRefused(DomainError):
    code = "quarantine-refused"


@dataclass(frozen=True)
class _Utility:
    id: int
    code: str
    tz: ZoneInfo


def _utility(code: str) -> _Utility:
    row = Utility.objects.filter(code=code).values_list("id", "time_zone").first()
    if row is None:
        raise NotFound(f"no utility with code {code!r}", field="utility")
    return _Utility(row[0], code, zone(row[1]))


def _require_aware(at: datetime, field_name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("a time must carry its time zone", field=field_name)


# --- policy ----------------------------------------------------------------------------------


def set_policy(
    *,
    utility_code: str,
    high_ratio: Decimal = Decimal("1.30"),
    low_ratio: Decimal = Decimal("0.50"),
    rollover_max_fraction: Decimal = Decimal("0.500"),
    flag_zero_on_live_agreement: bool = True,
    estimation_rule: str = EstimationRule.AVERAGE_PREVIOUS_PERIODS,
    estimation_periods: int = 3,
) -> None:
    """Set a utility's VEE thresholds and estimation rule; raises InvalidInput."""
    utility = _utility(utility_code)
    if high_ratio <= 1:
        raise InvalidInput("the high ratio must be above 1", field="high_ratio")
    if not Decimal(0) <= low_ratio < 1:
        raise InvalidInput("the low ratio must be in [0, 1)", field="low_ratio")
    if not Decimal(0) < rollover_max_fraction <= 1:
        raise InvalidInput("the rollover fraction must be in (0, 1]", field="rollover_max_fraction")
    if estimation_rule not in EstimationRule.values:
        raise InvalidInput(
            f"{estimation_rule!r} is not one of {', '.join(EstimationRule.values)}",
            field="estimation_rule",
        )
    if not 1 <= estimation_periods <= 12:
        raise InvalidInput("use 1 to 12 periods", field="estimation_periods")
    MeteringPolicy.objects.update_or_create(
        utility_id=utility.id,
        defaults={
            "high_ratio": high_ratio,
            "low_ratio": low_ratio,
            "rollover_max_fraction": rollover_max_fraction,
            "flag_zero_on_live_agreement": flag_zero_on_live_agreement,
            "estimation_rule": estimation_rule,
            "estimation_periods": estimation_periods,
        },
    )


# --- meters and installations ------------------------------------------------------------------


def register_meter(*, utility_code: str, meter: MeterInput) -> int:
    """Add a meter with its registers; raises InvalidInput, Conflict (serial exists)."""
    utility = _utility(utility_code)
    serial = meter.serial.strip()
    if not serial:
        raise InvalidInput("a meter needs a serial", field="meter.serial")
    if meter.kind not in MeterKind.values:
        raise InvalidInput(f"{meter.kind!r} is not a meter kind", field="meter.kind")
    if meter.phases not in (1, 3):
        raise InvalidInput("phases must be 1 or 3", field="meter.phases")
    if not 4 <= meter.register_digits <= 10:
        raise InvalidInput("a register has 4 to 10 digits", field="meter.register_digits")
    if meter.multiplier <= 0:
        raise InvalidInput("the multiplier must be positive", field="meter.multiplier")
    if meter.interval_minutes is not None and meter.interval_minutes not in (5, 15, 30, 60):
        raise InvalidInput("intervals are 5, 15, 30 or 60 minutes", field="meter.interval_minutes")
    if not meter.registers or len(set(meter.registers)) != len(meter.registers):
        raise InvalidInput("name each register once", field="meter.registers")
    for code in meter.registers:
        if code not in RegisterCode.values:
            raise InvalidInput(f"{code!r} is not a register", field="meter.registers")
    try:
        with transaction.atomic():
            row = Meter.objects.create(
                utility_id=utility.id,
                serial=serial,
                kind=meter.kind,
                phases=meter.phases,
                multiplier=meter.multiplier,
                register_digits=meter.register_digits,
                interval_minutes=meter.interval_minutes,
                manufacturer=meter.manufacturer,
            )
            Register.objects.bulk_create(
                [Register(meter_id=row.id, code=code) for code in meter.registers]
            )
    except IntegrityError as error:
        if constraint_name(error) == "meter_serial_unique":
            raise Conflict(f"meter {serial!r} exists already", field="meter.serial") from None
        raise
    return row.id


def _register_ids(meter_id: int) -> dict[str, int]:
    return dict(Register.objects.filter(meter_id=meter_id).values_list("code", "id"))


def _boundary_reads(
    *,
    meter_id: int,
    installation_id: int,
    at: datetime,
    tz: ZoneInfo,
    values: Mapping[str, Decimal],
    kind: str,
    now: datetime,
    field_name: str,
) -> list[RegisterRead]:
    registers = _register_ids(meter_id)
    missing = sorted(c for c in registers if c in ENERGY_REGISTERS and c not in values)
    if missing:
        raise InvalidInput(
            f"give the {kind} read of register(s) {', '.join(missing)}", field=field_name
        )
    rows = []
    digits = Meter.objects.values_list("register_digits", flat=True).get(id=meter_id)
    for code, value in sorted(values.items()):
        if code not in registers:
            raise InvalidInput(f"the meter has no register {code!r}", field=f"{field_name}.{code}")
        if value < 0 or value >= Decimal(10) ** digits:
            raise InvalidInput(
                f"{value} does not fit a register of {digits} digits", field=f"{field_name}.{code}"
            )
        rows.append(
            RegisterRead(
                register_id=registers[code],
                installation_id=installation_id,
                read_at=at,
                read_date=at.astimezone(tz).date(),
                value=value,
                source=ReadSource.MANUAL,
                kind=kind,
                recorded_at=now,
            )
        )
    return rows


def _meter_of(utility_id: int, serial: str) -> int:
    meter_id = (
        Meter.objects.filter(utility_id=utility_id, serial=serial)
        .values_list("id", flat=True)
        .first()
    )
    if meter_id is None:
        raise NotFound(f"no meter with serial {serial!r}", field="meter")
    return meter_id


def _service_point(utility_id: int, code: str) -> int:
    found = (
        ServicePoint.objects.filter(utility_id=utility_id, code=code)
        .values_list("id", flat=True)
        .first()
    )
    if found is None:
        raise NotFound(f"no service point {code!r}", field="service_point")
    return found


def install_meter(
    *,
    utility_code: str,
    service_point_code: str,
    meter_serial: str,
    at: datetime,
    initial_reads: Mapping[str, Decimal],
    now: datetime,
) -> int:
    """Put a meter on a service point from ``at`` with its initial reads; raises
    InstallationOverlap (the point has a live meter, or the meter is elsewhere)."""
    _require_aware(at, "at")
    utility = _utility(utility_code)
    meter_id = _meter_of(utility.id, meter_serial)
    point_id = _service_point(utility.id, service_point_code)
    with transaction.atomic():
        installation_id = _open_installation(point_id, meter_id, at)
        RegisterRead.objects.bulk_create(
            _boundary_reads(
                meter_id=meter_id,
                installation_id=installation_id,
                at=at,
                tz=utility.tz,
                values=initial_reads,
                kind=ReadKind.INITIAL,
                now=now,
                field_name="initial_reads",
            )
        )
    return installation_id


def _open_installation(point_id: int, meter_id: int, at: datetime) -> int:
    try:
        with transaction.atomic():
            row = Installation.objects.create(
                meter_id=meter_id, service_point_id=point_id, installed_period=Range(at, None, "[)")
            )
    except IntegrityError as error:
        constraint = constraint_name(error)
        if constraint == "one_live_installation_per_service_point":
            raise InstallationOverlap(
                "the service point has a meter installed at that time", field="service_point"
            ) from None
        if constraint == "meter_installed_once_at_a_time":
            raise InstallationOverlap(
                "the meter is installed elsewhere at that time", field="meter"
            ) from None
        raise
    return row.id


def remove_meter(
    *,
    utility_code: str,
    service_point_code: str,
    at: datetime,
    final_reads: Mapping[str, Decimal],
    now: datetime,
) -> int:
    """Take the live meter off a service point at ``at`` with its final reads; returns the
    closed installation's id. Raises MeterNotInstalled, InvalidInput."""
    _require_aware(at, "at")
    utility = _utility(utility_code)
    point_id = _service_point(utility.id, service_point_code)
    with transaction.atomic():
        return _close_installation(utility, point_id, at, final_reads, now)


def _close_installation(
    utility: _Utility,
    point_id: int,
    at: datetime,
    final_reads: Mapping[str, Decimal],
    now: datetime,
) -> int:
    live = (
        Installation.objects.select_for_update()
        .filter(service_point_id=point_id, installed_period__contains=at)
        .first()
    )
    if live is None or live.installed_period.upper is not None:
        raise MeterNotInstalled(
            "no open installation on the service point at that time", field="at"
        )
    if live.installed_period.lower >= at:
        raise InvalidInput("a meter is removed after it was installed", field="at")
    later = RegisterRead.objects.filter(
        installation_id=live.id, status=ReadStatus.ACTIVE, read_at__gte=at
    ).exists()
    if later:
        raise Conflict("the meter has reads after the removal time", field="at")
    reads = _boundary_reads(
        meter_id=live.meter_id,
        installation_id=live.id,
        at=at,
        tz=utility.tz,
        values=final_reads,
        kind=ReadKind.FINAL,
        now=now,
        field_name="final_reads",
    )
    # The final read is taken at the last instant the meter is on the service point.
    for read in reads:
        read.read_at = at - timedelta(microseconds=1)
    live.installed_period = Range(live.installed_period.lower, at, "[)")
    live.save(update_fields=["installed_period"])
    _check_final_reads(live.id, reads, utility)
    RegisterRead.objects.bulk_create(reads)
    return live.id


def _check_final_reads(installation_id: int, reads: list[RegisterRead], utility: _Utility) -> None:
    policy = get_policy(utility_id=utility.id)
    for read in reads:
        previous = (
            RegisterRead.objects.filter(
                installation_id=installation_id, register_id=read.register_id, status="active"
            )
            .exclude(source=ReadSource.ESTIMATED)
            .order_by("-read_at")
            .values_list("value", "read_date")
            .first()
        )
        digits = Meter.objects.values_list("register_digits", flat=True).get(
            installations__id=installation_id
        )
        code = Register.objects.values_list("code", flat=True).get(id=read.register_id)
        verdict = validate_read(
            value=read.value,
            context=ReadContext(
                digits=digits,
                energy=code in ENERGY_REGISTERS,
                previous=None if previous is None else PriorRead(previous[0], previous[1]),
                before_previous=None,
                following=None,
                live_agreement=False,
            ),
            policy=policy,
        )
        if verdict.hard:
            raise InvalidInput(verdict.problems[0].message, field=f"final_reads.{code}")
        read.flags = list(verdict.flags)


def exchange_meter(
    *,
    utility_code: str,
    service_point_code: str,
    new_meter_serial: str,
    at: datetime,
    final_reads: Mapping[str, Decimal],
    initial_reads: Mapping[str, Decimal],
    now: datetime,
) -> int:
    """Replace the live meter at ``at``: final reads close the old installation, initial reads
    open the new one; consumption of a period across ``at`` adds both meters' parts. Returns
    the new installation's id. Raises MeterNotInstalled, InstallationOverlap, InvalidInput."""
    _require_aware(at, "at")
    utility = _utility(utility_code)
    point_id = _service_point(utility.id, service_point_code)
    meter_id = _meter_of(utility.id, new_meter_serial)
    with transaction.atomic():
        _close_installation(utility, point_id, at, final_reads, now)
        installation_id = _open_installation(point_id, meter_id, at)
        RegisterRead.objects.bulk_create(
            _boundary_reads(
                meter_id=meter_id,
                installation_id=installation_id,
                at=at,
                tz=utility.tz,
                values=initial_reads,
                kind=ReadKind.INITIAL,
                now=now,
                field_name="initial_reads",
            )
        )
    return installation_id


# --- batches of register reads ----------------------------------------------------------------


class _IdPool:
    """Ids of a table's sequence, fetched in blocks as they are needed."""

    def __init__(self, table: str, block: int) -> None:
        self.table = table
        self.block = max(block, 16)
        self.free: list[int] = []

    def __iter__(self) -> _IdPool:
        return self

    def __next__(self) -> int:
        if not self.free:
            self.free = reserve_ids(table=self.table, count=self.block)[::-1]
        return self.free.pop()


@dataclass
class _Row:
    """A row being ingested, with what the database knows about it."""

    reading: ReadingRow
    meter_id: int | None = None
    digits: int = 0
    register_id: int | None = None
    installation_id: int | None = None
    service_point_id: int | None = None
    same_id: int | None = None
    same_value: Decimal | None = None
    same_estimated: bool = False
    previous: list[tuple[datetime, PriorRead]] = field(default_factory=list)
    following: tuple[datetime, PriorRead] | None = None
    live_agreement: bool = False


@dataclass
class _Estimate:
    id: int
    read_at: datetime
    read_date: date
    value: Decimal
    daily: Decimal | None


_CONTEXT_SQL = """
WITH r AS (
    SELECT * FROM unnest(%s::int[], %s::text[], %s::text[], %s::timestamptz[], %s::date[])
        AS r(n, serial, code, read_at, read_date)
)
SELECT r.n, m.id, m.register_digits, g.id, i.id, i.service_point_id,
       same.id, same.value, same.source = 'estimated',
       p.prev,
       nx.read_at, nx.value, nx.read_date,
       EXISTS (
           SELECT 1 FROM accounts_serviceagreement a
           WHERE a.service_point_id = i.service_point_id AND a.status <> 'cancelled'
             AND a.valid_period @> r.read_date
       )
FROM r
LEFT JOIN metering_meter m ON m.utility_id = %s AND m.serial = r.serial
LEFT JOIN metering_register g ON g.meter_id = m.id AND g.code = r.code
LEFT JOIN metering_installation i ON i.meter_id = m.id AND i.installed_period @> r.read_at
LEFT JOIN metering_registerread same
       ON same.register_id = g.id AND same.read_at = r.read_at AND same.status = 'active'
LEFT JOIN LATERAL (
    SELECT array_agg(ARRAY[extract(epoch FROM x.read_at)::numeric, x.value,
                           (x.read_date - DATE '2000-01-01')::numeric]
                     ORDER BY x.read_at DESC) AS prev
    FROM (
        SELECT read_at, value, read_date FROM metering_registerread x
        WHERE x.register_id = g.id AND x.installation_id = i.id AND x.status = 'active'
          AND x.source <> 'estimated' AND x.read_at < r.read_at
        ORDER BY x.read_at DESC LIMIT 2
    ) x
) p ON true
LEFT JOIN LATERAL (
    SELECT x.read_at, x.value, x.read_date FROM metering_registerread x
    WHERE x.register_id = g.id AND x.installation_id = i.id AND x.status = 'active'
      AND x.source <> 'estimated' AND x.read_at > r.read_at
    ORDER BY x.read_at LIMIT 1
) nx ON true
"""
_EPOCH_DATE = date(2000, 1, 1)


def _load_context(utility: _Utility, rows: list[_Row]) -> None:
    if not rows:
        return
    by_number = {r.reading.row_number: r for r in rows}
    with connection.cursor() as cursor:
        cursor.execute(
            _CONTEXT_SQL,
            [
                [r.reading.row_number for r in rows],
                [r.reading.meter_serial for r in rows],
                [r.reading.register_code for r in rows],
                [r.reading.read_at for r in rows],
                [r.reading.read_at.astimezone(utility.tz).date() for r in rows],
                utility.id,
            ],
        )
        for record in cursor.fetchall():
            row = by_number[record[0]]
            row.meter_id, row.digits, row.register_id = record[1], record[2] or 0, record[3]
            row.installation_id, row.service_point_id = record[4], record[5]
            row.same_id, row.same_value, row.same_estimated = record[6], record[7], bool(record[8])
            row.previous = [
                (
                    datetime.fromtimestamp(float(p[0]), UTC),
                    PriorRead(p[1], _EPOCH_DATE + timedelta(days=int(p[2]))),
                )
                for p in (record[9] or [])
            ]
            if record[10] is not None:
                row.following = (record[10], PriorRead(record[11], record[12]))
            row.live_agreement = bool(record[13])


def _estimates_of(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[_Estimate]]:
    found: dict[tuple[int, int], list[_Estimate]] = defaultdict(list)
    if not pairs:
        return found
    registers = [p[0] for p in pairs]
    installations = [p[1] for p in pairs]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT x.register_id, x.installation_id, x.id, x.read_at, x.read_date, x.value,
                   x.estimated_daily
            FROM unnest(%s::bigint[], %s::bigint[]) AS p(register_id, installation_id)
            JOIN metering_registerread x
              ON x.register_id = p.register_id AND x.installation_id = p.installation_id
            WHERE x.status = 'active' AND x.source = 'estimated'
            ORDER BY x.read_at
            """,
            [registers, installations],
        )
        for reg, inst, read_id, read_at, read_date, value, daily in cursor.fetchall():
            found[(reg, inst)].append(_Estimate(read_id, read_at, read_date, value, daily))
    return found


@dataclass
class _Plan:
    """What an ingest writes: new reads, estimates replaced, revisions, per-row results."""

    reads: list[tuple[Any, ...]] = field(default_factory=list)
    replaced: list[tuple[int, int]] = field(default_factory=list)  # (old read, new read)
    revisions: list[tuple[Any, ...]] = field(default_factory=list)
    results: dict[int, RowResult] = field(default_factory=dict)


def _ingest(
    *,
    utility: _Utility,
    readings: Sequence[ReadingRow],
    batch_id: int | None,
    accept_soft: bool,
    accepted_flags: tuple[str, ...] = (),
    now: datetime,
) -> dict[int, RowResult]:
    """Validate and store reads (inside the caller's transaction). Returns a result per row."""
    policy = get_policy(utility_id=utility.id)
    plan = _Plan()
    seen: dict[tuple[str, str, datetime], int] = {}
    rows: list[_Row] = []
    for reading in readings:
        key = (reading.meter_serial, reading.register_code, reading.read_at)
        if key in seen:
            plan.results[reading.row_number] = RowResult(
                reading.row_number,
                "quarantined",
                problems=(
                    RowProblem(
                        "duplicate-row",
                        f"the same meter, register and time as row {seen[key]}",
                        None,
                    ),
                ),
            )
            continue
        seen[key] = reading.row_number
        rows.append(_Row(reading))
    _load_context(utility, rows)
    _lock_registers({r.register_id for r in rows if r.register_id is not None})
    chains: dict[tuple[int, int], list[_Row]] = defaultdict(list)
    for row in rows:
        problem = _resolution_problem(row)
        if problem is not None:
            plan.results[row.reading.row_number] = RowResult(
                row.reading.row_number, "quarantined", problems=(problem,)
            )
            continue
        assert row.register_id is not None and row.installation_id is not None
        chains[(row.register_id, row.installation_id)].append(row)
    estimates = _estimates_of(set(chains))
    read_ids = _IdPool("metering_registerread", sum(len(c) for c in chains) + 16)
    for (register_id, installation_id), chain in chains.items():
        chain.sort(key=lambda r: r.reading.read_at)
        accepted: list[tuple[datetime, PriorRead, int]] = []
        for row in chain:
            _ingest_row(
                row=row,
                accepted=accepted,
                estimates=estimates.get((register_id, installation_id), []),
                policy=policy,
                plan=plan,
                read_ids=read_ids,
                batch_id=batch_id,
                accept_soft=accept_soft,
                accepted_flags=accepted_flags,
                utility=utility,
                now=now,
            )
    _write_plan(plan)
    return plan.results


def _lock_registers(register_ids: set[int]) -> None:
    if register_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM metering_register WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                [sorted(register_ids)],
            )


def _resolution_problem(row: _Row) -> RowProblem | None:
    reading = row.reading
    if row.meter_id is None:
        return RowProblem(
            "unknown-meter", f"no meter with serial {reading.meter_serial!r}", "meter"
        )
    if row.register_id is None:
        return RowProblem(
            "unknown-register",
            f"meter {reading.meter_serial} has no register {reading.register_code!r}",
            "register",
        )
    if row.installation_id is None:
        return RowProblem(
            "meter-not-installed",
            f"meter {reading.meter_serial} is not installed at {reading.read_at.isoformat()}",
            "read_at",
        )
    return None


def _ingest_row(
    *,
    row: _Row,
    accepted: list[tuple[datetime, PriorRead, int]],
    estimates: list[_Estimate],
    policy: Policy,
    plan: _Plan,
    read_ids: Iterable[int],
    batch_id: int | None,
    accept_soft: bool,
    accepted_flags: tuple[str, ...],
    utility: _Utility,
    now: datetime,
) -> None:
    reading = row.reading
    number = reading.row_number
    if row.same_id is not None and not row.same_estimated:
        if row.same_value == reading.value:
            plan.results[number] = RowResult(number, "duplicate", read_id=row.same_id)
        else:
            plan.results[number] = RowResult(
                number,
                "quarantined",
                problems=(
                    RowProblem(
                        "conflicts-with-stored-read",
                        f"a read of {row.same_value} is stored for this register and time",
                        "value",
                    ),
                ),
            )
        return
    history = sorted(
        [*row.previous, *((at, prior) for at, prior, _ in accepted)], key=lambda p: p[0]
    )
    previous = [prior for at, prior in history if at < reading.read_at][-2:]
    read_date = reading.read_at.astimezone(utility.tz).date()
    context = ReadContext(
        digits=row.digits,
        energy=reading.register_code in ENERGY_REGISTERS,
        previous=previous[-1] if previous else None,
        before_previous=previous[-2] if len(previous) == 2 else None,
        following=None if row.following is None else row.following[1],
        live_agreement=row.live_agreement,
        read_date=read_date,
    )
    verdict = validate_read(value=reading.value, context=context, policy=policy)
    if verdict.hard or (verdict.problems and not accept_soft):
        plan.results[number] = RowResult(
            number, "quarantined", problems=verdict.problems, flags=verdict.flags
        )
        return
    flags = verdict.flags + tuple(f"accepted-{p.code}" for p in verdict.problems) + accepted_flags
    ids = iter(read_ids)
    read_id = next(ids)
    assert row.register_id is not None and row.installation_id is not None
    plan.reads.append(
        (
            read_id,
            row.register_id,
            row.installation_id,
            reading.read_at,
            read_date,
            reading.value,
            reading.source,
            ReadKind.REGULAR,
            ReadStatus.ACTIVE,
            list(flags),
            "",
            None,
            batch_id,
            now,
        )
    )
    actual = PriorRead(reading.value, read_date)
    accepted.append((reading.read_at, actual, read_id))
    plan.results[number] = RowResult(number, "accepted", read_id=read_id, flags=flags)
    _revise_estimates(
        row=row,
        actual=actual,
        actual_id=read_id,
        before=(history[-1] if history and history[-1][0] < reading.read_at else None),
        estimates=estimates,
        policy=policy,
        plan=plan,
        read_ids=ids,
        now=now,
    )


def _revise_estimates(
    *,
    row: _Row,
    actual: PriorRead,
    actual_id: int,
    before: tuple[datetime, PriorRead] | None,
    estimates: list[_Estimate],
    policy: Policy,
    plan: _Plan,
    read_ids: Iterable[int],
    now: datetime,
) -> None:
    """An actual read replaces the estimate of its reading date and re-estimates the estimates
    between the actual reads around it; each change is recorded as a consumption revision."""
    reading = row.reading
    after = row.following
    low = before[0] if before is not None else None
    window = [
        e
        for e in estimates
        if (low is None or e.read_at > low) and (after is None or e.read_at < after[0])
    ]
    if not window:
        return
    # Timeline after the changes: (read_at, read_date, value) of active reads in the window.
    timeline: list[tuple[datetime, date, Decimal]] = []
    if before is not None:
        timeline.append((before[0], before[1].read_date, before[1].value))
    changes: list[tuple[_Estimate, int, Decimal, str]] = []  # (estimate, new id, value, reason)
    ids = iter(read_ids)
    for estimate in window:
        if estimate.read_date == actual.read_date:
            changes.append((estimate, actual_id, actual.value, "estimate-replaced"))
            continue
        if estimate.read_at < reading.read_at:
            if before is None:
                timeline.append((estimate.read_at, estimate.read_date, estimate.value))
                continue
            value = interpolate(
                earlier=before[1],
                later=actual,
                on=estimate.read_date,
                digits=row.digits,
                policy=policy,
            )
        elif after is not None:
            value = interpolate(
                earlier=actual,
                later=after[1],
                on=estimate.read_date,
                digits=row.digits,
                policy=policy,
            )
        elif estimate.daily is not None:
            value = wrap(
                actual.value
                + (estimate.daily * (estimate.read_date - actual.read_date).days).quantize(
                    Decimal(1)
                ),
                row.digits,
            )
        else:
            value = None
        if value is None or value == estimate.value:
            timeline.append((estimate.read_at, estimate.read_date, estimate.value))
            continue
        changes.append((estimate, next(ids), value, "estimate-reestimated"))
        timeline.append((estimate.read_at, estimate.read_date, value))
    timeline.append((reading.read_at, actual.read_date, actual.value))
    if after is not None:
        timeline.append((after[0], after[1].read_date, after[1].value))
    timeline.sort(key=lambda t: t[0])
    assert row.register_id is not None and row.service_point_id is not None
    for estimate, new_id, value, reason in changes:
        if new_id != actual_id:
            plan.reads.append(
                (
                    new_id,
                    row.register_id,
                    row.installation_id,
                    estimate.read_at,
                    estimate.read_date,
                    value,
                    ReadSource.ESTIMATED,
                    ReadKind.REGULAR,
                    ReadStatus.ACTIVE,
                    [],
                    "interpolated",
                    estimate.daily,
                    None,
                    now,
                )
            )
        plan.replaced.append((estimate.id, new_id))
        at = reading.read_at if new_id == actual_id else estimate.read_at
        position = next(i for i, t in enumerate(timeline) if t[0] == at)
        start = timeline[position - 1][1] if position > 0 else estimate.read_date
        end = timeline[position + 1][1] if position + 1 < len(timeline) else None
        plan.revisions.append(
            (
                row.service_point_id,
                row.register_id,
                Range(start, end, "[)"),
                reason,
                estimate.id,
                new_id,
                estimate.value,
                value,
                now,
            )
        )


_READ_COLUMNS = (
    "id",
    "register_id",
    "installation_id",
    "read_at",
    "read_date",
    "value",
    "source",
    "kind",
    "status",
    "flags",
    "estimation_method",
    "estimated_daily",
    "batch_id",
    "recorded_at",
)


def _write_plan(plan: _Plan) -> None:
    with connection.cursor() as cursor:
        if plan.replaced:
            cursor.execute(
                """
                UPDATE metering_registerread x SET status = 'replaced', replaced_by_id = c.new_id
                FROM unnest(%s::bigint[], %s::bigint[]) AS c(old_id, new_id)
                WHERE x.id = c.old_id
                """,
                [[o for o, _ in plan.replaced], [n for _, n in plan.replaced]],
            )
        if plan.reads:
            copy_reads(plan.reads)
    if plan.revisions:
        ConsumptionRevision.objects.bulk_create(
            [
                ConsumptionRevision(
                    service_point_id=r[0],
                    register_id=r[1],
                    revised_period=r[2],
                    reason=r[3],
                    old_read_id=r[4],
                    new_read_id=r[5],
                    old_value=r[6],
                    new_value=r[7],
                    revised_at=r[8],
                )
                for r in plan.revisions
            ]
        )


def copy_reads(rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY register reads given as tuples in ``_READ_COLUMNS`` order (ids allocated)."""
    return copy_rows(table="metering_registerread", columns=_READ_COLUMNS, rows=rows)


def _digest(rows: Sequence[parsing.RawRow], default_source: str) -> str:
    payload = json.dumps(
        {"source": default_source, "rows": [[r.row_number, r.raw] for r in rows]},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def import_read_batch(
    *,
    utility_code: str,
    rows: Sequence[parsing.RawRow],
    external_id: str,
    channel: str,
    submitted_by: str,
    default_source: str,
    now: datetime,
) -> BatchResult:
    """Validate and store a batch of register reads. Good rows are stored, bad rows wait in the
    quarantine with their raw content and reasons. Sending the same batch again (same
    ``external_id`` from the same sender) changes nothing and returns the first result; the
    same id with other content raises BatchConflict."""
    utility = _utility(utility_code)
    external_id = external_id.strip()
    if not external_id or len(external_id) > 100:
        raise InvalidInput("a batch needs an id of 1 to 100 characters", field="batch_id")
    if default_source not in parsing.BATCH_SOURCES:
        raise InvalidInput(f"{default_source!r} is not a read source", field="source")
    digest = _digest(rows, default_source)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO metering_readbatch (utility_id, channel, submitted_by, external_id,
                    content_sha256, received_at, row_count, accepted_count, duplicate_count,
                    quarantined_count, file_errors, results)
                VALUES (%s, %s, %s, %s, %s, %s, 0, 0, 0, 0, '[]', '[]')
                ON CONFLICT (utility_id, submitted_by, external_id) DO NOTHING
                RETURNING id
                """,
                [utility.id, channel, submitted_by, external_id, digest, now],
            )
            created = cursor.fetchone()
        if created is None:
            existing = ReadBatch.objects.get(
                utility_id=utility.id, submitted_by=submitted_by, external_id=external_id
            )
            if existing.content_sha256 != digest:
                raise BatchConflict(
                    f"batch {external_id!r} was received before with other content",
                    field="batch_id",
                )
            return _batch_result(existing, replayed=True)
        batch_id = created[0]
        results = _ingest_raw(
            utility=utility, rows=rows, batch_id=batch_id, default_source=default_source, now=now
        )
        _quarantine(batch_id, rows, results)
        ordered = [results[r.row_number] for r in rows]
        batch = ReadBatch.objects.get(id=batch_id)
        batch.row_count = len(ordered)
        batch.accepted_count = sum(r.status == "accepted" for r in ordered)
        batch.duplicate_count = sum(r.status == "duplicate" for r in ordered)
        batch.quarantined_count = sum(r.status == "quarantined" for r in ordered)
        batch.results = [r.as_dict() for r in ordered]
        batch.save()
    return _batch_result(batch, replayed=False)


def _ingest_raw(
    *,
    utility: _Utility,
    rows: Sequence[parsing.RawRow],
    batch_id: int,
    default_source: str,
    now: datetime,
) -> dict[int, RowResult]:
    results: dict[int, RowResult] = {}
    readings: list[ReadingRow] = []
    numbers = [r.row_number for r in rows]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("row numbers must be unique", field="rows")
    for raw in rows:
        parsed = parsing.parse_row(raw, default_source=default_source)
        if isinstance(parsed, ReadingRow):
            readings.append(parsed)
        else:
            results[raw.row_number] = RowResult(raw.row_number, "quarantined", problems=parsed)
    results.update(
        _ingest(utility=utility, readings=readings, batch_id=batch_id, accept_soft=False, now=now)
    )
    return results


def _quarantine(
    batch_id: int, rows: Sequence[parsing.RawRow], results: Mapping[int, RowResult]
) -> None:
    quarantined = []
    for raw in rows:
        result = results[raw.row_number]
        if result.status != "quarantined":
            continue
        fields = raw.raw
        read_at = parsing.parse_timestamp(str(fields.get("read_at") or ""))
        value = parsing.parse_decimal(fields.get("value"))
        quarantined.append(
            QuarantinedRead(
                batch_id=batch_id,
                row_number=raw.row_number,
                raw=json.loads(json.dumps(fields, default=str)),
                reasons=[p.code for p in result.problems],
                message="; ".join(
                    f"{p.field}: {p.message}" if p.field else p.message for p in result.problems
                ),
                can_accept=all(p.soft for p in result.problems),
                meter_serial=str(fields.get("meter") or "")[:64],
                register_code=str(fields.get("register") or "")[:32],
                read_at=read_at if isinstance(read_at, datetime) else None,
                value=value if isinstance(value, Decimal) and value < Decimal(10) ** 11 else None,
                source=str(fields.get("source") or "")[:10],
            )
        )
    QuarantinedRead.objects.bulk_create(quarantined)


def _batch_result(batch: ReadBatch, *, replayed: bool) -> BatchResult:
    return BatchResult(
        batch_id=batch.id,
        external_id=batch.external_id,
        received_at=batch.received_at,
        row_count=batch.row_count,
        accepted=batch.accepted_count,
        duplicates=batch.duplicate_count,
        quarantined=batch.quarantined_count,
        file_errors=tuple(batch.file_errors),
        rows=tuple(batch.results),
        replayed=replayed,
    )


def import_reads_file(
    *,
    utility_code: str,
    data: bytes,
    file_format: str,
    submitted_by: str,
    channel: str,
    default_source: str,
    external_id: str | None,
    now: datetime,
) -> BatchResult:
    """A CSV or JSON file of reads as one batch; its id defaults to the file's SHA-256, so the
    same file imported again changes nothing. Raises parsing.BadFile for a file that cannot be
    read at all (wrong columns, not JSON)."""
    if file_format == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise parsing.BadFile("the file is not UTF-8 text", field="file") from None
        parsed = parsing.read_csv(text)
    elif file_format == "json":
        parsed = parsing.read_json(data)
    else:
        raise InvalidInput(f"{file_format!r} is not csv or json", field="format")
    batch_key = external_id or parsed.batch_id or hashlib.sha256(data).hexdigest()
    return import_read_batch(
        utility_code=utility_code,
        rows=parsed.rows,
        external_id=batch_key,
        channel=channel,
        submitted_by=submitted_by,
        default_source=default_source,
        now=now,
    )


# --- the quarantine ----------------------------------------------------------------------------


def _open_quarantined(quarantine_id: int) -> QuarantinedRead:
    row = (
        QuarantinedRead.objects.select_for_update()
        .select_related("batch")
        .filter(id=quarantine_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no quarantined read {quarantine_id}", field="quarantine")
    if row.status != QuarantineStatus.OPEN:
        raise QuarantineRefused(f"the row is {row.status} already", field="quarantine")
    return row


def _utility_of_batch(batch: ReadBatch) -> _Utility:
    code = Utility.objects.values_list("code", flat=True).get(id=batch.utility_id)
    return _utility(code)


def _resolve_with(
    row: QuarantinedRead,
    reading: ReadingRow,
    *,
    accept_soft: bool,
    status: str,
    by: str,
    note: str,
    now: datetime,
) -> int:
    utility = _utility_of_batch(row.batch)
    results = _ingest(
        utility=utility,
        readings=[reading],
        batch_id=row.batch_id,
        accept_soft=accept_soft,
        accepted_flags=(f"{status}-by-clerk",),
        now=now,
    )
    result = results[reading.row_number]
    if result.status == "quarantined":
        raise QuarantineRefused(
            "; ".join(p.message for p in result.problems),
            field=result.problems[0].field or "value",
        )
    row.status = status
    row.resolved_read_id = result.read_id
    row.resolved_by = by
    row.resolved_at = now
    row.resolution_note = note[:300]
    row.save()
    assert result.read_id is not None
    return result.read_id


def accept_quarantined_read(*, quarantine_id: int, by: str, note: str = "", now: datetime) -> int:
    """Store a quarantined read as it is (only for high, low or zero findings); returns the
    read's id. Raises QuarantineRefused."""
    with transaction.atomic():
        row = _open_quarantined(quarantine_id)
        if not row.can_accept or row.read_at is None or row.value is None:
            raise QuarantineRefused(
                "only a read flagged high, low or zero can be accepted; correct it instead",
                field="quarantine",
            )
        reading = ReadingRow(
            row.row_number,
            row.meter_serial,
            row.register_code,
            row.read_at,
            row.value,
            row.source or "handheld",
        )
        return _resolve_with(
            row,
            reading,
            accept_soft=True,
            status=QuarantineStatus.ACCEPTED,
            by=by,
            note=note,
            now=now,
        )


def correct_quarantined_read(
    *,
    quarantine_id: int,
    by: str,
    value: Decimal | None = None,
    read_at: datetime | None = None,
    meter_serial: str | None = None,
    register_code: str | None = None,
    note: str = "",
    now: datetime,
) -> int:
    """Store a quarantined read with the clerk's corrections (validated like a new read; a
    soft finding on the corrected read is taken as checked). Raises QuarantineRefused."""
    if read_at is not None:
        _require_aware(read_at, "read_at")
    with transaction.atomic():
        row = _open_quarantined(quarantine_id)
        final_read_at = read_at or row.read_at
        final_value = value if value is not None else row.value
        serial = (meter_serial or row.meter_serial).strip()
        code = (register_code or row.register_code).strip().lower()
        if final_read_at is None:
            raise QuarantineRefused("give the time of the read", field="read_at")
        if final_value is None or final_value < 0:
            raise QuarantineRefused("give the value of the read", field="value")
        if code not in parsing.REGISTER_CODES:
            raise QuarantineRefused(f"{code!r} is not a register", field="register")
        source = row.source if row.source in parsing.BATCH_SOURCES else "manual"
        reading = ReadingRow(row.row_number, serial, code, final_read_at, final_value, source)
        return _resolve_with(
            row,
            reading,
            accept_soft=True,
            status=QuarantineStatus.CORRECTED,
            by=by,
            note=note,
            now=now,
        )


def dismiss_quarantined_read(*, quarantine_id: int, by: str, note: str, now: datetime) -> None:
    """Close a quarantined row without a read (a duplicate, a test row); the note says why."""
    if not note.strip():
        raise InvalidInput("say why the row is dismissed", field="note")
    with transaction.atomic():
        row = _open_quarantined(quarantine_id)
        row.status = QuarantineStatus.DISMISSED
        row.resolved_by = by
        row.resolved_at = now
        row.resolution_note = note[:300]
        row.save()


# --- estimation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimationResult:
    estimated: int
    already_read: int
    not_estimable: tuple[tuple[int, str, str], ...]  # (service point, register, why)


def estimate_missing_reads(
    *, requests: Sequence[tuple[int, date]], now: datetime
) -> EstimationResult:
    """For each (service point, reading date) without an active read on that date, estimate
    each energy register of the live meter by the utility's rule and store the estimate
    (source ``estimated``). Set-based: one query for the history of all requests."""
    if not requests:
        return EstimationResult(0, 0, ())
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH q AS (
                SELECT DISTINCT * FROM unnest(%s::bigint[], %s::date[]) AS q(service_point_id, day)
            )
            SELECT q.service_point_id, q.day, u.id, u.time_zone, i.id, g.id, g.code,
                   m.register_digits,
                   EXISTS (SELECT 1 FROM metering_registerread x
                           WHERE x.installation_id = i.id AND x.register_id = g.id
                             AND x.status = 'active' AND x.read_date = q.day),
                   h.reads,
                   y.reads
            FROM q
            JOIN accounts_servicepoint sp ON sp.id = q.service_point_id
            JOIN accounts_utility u ON u.id = sp.utility_id
            JOIN metering_installation i ON i.service_point_id = sp.id
             AND i.installed_period @> (q.day::timestamp AT TIME ZONE u.time_zone
                                        + interval '12 hours')
            JOIN metering_meter m ON m.id = i.meter_id
            JOIN metering_register g ON g.meter_id = m.id
                                     AND g.code IN ('kwh', 'kwh_peak', 'kwh_normal',
                                                    'kwh_off_peak', 'kvarh')
            LEFT JOIN LATERAL (
                SELECT array_agg(ARRAY[x.value, (x.read_date - DATE '2000-01-01')::numeric]
                                 ORDER BY x.read_at) AS reads
                FROM (SELECT value, read_date, read_at FROM metering_registerread x
                      WHERE x.register_id = g.id AND x.installation_id = i.id
                        AND x.status = 'active' AND x.read_date < q.day
                      ORDER BY x.read_at DESC LIMIT 13) x
            ) h ON true
            LEFT JOIN LATERAL (
                SELECT array_agg(ARRAY[x.value, (x.read_date - DATE '2000-01-01')::numeric]
                                 ORDER BY x.read_at) AS reads
                FROM metering_registerread x
                WHERE x.register_id = g.id AND x.installation_id = i.id
                  AND x.status = 'active'
                  AND x.read_date BETWEEN q.day - 430 AND q.day - 300
            ) y ON true
            """,
            [[r[0] for r in requests], [r[1] for r in requests]],
        )
        records = cursor.fetchall()
    policies: dict[int, Policy] = {}
    new_reads: list[tuple[Any, ...]] = []
    skipped: list[tuple[int, str, str]] = []
    already = 0
    pending: list[tuple[Any, ...]] = []
    for (
        point,
        day,
        utility_id,
        tz_name,
        installation,
        register,
        code,
        digits,
        has_read,
        history,
        year_ago,
    ) in records:
        if has_read:
            already += 1
            continue
        policy = policies.get(utility_id)
        if policy is None:
            policy = policies[utility_id] = get_policy(utility_id=utility_id)
        past = _prior_reads(history)
        estimate: Estimate | None
        if policy.estimation_rule == EstimationRule.SAME_PERIOD_LAST_YEAR:
            estimate = estimate_by_last_year(
                history=past,
                year_ago=_prior_reads(year_ago),
                on=day,
                digits=digits,
                policy=policy,
            )
        else:
            estimate = estimate_by_average(history=past, on=day, digits=digits, policy=policy)
        if estimate is None:
            skipped.append((point, code, "not enough history to estimate"))
            continue
        read_at = local_midnight(day, zone(tz_name)) + timedelta(hours=12)
        pending.append((register, installation, read_at, day, estimate))
    ids = reserve_ids(table="metering_registerread", count=len(pending))
    for read_id, (register, installation, read_at, day, estimate) in zip(ids, pending, strict=True):
        new_reads.append(
            (
                read_id,
                register,
                installation,
                read_at,
                day,
                estimate.value,
                ReadSource.ESTIMATED,
                ReadKind.REGULAR,
                ReadStatus.ACTIVE,
                [],
                estimate.method,
                estimate.daily.quantize(Decimal("0.0001")),
                None,
                now,
            )
        )
    with transaction.atomic():
        _lock_registers({r[1] for r in new_reads})
        copy_reads(new_reads)
    return EstimationResult(len(new_reads), already, tuple(skipped))


def _prior_reads(pairs: Sequence[Sequence[Decimal]] | None) -> list[PriorRead]:
    return [PriorRead(p[0], date(2000, 1, 1) + timedelta(days=int(p[1]))) for p in (pairs or [])]


# --- routes and the reading calendar -------------------------------------------------------------


def create_reading_cycle(
    *, utility_code: str, code: str, name: str, reading_dates: Sequence[date] = ()
) -> int:
    """A reading cycle with its calendar of reading dates; raises Conflict if the code exists."""
    utility = _utility(utility_code)
    if not code.strip():
        raise InvalidInput("a cycle needs a code", field="code")
    try:
        with transaction.atomic():
            cycle = ReadingCycle.objects.create(utility_id=utility.id, code=code.strip(), name=name)
            ReadingDate.objects.bulk_create(
                [ReadingDate(cycle_id=cycle.id, date=d) for d in sorted(set(reading_dates))]
            )
    except IntegrityError:
        raise Conflict(f"cycle {code!r} exists already", field="code") from None
    return cycle.id


def add_reading_dates(*, utility_code: str, cycle_code: str, dates: Sequence[date]) -> int:
    utility = _utility(utility_code)
    cycle = ReadingCycle.objects.filter(utility_id=utility.id, code=cycle_code).first()
    if cycle is None:
        raise NotFound(f"no reading cycle {cycle_code!r}", field="cycle")
    created = ReadingDate.objects.bulk_create(
        [ReadingDate(cycle_id=cycle.id, date=d) for d in sorted(set(dates))],
        ignore_conflicts=True,
    )
    return len(created)


def create_route(
    *,
    utility_code: str,
    cycle_code: str,
    code: str,
    name: str,
    service_point_codes: Sequence[str],
) -> int:
    """A route with its service points in reading order; a service point is on one route."""
    utility = _utility(utility_code)
    cycle = ReadingCycle.objects.filter(utility_id=utility.id, code=cycle_code).first()
    if cycle is None:
        raise NotFound(f"no reading cycle {cycle_code!r}", field="cycle")
    points = dict(
        ServicePoint.objects.filter(
            utility_id=utility.id, code__in=service_point_codes
        ).values_list("code", "id")
    )
    unknown = [c for c in service_point_codes if c not in points]
    if unknown:
        raise NotFound(f"unknown service point(s) {', '.join(unknown)}", field="service_points")
    try:
        with transaction.atomic():
            route = Route.objects.create(
                utility_id=utility.id, cycle_id=cycle.id, code=code, name=name
            )
            RouteStop.objects.bulk_create(
                [
                    RouteStop(route_id=route.id, service_point_id=points[c], sequence=n)
                    for n, c in enumerate(service_point_codes, start=1)
                ]
            )
    except IntegrityError as error:
        if constraint_name(error) == "route_code_unique":
            raise Conflict(f"route {code!r} exists already", field="code") from None
        raise Conflict(
            "a service point is on another route already", field="service_points"
        ) from None
    return route.id
