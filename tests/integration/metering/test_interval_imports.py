import threading
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from ampere.core.errors import InvalidInput
from ampere.metering import interval_imports, intervals, queries
from ampere.metering.models import IntervalDay, IntervalImport, Meter, QuarantinedInterval
from ampere.metering.types import IntervalImportResult
from tests.factories.metering import metered_point, sce_smart_meter

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2025, 6, 3, 8, tzinfo=UTC)
LATER = datetime(2025, 6, 4, 9, tzinfo=UTC)
HEADER = "meter,channel,interval_start,interval_minutes,value"
GOOD = "AMI-1,kwh,2025-06-02T00:00:00-07:00,15,0.5"


@pytest.fixture
def point():
    return sce_smart_meter().service_point_id


def csv_import(text: str, *, name: str = "headend.csv", now: datetime = NOW):
    return interval_imports.import_interval_file(
        utility_code="sce", data=text.encode(), file_format="headend", file_name=name, now=now
    )


def quarantine_rows():
    return list(
        QuarantinedInterval.objects.order_by("row_number").values_list(
            "row_number", "row_ref", "raw", "reason", "message", "meter_serial", "channel", "status"
        )
    )


def stored_day():
    day = IntervalDay.objects.get()
    assert day.quality is not None
    return day.day, day.values[:3], day.quality[:3], day.total


@pytest.mark.parametrize(
    ("bad", "reason", "message", "meter", "channel"),
    [
        (
            "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,abc",
            "bad-number",
            "value 'abc' is not a number of the channel's resolution",
            "AMI-1",
            "kwh",
        ),
        (
            "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,0.0001",
            "bad-number",
            "value '0.0001' is not a number of the channel's resolution",
            "AMI-1",
            "kwh",
        ),
        (
            "AMI-1,kwh,2025-06-02T00:00:00-07:00,15,0.75",
            "duplicate-row",
            "the same meter, channel and time as line 2",
            "AMI-1",
            "kwh",
        ),
        (
            "AMI-9,kwh,2025-06-02T00:15:00-07:00,15,0.5",
            "unknown-meter",
            "no meter 'AMI-9'",
            "AMI-9",
            "kwh",
        ),
        (
            "AMI-1,kwh,2025-06-02T00:15:00,15,0.5",
            "timestamp-without-zone",
            "'2025-06-02T00:15:00' has no offset or zone: write it as 2025-05-31T09:15:00+07:00",
            "AMI-1",
            "kwh",
        ),
        (
            "AMI-1,kwh,2025-06-02T00:15:00-07:00,15",
            "wrong-field-count",
            "4 fields, expected 5",
            "",
            "",
        ),
        (
            "AMI-1,gas,2025-06-02T00:15:00-07:00,15,0.5",
            "unknown-channel",
            "'gas' is not a channel",
            "AMI-1",
            "",
        ),
        (
            "AMI-1,kwh," + "9" * 200_000 + ",15,0.5",
            "bad-csv",
            "field larger than field limit (131072)",
            "",
            "",
        ),
    ],
    ids=[
        "not-a-number",
        "too-fine",
        "duplicate",
        "unknown-meter",
        "no-zone",
        "columns",
        "channel",
        "unreadable",
    ],
)
def test_a_bad_csv_row_is_quarantined_and_the_good_rows_stored(
    point, bad, reason, message, meter, channel
):
    text = f"{HEADER}\n{GOOD}\n{bad}\nAMI-1,kwh,2025-06-02T00:30:00-07:00,15,0.25\n"
    result = csv_import(text)
    assert (
        result.status,
        result.reason,
        result.rows_read,
        result.rows_stored,
        result.rows_quarantined,
        result.days_loaded,
        result.values_loaded,
        result.replayed,
    ) == ("quarantined", "", 3, 2, 1, 1, 2, False)
    assert stored_day() == (date(2025, 6, 2), [500, 0, 250], [0, 2, 0], 750)
    assert quarantine_rows() == [(3, "line 3", bad, reason, message, meter, channel, "open")]
    record = IntervalImport.objects.get()
    assert (record.id, record.file_name, record.header, record.received_at) == (
        result.import_id,
        "headend.csv",
        HEADER,
        NOW,
    )
    assert len(record.content_sha256) == 64


def test_many_bad_rows_of_one_file_are_quarantined_in_file_order(point):
    text = (
        f"{HEADER}\n"
        "AMI-9,kwh,2025-06-02T00:15:00-07:00,15,0.5\n"
        f"{GOOD}\n"
        "\n"
        '"AMI-1","kwh","2025-06-02T00:30:00","15",\n'
        "AMI-1,kwh,2025-06-02T01:05:00-07:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T01:30:00-07:00,30,0.5\n"
    )
    result = csv_import(text)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (5, 1, 4)
    assert [(r[0], r[1], r[2], r[3]) for r in quarantine_rows()] == [
        (2, "line 2", "AMI-9,kwh,2025-06-02T00:15:00-07:00,15,0.5", "unknown-meter"),
        (5, "line 5", '"AMI-1","kwh","2025-06-02T00:30:00","15",', "timestamp-without-zone"),
        (6, "line 6", "AMI-1,kwh,2025-06-02T01:05:00-07:00,15,0.5", "misaligned-interval"),
        (7, "line 7", "AMI-1,kwh,2025-06-02T01:30:00-07:00,30,0.5", "interval-lengths-mixed"),
    ]


def test_a_quoted_row_over_two_lines_keeps_both_lines_as_raw_text(point):
    text = f'{HEADER}\n{GOOD}\n"AMI-1\nX",kwh,2025-06-02T00:15:00-07:00,15,0.5\n'
    result = csv_import(text)
    assert result.rows_quarantined == 1
    assert quarantine_rows() == [
        (
            4,
            "line 4",
            '"AMI-1\nX",kwh,2025-06-02T00:15:00-07:00,15,0.5',
            "unknown-meter",
            "no meter 'AMI-1\\nX'",
            "AMI-1\nX",
            "kwh",
            "open",
        )
    ]


def test_the_same_file_again_returns_the_first_result_and_stores_nothing_twice(point):
    text = f"{HEADER}\n{GOOD}\nAMI-9,kwh,2025-06-02T00:15:00-07:00,15,0.5\n"
    first = csv_import(text, name="day-1.csv")
    before = (stored_day(), quarantine_rows())
    again = csv_import(text, name="renamed.csv", now=LATER)
    assert again.replayed
    assert (again.import_id, again.file_name, again.received_at, again.status) == (
        first.import_id,
        "day-1.csv",
        NOW,
        "quarantined",
    )
    assert (again.rows_read, again.rows_stored, again.rows_quarantined) == (2, 1, 1)
    assert (IntervalImport.objects.count(), QuarantinedInterval.objects.count()) == (1, 1)
    assert (stored_day(), quarantine_rows()) == before
    assert queries.get_interval_import(import_id=first.import_id).rows_quarantined == 1


@pytest.mark.parametrize(
    ("data", "reason", "header"),
    [
        (
            b"meter,start,value\nAMI-1,x,1\n",
            "columns: missing column(s) channel, interval_start, interval_minutes; unknown "
            "column(s) start (expected meter, channel, interval_start, interval_minutes, "
            "value[, quality])",
            "meter,start,value",
        ),
        (
            (HEADER + ",value\n" + GOOD + ",1\n").encode(),
            "columns: repeated column(s) value (expected meter, channel, interval_start, "
            "interval_minutes, value[, quality])",
            HEADER + ",value",
        ),
        (b"", "file: the file is empty", ""),
        (
            HEADER.encode() + b"\nAMI-1,kwh,\xff\n",
            "file: the file is not UTF-8 text (byte 63)",
            HEADER,
        ),
    ],
    ids=["wrong-columns", "repeated-column", "empty", "not-utf8"],
)
def test_a_file_that_cannot_be_read_is_recorded_as_refused(point, data, reason, header):
    result = interval_imports.import_interval_file(
        utility_code="sce", data=data, file_format="headend", file_name="x.csv", now=NOW
    )
    assert (result.status, result.reason, result.rows_read, result.rows_quarantined) == (
        "refused",
        reason,
        0,
        0,
    )
    record = IntervalImport.objects.get()
    assert (record.id, record.status, record.reason, record.header) == (
        result.import_id,
        "refused",
        reason,
        header,
    )
    assert (IntervalDay.objects.count(), QuarantinedInterval.objects.count()) == (0, 0)
    again = interval_imports.import_interval_file(
        utility_code="sce", data=data, file_format="headend", file_name="x.csv", now=LATER
    )
    assert (again.import_id, again.status, again.replayed) == (result.import_id, "refused", True)
    assert IntervalImport.objects.count() == 1


def test_unknown_format_or_a_meter_for_a_csv_is_invalid_input_and_records_nothing(point):
    with pytest.raises(InvalidInput, match="'xls' is not one of headend, greenbutton"):
        interval_imports.import_interval_file(
            utility_code="sce", data=b"x", file_format="xls", now=NOW
        )
    with pytest.raises(InvalidInput, match="only with a Green Button file"):
        interval_imports.import_interval_file(
            utility_code="sce", data=b"x", file_format="headend", meter_serial="AMI-1", now=NOW
        )
    assert IntervalImport.objects.count() == 0


GREEN_BUTTON = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">
 <id>urn:uuid:feed-1</id><title>June usage</title>
 <entry><link rel="self" href="/UsagePoint/1/MeterReading/1"/>
  <link rel="up" href="/UsagePoint/1/MeterReading"/><link rel="related" href="/ReadingType/7"/>
  <title>AMI-1</title><content><espi:MeterReading/></content></entry>
 <entry><link rel="self" href="/ReadingType/7"/><content><espi:ReadingType>
  <espi:intervalLength>900</espi:intervalLength><espi:uom>72</espi:uom>
 </espi:ReadingType></content></entry>
 <entry><link rel="self" href="/UsagePoint/1/MeterReading/1/IntervalBlock/1"/>
  <link rel="up" href="/UsagePoint/1/MeterReading/1/IntervalBlock"/>
  <content><espi:IntervalBlock>
   <espi:IntervalReading><espi:timePeriod><espi:duration>900</espi:duration>
    <espi:start>1748847600</espi:start></espi:timePeriod><espi:value>500</espi:value>
   </espi:IntervalReading>
   <espi:IntervalReading><espi:timePeriod><espi:start>1748848500</espi:start></espi:timePeriod>
   </espi:IntervalReading>
   <espi:IntervalReading><espi:timePeriod><espi:start>1748849400</espi:start></espi:timePeriod>
    <espi:value>2.5</espi:value></espi:IntervalReading>
   <espi:IntervalReading><espi:timePeriod><espi:start>1748849400</espi:start></espi:timePeriod>
    <espi:value>250</espi:value></espi:IntervalReading>
  </espi:IntervalBlock></content></entry>
</feed>"""


def test_green_button_bad_readings_are_quarantined_with_their_xml(point):
    result = interval_imports.import_interval_file(
        utility_code="sce",
        data=GREEN_BUTTON.encode(),
        file_format="greenbutton",
        file_name="gb.xml",
        now=NOW,
    )
    assert (
        result.status,
        result.rows_read,
        result.rows_stored,
        result.rows_quarantined,
        result.values_loaded,
    ) == ("quarantined", 4, 2, 2, 2)
    assert stored_day() == (date(2025, 6, 2), [500, 0, 250], [0, 2, 0], 750)
    assert IntervalImport.objects.get().header == "feed urn:uuid:feed-1: June usage"
    assert quarantine_rows() == [
        (
            2,
            "entry 3 reading 2",
            '<espi:IntervalReading xmlns:espi="http://naesb.org/espi"><espi:timePeriod>'
            "<espi:start>1748848500</espi:start></espi:timePeriod> </espi:IntervalReading>",
            "bad-structure",
            "no timePeriod start or no value",
            "AMI-1",
            "kwh",
            "open",
        ),
        (
            3,
            "entry 3 reading 3",
            '<espi:IntervalReading xmlns:espi="http://naesb.org/espi"><espi:timePeriod>'
            "<espi:start>1748849400</espi:start></espi:timePeriod> <espi:value>2.5</espi:value>"
            "</espi:IntervalReading>",
            "bad-number",
            "start, duration and value must be integers",
            "AMI-1",
            "kwh",
            "open",
        ),
    ]


@pytest.mark.parametrize(
    ("data", "reason", "header"),
    [
        (
            b"<feed><entry>",
            "file: not well-formed XML: no element found: line 1, column 13",
            "<feed><entry>",
        ),
        (
            GREEN_BUTTON.replace(
                'href="/ReadingType/7"/>\n  <title>', 'href="/ReadingType/8"/>\n  <title>'
            )
            .replace("<title>June usage</title>", "")
            .encode(),
            "file: entry 3: its MeterReading names no known ReadingType",
            "feed urn:uuid:feed-1: (no title)",
        ),
        (
            GREEN_BUTTON.replace("<title>AMI-1</title>", "").encode(),
            "meter: entry 3: no meter serial (give one, or title the MeterReading)",
            "feed urn:uuid:feed-1: June usage",
        ),
    ],
    ids=["not-xml", "no-reading-type", "no-serial"],
)
def test_a_green_button_file_with_a_broken_structure_is_recorded_as_refused(
    point, data, reason, header
):
    result = interval_imports.import_interval_file(
        utility_code="sce", data=data, file_format="greenbutton", now=NOW
    )
    assert (result.status, result.reason) == ("refused", reason)
    assert IntervalImport.objects.get().header == header
    assert (IntervalDay.objects.count(), QuarantinedInterval.objects.count()) == (0, 0)


def test_a_serial_given_with_a_green_button_file_is_another_import(point):
    data = GREEN_BUTTON.replace("<title>AMI-1</title>", "").encode()
    refused = interval_imports.import_interval_file(
        utility_code="sce", data=data, file_format="greenbutton", now=NOW
    )
    stored = interval_imports.import_interval_file(
        utility_code="sce", data=data, file_format="greenbutton", meter_serial="AMI-1", now=NOW
    )
    assert (refused.status, stored.status, stored.replayed) == ("refused", "quarantined", False)
    assert stored.import_id != refused.import_id
    assert stored.rows_stored == 2


def quarantined_bad_number(point):
    text = f"{HEADER}\n{GOOD}\nAMI-1,kwh,2025-06-02T00:15:00-07:00,15,0,25\n"
    csv_import(text)
    return QuarantinedInterval.objects.get()


def test_a_clerk_corrects_a_csv_row_and_it_is_stored_through_the_normal_path(point):
    row = quarantined_bad_number(point)
    assert row.reason == "wrong-field-count"
    stored = interval_imports.correct_quarantined_interval(
        quarantine_id=row.id,
        raw="AMI-1,kwh,2025-06-02T00:15:00-07:00,15,0.25\n",
        by="staff:clerk",
        note="decimal comma",
        now=LATER,
    )
    assert (stored.days_loaded, stored.values_loaded, stored.row_errors) == (1, 1, ())
    assert stored_day() == (date(2025, 6, 2), [500, 250, 0], [0, 0, 2], 750)
    row.refresh_from_db()
    assert (
        row.status,
        row.corrected_raw,
        row.resolved_by,
        row.resolved_at,
        row.resolution_note,
        row.raw,
    ) == (
        "resolved",
        "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,0.25",
        "staff:clerk",
        LATER,
        "decimal comma",
        "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,0,25",
    )
    with pytest.raises(interval_imports.IntervalCorrectionRefused, match="resolved already"):
        interval_imports.correct_quarantined_interval(
            quarantine_id=row.id, raw=GOOD, by="staff:clerk", now=LATER
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,abc",
            "raw: bad-number: value 'abc' is not a number of the channel's resolution",
        ),
        ("AMI-7,kwh,2025-06-02T00:15:00-07:00,15,0.25", "raw: unknown-meter: no meter 'AMI-7'"),
        (f"{GOOD}\n{GOOD}", "raw: give exactly one row (2 given)"),
        ("  ", "raw: give the corrected row"),
    ],
    ids=["still-bad", "unknown-meter", "two-rows", "empty"],
)
def test_a_correction_that_is_still_bad_changes_nothing(point, raw, message):
    row = quarantined_bad_number(point)
    before = stored_day()
    with pytest.raises(interval_imports.IntervalCorrectionRefused) as refused:
        interval_imports.correct_quarantined_interval(
            quarantine_id=row.id, raw=raw, by="staff:clerk", now=LATER
        )
    assert str(refused.value) == message
    assert stored_day() == before
    row.refresh_from_db()
    assert (row.status, row.corrected_raw, row.resolved_at) == ("open", "", None)


def test_green_button_rows_are_marked_resolved_not_corrected(point):
    interval_imports.import_interval_file(
        utility_code="sce", data=GREEN_BUTTON.encode(), file_format="greenbutton", now=NOW
    )
    first, second = QuarantinedInterval.objects.order_by("row_number")
    with pytest.raises(interval_imports.IntervalCorrectionRefused, match="mark the row resolved"):
        interval_imports.correct_quarantined_interval(
            quarantine_id=first.id, raw=GOOD, by="staff:clerk", now=LATER
        )
    with pytest.raises(InvalidInput, match="say why"):
        interval_imports.resolve_quarantined_intervals(
            quarantine_ids=[first.id], by="staff:clerk", note=" ", now=LATER
        )
    resolved = interval_imports.resolve_quarantined_intervals(
        quarantine_ids=[first.id, second.id], by="staff:clerk", note="meter replaced", now=LATER
    )
    again = interval_imports.resolve_quarantined_intervals(
        quarantine_ids=[first.id], by="staff:other", note="again", now=NOW
    )
    assert (resolved, again) == (2, 0)
    assert (
        list(
            QuarantinedInterval.objects.order_by("row_number").values_list(
                "status", "resolved_by", "resolved_at", "resolution_note"
            )
        )
        == [("resolved", "staff:clerk", LATER, "meter replaced")] * 2
    )
    assert [
        r.status for r in queries.quarantined_intervals(import_id=first.interval_import_id)
    ] == [
        "resolved",
        "resolved",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_refused_file_stays_recorded_when_the_callers_transaction_fails(point):
    refused: list[int] = []
    with pytest.raises(RuntimeError, match="the caller fails"), transaction.atomic():
        stored = csv_import(f"{HEADER}\n{GOOD}\n", name="good.csv")
        result = interval_imports.import_interval_file(
            utility_code="sce", data=b"meter,value\nAMI-1,1\n", file_format="headend", now=NOW
        )
        refused.append(result.import_id)
        assert (result.status, stored.status) == ("refused", "stored")
        raise RuntimeError("the caller fails")
    assert list(IntervalImport.objects.values_list("id", "status", "reason", "header")) == [
        (
            refused[0],
            "refused",
            "columns: missing column(s) channel, interval_start, interval_minutes "
            "(expected meter, channel, interval_start, interval_minutes, value[, quality])",
            "meter,value",
        )
    ]
    # The good file went with the caller's transaction, and may simply be imported again.
    assert IntervalDay.objects.count() == 0
    again = csv_import(f"{HEADER}\n{GOOD}\n", name="good.csv")
    assert (again.status, again.replayed, again.rows_stored) == ("stored", False, 1)


CLASH = (
    "meter AMI-1, channel kwh, local day 2025-06-02 is stored in 15-minute intervals; "
    "this row is a 30-minute interval"
)


def clash_row(number: int, raw: str):
    """A quarantine row (as ``quarantine_rows`` gives it) of a 30-minute AMI-1 row of
    2025-06-02, a day stored in quarter-hours."""
    return (number, f"line {number}", raw, "interval-length-clash", CLASH, "AMI-1", "kwh", "open")


@pytest.fixture
def second_point(point):
    return metered_point(
        utility_code="sce",
        serial="AMI-2",
        kind="smart",
        digits=6,
        interval_minutes=15,
        installed_at=datetime(2025, 1, 1, tzinfo=LA),
    ).service_point_id


def stored_days():
    return [
        (serial, channel, day, minutes, len(values), values[:3], quality and quality[:3], total)
        for serial, channel, day, minutes, values, quality, total in IntervalDay.objects.order_by(
            "meter__serial", "channel", "day"
        ).values_list(
            "meter__serial", "channel", "day", "interval_minutes", "values", "quality", "total"
        )
    ]


def half_hour_meter():
    """AMI-1 keeps 2025-06-02 in quarter-hours, then is set to half-hours."""
    csv_import(f"{HEADER}\n{GOOD}\n", name="quarter-hours.csv")
    Meter.objects.filter(serial="AMI-1").update(interval_minutes=30)


CLASHING_FILE = (
    f"{HEADER}\n"
    "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1\n"
    "AMI-2,kwh,2025-06-02T00:00:00-07:00,15,0.125\n"
    "AMI-1,kwh,2025-06-03T00:00:00-07:00,30,2\n"
    "AMI-1,kwh,2025-06-02T01:00:00-07:00,30,1.5\n"
    "AMI-2,kwh,2025-06-02T00:15:00-07:00,15,0.375\n"
)


def test_rows_for_days_stored_with_another_length_are_quarantined_and_the_rest_stored(
    point, second_point
):
    half_hour_meter()
    result = csv_import(CLASHING_FILE, name="half-hours.csv")
    assert (
        result.status,
        result.reason,
        result.rows_read,
        result.rows_stored,
        result.rows_quarantined,
        result.days_loaded,
        result.values_loaded,
    ) == ("quarantined", "", 5, 3, 2, 2, 3)
    assert IntervalImport.objects.get(id=result.import_id).header == HEADER
    assert stored_days() == [
        ("AMI-1", "kwh", date(2025, 6, 2), 15, 96, [500, 0, 0], [0, 2, 2], 500),
        ("AMI-1", "kwh", date(2025, 6, 3), 30, 48, [2000, 0, 0], [0, 2, 2], 2000),
        ("AMI-2", "kwh", date(2025, 6, 2), 15, 96, [125, 375, 0], [0, 0, 2], 500),
    ]
    assert quarantine_rows() == [
        clash_row(2, "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1"),
        clash_row(5, "AMI-1,kwh,2025-06-02T01:00:00-07:00,30,1.5"),
    ]
    before = (stored_days(), quarantine_rows())
    again = csv_import(CLASHING_FILE, name="half-hours-again.csv", now=LATER)
    assert (again.import_id, again.replayed, again.status) == (
        result.import_id,
        True,
        "quarantined",
    )
    assert (again.rows_read, again.rows_stored, again.rows_quarantined) == (5, 3, 2)
    assert (stored_days(), quarantine_rows()) == before
    assert IntervalImport.objects.count() == 2


def test_finding_clashing_days_takes_the_same_queries_for_few_rows_or_many(point, second_point):
    half_hour_meter()

    def queries_for(rows: int, first_day: int) -> int:
        # The clashing row, then AMI-1 in half-hours and AMI-2 in quarter-hours, a row each per
        # day from first_day (the files' days do not meet, so both are loaded by direct COPY).
        lines = [
            "AMI-1,kwh,2025-06-02T00:00:00-07:00,30,1",
            *(
                f"AMI-{1 + n % 2},kwh,2025-06-{first_day + n // 2:02d}T00:00:00-07:00,"
                f"{(30, 15)[n % 2]},1"
                for n in range(rows)
            ),
        ]
        with CaptureQueriesContext(connection) as captured:
            result = csv_import("\n".join([HEADER, *lines]) + "\n")
        assert (result.rows_stored, result.rows_quarantined) == (rows, 1)
        return len(captured.captured_queries)

    assert queries_for(4, 3) == queries_for(40, 10) == 13


def test_a_file_mixing_interval_lengths_for_a_day_stores_the_meters_length_only(point):
    text = (
        f"{HEADER}\n"
        f"{GOOD}\n"
        "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1\n"
        "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,0.25\n"
        "AMI-1,kwh,2025-06-02T01:00:00-07:00,60,2\n"
        "AMI-1,kwh,2025-06-03T00:00:00-07:00,30,1\n"
    )
    result = csv_import(text)
    assert (
        result.status,
        result.rows_read,
        result.rows_stored,
        result.rows_quarantined,
        result.days_loaded,
        result.values_loaded,
    ) == ("quarantined", 5, 2, 3, 1, 2)
    assert stored_days() == [
        ("AMI-1", "kwh", date(2025, 6, 2), 15, 96, [500, 250, 0], [0, 0, 2], 750),
    ]
    mixed = (
        "meter AMI-1, channel kwh, local day 2025-06-02: "
        "the file mixes 15-, 30- and 60-minute intervals"
    )
    assert [(r[0], r[3], r[4]) for r in quarantine_rows()] == [
        (
            3,
            "interval-lengths-mixed",
            f"{mixed}; the meter keeps 15 minutes, so this 30-minute row is not stored",
        ),
        (
            5,
            "interval-lengths-mixed",
            f"{mixed}; the meter keeps 15 minutes, so this 60-minute row is not stored",
        ),
        (6, "interval-length-mismatch", "30-minute interval for a meter of 15 minutes"),
    ]


def test_a_green_button_file_for_a_day_stored_with_another_length_is_quarantined(point):
    Meter.objects.filter(serial="AMI-1").update(interval_minutes=30)
    csv_import(f"{HEADER}\nAMI-1,kwh,2025-06-02T00:30:00-07:00,30,1\n")
    Meter.objects.filter(serial="AMI-1").update(interval_minutes=15)
    result = interval_imports.import_interval_file(
        utility_code="sce", data=GREEN_BUTTON.encode(), file_format="greenbutton", now=NOW
    )
    assert (result.status, result.rows_read, result.rows_stored, result.rows_quarantined) == (
        "quarantined",
        4,
        0,
        4,
    )
    clash = (
        "meter AMI-1, channel kwh, local day 2025-06-02 is stored in 30-minute intervals; "
        "this row is a 15-minute interval"
    )
    assert [(r[1], r[3], r[4]) for r in quarantine_rows()] == [
        ("entry 3 reading 1", "interval-length-clash", clash),
        ("entry 3 reading 2", "bad-structure", "no timePeriod start or no value"),
        ("entry 3 reading 3", "bad-number", "start, duration and value must be integers"),
        ("entry 3 reading 4", "interval-length-clash", clash),
    ]
    assert stored_days() == [
        ("AMI-1", "kwh", date(2025, 6, 2), 30, 48, [0, 1000, 0], [2, 0, 2], 1000),
    ]


def test_correcting_a_clashing_row_is_refused_while_the_day_keeps_the_other_length(
    point, second_point
):
    half_hour_meter()
    csv_import(CLASHING_FILE)
    row = QuarantinedInterval.objects.get(row_number=2)
    before = stored_days()
    for raw in (row.raw, "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1.25"):
        with pytest.raises(interval_imports.IntervalCorrectionRefused) as refused:
            interval_imports.correct_quarantined_interval(
                quarantine_id=row.id, raw=raw, by="staff:clerk", now=LATER
            )
        assert str(refused.value) == f"raw: interval-length-clash: {CLASH}"
    assert stored_days() == before
    row.refresh_from_db()
    assert (row.status, row.corrected_raw, row.resolved_at) == ("open", "", None)
    # Once the day holds half-hours (here: the quarter-hour day is gone), the row is stored.
    IntervalDay.objects.filter(meter__serial="AMI-1", day=date(2025, 6, 2)).delete()
    stored = interval_imports.correct_quarantined_interval(
        quarantine_id=row.id, raw=row.raw, by="staff:clerk", now=LATER
    )
    assert (stored.days_loaded, stored.values_loaded, stored.row_errors) == (1, 1, ())
    assert stored_days()[0] == (
        "AMI-1",
        "kwh",
        date(2025, 6, 2),
        30,
        48,
        [0, 1000, 0],
        [2, 0, 2],
        1000,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempts", [3, 1])
def test_a_day_another_session_stores_with_another_length_meanwhile_is_quarantined(
    point, attempts, monkeypatch
):
    """Another session stores AMI-1's 2025-06-02 in quarter-hours after the import looked for
    clashing days and before it loads: the load meets that day, and the import assembles the
    file again and quarantines that day's rows instead of refusing the file. With no attempt
    left the import raises and records nothing, so the file may simply be imported again."""
    monkeypatch.setattr(intervals, "STORE_ATTEMPTS", attempts)
    Meter.objects.filter(serial="AMI-1").update(interval_minutes=30)
    meter_id = Meter.objects.get(serial="AMI-1").id
    text = (
        f"{HEADER}\n"
        "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1\n"
        "AMI-1,kwh,2025-06-03T00:00:00-07:00,30,2\n"
    )
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    outcome: list[object] = []

    def import_file() -> None:
        try:
            outcome.append(csv_import(text))
        except Exception as error:
            outcome.append(error)
        finally:
            connection.close()

    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "INSERT INTO metering_intervalday (meter_id, channel, day, interval_minutes, "
                "values, quality, total, peak, running_totals) VALUES "
                "(%s, 'kwh', '2025-06-02', 15, array_fill(7, ARRAY[96]), NULL, 672, 7, NULL)",
                [meter_id],
            )
            importer = threading.Thread(target=import_file)
            importer.start()
            # The import waits for the other session's uncommitted day (its COPY meets the key).
            for _ in range(500):
                with connection.cursor() as watch:  # outside a transaction: fresh statistics
                    watch.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                    if watch.fetchone()[0]:
                        break
                time.sleep(0.01)
            else:
                cursor.execute("ROLLBACK")
                pytest.fail("the import never waited for the other session")
            cursor.execute("COMMIT")
        importer.join(timeout=30)
    finally:
        other.close()
    (result,) = outcome
    if attempts == 1:
        assert isinstance(result, intervals.IntervalLengthClash)
        assert str(result) == (
            f"interval_minutes: meter {meter_id} has data of another interval length on 2025-06-02"
        )
        assert (IntervalImport.objects.count(), IntervalDay.objects.count()) == (0, 1)
        result = csv_import(text)
    assert isinstance(result, IntervalImportResult)
    assert (result.status, result.rows_read, result.rows_stored, result.rows_quarantined) == (
        "quarantined",
        2,
        1,
        1,
    )
    assert (result.days_loaded, result.values_loaded) == (1, 1)
    assert quarantine_rows() == [clash_row(2, "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1")]
    assert stored_days() == [
        ("AMI-1", "kwh", date(2025, 6, 2), 15, 96, [7, 7, 7], None, 672),
        ("AMI-1", "kwh", date(2025, 6, 3), 30, 48, [2000, 0, 0], [0, 2, 2], 2000),
    ]


def test_rows_of_a_clashing_day_that_are_bad_otherwise_keep_their_own_reason(point):
    half_hour_meter()
    text = (
        f"{HEADER}\n"
        "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1\n"
        "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1.5\n"
        "AMI-1,kwh,2025-06-02T00:45:00-07:00,30,1\n"
        "AMI-1,kwh,2025-06-02T01:00:00-07:00,15,1\n"
    )
    result = csv_import(text)
    assert (result.status, result.rows_stored, result.rows_quarantined) == ("quarantined", 0, 4)
    assert [(r[1], r[3]) for r in quarantine_rows()] == [
        ("line 2", "interval-length-clash"),
        ("line 3", "duplicate-row"),
        ("line 4", "misaligned-interval"),
        ("line 5", "interval-lengths-mixed"),
    ]
    assert stored_days() == [
        ("AMI-1", "kwh", date(2025, 6, 2), 15, 96, [500, 0, 0], [0, 2, 2], 500),
    ]
