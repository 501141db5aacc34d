from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ampere.metering.parsing import BadFile, RawRow, parse_row, read_csv, read_json
from ampere.metering.types import ReadingRow, RowProblem


def problems_of(row: RawRow, source: str = "handheld") -> tuple[RowProblem, ...]:
    parsed = parse_row(row, default_source=source)
    assert isinstance(parsed, tuple)
    return parsed


def test_csv_with_wrong_columns_is_refused_as_a_file():
    with pytest.raises(BadFile) as refused:
        read_csv("meter,reading,read_at\nM1,10,2025-05-01T09:00:00+07:00\n")
    assert refused.value.field == "columns"
    assert str(refused.value) == (
        "columns: missing column(s) register, value; unknown column(s) reading "
        "(expected meter, register, read_at, value, and optionally source)"
    )


def test_csv_row_with_the_wrong_number_of_fields_is_a_row_problem():
    parsed = read_csv("meter,register,read_at,value\nM1,kwh,2025-05-01T09:00:00+07:00\n")
    (row,) = parsed.rows
    assert problems_of(row)[0].code == "wrong-field-count"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"read_at": "2025-05-01T09:00:00"}, "timestamp-without-zone", "read_at"),
        ({"read_at": "1 May"}, "bad-timestamp", "read_at"),
        ({"value": "12,5"}, "bad-number", "value"),
        ({"value": "-3"}, "bad-number", "value"),
        ({"value": "1.23456"}, "bad-number", "value"),
        ({"value": "NaN"}, "bad-number", "value"),
        ({"register": "kwh_total"}, "unknown-register", "register"),
        ({"meter": ""}, "missing-field", "meter"),
        ({"source": "estimated"}, "bad-source", "source"),
    ],
)
def test_bad_fields_are_named(fields, code, field):
    raw = {"meter": "M1", "register": "kwh", "read_at": "2025-05-01T09:00:00+07:00", "value": "10"}
    raw.update(fields)
    problems = problems_of(RawRow(1, raw))
    assert [(p.code, p.field) for p in problems] == [(code, field)]


def test_a_good_row_parses_to_an_aware_time_and_a_decimal():
    raw = {
        "meter": " M1 ",
        "register": "KWH",
        "read_at": "2025-05-01T09:00:00+07:00",
        "value": 10.5,
    }
    reading = parse_row(RawRow(3, raw), default_source="remote")
    assert isinstance(reading, ReadingRow)
    assert reading.meter_serial == "M1"
    assert reading.register_code == "kwh"
    assert reading.read_at == datetime(2025, 5, 1, 2, tzinfo=UTC)
    assert reading.value == Decimal("10.5")
    assert reading.source == "remote"


def test_json_that_is_not_json_or_not_a_list_is_refused():
    with pytest.raises(BadFile):
        read_json(b"{not json")
    with pytest.raises(BadFile):
        read_json(b'{"readings": {"meter": "M1"}}')
    parsed = read_json(b'{"batch_id": "B7", "readings": [{"meter": "M1"}, 5]}')
    assert parsed.batch_id == "B7"
    assert problems_of(parsed.rows[1])[0].code == "not-an-object"
