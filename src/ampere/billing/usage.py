"""Consumption of the targets from metering, as the rating engine takes it: registers, estimates
for missing reads, and TOU kWh from interval data per segment of the rating plan."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ampere.accounts.calendars import holiday_calendar
from ampere.billing.assembly import (
    covering,
    month_seasons,
)
from ampere.billing.run_context import Laps, RunContext
from ampere.billing.targets import Targets
from ampere.core.errors import DomainError
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
from ampere.rating.engine.model import DemandCharge, EnergyCharge, TariffVersion
from ampere.rating.engine.plan import plan_period

TOU_REGISTERS = {"kwh_peak": "peak", "kwh_normal": "normal", "kwh_off_peak": "off_peak"}


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


def wh_of(quantity: Decimal) -> int:
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
            usage.total_wh = wh_of(row.quantity)
        elif row.register in TOU_REGISTERS:
            tou[TOU_REGISTERS[row.register]] = wh_of(row.quantity)
        elif row.register == "kw_max":
            usage.max_w = wh_of(row.quantity)
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
            usage.max_w = wh_of(row.quantity)
        else:
            usage.tou_wh[row.bucket] = wh_of(row.quantity)
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


def plan_segments(
    context: RunContext, versions: Sequence[TariffVersion], period: DatePeriod
) -> list[DatePeriod] | None:
    """The parts of ``period`` the rating plan prices apart (season, version, tax changes);
    None when it cannot be planned (pricing then refuses it with the reason)."""
    try:
        plan = plan_period(versions=versions, taxes=context.taxes, period=period)
    except DomainError:
        return None
    return [s.period for s in plan.segments]


def by_request(rows: Sequence[ConsumptionRow], count: int) -> list[list[ConsumptionRow]]:
    grouped: list[list[ConsumptionRow]] = [[] for _ in range(count)]
    for row in rows:
        grouped[row.request_index].append(row)
    return grouped


def normal_name(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


@dataclass(frozen=True)
class TariffNeeds:
    tou_periods: tuple[str, ...]  # period names of the energy TOU schedules (empty: none)
    needs_tou: bool  # a TOU energy charge without an untimed period
    needs_max: bool
    per_period_demand: bool
    schedule_versions: tuple[TariffVersion, ...]


def tariff_needs(versions: Sequence[TariffVersion]) -> TariffNeeds:
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
    return TariffNeeds(tuple(periods), needs_tou, needs_max, per_period, tuple(with_schedule))


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


def usages_of(
    context: RunContext, targets: Targets, clock: Laps, now: datetime
) -> tuple[list[Usage], int]:
    """Consumption of every target (estimating missing reads first), and how many reads were
    estimated."""
    count = len(targets)
    requests = [
        ConsumptionRequest(targets.service_point_id[i], targets.period(i)) for i in range(count)
    ]
    usages = [
        usage_from_rows(r) for r in by_request(consumption_for_billing(requests=requests), count)
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
        for position, rows in enumerate(by_request(again, len(missing))):
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
        needs = tariff_needs(versions)
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
                parts[period] = plan_segments(context, versions, period)
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
        grouped = by_request(rows, len(segment_requests))
        at = 0
        for position, count_of_parts in owners:
            interval = usage_from_segments(grouped[at : at + count_of_parts])
            at += count_of_parts
            if interval is not None:
                usages[lacking[position]] = interval
        clock.lap("intervals")
    return usages, estimated
