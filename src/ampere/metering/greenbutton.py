"""Green Button (NAESB REQ.21 ESPI) Atom XML: import of interval data and export of an
account's data.

Entries are tied together by their links: an IntervalBlock's ``up`` link names its
MeterReading's collection, a MeterReading's ``related`` links name its ReadingType and its
IntervalBlocks, and its ``up`` link its UsagePoint's collection. A reading's value is
``value × 10^powerOfTenMultiplier`` in the ReadingType's ``uom``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ampere.accounts.models import Account, ServiceAgreement
from ampere.core.errors import NotFound
from ampere.core.localtime import local_midnight, zone
from ampere.metering.intervals import ParsedIntervals, Point, _store, _utility
from ampere.metering.models import Installation, IntervalDay
from ampere.metering.parsing import BadFile
from ampere.metering.types import IntervalFileResult

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
_A = f"{{{ATOM}}}"
ET.register_namespace("espi", ESPI)
_E = f"{{{ESPI}}}"
BASE = "https://ampere.example/espi/1_1/resource"

# uom -> (channel, factor from the uom to the stored unit)
UOM_CHANNELS: dict[int, tuple[str, Decimal]] = {
    72: ("kwh", Decimal(1)),  # Wh
    38: ("p_max", Decimal(1)),  # W
    29: ("voltage", Decimal(10)),  # V
    5: ("current", Decimal(1000)),  # A
    33: ("frequency", Decimal(1000)),  # Hz
    65: ("power_factor", Decimal(1000)),  # cos θ
}
REVERSE_FLOW = 19
QUALITY_FROM_ESPI = {0: 0, 17: 0, 18: 0, 19: 0, 7: 3, 8: 1, 9: 1, 11: 1, 12: 1, 10: 4}
QUALITY_TO_ESPI = {1: 8, 3: 7, 4: 10}
CURRENCY_CODES = {"USD": 840, "VND": 704}
# LocalTimeParameters DST rules as the Green Button samples publish them (US rules).
DST_RULES = {"America/Los_Angeles": ("360E2000", "B40E2000", 3600)}


@dataclass(frozen=True)
class _ReadingType:
    channel: str
    factor: Decimal  # 10^powerOfTenMultiplier × uom-to-stored factor
    interval_seconds: int | None


def _text(element: Element | None, tag: str) -> str | None:
    if element is None:
        return None
    found = element.find(f"{_E}{tag}")
    return None if found is None or found.text is None else found.text.strip()


def _links(entry: Element) -> list[tuple[str, str]]:
    return [
        (link.get("rel", ""), link.get("href", "").rstrip("/"))
        for link in entry.findall(f"{_A}link")
    ]


def _int(text: str | None, what: str) -> int:
    if text is None:
        raise BadFile(f"{what} is missing", field="file")
    try:
        return int(text)
    except ValueError:
        raise BadFile(f"{what} {text!r} is not an integer", field="file") from None


def _parse_reading_type(element: Element, href: str) -> _ReadingType:
    uom = _int(_text(element, "uom"), f"ReadingType {href}: uom")
    if uom not in UOM_CHANNELS:
        raise BadFile(f"ReadingType {href}: unit of measure {uom} is not supported", field="file")
    channel, factor = UOM_CHANNELS[uom]
    flow = _text(element, "flowDirection")
    if uom == 72 and flow is not None and _int(flow, "flowDirection") == REVERSE_FLOW:
        channel = "kwh_received"
    power = _text(element, "powerOfTenMultiplier")
    exponent = 0 if power is None else _int(power, f"ReadingType {href}: powerOfTenMultiplier")
    length = _text(element, "intervalLength")
    return _ReadingType(
        channel,
        factor * Decimal(10) ** exponent,
        None if length is None else _int(length, "intervalLength"),
    )


def _feed_header(root: Element) -> str:
    feed_id = (root.findtext(f"{_A}id") or "").strip()
    title = (root.findtext(f"{_A}title") or "").strip()
    return f"feed {feed_id or '(no id)'}: {title or '(no title)'}"


def feed_header(data: bytes) -> str | None:
    """The feed's id and title, or None when the file is not an Atom feed."""
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException):
        return None
    return _feed_header(root) if root.tag == f"{_A}feed" else None


def read_green_button(data: bytes, *, meter_serial: str | None) -> ParsedIntervals:
    """Points of every IntervalBlock, and per-reading errors, each reading numbered in the order
    of the file. Raises BadFile when the structure is broken (not XML, not an Atom feed, blocks
    that lead to no ReadingType)."""
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException) as error:
        raise BadFile(f"not well-formed XML: {error}", field="file") from None
    if root.tag != f"{_A}feed":
        raise BadFile("the root element is not an Atom feed", field="file")
    entries = root.findall(f"{_A}entry")
    reading_types: dict[str, _ReadingType] = {}
    meter_readings: dict[str, tuple[list[tuple[str, str]], str]] = {}
    usage_titles: dict[str, str] = {}
    blocks: list[tuple[str, Element, list[tuple[str, str]]]] = []
    for position, entry in enumerate(entries, start=1):
        content = entry.find(f"{_A}content")
        if content is None or len(content) == 0:
            continue
        body = content[0]
        links = _links(entry)
        self_href = next((h for r, h in links if r == "self"), f"entry {position}")
        title = (entry.findtext(f"{_A}title") or "").strip()
        if body.tag == f"{_E}ReadingType":
            reading_types[self_href] = _parse_reading_type(body, self_href)
        elif body.tag == f"{_E}MeterReading":
            meter_readings[self_href] = (links, title)
        elif body.tag == f"{_E}UsagePoint":
            usage_titles[self_href] = title
        elif body.tag == f"{_E}IntervalBlock":
            blocks.append((f"entry {position}", body, links))
    if not blocks:
        raise BadFile("the feed has no IntervalBlock", field="file")
    points: list[Point] = []
    errors: list[dict[str, Any]] = []
    readings: dict[str, tuple[int, Element]] = {}
    for ref, block, links in blocks:
        reading_type, serial = _block_owner(ref, links, reading_types, meter_readings, usage_titles)
        serial = meter_serial or serial
        if not serial:
            raise BadFile(
                f"{ref}: no meter serial (give one, or title the MeterReading)", field="meter"
            )
        for index, reading in enumerate(block.findall(f"{_E}IntervalReading"), start=1):
            where = f"{ref} reading {index}"
            readings[where] = (len(readings) + 1, reading)
            point = _point(where, reading, reading_type, serial, errors)
            if point is not None:
                points.append(point)

    def source(ref: str) -> tuple[int, str]:
        number, element = readings[ref]
        return number, " ".join(ET.tostring(element, encoding="unicode").split())

    return ParsedIntervals(points, errors, len(readings), _feed_header(root), source)


def _block_owner(
    ref: str,
    links: list[tuple[str, str]],
    reading_types: dict[str, _ReadingType],
    meter_readings: dict[str, tuple[list[tuple[str, str]], str]],
    usage_titles: dict[str, str],
) -> tuple[_ReadingType, str]:
    up = next((h for r, h in links if r == "up"), None)
    owner = up.rsplit("/IntervalBlock", 1)[0] if up else None
    if owner in meter_readings:
        reading_links, title = meter_readings[owner]
        types = [h for r, h in reading_links if r == "related" and h in reading_types]
        if len(types) != 1:
            raise BadFile(f"{ref}: its MeterReading names no known ReadingType", field="file")
        usage_up = next((h for r, h in reading_links if r == "up"), "")
        usage = usage_up.rsplit("/MeterReading", 1)[0]
        return reading_types[types[0]], title or usage_titles.get(usage, "")
    if len(meter_readings) <= 1 and len(reading_types) == 1:
        (only,) = reading_types.values()
        title = next(iter(meter_readings.values()))[1] if meter_readings else ""
        return only, title
    raise BadFile(f"{ref}: the IntervalBlock's up link leads to no MeterReading", field="file")


def _point(
    where: str,
    reading: Element,
    reading_type: _ReadingType,
    serial: str,
    errors: list[dict[str, Any]],
) -> Point | None:
    whose = {"meter": serial, "channel": reading_type.channel}
    period = reading.find(f"{_E}timePeriod")
    start_text = _text(period, "start")
    duration_text = _text(period, "duration")
    value_text = _text(reading, "value")
    if start_text is None or value_text is None:
        errors.append(
            {
                "ref": where,
                "code": "bad-structure",
                "message": "no timePeriod start or no value",
                **whose,
            }
        )
        return None
    try:
        start = int(start_text)
        seconds = int(duration_text) if duration_text is not None else reading_type.interval_seconds
        raw_value = int(value_text)
    except ValueError:
        errors.append(
            {
                "ref": where,
                "code": "bad-number",
                "message": "start, duration and value must be integers",
                **whose,
            }
        )
        return None
    if seconds is None or seconds not in (300, 900, 1800, 3600):
        errors.append(
            {"ref": where, "code": "bad-interval", "message": f"interval of {seconds} s", **whose}
        )
        return None
    stored = raw_value * reading_type.factor
    if stored != stored.to_integral_value() or abs(stored) >= 2**31:
        errors.append(
            {
                "ref": where,
                "code": "bad-number",
                "message": f"{raw_value} × {reading_type.factor} is finer than stored values",
                **whose,
            }
        )
        return None
    quality_text = reading.findtext(f"{_E}ReadingQuality/{_E}quality")
    quality = 0
    if quality_text is not None:
        try:
            quality = QUALITY_FROM_ESPI.get(int(quality_text), 4)
        except ValueError:
            quality = 4
    return Point(
        where,
        serial,
        reading_type.channel,
        datetime.fromtimestamp(start, UTC),
        seconds // 60,
        int(stored),
        quality,
    )


def import_green_button(
    *, utility_code: str, data: bytes, meter_serial: str | None = None
) -> IntervalFileResult:
    """Store a Green Button file's intervals; per-reading errors are reported, the good
    readings stored. Raises BadFile for a broken structure."""
    utility_id, tz = _utility(utility_code)
    parsed = read_green_button(data, meter_serial=meter_serial)
    return _store(utility_id, tz, parsed.points, parsed.errors)


# --- export ---------------------------------------------------------------------------------------


def _sub(parent: Element, tag: str, text: object | None = None, **attributes: str) -> Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = str(text)
    return element


def _entry(
    feed: Element, *, href: str, title: str, updated: str, links: list[tuple[str, str]]
) -> Element:
    entry = _sub(feed, f"{_A}entry")
    _sub(entry, f"{_A}id", f"urn:uuid:{_uuid(href)}")
    for rel, target in [("self", href), *links]:
        _sub(entry, f"{_A}link", rel=rel, href=target)
    _sub(entry, f"{_A}title", title)
    _sub(entry, f"{_A}published", updated)
    _sub(entry, f"{_A}updated", updated)
    return _sub(entry, f"{_A}content")


def _uuid(text: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, text))


def export_green_button(
    *, account_number: str, period_start: date, period_end: date, now: datetime
) -> bytes:
    """An account's interval data of ``[period_start, period_end)`` as a Green Button feed: a
    UsagePoint per service point, a MeterReading per meter installed on it (titled with the
    serial), an IntervalBlock per local day, values in Wh."""
    account = (
        Account.objects.filter(number=account_number)
        .values("id", "number", "utility__time_zone", "utility__currency")
        .first()
    )
    if account is None:
        raise NotFound(f"no account {account_number!r}", field="account")
    tz_name = account["utility__time_zone"]
    tz = zone(tz_name)
    updated = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ET.register_namespace("", ATOM)
    ET.register_namespace("espi", ESPI)
    feed = Element(f"{_A}feed")
    _sub(feed, f"{_A}id", f"urn:uuid:{_uuid(BASE + '/Account/' + account['number'])}")
    _sub(feed, f"{_A}title", f"Green Button data of account {account['number']}")
    _sub(feed, f"{_A}updated", updated)
    local_href = f"{BASE}/LocalTimeParameters/1"
    content = _entry(feed, href=local_href, title="Local time", updated=updated, links=[])
    ltp = _sub(content, f"{_E}LocalTimeParameters")
    start_rule, end_rule, dst = DST_RULES.get(tz_name, ("00000000", "00000000", 0))
    standard = local_midnight(date(period_start.year, 1, 15), tz).utcoffset() or timedelta()
    offset = int(standard.total_seconds())
    _sub(ltp, f"{_E}dstEndRule", end_rule)
    _sub(ltp, f"{_E}dstOffset", dst)
    _sub(ltp, f"{_E}dstStartRule", start_rule)
    _sub(ltp, f"{_E}tzOffset", offset)
    points = list(
        ServiceAgreement.objects.filter(account_id=account["id"])
        .order_by("service_point__code")
        .values_list("service_point_id", "service_point__code")
        .distinct()
    )
    for up_index, (point_id, point_code) in enumerate(points, start=1):
        usage_href = f"{BASE}/Subscription/{account['number']}/UsagePoint/{up_index}"
        usage = _entry(
            feed,
            href=usage_href,
            title=point_code,
            updated=updated,
            links=[
                ("up", f"{BASE}/Subscription/{account['number']}/UsagePoint"),
                ("related", f"{usage_href}/MeterReading"),
                ("related", local_href),
            ],
        )
        category = _sub(_sub(usage, f"{_E}UsagePoint"), f"{_E}ServiceCategory")
        _sub(category, f"{_E}kind", 0)
        installations = (
            Installation.objects.filter(
                service_point_id=point_id, meter__interval_minutes__isnull=False
            )
            .order_by("installed_period")
            .values_list("meter_id", "meter__serial", "meter__interval_minutes")
        )
        for mr_index, (meter_id, serial, minutes) in enumerate(installations, start=1):
            reading_href = f"{usage_href}/MeterReading/{mr_index}"
            type_href = f"{BASE}/ReadingType/{up_index}-{mr_index}"
            _sub(
                _entry(
                    feed,
                    href=reading_href,
                    title=serial,
                    updated=updated,
                    links=[
                        ("up", f"{usage_href}/MeterReading"),
                        ("related", type_href),
                        ("related", f"{reading_href}/IntervalBlock"),
                    ],
                ),
                f"{_E}MeterReading",
            )
            rtype = _sub(
                _entry(
                    feed, href=type_href, title="Energy delivered (Wh)", updated=updated, links=[]
                ),
                f"{_E}ReadingType",
            )
            for tag, value in (
                ("accumulationBehaviour", 4),
                ("commodity", 1),
                ("currency", CURRENCY_CODES.get(account["utility__currency"], 0)),
                ("dataQualifier", 12),
                ("flowDirection", 1),
                ("intervalLength", (minutes or 0) * 60),
                ("kind", 12),
                ("phase", 769),
                ("powerOfTenMultiplier", 0),
                ("timeAttribute", 0),
                ("uom", 72),
            ):
                _sub(rtype, f"{_E}{tag}", value)
            days = (
                IntervalDay.objects.filter(
                    meter_id=meter_id, channel="kwh", day__gte=period_start, day__lt=period_end
                )
                .order_by("day")
                .values_list("day", "interval_minutes", "values", "quality")
            )
            for day, day_minutes, values, quality in days:
                midnight = local_midnight(day, tz)
                start = int(midnight.timestamp())
                block_href = f"{reading_href}/IntervalBlock/{day.isoformat()}"
                block = _sub(
                    _entry(
                        feed,
                        href=block_href,
                        title=day.isoformat(),
                        updated=updated,
                        links=[("up", f"{reading_href}/IntervalBlock")],
                    ),
                    f"{_E}IntervalBlock",
                )
                interval = _sub(block, f"{_E}interval")
                _sub(interval, f"{_E}duration", len(values) * day_minutes * 60)
                _sub(interval, f"{_E}start", start)
                for index, value in enumerate(values):
                    flag = 0 if quality is None else quality[index]
                    if flag == 2:
                        continue
                    reading = _sub(block, f"{_E}IntervalReading")
                    if flag in QUALITY_TO_ESPI:
                        _sub(
                            _sub(reading, f"{_E}ReadingQuality"),
                            f"{_E}quality",
                            QUALITY_TO_ESPI[flag],
                        )
                    period = _sub(reading, f"{_E}timePeriod")
                    _sub(period, f"{_E}duration", day_minutes * 60)
                    _sub(period, f"{_E}start", start + index * day_minutes * 60)
                    _sub(reading, f"{_E}value", value)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
