from datetime import date
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from ampere.metering.models import IntervalDay, IntervalImport, Meter, QuarantinedInterval
from tests.factories.metering import sce_smart_meter

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def point():
    return sce_smart_meter()


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_prints_the_import_id_and_the_quarantined_rows(point, tmp_path):
    path = tmp_path / "headend-0602.csv"
    path.write_text(
        "meter,channel,interval_start,interval_minutes,value\n"
        "AMI-1,kwh,2025-06-02T00:00:00-07:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T00:15:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T00:30:00-07:00,15,0.25\n"
    )
    first = run("intervals", "import", str(path))
    record = IntervalImport.objects.get()
    assert first.splitlines() == [
        f"import {record.id}: 3 rows read, 2 stored (2 values in 1 meter-days), 1 quarantined",
        "  line 3: timestamp-without-zone: '2025-06-02T00:15:00' has no offset or zone: "
        "write it as 2025-05-31T09:15:00+07:00",
    ]
    second = run("intervals", "import", str(path))
    assert second.splitlines()[0] == (
        f"import {record.id}: 3 rows read, 2 stored (2 values in 1 meter-days), 1 quarantined"
        " (received before: nothing changed)"
    )
    assert (IntervalImport.objects.count(), QuarantinedInterval.objects.count()) == (1, 1)
    assert IntervalDay.objects.get().total == 750


def test_a_refused_file_is_recorded_before_the_command_fails(point, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("meter,start,value\nAMI-1,x,1\n")
    out = StringIO()
    with pytest.raises(CommandError, match=r"bad\.csv refused: columns: missing column"):
        call_command("intervals", "import", str(path), stdout=out)
    record = IntervalImport.objects.get()
    assert out.getvalue() == f"import {record.id}: refused\n"
    assert (record.status, record.file_name, record.header) == (
        "refused",
        "bad.csv",
        "meter,start,value",
    )
    assert IntervalDay.objects.count() == 0


def test_a_file_clashing_with_a_stored_days_length_prints_its_quarantined_rows(point, tmp_path):
    header = "meter,channel,interval_start,interval_minutes,value\n"
    quarter_hours = tmp_path / "quarter-hours.csv"
    quarter_hours.write_text(header + "AMI-1,kwh,2025-06-02T00:00:00-07:00,15,0.5\n")
    run("intervals", "import", str(quarter_hours))
    Meter.objects.filter(serial="AMI-1").update(interval_minutes=30)
    half_hours = tmp_path / "half-hours.csv"
    half_hours.write_text(
        header
        + "AMI-1,kwh,2025-06-02T00:30:00-07:00,30,1\n"
        + "AMI-1,kwh,2025-06-03T00:00:00-07:00,30,2\n"
    )
    out = run("intervals", "import", str(half_hours))
    record = IntervalImport.objects.get(file_name="half-hours.csv")
    assert out.splitlines() == [
        f"import {record.id}: 2 rows read, 1 stored (1 values in 1 meter-days), 1 quarantined",
        "  line 2: interval-length-clash: meter AMI-1, channel kwh, local day 2025-06-02 is "
        "stored in 15-minute intervals; this row is a 30-minute interval",
    ]
    assert list(IntervalDay.objects.order_by("day").values_list("day", "interval_minutes")) == [
        (date(2025, 6, 2), 15),
        (date(2025, 6, 3), 30),
    ]
