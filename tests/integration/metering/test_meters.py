from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ampere.core.periods import DatePeriod
from ampere.metering import operations, queries
from ampere.metering.models import Installation
from ampere.metering.parsing import RawRow
from ampere.metering.types import ConsumptionRequest, MeterInput
from tests.factories.metering import NOW, metered_point

pytestmark = pytest.mark.django_db
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def send(rows, batch):
    return operations.import_read_batch(
        utility_code="evn-hcmc",
        rows=[RawRow(n, r) for n, r in enumerate(rows, start=1)],
        external_id=batch,
        channel="cli",
        submitted_by="clerk",
        default_source="handheld",
        now=NOW,
    )


def consumption(point_id, start, end):
    return [
        (r.register, r.quantity, r.unit, r.source)
        for r in queries.consumption_for_billing(
            requests=[ConsumptionRequest(point_id, DatePeriod(start, end))]
        )
    ]


def test_meter_exchange_adds_both_meters_parts():
    agreement = metered_point(
        installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM), initial={"kwh": Decimal(1000)}
    )
    point = agreement.service_point
    send(
        [
            {
                "meter": "M-0001",
                "register": "kwh",
                "read_at": "2025-02-01T10:00:00+07:00",
                "value": "1200",
            }
        ],
        "feb",
    )
    operations.register_meter(
        utility_code="evn-hcmc",
        meter=MeterInput(serial="M-0002", kind="electronic", phases=1, register_digits=6),
    )
    operations.exchange_meter(
        utility_code="evn-hcmc",
        service_point_code=point.code,
        new_meter_serial="M-0002",
        at=datetime(2025, 2, 15, 10, tzinfo=HCM),
        final_reads={"kwh": Decimal(1350)},
        initial_reads={"kwh": Decimal(5)},
        now=NOW,
    )
    late_on_old = send(
        [
            {
                "meter": "M-0001",
                "register": "kwh",
                "read_at": "2025-03-01T10:00:00+07:00",
                "value": "1400",
            }
        ],
        "old",
    )
    assert late_on_old.rows[0]["problems"][0]["code"] == "meter-not-installed"
    send(
        [
            {
                "meter": "M-0002",
                "register": "kwh",
                "read_at": "2025-03-01T10:00:00+07:00",
                "value": "105",
            }
        ],
        "mar",
    )
    assert consumption(point.id, date(2025, 2, 1), date(2025, 3, 1)) == [
        ("kwh", Decimal(250), "kWh", "actual")  # 1350 − 1200 on the old, 105 − 5 on the new
    ]
    assert consumption(point.id, date(2025, 1, 1), date(2025, 2, 1)) == [
        ("kwh", Decimal(200), "kWh", "actual")
    ]
    assert consumption(point.id, date(2025, 3, 1), date(2025, 4, 1)) == [
        ("kwh", None, "kWh", "missing")
    ]
    periods = list(
        Installation.objects.filter(service_point=point)
        .order_by("id")
        .values_list("meter__serial", "installed_period")
    )
    assert periods[0][1].upper == datetime(2025, 2, 15, 10, tzinfo=HCM)
    assert periods[1][1].lower == datetime(2025, 2, 15, 10, tzinfo=HCM)


def test_one_live_installation_per_service_point():
    agreement = metered_point(installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM))
    operations.register_meter(
        utility_code="evn-hcmc",
        meter=MeterInput(serial="M-0009", kind="electronic", phases=1, register_digits=6),
    )
    with pytest.raises(operations.InstallationOverlap):
        operations.install_meter(
            utility_code="evn-hcmc",
            service_point_code=agreement.service_point.code,
            meter_serial="M-0009",
            at=datetime(2025, 3, 1, tzinfo=HCM),
            initial_reads={"kwh": Decimal(0)},
            now=NOW,
        )
    assert Installation.objects.filter(service_point=agreement.service_point).count() == 1


def test_tou_registers_and_maximum_demand_times_the_multiplier():
    registers = ("kwh", "kwh_peak", "kwh_normal", "kwh_off_peak", "kw_max")
    agreement = metered_point(
        installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM),
        registers=registers,
        multiplier=Decimal(40),
        digits=6,
    )
    values = {
        "kwh": "100",
        "kwh_peak": "20",
        "kwh_normal": "55",
        "kwh_off_peak": "25",
        "kw_max": "1.5",
    }
    send(
        [
            {
                "meter": "M-0001",
                "register": code,
                "read_at": "2025-02-01T10:00:00+07:00",
                "value": values[code],
            }
            for code in registers
        ],
        "feb",
    )
    rows = queries.consumption_for_billing(
        requests=[
            ConsumptionRequest(
                agreement.service_point_id, DatePeriod(date(2025, 1, 1), date(2025, 2, 1))
            )
        ]
    )
    assert [(r.register, r.bucket, r.quantity, r.unit, r.source) for r in rows] == [
        ("kw_max", "max_demand", Decimal(60), "kW", "actual"),
        ("kwh", "total", Decimal(4000), "kWh", "actual"),
        ("kwh_normal", "normal", Decimal(2200), "kWh", "actual"),
        ("kwh_off_peak", "off_peak", Decimal(1000), "kWh", "actual"),
        ("kwh_peak", "peak", Decimal(800), "kWh", "actual"),
    ]


def test_many_requests_in_two_queries(django_assert_max_num_queries):
    points = []
    for n in range(5):
        agreement = metered_point(
            serial=f"M-{n}",
            installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM),
            initial={"kwh": Decimal(100 * n)},
        )
        points.append(agreement.service_point_id)
        send(
            [
                {
                    "meter": f"M-{n}",
                    "register": "kwh",
                    "read_at": "2025-02-01T08:00:00+07:00",
                    "value": str(100 * n + 10 * (n + 1)),
                }
            ],
            f"b{n}",
        )
    requests = [
        ConsumptionRequest(p, DatePeriod(date(2025, 1, 1), date(2025, 2, 1))) for p in points
    ]
    with django_assert_max_num_queries(1):
        rows = queries.consumption_for_billing(requests=requests)
    assert [(r.request_index, r.quantity) for r in rows] == [
        (0, Decimal(10)),
        (1, Decimal(20)),
        (2, Decimal(30)),
        (3, Decimal(40)),
        (4, Decimal(50)),
    ]


def test_route_file_has_the_last_read_and_the_expected_range():
    agreement = metered_point(
        installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM), initial={"kwh": Decimal(1000)}
    )
    send(
        [
            {"meter": "M-0001", "register": "kwh", "read_at": at, "value": v}
            for at, v in (
                ("2025-02-01T10:00:00+07:00", "1310"),
                ("2025-03-01T10:00:00+07:00", "1590"),
                ("2025-04-01T10:00:00+07:00", "1900"),
            )
        ],
        "q1",
    )
    operations.create_reading_cycle(
        utility_code="evn-hcmc", code="C01", name="Day 1", reading_dates=[date(2025, 5, 1)]
    )
    operations.create_route(
        utility_code="evn-hcmc",
        cycle_code="C01",
        code="R1",
        name="Nguyễn Huệ",
        service_point_codes=[agreement.service_point.code],
    )
    document = queries.route_file(
        utility_code="evn-hcmc", route_code="R1", reading_date=date(2025, 5, 1)
    )
    (stop,) = document["stops"]
    assert stop["meter"] == {"serial": "M-0001", "multiplier": "1.000", "digits": 5}
    assert stop["registers"] == [
        {
            "code": "kwh",
            "last_read": {"value": "1900.000", "date": "2025-04-01", "estimated": False},
            "expected": {"use": "300", "low": "2050.000", "high": "2290.000"},
        }
    ]
    with pytest.raises(Exception, match="not a reading date"):
        queries.route_file(utility_code="evn-hcmc", route_code="R1", reading_date=date(2025, 5, 2))
