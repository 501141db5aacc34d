"""Interval data: one row per meter, channel and local day, loaded with binary COPY.

A day's values are integers in the channel's fixed-point unit (Wh for energy; see
``IntervalChannel``). Intervals a file did not bring are 0 with quality ``missing``; a later
file fills them in (merge), and never overwrites a value with a missing one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import psycopg.errors
from django.db import connection, transaction

from ampere.accounts.models import Utility
from ampere.core.errors import Conflict, NotFound
from ampere.core.localtime import day_period, zone
from ampere.database import copy_binary
from ampere.metering.models import IntervalChannel, IntervalQuality
from ampere.metering.parsing import BadFile, parse_timestamp
from ampere.metering.types import IntervalFileResult

PG_EPOCH = date(2000, 1, 1)
INT4_OID = 23
INT2_OID = 21
COLUMNS = (
    "meter_id",
    "channel",
    "day",
    "interval_minutes",
    "values",
    "quality",
    "total",
    "peak",
    "running_totals",
)
INT4_MAX = 2**31 - 1
# Scale from a channel's natural unit (what files carry) to the stored integer unit.
CHANNEL_SCALE = {
    "kwh": Decimal(1000),  # kWh -> Wh
    "kwh_received": Decimal(1000),
    "voltage": Decimal(10),  # V -> 0.1 V
    "current": Decimal(1000),  # A -> mA
    "power_factor": Decimal(1000),
    "p_max": Decimal(1000),  # kW -> W
    "frequency": Decimal(1000),  # Hz -> mHz
}
QUALITY_NAMES = {q.label.lower(): q.value for q in IntervalQuality}


@dataclass(frozen=True)
class DayArrays:
    """A block of days of one channel and one length: ``values`` has shape (rows, length)."""

    meter_ids: npt.NDArray[np.int64]
    days: npt.NDArray[np.int32]  # days since 2000-01-01
    channel: str
    interval_minutes: int
    values: npt.NDArray[np.int32]
    quality: npt.NDArray[np.int16] | None = None  # same shape, or None when all valid


def running_totals(
    values: npt.NDArray[np.int32],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Each row's running sums (int64), and which rows' sums all fit a 32-bit integer."""
    running = np.cumsum(values, axis=1, dtype=np.int64)
    if running.size == 0:
        return running, np.ones(len(values), np.bool_)
    fits = (running.max(axis=1) <= INT4_MAX) & (running.min(axis=1) >= -INT4_MAX)
    return running, fits


def encode_block(block: DayArrays) -> bytes:
    """Rows of a block in PostgreSQL's binary COPY format (without header and trailer), with
    each day's running totals (null on a day whose running totals leave int4)."""
    running, fits = running_totals(block.values)
    if fits.all():
        return _encode(block, running, with_running=True)
    parts = [
        _encode(
            DayArrays(
                block.meter_ids[rows],
                block.days[rows],
                block.channel,
                block.interval_minutes,
                block.values[rows],
                None if block.quality is None else block.quality[rows],
            ),
            running[rows],
            with_running=fit,
        )
        for fit, rows in ((True, fits), (False, ~fits))
        if rows.any()
    ]
    return b"".join(parts)


def _encode(block: DayArrays, running: npt.NDArray[np.int64], *, with_running: bool) -> bytes:
    """The rows; ``running`` gives each day's total (its last running sum), and is written as
    the running totals only ``with_running``."""
    rows, length = block.values.shape
    channel = block.channel.encode()
    element = np.dtype([("size", ">i4"), ("value", ">i4")])
    quality_element = np.dtype([("size", ">i4"), ("value", ">i2")])
    parts: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        ("fields", ">i2"),
        ("meter_size", ">i4"),
        ("meter", ">i8"),
        ("channel_size", ">i4"),
        ("channel", f"S{len(channel)}"),
        ("day_size", ">i4"),
        ("day", ">i4"),
        ("minutes_size", ">i4"),
        ("minutes", ">i2"),
        ("values_size", ">i4"),
        ("values_header", ">i4", (5,)),
        ("values", element, (length,)),
        ("quality_size", ">i4"),
    ]
    if block.quality is not None:
        parts += [("quality_header", ">i4", (5,)), ("quality", quality_element, (length,))]
    parts += [("total_size", ">i4"), ("total", ">i8"), ("peak_size", ">i4"), ("peak", ">i4")]
    parts += [("running_size", ">i4")]
    if with_running:
        parts += [("running_header", ">i4", (5,)), ("running", element, (length,))]
    out = np.zeros(rows, dtype=np.dtype(parts))
    out["fields"] = len(COLUMNS)
    out["meter_size"] = 8
    out["meter"] = block.meter_ids
    out["channel_size"] = len(channel)
    out["channel"] = channel
    out["day_size"] = 4
    out["day"] = block.days
    out["minutes_size"] = 2
    out["minutes"] = block.interval_minutes
    out["values_size"] = 20 + 8 * length
    out["values_header"] = (1, 0, INT4_OID, length, 1)
    out["values"]["size"] = 4
    out["values"]["value"] = block.values
    if block.quality is None:
        out["quality_size"] = -1
    else:
        out["quality_size"] = 20 + 6 * length
        out["quality_header"] = (1, 0, INT2_OID, length, 1)
        out["quality"]["size"] = 2
        out["quality"]["value"] = block.quality
    out["total_size"] = 8
    out["total"] = running[:, -1]
    out["peak_size"] = 4
    out["peak"] = block.values.max(axis=1)
    if not with_running:
        out["running_size"] = -1
    else:
        out["running_size"] = 20 + 8 * length
        out["running_header"] = (1, 0, INT4_OID, length, 1)
        out["running"]["size"] = 4
        out["running"]["value"] = running
    return out.tobytes()


def copy_blocks(blocks: Iterable[DayArrays], *, table: str = "metering_intervalday") -> int:
    """Binary COPY of day blocks into ``table`` (inside the caller's transaction); returns the
    number of values written. Raises psycopg's UniqueViolation when a day exists already."""
    written = 0

    def chunks() -> Iterator[bytes]:
        nonlocal written
        for block in blocks:
            if block.values.size == 0:
                continue
            yield encode_block(block)
            written += int(block.values.size)

    copy_binary(table=table, columns=COLUMNS, chunks=chunks())
    return written


_MERGE_SQL = """
UPDATE metering_intervalday d
SET (values, quality, total, peak, running_totals) = (
    SELECT array_agg(r.v ORDER BY r.i),
           CASE WHEN bool_and(r.q = 0) THEN NULL ELSE array_agg(r.q ORDER BY r.i) END,
           sum(r.v), max(r.v),
           CASE WHEN max(abs(r.c)) <= 2147483647
                THEN array_agg(r.c::integer ORDER BY r.i) END
    FROM (
        SELECT z.i, z.v, z.q, sum(z.v::bigint) OVER (ORDER BY z.i) AS c
        FROM (
            SELECT u.i,
                   CASE WHEN coalesce(u.nq, 0) = 2 THEN u.ov ELSE u.nv END AS v,
                   CASE WHEN coalesce(u.nq, 0) = 2 THEN coalesce(u.oq, 0)
                        ELSE coalesce(u.nq, 0) END::smallint AS q
            FROM unnest(d.values, s.values, d.quality, s.quality) WITH ORDINALITY
                AS u(ov, nv, oq, nq, i)
        ) z
    ) r
)
FROM interval_stage s
WHERE d.meter_id = s.meter_id AND d.channel = s.channel AND d.day = s.day
"""

_INSERT_NEW_SQL = """
INSERT INTO metering_intervalday
    (meter_id, channel, day, interval_minutes, values, quality, total, peak, running_totals)
SELECT s.meter_id, s.channel, s.day, s.interval_minutes, s.values, s.quality, s.total, s.peak,
       s.running_totals
FROM interval_stage s
WHERE NOT EXISTS (SELECT 1 FROM metering_intervalday d
                  WHERE d.meter_id = s.meter_id AND d.channel = s.channel AND d.day = s.day)
"""


class IntervalLengthClash(Conflict):
    """A day of the blocks is stored already with another interval length."""

    code = "interval-length-clash"


def load_interval_days(blocks: Sequence[DayArrays]) -> int:
    """Store day blocks: new days by direct binary COPY; when some days exist already, through
    a staging table, merging each day (a new value replaces an old one unless it is missing).
    Raises IntervalLengthClash, and stores none of the blocks, when a day is stored with
    another interval length (``assemble_days`` leaves such days out of a file's blocks, so
    this guards against a day stored by another session in the meantime). Returns the values
    written."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                return copy_blocks(blocks)
        except Exception as error:
            if not isinstance(error.__cause__, psycopg.errors.UniqueViolation) and not isinstance(
                error, psycopg.errors.UniqueViolation
            ):
                raise
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS interval_stage "
                "(LIKE metering_intervalday INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            cursor.execute("TRUNCATE interval_stage")
            written = copy_blocks(blocks, table="interval_stage")
            cursor.execute(
                """SELECT s.meter_id, s.day FROM interval_stage s JOIN metering_intervalday d
                   ON d.meter_id = s.meter_id AND d.channel = s.channel AND d.day = s.day
                   WHERE d.interval_minutes <> s.interval_minutes LIMIT 1"""
            )
            clash = cursor.fetchone()
            if clash is not None:
                raise IntervalLengthClash(
                    f"meter {clash[0]} has data of another interval length on {clash[1]}",
                    field="interval_minutes",
                )
            cursor.execute(_MERGE_SQL)
            cursor.execute(_INSERT_NEW_SQL)
        return written


# --- assembling days from points ---------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One interval value from a file, already in the channel's stored unit."""

    ref: str  # where it came from, for errors ("row 12", "block 2 reading 7")
    meter_serial: str
    channel: str
    start_at: datetime
    minutes: int
    value: int
    quality: int


@dataclass
class _Day:
    minutes: int
    values: list[int]
    quality: list[int]


@dataclass
class Assembly:
    blocks: list[DayArrays] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    days: int = 0
    values: int = 0


def _meters(utility_id: int, serials: set[str]) -> dict[str, tuple[int, int | None]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT serial, id, interval_minutes FROM metering_meter "
            "WHERE utility_id = %s AND serial = ANY(%s)",
            [utility_id, sorted(serials)],
        )
        return {r[0]: (r[1], r[2]) for r in cursor.fetchall()}


_CLASHING_DAYS_SQL = """
SELECT f.meter_id, f.channel, f.day, d.interval_minutes
FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::smallint[])
    AS f(meter_id, channel, day, interval_minutes)
JOIN metering_intervalday d
    ON d.meter_id = f.meter_id AND d.channel = f.channel AND d.day = f.day
WHERE d.interval_minutes <> f.interval_minutes
"""


def _stored_lengths_of_other_days(
    days: dict[tuple[int, str, date], _Day],
) -> dict[tuple[int, str, date], int]:
    """The days among ``days`` that are stored already with another interval length, and that
    length: one query over the file's days, joined on the interval table's primary key."""
    if not days:
        return {}
    keys = list(days)
    with connection.cursor() as cursor:
        cursor.execute(
            _CLASHING_DAYS_SQL,
            [
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [days[k].minutes for k in keys],
            ],
        )
        return {(r[0], r[1], r[2]): r[3] for r in cursor.fetchall()}


def _lengths(minutes: set[int]) -> str:
    names = [f"{m}-" for m in sorted(minutes)]
    return f"{', '.join(names[:-1])} and {names[-1]}minute"


def assemble_days(*, utility_id: int, tz: ZoneInfo, points: Iterable[Point]) -> Assembly:
    """Group points into local days per meter and channel; a point that is unknown, off the
    interval grid, of the wrong length or a repeat is an error naming its ref.

    Interval lengths: the meter's recorded length decides row by row. A row of another length
    is ``interval-length-mismatch``, or ``interval-lengths-mixed`` when the file also brings
    rows of the meter's length for that meter, channel and local day (those are stored). Every
    row of a day that is stored already with another length is ``interval-length-clash`` and
    the day is left out (one query finds such days for the whole file); the file's other days
    are assembled."""
    result = Assembly()
    items = list(points)
    meters = _meters(utility_id, {p.meter_serial for p in items})
    days: dict[tuple[int, str, date], _Day] = {}
    seen: dict[tuple[int, str, datetime], str] = {}
    midnight_cache: dict[date, tuple[datetime, int]] = {}
    # Rows of another length than their meter's: (index in errors, the day's key, the point).
    other_lengths: list[tuple[int, tuple[int, str, date], Point, int]] = []
    for point in items:
        meter = meters.get(point.meter_serial)
        if meter is None:
            result.errors.append(
                _error(
                    point.ref, "unknown-meter", f"no meter {point.meter_serial!r}", **_whose(point)
                )
            )
            continue
        meter_id, meter_minutes = meter
        if meter_minutes is None:
            result.errors.append(
                _error(
                    point.ref,
                    "no-interval-data",
                    f"meter {point.meter_serial} keeps no intervals",
                    **_whose(point),
                )
            )
            continue
        start_utc = point.start_at.astimezone(UTC)
        day = start_utc.astimezone(tz).date()
        if point.minutes != meter_minutes:
            other_lengths.append(
                (len(result.errors), (meter_id, point.channel, day), point, meter_minutes)
            )
            result.errors.append(
                _error(
                    point.ref,
                    "interval-length-mismatch",
                    f"{point.minutes}-minute interval for a meter of {meter_minutes} minutes",
                    **_whose(point),
                )
            )
            continue
        cached = midnight_cache.get(day)
        if cached is None:
            span = day_period(day, tz)
            cached = (span.start, int(span.duration.total_seconds()))
            midnight_cache[day] = cached
        midnight, seconds = cached
        offset = int((start_utc - midnight).total_seconds())
        step = point.minutes * 60
        if offset % step:
            result.errors.append(
                _error(
                    point.ref,
                    "misaligned-interval",
                    f"{point.start_at.isoformat()} is not "
                    f"on the {point.minutes}-minute grid of the local day",
                    **_whose(point),
                )
            )
            continue
        key = (meter_id, point.channel, start_utc)
        if key in seen:
            result.errors.append(
                _error(
                    point.ref,
                    "duplicate-row",
                    f"the same meter, channel and time as {seen[key]}",
                    **_whose(point),
                )
            )
            continue
        seen[key] = point.ref
        entry = days.get((meter_id, point.channel, day))
        if entry is None:
            count = seconds // step
            entry = _Day(point.minutes, [0] * count, [int(IntervalQuality.MISSING)] * count)
            days[(meter_id, point.channel, day)] = entry
        entry.values[offset // step] = point.value
        entry.quality[offset // step] = point.quality
    _mark_mixed_lengths(result.errors, other_lengths, days)
    clashing = _stored_lengths_of_other_days(days)
    if clashing:
        _mark_clashing_days(
            result.errors,
            clashing=clashing,
            days=days,
            points=items,
            meters=meters,
            seen=seen,
            tz=tz,
        )
    grouped: dict[tuple[str, int, int, bool], list[tuple[int, date, _Day]]] = {}
    for (meter_id, channel, day), entry in days.items():
        all_valid = not any(entry.quality)
        grouped.setdefault((channel, entry.minutes, len(entry.values), all_valid), []).append(
            (meter_id, day, entry)
        )
    for (channel, minutes, _, all_valid), members in grouped.items():
        result.blocks.append(
            DayArrays(
                meter_ids=np.array([m for m, _, _ in members], dtype=np.int64),
                days=np.array([(d - PG_EPOCH).days for _, d, _ in members], dtype=np.int32),
                channel=channel,
                interval_minutes=minutes,
                values=np.array([e.values for _, _, e in members], dtype=np.int32),
                quality=None
                if all_valid
                else np.array([e.quality for _, _, e in members], dtype=np.int16),
            )
        )
        result.days += len(members)
        result.values += sum(
            sum(q != IntervalQuality.MISSING for q in e.quality) for _, _, e in members
        )
    return result


def _mark_clashing_days(
    errors: list[dict[str, Any]],
    *,
    clashing: dict[tuple[int, str, date], int],
    days: dict[tuple[int, str, date], _Day],
    points: Sequence[Point],
    meters: dict[str, tuple[int, int | None]],
    seen: dict[tuple[int, str, datetime], str],
    tz: ZoneInfo,
) -> None:
    """Leave the clashing days out of ``days`` and give each row that went into one of them
    an ``interval-length-clash`` error. Called only when some day clashes: a second pass that
    looks closer only at the points of the clashing meters and channels."""
    minutes = {key: days.pop(key).minutes for key in clashing}
    meter_channels = {(meter_id, channel) for meter_id, channel, _ in clashing}
    for point in points:
        meter_id = meters[point.meter_serial][0] if point.meter_serial in meters else None
        if meter_id is None or (meter_id, point.channel) not in meter_channels:
            continue
        start_utc = point.start_at.astimezone(UTC)
        key = (meter_id, point.channel, start_utc.astimezone(tz).date())
        # Only the rows that went into the day: not those of another length, off the grid or
        # repeated (they have their own errors already).
        if key not in clashing or point.minutes != minutes[key]:
            continue
        if seen.get((meter_id, point.channel, start_utc)) != point.ref:
            continue
        errors.append(
            _error(
                point.ref,
                "interval-length-clash",
                f"meter {point.meter_serial}, channel {point.channel}, local day "
                f"{key[2].isoformat()} is stored in {clashing[key]}-minute intervals; this row "
                f"is a {point.minutes}-minute interval",
                **_whose(point),
            )
        )


def _mark_mixed_lengths(
    errors: list[dict[str, Any]],
    other_lengths: Sequence[tuple[int, tuple[int, str, date], Point, int]],
    days: dict[tuple[int, str, date], _Day],
) -> None:
    """A row of another length than its meter's, on a meter, channel and local day for which
    the file also has rows of the meter's length, is ``interval-lengths-mixed`` (naming every
    length the file has for that day) instead of ``interval-length-mismatch``."""
    mixed: dict[tuple[int, str, date], set[int]] = {}
    for _, key, point, meter_minutes in other_lengths:
        if key in days:
            mixed.setdefault(key, {meter_minutes}).add(point.minutes)
    for index, key, point, meter_minutes in other_lengths:
        if key not in mixed:
            continue
        errors[index] = _error(
            point.ref,
            "interval-lengths-mixed",
            f"meter {point.meter_serial}, channel {point.channel}, local day "
            f"{key[2].isoformat()}: the file mixes {_lengths(mixed[key])} intervals; the meter "
            f"keeps {meter_minutes} minutes, so this {point.minutes}-minute row is not stored",
            **_whose(point),
        )


def _error(
    ref: str, code: str, message: str, *, meter: str = "", channel: str = ""
) -> dict[str, Any]:
    """A row's error; ``meter`` and ``channel`` when the row named them."""
    error: dict[str, Any] = {"ref": ref, "code": code, "message": message}
    if meter:
        error["meter"] = meter
    if channel:
        error["channel"] = channel
    return error


def _whose(point: Point) -> dict[str, str]:
    return {"meter": point.meter_serial, "channel": point.channel}


def _utility(code: str) -> tuple[int, ZoneInfo]:
    row = Utility.objects.filter(code=code).values_list("id", "time_zone").first()
    if row is None:
        raise NotFound(f"no utility with code {code!r}", field="utility")
    return row[0], zone(row[1])


STORE_ATTEMPTS = 3


def _store(
    utility_id: int, tz: ZoneInfo, points: list[Point], errors: list[dict[str, Any]]
) -> IntervalFileResult:
    """Assemble and load points; a day another session stores with another interval length
    between the assembly and the load makes the load refuse its blocks, and the points are
    assembled again (seeing that day now) up to ``STORE_ATTEMPTS`` times before the
    IntervalLengthClash is raised."""
    for attempt in range(1, STORE_ATTEMPTS + 1):
        assembly = assemble_days(utility_id=utility_id, tz=tz, points=points)
        if not assembly.blocks:
            break
        try:
            load_interval_days(assembly.blocks)
        except IntervalLengthClash:
            if attempt == STORE_ATTEMPTS:
                raise
            continue
        break
    return IntervalFileResult(
        days_loaded=assembly.days,
        values_loaded=assembly.values,
        row_errors=tuple(errors + assembly.errors),
    )


# --- head-end CSV ------------------------------------------------------------------------------

HEAD_END_COLUMNS = ("meter", "channel", "interval_start", "interval_minutes", "value")
HEAD_END_OPTIONAL = ("quality",)


def to_fixed_point(raw: str, channel: str) -> int | None:
    """A value in the channel's natural unit as the stored integer; None when it is not a
    finite number or is finer than the stored resolution."""
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    scaled = number * CHANNEL_SCALE[channel]
    if scaled != scaled.to_integral_value() or abs(scaled) >= 2**31:
        return None
    return int(scaled)


@dataclass
class ParsedIntervals:
    """A file's points, the errors of rows that gave none, and where each row came from."""

    points: list[Point]
    errors: list[dict[str, Any]]
    rows_read: int
    header: str
    # A row's ref -> (its number in the file, its raw text), for the quarantine.
    source: Callable[[str], tuple[int, str]]


def read_head_end_csv(text: str) -> ParsedIntervals:
    """Points of a head-end file (see ``import_head_end_csv``) and an error per bad row,
    each with its line. Raises BadFile for an empty file or a wrong header."""
    lines: list[str] = []
    starts: dict[int, int] = {}  # a row's last line number -> the index of its first line

    def remembered(handle: io.StringIO) -> Iterator[str]:
        for physical in handle:
            lines.append(physical)
            yield physical

    reader = csv.reader(remembered(io.StringIO(text)))
    try:
        first = next(reader)
    except StopIteration:
        raise BadFile("the file is empty", field="file") from None
    except csv.Error as error:
        raise BadFile(f"the header cannot be read: {error}", field="file") from None
    header = [c.strip().lower() for c in first]
    missing = [c for c in HEAD_END_COLUMNS if c not in header]
    unknown = [c for c in header if c not in HEAD_END_COLUMNS + HEAD_END_OPTIONAL]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or repeated:
        raise BadFile(
            "; ".join(
                problem
                for problem in (
                    "missing column(s) " + ", ".join(missing) if missing else "",
                    "unknown column(s) " + ", ".join(unknown) if unknown else "",
                    "repeated column(s) " + ", ".join(repeated) if repeated else "",
                )
                if problem
            )
            + f" (expected {', '.join(HEAD_END_COLUMNS)}[, quality])",
            field="columns",
        )
    header_text = "".join(lines).rstrip("\r\n")
    index = {c: header.index(c) for c in header}
    points: list[Point] = []
    errors: list[dict[str, Any]] = []
    stamps: dict[str, datetime | Any] = {}
    rows_read = 0
    while True:
        first_line = len(lines)
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            rows_read += 1
            starts[reader.line_num] = first_line
            errors.append(_error(f"line {reader.line_num}", "bad-csv", str(error)))
            continue
        line = f"line {reader.line_num}"
        if not fields or all(not f.strip() for f in fields):
            continue
        rows_read += 1
        starts[reader.line_num] = first_line
        if len(fields) != len(header):
            errors.append(
                _error(line, "wrong-field-count", f"{len(fields)} fields, expected {len(header)}")
            )
            continue
        meter = fields[index["meter"]].strip()
        channel = fields[index["channel"]].strip().lower()
        if channel not in IntervalChannel.values:
            errors.append(
                _error(line, "unknown-channel", f"{channel!r} is not a channel", meter=meter)
            )
            continue
        whose = {"meter": meter, "channel": channel}
        text_at = fields[index["interval_start"]]
        at = stamps.get(text_at)
        if at is None:
            at = stamps[text_at] = parse_timestamp(text_at, field="interval_start")
        if not isinstance(at, datetime):
            errors.append(_error(line, at.code, at.message, **whose))
            continue
        minutes_text = fields[index["interval_minutes"]].strip()
        if minutes_text not in {"5", "15", "30", "60"}:
            errors.append(
                _error(
                    line,
                    "bad-number",
                    f"interval_minutes {minutes_text!r} is not 5, 15, 30 or 60",
                    **whose,
                )
            )
            continue
        value = to_fixed_point(fields[index["value"]], channel)
        if value is None:
            errors.append(
                _error(
                    line,
                    "bad-number",
                    f"value {fields[index['value']]!r} is not a number of the channel's resolution",
                    **whose,
                )
            )
            continue
        quality = 0
        if "quality" in index:
            name = fields[index["quality"]].strip().lower()
            if name:
                if name not in QUALITY_NAMES:
                    errors.append(
                        _error(
                            line,
                            "bad-quality",
                            f"{name!r} is not one of {', '.join(QUALITY_NAMES)}",
                            **whose,
                        )
                    )
                    continue
                quality = QUALITY_NAMES[name]
        points.append(Point(line, meter, channel, at, int(minutes_text), value, quality))

    def source(ref: str) -> tuple[int, str]:
        number = int(ref.removeprefix("line "))
        return number, "".join(lines[starts[number] : number]).rstrip("\r\n")

    return ParsedIntervals(points, errors, rows_read, header_text, source)


def import_head_end_csv(*, utility_code: str, text: str) -> IntervalFileResult:
    """A head-end interval file: one row per interval with the columns ``meter, channel,
    interval_start, interval_minutes, value[, quality]``; ``value`` in the channel's unit (kWh
    for ``kwh``), ``interval_start`` ISO 8601 with its offset. Good rows are stored; every bad
    row is reported with its line, but kept nowhere: files from outside go through
    ``interval_imports.import_interval_file``, which records them and quarantines bad rows.
    Raises BadFile for a wrong header."""
    utility_id, tz = _utility(utility_code)
    parsed = read_head_end_csv(text)
    return _store(utility_id, tz, parsed.points, parsed.errors)
