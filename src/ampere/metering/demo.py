"""Demo meter data at scale: meters on every service point of a utility that has none, routes
and a reading calendar, and realistic register reads for the last months, all by COPY.

Deterministic for a seed: the same database and arguments give the same meters and reads.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt
from django.db import connection, transaction

from ampere.core.errors import InvalidInput, NotFound
from ampere.core.localtime import local_midnight, zone
from ampere.database import copy_lines, reserve_id_range
from ampere.metering.intervals import PG_EPOCH, DayArrays, copy_blocks

Progress = Callable[[str, int, int], None]
CYCLE_DAYS = (1, 7, 13, 19, 25)  # reading day of month of each demo cycle
ROUTE_SIZE = 500
CHUNK = 50_000
TOU_PURPOSES = ("business", "manufacturing")


@dataclass(frozen=True)
class DemoMeteringResult:
    meters: int
    registers: int
    reads: int
    interval_days: int
    routes: int


def _months_back(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _reading_dates(as_of: date, months: int, reading_day: int) -> list[date]:
    """The cycle's reading dates of the last ``months`` months, up to ``as_of``."""
    dates = []
    for back in range(months, -1, -1):
        first = _months_back(as_of.replace(day=1), back)
        candidate = first.replace(day=reading_day)
        if candidate <= as_of:
            dates.append(candidate)
    return dates[-months:]


def _next_ids(table: str, count: int) -> npt.NDArray[np.int64]:
    ids = reserve_id_range(table=table, count=count)
    return np.arange(ids.start, ids.stop, dtype=np.int64)


def install_demo_meters(
    *,
    utility_code: str,
    months: int,
    as_of: date,
    seed: int,
    interval_share: float = 0.0,
    interval_days: int = 30,
    progress: Progress | None = None,
    now: datetime,
) -> DemoMeteringResult:
    """Install a meter on every service point of the utility that has none and write its reads.

    EVN utilities (VND): monthly handheld reads of the total-kWh register; business and
    manufacturing agreements get three-phase TOU meters (peak, normal, off-peak and kW max
    registers). SCE (USD): smart meters read remotely each month; ``interval_share`` of them
    (0 to 1) also get 15-minute interval data for the last ``interval_days`` days. Service
    points are put on routes of 500 in five reading cycles (reading days 1, 7, 13, 19, 25) with
    a calendar of the last ``months`` months and the next one. ``progress(stage, done, total)``
    is called as the work goes. Raises NotFound (utility), InvalidInput.
    """
    if not 1 <= months <= 36:
        raise InvalidInput("months must be 1 to 36", field="months")
    if not 0 <= interval_share <= 1:
        raise InvalidInput("interval_share must be in [0, 1]", field="interval_share")
    report = progress or (lambda stage, done, total: None)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, time_zone, currency FROM accounts_utility WHERE code = %s", [utility_code]
        )
        found = cursor.fetchone()
        if found is None:
            raise NotFound(f"no utility with code {utility_code!r}", field="utility")
        utility_id, tz_name, currency = found
        cursor.execute(
            """
            SELECT sp.id, sp.phases, coalesce(a.purpose_of_use, 'residential')
            FROM accounts_servicepoint sp
            LEFT JOIN LATERAL (
                SELECT purpose_of_use FROM accounts_serviceagreement a
                WHERE a.service_point_id = sp.id AND a.status <> 'cancelled'
                ORDER BY upper_inf(a.valid_period) DESC, upper(a.valid_period) DESC LIMIT 1
            ) a ON true
            WHERE sp.utility_id = %s
              AND NOT EXISTS (SELECT 1 FROM metering_installation i
                              WHERE i.service_point_id = sp.id)
            ORDER BY sp.id
            """,
            [utility_id],
        )
        points = cursor.fetchall()
    tz = zone(tz_name)
    smart = currency == "USD"
    count = len(points)
    if count == 0:
        return DemoMeteringResult(0, 0, 0, 0, 0)
    rng = np.random.default_rng([seed, utility_id])
    point_ids = np.array([p[0] for p in points], dtype=np.int64)
    phases = np.array([p[1] for p in points], dtype=np.int16)
    tou = np.array([p[2] in TOU_PURPOSES for p in points]) & (not smart)
    digits = np.where(tou | smart, 6, 5)
    multiplier = np.where(tou & (rng.random(count) < 0.3), 40, 1)
    cycle = np.arange(count) // ROUTE_SIZE % len(CYCLE_DAYS)
    with transaction.atomic():
        report("meters", 0, count)
        meter_ids = _next_ids("metering_meter", count)
        kind = "smart" if smart else None
        interval = smart & (rng.random(count) < interval_share) if smart else np.zeros(count, bool)
        copy_lines(
            table="metering_meter",
            columns=(
                "id",
                "utility_id",
                "serial",
                "kind",
                "phases",
                "multiplier",
                "register_digits",
                "interval_minutes",
                "manufacturer",
            ),
            lines=(
                f"{meter_ids[i]}\t{utility_id}\t{'AMI' if smart else 'CT'}{point_ids[i]:010d}\t"
                f"{kind or ('electronic' if tou[i] else 'electromechanical')}\t"
                f"{3 if tou[i] else phases[i]}\t{multiplier[i]}\t{digits[i]}\t"
                f"{15 if smart else chr(92) + 'N'}\t{'Itron' if smart else 'EMIC'}\n"
                for i in range(count)
            ),
        )
        codes_of = {
            False: ("kwh",),
            True: ("kwh", "kwh_peak", "kwh_normal", "kwh_off_peak", "kw_max"),
        }
        register_rows = [(i, code) for i in range(count) for code in codes_of[bool(tou[i])]]
        register_ids = _next_ids("metering_register", len(register_rows))
        copy_lines(
            table="metering_register",
            columns=("id", "meter_id", "code"),
            lines=(
                f"{register_ids[n]}\t{meter_ids[i]}\t{code}\n"
                for n, (i, code) in enumerate(register_rows)
            ),
        )
        report("meters", count, count)
        first_dates = [_reading_dates(as_of, months, d)[0] for d in CYCLE_DAYS]
        installed_at = [
            local_midnight(d - timedelta(days=1), tz).astimezone(UTC) for d in first_dates
        ]
        installation_ids = _next_ids("metering_installation", count)
        copy_lines(
            table="metering_installation",
            columns=("id", "meter_id", "service_point_id", "installed_period"),
            lines=(
                f"{installation_ids[i]}\t{meter_ids[i]}\t{point_ids[i]}\t"
                f'["{installed_at[cycle[i]].isoformat()}",)\n'
                for i in range(count)
            ),
        )
        routes = _routes(utility_id, point_ids, cycle, as_of, months)
        reads = _reads(
            register_rows=register_rows,
            register_ids=register_ids,
            installation_ids=installation_ids,
            digits=digits,
            cycle=cycle,
            installed_at=installed_at,
            tz_name=tz_name,
            source="remote" if smart else "handheld",
            as_of=as_of,
            months=months,
            rng=rng,
            now=now,
            report=report,
        )
        days = 0
        if interval.any():
            days = _intervals(
                meter_ids=meter_ids[interval],
                as_of=as_of,
                days=interval_days,
                tz_name=tz_name,
                rng=rng,
                report=report,
            )
    return DemoMeteringResult(count, len(register_rows), reads, days, routes)


def _routes(
    utility_id: int,
    point_ids: npt.NDArray[np.int64],
    cycle: npt.NDArray[np.int64],
    as_of: date,
    months: int,
) -> int:
    with connection.cursor() as cursor:
        cycle_ids = []
        for index, day in enumerate(CYCLE_DAYS):
            code = f"C{day:02d}"
            cursor.execute(
                """INSERT INTO metering_readingcycle (utility_id, code, name) VALUES (%s, %s, %s)
                   ON CONFLICT (utility_id, code) DO UPDATE SET name = EXCLUDED.name
                   RETURNING id""",
                [utility_id, code, f"Reading day {day}"],
            )
            (cycle_id,) = cursor.fetchone()
            cycle_ids.append(cycle_id)
            dates = _reading_dates(as_of, months, day)
            following = _months_back(dates[-1], -1)
            cursor.execute(
                """INSERT INTO metering_readingdate (cycle_id, date)
                   SELECT %s, unnest(%s::date[]) ON CONFLICT DO NOTHING""",
                [cycle_id, [*dates, following]],
            )
            del index
        cursor.execute(
            "SELECT coalesce(max(id), 0) FROM metering_route WHERE utility_id = %s", [utility_id]
        )
        (offset,) = cursor.fetchone()
    route_of = np.arange(len(point_ids)) // ROUTE_SIZE
    route_count = int(route_of.max()) + 1
    route_ids = _next_ids("metering_route", route_count)
    copy_lines(
        table="metering_route",
        columns=("id", "utility_id", "cycle_id", "code", "name"),
        lines=(
            f"{route_ids[r]}\t{utility_id}\t{cycle_ids[r % len(CYCLE_DAYS)]}\t"
            f"R{offset + r + 1:06d}\tDemo route {offset + r + 1}\n"
            for r in range(route_count)
        ),
    )
    copy_lines(
        table="metering_routestop",
        columns=("route_id", "service_point_id", "sequence"),
        lines=(
            f"{route_ids[route_of[i]]}\t{point_ids[i]}\t{i % ROUTE_SIZE + 1}\n"
            for i in range(len(point_ids))
        ),
    )
    del cycle
    return route_count


def _reads(
    *,
    register_rows: list[tuple[int, str]],
    register_ids: npt.NDArray[np.int64],
    installation_ids: npt.NDArray[np.int64],
    digits: npt.NDArray[np.int64],
    cycle: npt.NDArray[np.int64],
    installed_at: list[datetime],
    tz_name: str,
    source: str,
    as_of: date,
    months: int,
    rng: np.random.Generator,
    now: datetime,
    report: Progress,
) -> int:
    """Cumulative register values per reading date: daily use per customer × days × a monthly
    factor; TOU registers split it 20 / 55 / 25 % with noise; kW max from the daily use."""
    tz = zone(tz_name)
    meters = len(installation_ids)
    dates = [_reading_dates(as_of, months, d) for d in CYCLE_DAYS]
    periods = len(dates[0])
    daily = rng.lognormal(
        mean=np.log(7.0 if source == "handheld" else 18.0), sigma=0.6, size=meters
    )
    factors = rng.uniform(0.8, 1.2, size=(meters, periods))
    shares = rng.dirichlet((20.0, 55.0, 25.0), size=meters)
    minutes = rng.integers(8 * 60, 17 * 60, size=(meters, periods))
    span = np.power(10.0, digits)
    start = np.floor(rng.uniform(0, 0.5, size=meters) * span).astype(np.int64)
    stamp = now.isoformat()
    total = len(register_rows) * (periods + 1)
    written = 0

    read_ids = iter(_next_ids("metering_registerread", total))

    def lines() -> Iterator[str]:
        nonlocal written
        for n, (i, code) in enumerate(register_rows):
            register = register_ids[n]
            installation = installation_ids[i]
            share = {
                "kwh": 1.0,
                "kwh_peak": shares[i, 0],
                "kwh_normal": shares[i, 1],
                "kwh_off_peak": shares[i, 2],
            }.get(code)
            own = dates[cycle[i]]
            opened = installed_at[cycle[i]]
            modulus = int(span[i])
            if share is not None:
                value = int(start[i] * share)
                yield (
                    f"{next(read_ids)}\t{register}\t{installation}\t{opened.isoformat()}\t"
                    f"{opened.astimezone(tz).date()}\t{value}\tmanual\tinitial\tactive\t{{}}\t"
                    f"\t\\N\t\\N\t{stamp}\n"
                )
            previous = own[0] - timedelta(days=1)
            for k, day in enumerate(own):
                days = (day - previous).days
                previous = day
                at = (local_midnight(day, tz) + timedelta(minutes=int(minutes[i, k]))).astimezone(
                    UTC
                )
                if share is None:  # maximum demand of the period, kW
                    kw = round(daily[i] / 24 * 3.0 * factors[i, k], 3)
                    text = f"{kw:.3f}"
                else:
                    value = (value + round(daily[i] * days * factors[i, k] * share)) % modulus
                    text = str(value)
                yield (
                    f"{next(read_ids)}\t{register}\t{installation}\t{at.isoformat()}\t{day}\t"
                    f"{text}\t{source}\tregular\tactive\t{{}}\t\t\\N\t\\N\t{stamp}\n"
                )
                written += 1
            if n % CHUNK == 0:
                report("reads", n, len(register_rows))

    copy_lines(
        table="metering_registerread",
        columns=(
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
        ),
        lines=lines(),
    )
    report("reads", len(register_rows), len(register_rows))
    return written


def _intervals(
    *,
    meter_ids: npt.NDArray[np.int64],
    as_of: date,
    days: int,
    tz_name: str,
    rng: np.random.Generator,
    report: Progress,
) -> int:
    """15-minute Wh values with a morning and an evening peak; DST days get 92 or 100."""
    tz = zone(tz_name)
    scale = rng.uniform(0.5, 2.0, size=len(meter_ids))
    blocks = []
    for offset in range(days, 0, -1):
        day = as_of - timedelta(days=offset)
        count = (
            int(
                (
                    local_midnight(day + timedelta(days=1), tz) - local_midnight(day, tz)
                ).total_seconds()
            )
            // 900
        )
        hours = (np.arange(count) * 15 / 60) - (
            0 if count == 96 else (1 if count == 100 else -1)
        ) * (np.arange(count) >= 8)
        shape = 60 + 140 * np.exp(-((hours - 19) ** 2) / 6) + 50 * np.exp(-((hours - 8) ** 2) / 3)
        noise = rng.integers(0, 40, size=(len(meter_ids), count), dtype=np.int32)
        blocks.append(
            DayArrays(
                meter_ids=meter_ids,
                days=np.full(len(meter_ids), (day - PG_EPOCH).days, dtype=np.int32),
                channel="kwh",
                interval_minutes=15,
                values=(shape[None, :] * scale[:, None]).astype(np.int32) + noise,
            )
        )
        report("intervals", days - offset + 1, days)
    copy_blocks(blocks)
    return days * len(meter_ids)
