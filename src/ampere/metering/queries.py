"""Reads of the metering domain. They return plain values, never half-loaded models."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection

from ampere.accounts.models import Utility
from ampere.core.errors import InvalidInput, NotFound
from ampere.core.localtime import day_period, local_midnight, zone
from ampere.core.periods import DatePeriod
from ampere.database import date_array, int_array, int_matrix, settings_applied
from ampere.metering.models import (
    ConsumptionRevision,
    IntervalImport,
    MeteringPolicy,
    QuarantinedInterval,
    QuarantinedRead,
    QuarantineStatus,
    ReadBatch,
)
from ampere.metering.types import (
    REGISTER_BUCKET,
    BatchResult,
    ConsumptionRequest,
    ConsumptionRow,
    DailyTotal,
    IntervalImportResult,
    IntervalPoint,
    MonthlyTotal,
    Peak,
    Policy,
    QuarantinedIntervalRow,
    Revision,
    TouCalendar,
    register_unit,
)
from ampere.metering.vee import PriorRead, average_daily_use, wrap

THOUSAND = Decimal(1000)
INTERVAL_LENGTHS = (5, 15, 30, 60)


def get_policy(*, utility_id: int) -> Policy:
    """The utility's VEE policy, or the defaults (EVN practice) when none is set."""
    row = (
        MeteringPolicy.objects.filter(utility_id=utility_id)
        .values_list(
            "high_ratio",
            "low_ratio",
            "rollover_max_fraction",
            "flag_zero_on_live_agreement",
            "estimation_rule",
            "estimation_periods",
        )
        .first()
    )
    return Policy() if row is None else Policy(*row)


# --- consumption for billing ---------------------------------------------------------------------

_REGISTER_SQL = """
WITH req AS (
    SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[]) WITH ORDINALITY
        AS r(service_point_id, start_date, end_date, n)
),
bounds AS (
    SELECT r.n, r.start_date, r.end_date, i.id AS installation_id, g.id AS register_id, g.code,
           m.multiplier, m.register_digits, m.serial,
           (lower(i.installed_period) AT TIME ZONE u.time_zone)::date AS on_date,
           CASE WHEN upper_inf(i.installed_period) THEN NULL
                ELSE ((upper(i.installed_period) - interval '1 microsecond')
                      AT TIME ZONE u.time_zone)::date END AS off_date
    FROM req r
    JOIN metering_installation i ON i.service_point_id = r.service_point_id
    JOIN metering_meter m ON m.id = i.meter_id
    JOIN accounts_utility u ON u.id = m.utility_id
    JOIN metering_register g ON g.meter_id = m.id
    WHERE (lower(i.installed_period) AT TIME ZONE u.time_zone)::date <= r.end_date
      AND (upper_inf(i.installed_period)
           OR ((upper(i.installed_period) - interval '1 microsecond')
               AT TIME ZONE u.time_zone)::date >= r.start_date)
)
SELECT b.n, b.code,
       bool_or(c.value IS NULL OR (b.code <> 'kw_max' AND o.value IS NULL)) AS missing,
       bool_or(c.source = 'estimated' OR (b.code <> 'kw_max' AND o.source = 'estimated')),
       CASE WHEN b.code = 'kw_max' THEN max(c.value * b.multiplier)
            ELSE sum(CASE WHEN c.value >= o.value THEN c.value - o.value
                          ELSE c.value + power(10::numeric, b.register_digits) - o.value
                     END * b.multiplier)
       END,
       -- The readings themselves, when one meter covered the period (bills print them).
       CASE WHEN count(*) = 1 THEN min(b.serial) END,
       CASE WHEN count(*) = 1 THEN min(o.value) END,
       CASE WHEN count(*) = 1 THEN min(c.value) END,
       CASE WHEN count(*) = 1 THEN min(b.multiplier) END
FROM bounds b
LEFT JOIN LATERAL (
    SELECT x.value, x.source FROM metering_registerread x
    WHERE x.installation_id = b.installation_id AND x.register_id = b.register_id
      AND x.status = 'active'
      AND x.read_date = CASE WHEN b.on_date > b.start_date THEN b.on_date ELSE b.start_date END
      AND (b.on_date <= b.start_date OR x.kind = 'initial')
    ORDER BY x.read_at DESC LIMIT 1
) o ON b.code <> 'kw_max'
LEFT JOIN LATERAL (
    SELECT x.value, x.source FROM metering_registerread x
    WHERE x.installation_id = b.installation_id AND x.register_id = b.register_id
      AND x.status = 'active'
      AND x.read_date = CASE WHEN b.off_date <= b.end_date THEN b.off_date ELSE b.end_date END
      AND (b.off_date IS NULL OR b.off_date > b.end_date OR x.kind = 'final')
    ORDER BY x.read_at DESC LIMIT 1
) c ON true
GROUP BY b.n, b.code
ORDER BY b.n, b.code
"""

_INTERVAL_POINTS_SQL = """
SELECT r.n, i.meter_id,
       greatest(r.start_date,
                (lower(i.installed_period) AT TIME ZONE u.time_zone)::date) AS first_day,
       CASE WHEN upper_inf(i.installed_period) THEN r.end_date
            ELSE least(r.end_date,
                       ((upper(i.installed_period) - interval '1 microsecond')
                        AT TIME ZONE u.time_zone)::date + 1) END AS end_day
FROM unnest(%s::bigint[], %s::date[], %s::date[]) WITH ORDINALITY
    AS r(service_point_id, start_date, end_date, n)
JOIN metering_installation i ON i.service_point_id = r.service_point_id
JOIN metering_meter m ON m.id = i.meter_id AND m.interval_minutes IS NOT NULL
JOIN accounts_utility u ON u.id = m.utility_id
"""

# The meters of the requests (request number, meter, first day, day after the last) come
# from _INTERVAL_POINTS_SQL as parameters, so that PostgreSQL knows how many there are: an
# index scan per meter for a few, one scan of the table for many.
_INTERVAL_SQL = """
WITH points AS (
    SELECT * FROM unnest(%(n)s::bigint[], %(meters)s::bigint[], %(firsts)s::date[],
                         %(ends)s::date[]) AS p(n, meter_id, first_day, end_day)
),
-- Each day's Wh in each of its TOU ranges, computed beside the day row so that its arrays go
-- no further (sorting or hashing them is what costs): running_totals[hi] -
-- running_totals[lo - 1] (0 before the first interval); a day stored without running totals
-- (too large for int4) sums its values. A day's TOU pattern (the ranges of its day type and
-- interval length) is looked up by its day and interval length; the ranges' first and last
-- intervals (1-based, inclusive) are los[pattern][j] and his[pattern][j], padded with empty
-- ranges 1..0 to {width} ranges.
days AS MATERIALIZED (
    SELECT d.n, d.day, d.pattern, d.peak_w,{range_columns}
    FROM (
        SELECT p.n, d.day, d.values, d.quality, d.running_totals,
               d.peak::bigint * (60 / d.interval_minutes) AS peak_w,
               (%(key_patterns)s::int[])[(d.day - %(first_day)s::date) * 4
                   + array_position('{{5,15,30,60}}'::int[], d.interval_minutes::int)] AS pattern
        FROM points p
        JOIN metering_intervalday d
          ON d.meter_id = p.meter_id AND d.channel = 'kwh'
         AND d.day >= p.first_day AND d.day < p.end_day
        OFFSET 0
    ) d
    CROSS JOIN (SELECT %(los)s::int[] AS los, %(his)s::int[] AS his) k
),
-- Days with data are counted per request, not per bucket: a bucket need not occur on every
-- day (a summer bucket in the winter days of a period across a season change).
covered AS (
    SELECT n, count(*) AS days FROM (SELECT DISTINCT n, day FROM days) x GROUP BY n
)
SELECT s.*, c.days
FROM (
    SELECT n, pattern, max(peak_w) AS peak_w,{range_sums}
    FROM days GROUP BY n, pattern
) s
JOIN covered c ON c.n = s.n
ORDER BY s.n, s.pattern
"""


_RANGE_COLUMNS = """
       CASE WHEN d.running_totals IS NULL
            THEN (SELECT coalesce(sum(v), 0)
                  FROM unnest(d.values[k.los[d.pattern][{j}]:k.his[d.pattern][{j}]]) v)
            ELSE coalesce(d.running_totals[k.his[d.pattern][{j}]]::bigint, 0)
                 - coalesce(d.running_totals[k.los[d.pattern][{j}] - 1], 0) END AS wh{j},
       d.quality IS NOT NULL AND EXISTS (
           SELECT 1 FROM unnest(d.quality[k.los[d.pattern][{j}]:k.his[d.pattern][{j}]]) q
           WHERE q <> 0) AS estimated{j}"""
_RANGE_SUMS = """
       sum(wh{j})::bigint AS wh{j}, bool_or(estimated{j}) AS estimated{j}"""


def _interval_sql(width: int) -> str:
    """The interval query for days of at most ``width`` TOU ranges (only the integers 1 to
    ``width`` are written into the text; every value goes as a parameter)."""
    numbers = range(1, width + 1)
    return _INTERVAL_SQL.format(
        width=width,
        range_columns=",".join(_RANGE_COLUMNS.format(j=j) for j in numbers),
        range_sums=",".join(_RANGE_SUMS.format(j=j) for j in numbers),
    )


def _check_requests(requests: Sequence[ConsumptionRequest]) -> None:
    for index, request in enumerate(requests):
        if request.period.end is None or request.period.is_empty():
            raise InvalidInput(
                "a billing period needs an end after its start", field=f"requests[{index}].period"
            )


def consumption_for_billing(
    *, requests: Sequence[ConsumptionRequest], tou: TouCalendar | None = None
) -> list[ConsumptionRow]:
    """Consumption of many service points over their billing periods, in two queries whatever
    their number.

    Register basis: for each register of the meters installed in the period, the closing read
    (latest active read of the period's end date, or the final read of a meter removed within)
    minus the opening read (latest of the start date, or the initial read of a meter installed
    within), rolled over at 10^digits, × multiplier, summed over the meters of the period;
    ``kw_max`` is the closing maximum-demand read × multiplier. Interval basis (with ``tou``):
    kWh per TOU bucket from the ``kwh`` channel, and bucket ``max_demand`` with the highest
    interval demand in kW; ``source`` is ``incomplete`` when fewer days of the request's period
    have data than the period has days (counted per request, whatever buckets each day has),
    else ``estimated`` when an interval used is not valid, else ``actual``. Rows are ordered
    by request, then basis, then register or bucket.
    Raises InvalidInput for an open or empty period.
    """
    _check_requests(requests)
    if not requests:
        return []
    # Arrays go as their text form: psycopg dumps a list element by element in Python, and a
    # bill run asks for tens of thousands of service points at once.
    arrays: list[Any] = [
        int_array(r.service_point_id for r in requests),
        date_array(r.period.start for r in requests),
        date_array(r.period.end for r in requests),  # type: ignore[misc]
    ]
    rows: list[ConsumptionRow] = []
    large = len(requests) >= LARGE_REQUEST_COUNT
    with (
        connection.cursor() as cursor,
        settings_applied(cursor=cursor, settings=QUERY_SETTINGS if large else {}),
    ):
        cursor.execute(_REGISTER_SQL, arrays)
        for (
            n,
            code,
            missing,
            estimated,
            quantity,
            serial,
            opening,
            closing,
            multiplier,
        ) in cursor.fetchall():
            request = requests[n - 1]
            rows.append(
                ConsumptionRow(
                    request_index=n - 1,
                    service_point_id=request.service_point_id,
                    period=request.period,
                    basis="register",
                    register=code,
                    bucket=REGISTER_BUCKET[code],
                    quantity=None if missing else Decimal(quantity),
                    unit=register_unit(code),
                    source="missing" if missing else ("estimated" if estimated else "actual"),
                    meter_serial=serial or "",
                    opening=opening,
                    closing=closing,
                    multiplier=multiplier,
                )
            )
        if tou is not None:
            rows.extend(_interval_consumption(cursor, requests, arrays, tou))
    rows.sort(key=lambda r: (r.request_index, r.basis != "register"))
    return rows


def tou_ranges(
    *, tou: TouCalendar, period: DatePeriod, tz_name: str
) -> list[tuple[date, int, str, int, int]]:
    """(day, interval minutes, bucket, first, last) with 1-based inclusive indexes into a day's
    interval array, for each local day of ``period`` and each interval length. DST days map
    their 92 or 100 quarter-hours by the local time each interval starts at."""
    tz = zone(tz_name)
    ranges: list[tuple[date, int, str, int, int]] = []
    for day in period.each_day():
        windows = tou.windows_for(day)
        span = day_period(day, tz)
        start = span.start
        for minutes in INTERVAL_LENGTHS:
            count = int(span.duration.total_seconds()) // (minutes * 60)
            current: str | None = None
            first = 1
            for index in range(count):
                local = (start + timedelta(minutes=minutes * index)).astimezone(tz)
                minute = local.hour * 60 + local.minute
                bucket = next(w.bucket for w in windows if w.start_minute <= minute < w.end_minute)
                if bucket != current:
                    if current is not None:
                        ranges.append((day, minutes, current, first, index))
                    current, first = bucket, index + 1
            if current is not None:
                ranges.append((day, minutes, current, first, count))
    return ranges


# These queries are cheap per row, but for thousands of requests PostgreSQL's cost estimates
# are large enough to JIT-compile them, which costs more than it saves (0.6 s for the
# register query of 10,000 requests that finds no register at all); and their hashes of
# 300,000 day rows spill to disk at the default work_mem. Below LARGE_REQUEST_COUNT requests
# the estimates stay under the JIT threshold and the settings are left alone.
QUERY_SETTINGS = {"jit": "off", "work_mem": "64MB"}
LARGE_REQUEST_COUNT = 1000


def _interval_consumption(
    cursor: Any,
    requests: Sequence[ConsumptionRequest],
    arrays: list[Any],
    tou: TouCalendar,
) -> list[ConsumptionRow]:
    start = min(r.period.start for r in requests)
    end = max(r.period.end for r in requests if r.period.end is not None)
    zones = _zones_of([r.service_point_id for r in requests], cursor)
    if len(zones) > 1:
        raise InvalidInput("ask for one utility's service points at a time", field="requests")
    if not zones:
        return []
    ranges = tou_ranges(tou=tou, period=DatePeriod(start, end), tz_name=zones.pop())
    # Days alike (same interval length and day type) share a pattern of ranges; the query
    # sums each request's days per pattern and range, and the ranges' Wh go to their buckets.
    by_key: dict[tuple[date, int], list[tuple[str, int, int]]] = defaultdict(list)
    for day, minutes, bucket, lo, hi in ranges:
        by_key[(day, minutes)].append((bucket, lo, hi))
    width = max(len(v) for v in by_key.values())
    pattern_of: dict[tuple[tuple[str, int, int], ...], int] = {}
    # key (day - start) * 4 + position of the length in INTERVAL_LENGTHS (1-based) → pattern
    key_patterns = [0] * (DatePeriod(start, end).days * len(INTERVAL_LENGTHS))
    for (day, minutes), found_ranges in by_key.items():
        key = (day - start).days * len(INTERVAL_LENGTHS) + INTERVAL_LENGTHS.index(minutes)
        key_patterns[key] = pattern_of.setdefault(tuple(found_ranges), len(pattern_of)) + 1
    patterns = list(pattern_of)
    padded = [list(p) + [("", 1, 0)] * (width - len(p)) for p in patterns]
    cursor.execute(_INTERVAL_POINTS_SQL, arrays)
    points = cursor.fetchall()
    if not points:
        return []
    params = {
        "n": int_array(p[0] for p in points),
        "meters": int_array(p[1] for p in points),
        "firsts": date_array(p[2] for p in points),
        "ends": date_array(p[3] for p in points),
        "first_day": start,
        "key_patterns": int_array(key_patterns),
        "los": int_matrix([r[1] for r in p] for p in padded),
        "his": int_matrix([r[2] for r in p] for p in padded),
    }
    cursor.execute(_interval_sql(width), params)
    fetched = cursor.fetchall()
    # per request: bucket → [Wh, estimated]; highest demand (W); days with data
    sums: dict[int, dict[str, list[Any]]] = defaultdict(dict)
    peaks: dict[int, int] = {}
    covered: dict[int, int] = {}
    for row in fetched:
        n, pattern, peak_w = row[0], row[1] - 1, row[2]
        peaks[n] = max(peaks.get(n, peak_w), peak_w)
        covered[n] = row[-1]
        for position, (bucket, _, _) in enumerate(patterns[pattern]):
            wh, estimated = row[3 + 2 * position], row[4 + 2 * position]
            entry = sums[n].setdefault(bucket, [0, False])
            entry[0] += wh
            entry[1] = entry[1] or estimated
    found: dict[int, list[tuple[str, int, int, int, bool]]] = {
        n: [
            (bucket, wh, peaks[n], covered[n], estimated)
            for bucket, (wh, estimated) in sorted(buckets.items())
        ]
        for n, buckets in sums.items()
    }
    rows: list[ConsumptionRow] = []
    for n, buckets in sorted(found.items()):
        request = requests[n - 1]
        assert request.period.end is not None
        days_with_data = buckets[0][3]  # per request: the same on each bucket row
        # A missing day is worse than an estimated interval: the period is not covered.
        if days_with_data < request.period.days:
            source = "incomplete"
        elif any(b[4] for b in buckets):
            source = "estimated"
        else:
            source = "actual"
        for bucket, wh, _, _, _ in buckets:
            rows.append(
                ConsumptionRow(
                    n - 1,
                    request.service_point_id,
                    request.period,
                    "interval",
                    "kwh",
                    bucket,
                    Decimal(wh) / THOUSAND,
                    "kWh",
                    source,
                )
            )
        peak_kw = (Decimal(max(b[2] for b in buckets)) / THOUSAND).quantize(
            Decimal("0.001"), ROUND_HALF_UP
        )
        rows.append(
            ConsumptionRow(
                n - 1,
                request.service_point_id,
                request.period,
                "interval",
                "kwh",
                "max_demand",
                peak_kw,
                "kW",
                source,
            )
        )
    return rows


def _zones_of(point_ids: list[int], cursor: Any) -> set[str]:
    cursor.execute(
        """
        SELECT DISTINCT u.time_zone FROM accounts_servicepoint sp
        JOIN accounts_utility u ON u.id = sp.utility_id WHERE sp.id = ANY(%s)
        """,
        [list(set(point_ids))],
    )
    return {r[0] for r in cursor.fetchall()}


def get_consumption_revisions(
    *, since: datetime, service_point_ids: Sequence[int] | None = None, limit: int = 10_000
) -> list[Revision]:
    """Consumption revised after ``since`` (oldest first): billing rebills the bills whose
    period overlaps ``revised_period`` of the service point."""
    rows = ConsumptionRevision.objects.filter(revised_at__gt=since)
    if service_point_ids is not None:
        rows = rows.filter(service_point_id__in=list(service_point_ids))
    return [
        Revision(
            id=r[0],
            service_point_id=r[1],
            register=r[2],
            revised_period=DatePeriod(r[3].lower, r[3].upper),
            reason=r[4],
            old_value=r[5],
            new_value=r[6],
            revised_at=r[7],
        )
        for r in rows.order_by("revised_at", "id").values_list(
            "id",
            "service_point_id",
            "register__code",
            "revised_period",
            "reason",
            "old_value",
            "new_value",
            "revised_at",
        )[:limit]
    ]


# --- load profiles ------------------------------------------------------------------------------


def _utility_zone(service_point_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT u.time_zone FROM accounts_servicepoint sp
               JOIN accounts_utility u ON u.id = sp.utility_id WHERE sp.id = %s""",
            [service_point_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"no service point with id {service_point_id}", field="service_point")
    return str(row[0])


_DAYS_SQL = """
SELECT d.day, d.interval_minutes, d.values, d.quality, d.total, d.peak
FROM metering_installation i
JOIN metering_meter m ON m.id = i.meter_id
JOIN accounts_utility u ON u.id = m.utility_id
JOIN metering_intervalday d ON d.meter_id = i.meter_id AND d.channel = %s
 AND d.day >= (lower(i.installed_period) AT TIME ZONE u.time_zone)::date
 AND (upper_inf(i.installed_period)
      OR d.day <= ((upper(i.installed_period) - interval '1 microsecond')
                   AT TIME ZONE u.time_zone)::date)
WHERE i.service_point_id = %s AND d.day >= %s AND d.day < %s
ORDER BY d.day
"""


def _days(service_point_id: int, period: DatePeriod, channel: str) -> list[tuple[Any, ...]]:
    if period.end is None:
        raise InvalidInput("give an end date", field="period")
    with connection.cursor() as cursor:
        cursor.execute(_DAYS_SQL, [channel, service_point_id, period.start, period.end])
        return list(cursor.fetchall())


def daily_totals(*, service_point_id: int, period: DatePeriod) -> list[DailyTotal]:
    """kWh per local day with interval data; ``complete`` when every interval is valid."""
    tz = zone(_utility_zone(service_point_id))
    merged: dict[date, tuple[int, bool]] = {}
    for day, minutes, values, quality, day_total, _ in _days(service_point_id, period, "kwh"):
        expected = int(day_period(day, tz).duration.total_seconds()) // (minutes * 60)
        complete = len(values) == expected and (quality is None or not any(quality))
        previous = merged.get(day)
        if previous is not None:  # two meters on an exchange day
            merged[day] = (day_total + previous[0], complete and previous[1])
        else:
            merged[day] = (day_total, complete)
    return [DailyTotal(d, Decimal(t) / THOUSAND, c) for d, (t, c) in sorted(merged.items())]


def monthly_totals(*, service_point_id: int, period: DatePeriod) -> list[MonthlyTotal]:
    """kWh per calendar month (local days) of ``period``."""
    months: dict[date, tuple[Decimal, int]] = {}
    for daily in daily_totals(service_point_id=service_point_id, period=period):
        month = daily.day.replace(day=1)
        kwh, days = months.get(month, (Decimal(0), 0))
        months[month] = (kwh + daily.kwh, days + 1)
    return [MonthlyTotal(m, kwh, days) for m, (kwh, days) in sorted(months.items())]


def day_curve(*, service_point_id: int, day: date, channel: str = "kwh") -> list[IntervalPoint]:
    """The intervals of one local day, by their start instant (92, 96 or 100 on DST days)."""
    tz = zone(_utility_zone(service_point_id))
    start = local_midnight(day, tz).astimezone(UTC)
    points: dict[datetime, tuple[int, int]] = {}
    for _, minutes, values, quality, _, _ in _days(
        service_point_id, DatePeriod(day, day + timedelta(days=1)), channel
    ):
        for index, value in enumerate(values):
            flag = 0 if quality is None else quality[index]
            if flag == 2:  # missing
                continue
            at = start + timedelta(minutes=minutes * index)
            old = points.get(at)
            points[at] = (value + (old[0] if old else 0), max(flag, old[1] if old else 0))
    return [
        IntervalPoint(at.astimezone(tz), Decimal(v) / THOUSAND, q)
        for at, (v, q) in sorted(points.items())
    ]


def month_peak(*, service_point_id: int, month: date) -> Peak | None:
    """The highest interval demand of a calendar month: when, kW and the interval's kWh."""
    tz = zone(_utility_zone(service_point_id))
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    best: tuple[Decimal, datetime, int] | None = None
    for day, minutes, values, quality, _, peak in _days(
        service_point_id, DatePeriod(first, following), "kwh"
    ):
        kw = Decimal(peak) * 60 / minutes / THOUSAND
        if best is not None and kw <= best[0]:
            continue
        index = max(
            (i for i, v in enumerate(values) if quality is None or quality[i] != 2),
            key=lambda i: values[i],
            default=None,
        )
        if index is None:
            continue
        at = local_midnight(day, tz).astimezone(UTC) + timedelta(minutes=minutes * index)
        best = (kw, at, values[index])
    if best is None:
        return None
    return Peak(
        best[1].astimezone(tz), best[0].quantize(Decimal("0.001")), Decimal(best[2]) / THOUSAND
    )


# --- batches and the quarantine -------------------------------------------------------------------


def get_read_batch(*, utility_id: int, submitted_by: str, external_id: str) -> BatchResult:
    batch = ReadBatch.objects.filter(
        utility_id=utility_id, submitted_by=submitted_by, external_id=external_id
    ).first()
    if batch is None:
        raise NotFound(f"no batch {external_id!r}", field="batch_id")
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
        replayed=True,
    )


def open_quarantine(
    *, utility_id: int, limit: int = 100, after_id: int = 0
) -> list[dict[str, Any]]:
    """Open quarantined rows of a utility, oldest first, paged by id."""
    return [
        dict(row)
        for row in QuarantinedRead.objects.filter(
            batch__utility_id=utility_id, status=QuarantineStatus.OPEN, id__gt=after_id
        )
        .order_by("id")
        .values(
            "id", "batch__external_id", "row_number", "raw", "reasons", "message", "can_accept"
        )[:limit]
    ]


# --- interval imports and their quarantine ---------------------------------------------------


def interval_import_result(record: IntervalImport, *, replayed: bool) -> IntervalImportResult:
    return IntervalImportResult(
        import_id=record.id,
        file_format=record.file_format,
        file_name=record.file_name,
        content_sha256=record.content_sha256,
        received_at=record.received_at,
        status=record.status,
        reason=record.reason,
        rows_read=record.rows_read,
        rows_stored=record.rows_stored,
        rows_quarantined=record.rows_quarantined,
        days_loaded=record.days_loaded,
        values_loaded=record.values_loaded,
        replayed=replayed,
    )


def get_interval_import(*, import_id: int) -> IntervalImportResult:
    record = IntervalImport.objects.filter(id=import_id).first()
    if record is None:
        raise NotFound(f"no interval import {import_id}", field="import")
    return interval_import_result(record, replayed=False)


def quarantined_intervals(
    *, import_id: int, status: str | None = None, limit: int = 100, after_row: int = 0
) -> list[QuarantinedIntervalRow]:
    """Quarantined rows of an interval import in file order, paged by row number."""
    rows = QuarantinedInterval.objects.filter(
        interval_import_id=import_id, row_number__gt=after_row
    )
    if status is not None:
        rows = rows.filter(status=status)
    return [
        QuarantinedIntervalRow(*values)
        for values in rows.order_by("row_number").values_list(
            "id",
            "interval_import_id",
            "row_number",
            "row_ref",
            "raw",
            "reason",
            "message",
            "meter_serial",
            "channel",
            "status",
        )[:limit]
    ]


# --- the handheld route file ---------------------------------------------------------------------

_ROUTE_SQL = """
SELECT s.sequence, sp.code, p.address_line, p.ward, p.district, p.province, p.latitude,
       p.longitude, m.serial, m.multiplier, m.register_digits, g.code, h.reads
FROM metering_routestop s
JOIN accounts_servicepoint sp ON sp.id = s.service_point_id
JOIN accounts_premise p ON p.id = sp.premise_id
LEFT JOIN metering_installation i ON i.service_point_id = sp.id
     AND i.installed_period @> %s::timestamptz
LEFT JOIN metering_meter m ON m.id = i.meter_id
LEFT JOIN metering_register g ON g.meter_id = m.id
LEFT JOIN LATERAL (
    SELECT array_agg(ARRAY[x.value, (x.read_date - DATE '2000-01-01')::numeric,
                           CASE WHEN x.source = 'estimated' THEN 1 ELSE 0 END]
                     ORDER BY x.read_at) AS reads
    FROM (SELECT value, read_date, read_at, source FROM metering_registerread x
          WHERE x.register_id = g.id AND x.installation_id = i.id AND x.status = 'active'
            AND x.read_date < %s
          ORDER BY x.read_at DESC LIMIT %s) x
) h ON true
WHERE s.route_id = %s
ORDER BY s.sequence, g.code
"""


def route_file(*, utility_code: str, route_code: str, reading_date: date) -> dict[str, Any]:
    """The handheld's route file: stops in reading order with meter, location, registers, the
    last read and the expected range for ``reading_date`` (last read + expected use × the
    utility's low and high ratios; the high end may roll over)."""
    utility = Utility.objects.filter(code=utility_code).values("id", "time_zone").first()
    if utility is None:
        raise NotFound(f"no utility with code {utility_code!r}", field="utility")
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT r.id, r.name, c.code,
                      EXISTS (SELECT 1 FROM metering_readingdate d
                              WHERE d.cycle_id = c.id AND d.date = %s)
               FROM metering_route r JOIN metering_readingcycle c ON c.id = r.cycle_id
               WHERE r.utility_id = %s AND r.code = %s""",
            [reading_date, utility["id"], route_code],
        )
        route = cursor.fetchone()
        if route is None:
            raise NotFound(f"no route {route_code!r}", field="route")
        if not route[3]:
            raise InvalidInput(
                f"{reading_date.isoformat()} is not a reading date of cycle {route[2]}",
                field="date",
            )
        policy = get_policy(utility_id=utility["id"])
        at = local_midnight(reading_date, zone(utility["time_zone"]))
        cursor.execute(_ROUTE_SQL, [at, reading_date, policy.estimation_periods + 1, route[0]])
        records = cursor.fetchall()
    stops: dict[int, dict[str, Any]] = {}
    for (
        sequence,
        point,
        address,
        ward,
        district,
        province,
        lat,
        lon,
        serial,
        multiplier,
        digits,
        code,
        reads,
    ) in records:
        stop = stops.setdefault(
            sequence,
            {
                "sequence": sequence,
                "service_point": point,
                "location": {
                    "address": ", ".join(x for x in (address, ward, district, province) if x),
                    "latitude": None if lat is None else str(lat),
                    "longitude": None if lon is None else str(lon),
                },
                "meter": None
                if serial is None
                else {"serial": serial, "multiplier": str(multiplier), "digits": digits},
                "registers": [],
            },
        )
        if code is None:
            continue
        stop["registers"].append(_expected(code, reads or [], digits, reading_date, policy))
    return {
        "route": route_code,
        "name": route[1],
        "cycle": route[2],
        "reading_date": reading_date.isoformat(),
        "stops": [stops[k] for k in sorted(stops)],
    }


def _expected(
    code: str, reads: list[list[Decimal]], digits: int, reading_date: date, policy: Policy
) -> dict[str, Any]:
    history = [PriorRead(r[0], date(2000, 1, 1) + timedelta(days=int(r[1]))) for r in reads]
    entry: dict[str, Any] = {"code": code, "last_read": None, "expected": None}
    if not history:
        return entry
    last = history[-1]
    entry["last_read"] = {
        "value": str(last.value),
        "date": last.read_date.isoformat(),
        "estimated": bool(reads[-1][2]),
    }
    if code == "kw_max":
        return entry
    daily = average_daily_use(
        history=history, periods=policy.estimation_periods, digits=digits, policy=policy
    )
    if daily is None:
        entry["expected"] = {"low": str(last.value), "high": None}
        return entry
    use = daily * (reading_date - last.read_date).days
    whole = Decimal(1)
    entry["expected"] = {
        "use": str(use.quantize(whole, ROUND_HALF_UP)),
        "low": str(
            wrap(last.value + (use * policy.low_ratio).quantize(whole, ROUND_HALF_UP), digits)
        ),
        "high": str(
            wrap(last.value + (use * policy.high_ratio).quantize(whole, ROUND_HALF_UP), digits)
        ),
    }
    return entry
