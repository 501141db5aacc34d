import json
from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from ampere.metering import operations
from ampere.metering.models import QuarantinedRead, RegisterRead
from tests.factories.metering import metered_point

pytestmark = pytest.mark.django_db
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def agreement():
    return metered_point(
        installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM), initial={"kwh": Decimal(1000)}
    )


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_readings_import_csv_twice_changes_nothing_the_second_time(agreement, tmp_path):
    path = tmp_path / "route-R1.csv"
    path.write_text(
        "meter,register,read_at,value\n"
        "M-0001,kwh,2025-02-01T10:00:00+07:00,1200\n"
        "M-0001,kwh,2025-02-01T10:00:00+07:00,1200\n"
    )
    first = run("readings", "import", str(path), "--by", "reader-7")
    assert first.splitlines()[1:] == ["  row 2: the same meter, register and time as row 1"]
    assert "2 rows, 1 accepted, 0 duplicates, 1 quarantined" in first
    second = run("readings", "import", str(path), "--by", "reader-7")
    assert "(received before: nothing changed)" in second
    assert RegisterRead.objects.filter(source="handheld").count() == 1
    assert QuarantinedRead.objects.count() == 1


def test_readings_import_refuses_wrong_columns(agreement, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("meter,value\nM-0001,10\n")
    with pytest.raises(CommandError, match="missing column"):
        run("readings", "import", str(path))
    assert RegisterRead.objects.filter(source="handheld").count() == 0


def test_routes_export_writes_the_handheld_file(agreement, tmp_path):
    operations.create_reading_cycle(
        utility_code="evn-hcmc", code="C01", name="Day 1", reading_dates=[date(2025, 2, 1)]
    )
    operations.create_route(
        utility_code="evn-hcmc",
        cycle_code="C01",
        code="R1",
        name="Route 1",
        service_point_codes=[agreement.service_point.code],
    )
    target = tmp_path / "R1.json"
    run("routes", "export", "--route", "R1", "--date", "2025-02-01", "--output", str(target))
    document = json.loads(target.read_text())
    assert document["stops"][0]["registers"] == [
        {
            "code": "kwh",
            "last_read": {"value": "1000.000", "date": "2025-01-01", "estimated": False},
            "expected": {"low": "1000.000", "high": None},
        }
    ]
