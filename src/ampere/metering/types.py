"""Frozen value objects the metering domain takes and returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod

ENERGY_REGISTERS = frozenset({"kwh", "kwh_peak", "kwh_normal", "kwh_off_peak", "kvarh"})
DEMAND_REGISTERS = frozenset({"kw_max"})
REGISTER_BUCKET = {
    "kwh": "total",
    "kwh_peak": "peak",
    "kwh_normal": "normal",
    "kwh_off_peak": "off_peak",
    "kw_max": "max_demand",
    "kvarh": "reactive",
}
REGISTER_UNIT = {"kw_max": "kW", "kvarh": "kVArh"}
DAY_TYPES = ("weekday", "saturday", "sunday", "holiday")
MINUTES_PER_DAY = 24 * 60
_DAY_TYPE_OF_WEEKDAY = ("weekday",) * 5 + ("saturday", "sunday")


def register_unit(code: str) -> str:
    return REGISTER_UNIT.get(code, "kWh")


@dataclass(frozen=True)
class Policy:
    """A utility's VEE thresholds and estimation rule (``MeteringPolicy`` or the defaults)."""

    high_ratio: Decimal = Decimal("1.30")
    low_ratio: Decimal = Decimal("0.50")
    rollover_max_fraction: Decimal = Decimal("0.500")
    flag_zero_on_live_agreement: bool = True
    estimation_rule: str = "average_periods"
    estimation_periods: int = 3


@dataclass(frozen=True)
class MeterInput:
    serial: str
    kind: str
    phases: int
    register_digits: int
    registers: tuple[str, ...] = ("kwh",)
    multiplier: Decimal = Decimal(1)
    interval_minutes: int | None = None
    manufacturer: str = ""


@dataclass(frozen=True)
class ReadingRow:
    """One register read as a batch carries it, after parsing."""

    row_number: int
    meter_serial: str
    register_code: str
    read_at: datetime
    value: Decimal
    source: str


@dataclass(frozen=True)
class RowProblem:
    code: str
    message: str
    field: str | None = None
    soft: bool = False  # a clerk may accept the read as it is

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True)
class RowResult:
    row: int
    status: str  # accepted | duplicate | quarantined
    read_id: int | None = None
    problems: tuple[RowProblem, ...] = ()
    flags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "status": self.status,
            "read_id": self.read_id,
            "flags": list(self.flags),
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    external_id: str
    received_at: datetime
    row_count: int
    accepted: int
    duplicates: int
    quarantined: int
    file_errors: tuple[dict[str, Any], ...]
    rows: tuple[dict[str, Any], ...]
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.external_id,
            "received_at": self.received_at.isoformat(),
            "rows": self.row_count,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "file_errors": list(self.file_errors),
            "results": list(self.rows),
        }


# --- TOU buckets for interval consumption ----------------------------------------------------


@dataclass(frozen=True)
class TouWindow:
    """Local minutes ``[start_minute, end_minute)`` of a day priced in ``bucket``."""

    bucket: str
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class TouSeason:
    """Windows per day type (weekday, saturday, sunday, holiday) over a period of dates."""

    period: DatePeriod
    day_types: Mapping[str, tuple[TouWindow, ...]]


@dataclass(frozen=True)
class TouCalendar:
    """The plain TOU input billing translates a tariff's schedule into. Each day type's windows
    must cover the whole day without overlap; ``holidays`` use the ``holiday`` windows."""

    seasons: tuple[TouSeason, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.seasons:
            raise InvalidInput("a TOU calendar needs at least one season", field="tou.seasons")
        for s_index, season in enumerate(self.seasons):
            for day_type in DAY_TYPES:
                windows = season.day_types.get(day_type)
                where = f"tou.seasons[{s_index}].{day_type}"
                if not windows:
                    raise InvalidInput(f"no windows for {day_type}", field=where)
                covered = sorted((w.start_minute, w.end_minute) for w in windows)
                at = 0
                for start, end in covered:
                    if start != at or end <= start:
                        raise InvalidInput(
                            "windows must cover the day from 00:00 to 24:00 without gaps "
                            "or overlaps",
                            field=where,
                        )
                    at = end
                if at != MINUTES_PER_DAY:
                    raise InvalidInput("windows must end at 24:00", field=where)

    def windows_for(self, day: date) -> tuple[TouWindow, ...]:
        for season in self.seasons:
            if season.period.contains(day):
                key = "holiday" if day in self.holidays else _DAY_TYPE_OF_WEEKDAY[day.weekday()]
                return season.day_types[key]
        raise InvalidInput(f"no TOU season covers {day.isoformat()}", field="tou.seasons")

    def buckets(self) -> tuple[str, ...]:
        names = {w.bucket for s in self.seasons for ws in s.day_types.values() for w in ws}
        return tuple(sorted(names))


@dataclass(frozen=True)
class ConsumptionRequest:
    service_point_id: int
    period: DatePeriod


@dataclass(frozen=True)
class ConsumptionRow:
    """Consumption of one request for one register or TOU bucket.

    ``basis`` is ``register`` (register differences × multiplier, or the kW maximum-demand
    register) or ``interval`` (sums of interval data per TOU bucket; bucket ``max_demand``
    holds the highest interval demand in kW). ``source`` is ``actual``, ``estimated`` (an
    estimated read or interval was used), ``missing`` (``quantity`` is None) or, on the
    interval basis, ``incomplete`` (some day of the period has no interval data).

    For a register read by one meter over the whole period, ``meter_serial``, ``opening`` and
    ``closing`` (the register values read, before the multiplier) and ``multiplier`` are the
    readings a bill prints; with a meter exchange in the period they are empty.
    """

    request_index: int
    service_point_id: int
    period: DatePeriod
    basis: str
    register: str
    bucket: str
    quantity: Decimal | None
    unit: str
    source: str
    meter_serial: str = ""
    opening: Decimal | None = None
    closing: Decimal | None = None
    multiplier: Decimal | None = None


@dataclass(frozen=True)
class IntervalPoint:
    start_at: datetime
    kwh: Decimal
    quality: int


@dataclass(frozen=True)
class DailyTotal:
    day: date
    kwh: Decimal
    complete: bool


@dataclass(frozen=True)
class MonthlyTotal:
    month: date  # the first day of the month
    kwh: Decimal
    days_with_data: int


@dataclass(frozen=True)
class Peak:
    start_at: datetime
    kw: Decimal
    kwh: Decimal


@dataclass(frozen=True)
class IntervalFileResult:
    days_loaded: int
    values_loaded: int
    row_errors: tuple[dict[str, Any], ...]
    file_errors: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class IntervalImportResult:
    """What became of an interval file: ``status`` is stored, quarantined (some rows wait in
    the quarantine) or refused (a whole-file error, ``reason`` says which; nothing stored)."""

    import_id: int
    file_format: str
    file_name: str
    content_sha256: str
    received_at: datetime
    status: str
    reason: str
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    days_loaded: int
    values_loaded: int
    replayed: bool = False


@dataclass(frozen=True)
class QuarantinedIntervalRow:
    id: int
    import_id: int
    row_number: int
    row_ref: str
    raw: str
    reason: str
    message: str
    meter_serial: str
    channel: str
    status: str


@dataclass(frozen=True)
class Revision:
    id: int
    service_point_id: int
    register: str
    revised_period: DatePeriod
    reason: str
    old_value: Decimal
    new_value: Decimal
    revised_at: datetime
