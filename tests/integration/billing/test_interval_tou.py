"""SCE TOU-D-4-9PM customers billed from 15-minute interval data by a bill run, over periods
that cross a TOU season change (summer is June to September; winter October to May).

Expected amounts are worked out by hand from the shipped tariff data
(``rating/data/tariffs/sce-residential.yaml``, prices of 2026-06-01; no SCE tax):

- summer: on-peak (weekdays 16–21 h) 0.58, mid-peak (weekends and holidays 16–21 h) 0.46,
  off-peak 0.34 $/kWh; winter: mid-peak (16–21 h) 0.51, super off-peak (8–16 h) 0.33,
  off-peak (21–8 h) 0.37 $/kWh;
- baseline credit 0.10 $/kWh up to region 6's basic allowance: 11.4 kWh/day in summer,
  11.0 kWh/day in winter, per season part;
- Base Services Charge 0.79343 $/day, per season part;
- every line rounded half-up to the cent once.

The customer uses 12 kWh a day flat on summer days (125 Wh a quarter-hour: 2.5 kWh in
16–21 h, 9.5 kWh off-peak) and 24 kWh a day on winter days (250 Wh a quarter-hour: 1 kWh an
hour: 11 kWh off-peak, 8 kWh super off-peak, 5 kWh mid-peak).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from psycopg.types.range import Range

from ampere.accounts.models import ServiceAgreement, Utility
from ampere.billing.dates import ScheduleEntry
from ampere.billing.models import Bill, BillRunException
from ampere.billing.operations import assign_cycle, create_cycle, set_cycle_schedule
from ampere.billing.queries import get_bill
from ampere.billing.runs import execute_bill_run, start_bill_run
from ampere.core.localtime import local_midnight, zone
from ampere.core.periods import DatePeriod
from ampere.metering import operations as metering
from ampere.metering.intervals import PG_EPOCH, DayArrays, load_interval_days
from ampere.metering.models import Installation, IntervalDay, Register, RegisterRead
from ampere.metering.types import MeterInput
from ampere.rating.models import Tariff
from ampere.rating.operations import load_shipped_tariffs
from tests.factories.accounts import AgreementFactory
from tests.factories.billing import billing_utility

pytestmark = pytest.mark.django_db

D = Decimal
LA = zone("America/Los_Angeles")
TARIFF = "SCE-TOU-D-4-9PM"
SUMMER_WH, WINTER_WH = 125, 250  # per quarter-hour: 12 and 24 kWh a day
_serials = itertools.count(1)


@dataclass(frozen=True)
class Customer:
    agreement: ServiceAgreement
    meter_id: int


def _scene(period: DatePeriod, bill_date: date) -> tuple[str, int]:
    load_shipped_tariffs()
    utility_id = billing_utility("sce", years=(2026, 2027))
    cycle_id = create_cycle(utility_id=utility_id, code="S15", name="Reading day 15")
    month = bill_date.replace(day=1)
    set_cycle_schedule(cycle_id=cycle_id, entries=[ScheduleEntry(month, period, bill_date)])
    return "S15", cycle_id


def _customer(cycle_id: int, period: DatePeriod, *, skip: date | None = None) -> Customer:
    """A region-6 TOU-D customer with a smart meter read at both ends of ``period`` and
    15-minute data for every day of it (but ``skip``)."""
    utility = Utility.objects.get(code="sce")
    agreement: ServiceAgreement = AgreementFactory(
        account__utility=utility,
        service_point__premise__baseline_region="6",
        tariff=Tariff.objects.get(code=TARIFF),
        valid_period=Range(date(2026, 1, 1), None, "[)"),
    )
    assign_cycle(account_id=agreement.account_id, cycle_id=cycle_id, from_date=date(2026, 1, 1))
    serial = f"AMI{next(_serials):07d}"
    metering.register_meter(
        utility_code="sce",
        meter=MeterInput(
            serial=serial, kind="smart", phases=1, register_digits=6, interval_minutes=15
        ),
    )
    installed = local_midnight(date(2026, 1, 1), LA)
    metering.install_meter(
        utility_code="sce",
        service_point_code=agreement.service_point.code,
        meter_serial=serial,
        at=installed,
        initial_reads={"kwh": D(1000)},
        now=installed,
    )
    installation = Installation.objects.get(service_point_id=agreement.service_point_id)
    days = [d for d in period.each_day() if d != skip]
    per_day = [SUMMER_WH if d.month in (6, 7, 8, 9) else WINTER_WH for d in days]
    assert all(
        local_midnight(d + timedelta(days=1), LA) - local_midnight(d, LA) == timedelta(hours=24)
        for d in days
    )  # no daylight-saving change in these periods: 96 quarter-hours a day
    load_interval_days(
        [
            DayArrays(
                meter_ids=np.full(len(days), installation.meter_id, np.int64),
                days=np.array([(d - PG_EPOCH).days for d in days], np.int32),
                channel="kwh",
                interval_minutes=15,
                values=np.repeat(np.array(per_day, np.int32)[:, None], 96, axis=1),
            )
        ]
    )
    register = Register.objects.get(meter_id=installation.meter_id, code="kwh")
    total_kwh = D(sum(per_day) * 96) / 1000
    assert period.end is not None
    for on, value in ((period.start, D(1000)), (period.end, D(1000) + total_kwh)):
        RegisterRead.objects.create(
            register=register,
            installation=installation,
            read_at=local_midnight(on, LA) + timedelta(hours=10),
            read_date=on,
            value=value,
            source="remote",
            recorded_at=installed,
        )
    return Customer(agreement, installation.meter_id)


def _run(cycle_code: str, as_of: date) -> int:
    now = datetime.combine(as_of, datetime.min.time(), UTC) + timedelta(hours=23)
    ref = start_bill_run(
        cycle_code=cycle_code, as_of=as_of, now=now, created_by="t", documents=False
    )
    execute_bill_run(run_id=ref.id, now=lambda: now)
    return ref.id


def _lines(
    agreement: ServiceAgreement, period: DatePeriod
) -> tuple[Bill, list[tuple[str, Decimal, Decimal, Decimal]]]:
    bill = Bill.objects.get(agreement=agreement, period=(period.start, period.end))
    view = get_bill(bill_id=bill.id)
    return bill, [(x.code, x.quantity, x.unit_price, x.amount) for x in view.lines]


SEP_OCT = DatePeriod(date(2026, 9, 15), date(2026, 10, 14))  # 16 summer + 13 winter days


def test_a_period_across_1_october_prices_each_season_with_its_own_kwh():
    code, cycle_id = _scene(SEP_OCT, date(2026, 10, 14))
    customer = _customer(cycle_id, SEP_OCT)
    run_id = _run(code, date(2026, 10, 14))
    assert list(BillRunException.objects.filter(run_id=run_id).values_list("code")) == []
    bill, lines = _lines(customer.agreement, SEP_OCT)
    # Summer, 15–30 Sep (16 days, 4 of them weekend days, no SCE holiday): on-peak 12 × 2.5,
    # mid-peak 4 × 2.5, off-peak 16 × 9.5 kWh; 192 kWh against a baseline of 16 × 11.4.
    # Winter, 1–13 Oct (13 days): 13 × 5 mid-peak, 13 × 8 super off-peak, 13 × 11 off-peak;
    # 312 kWh against a baseline of 13 × 11.0.
    assert lines == [
        ("tou-summer-on-peak", D(30), D("0.58"), D("17.40")),
        ("tou-summer-mid-peak", D(10), D("0.46"), D("4.60")),
        ("tou-summer-off-peak", D(152), D("0.34"), D("51.68")),
        ("baseline-credit", D("182.4"), D("-0.10"), D("-18.24")),
        ("base-services", D(16), D("0.79343"), D("12.69")),
        ("tou-winter-mid-peak", D(65), D("0.51"), D("33.15")),
        ("tou-winter-off-peak", D(143), D("0.37"), D("52.91")),
        ("tou-winter-super-off-peak", D(104), D("0.33"), D("34.32")),
        ("baseline-credit", D(143), D("-0.10"), D("-14.30")),
        ("base-services", D(13), D("0.79343"), D("10.31")),
    ]
    assert (bill.status, bill.consumption_kwh, bill.estimated) == ("issued", D(504), False)
    assert (bill.subtotal, bill.tax_total, bill.total) == (D("184.52"), D(0), D("184.52"))


MAY_JUN = DatePeriod(date(2027, 5, 15), date(2027, 6, 14))  # 17 winter + 13 summer days


def test_a_period_across_1_june_prices_each_season_with_its_own_kwh():
    code, cycle_id = _scene(MAY_JUN, date(2027, 6, 14))
    customer = _customer(cycle_id, MAY_JUN)
    run_id = _run(code, date(2027, 6, 14))
    assert list(BillRunException.objects.filter(run_id=run_id).values_list("code")) == []
    bill, lines = _lines(customer.agreement, MAY_JUN)
    # Winter, 15–31 May (17 days; Memorial Day is priced as a weekend day, which in winter
    # prices alike): 17 × 5 mid-peak, 17 × 8 super off-peak, 17 × 11 off-peak; 408 kWh against
    # a baseline of 17 × 11.0. Summer, 1–13 June (13 days, 4 weekend days): on-peak 9 × 2.5,
    # mid-peak 4 × 2.5, off-peak 13 × 9.5 kWh; 156 kWh against a baseline of 13 × 11.4.
    assert lines == [
        ("tou-winter-mid-peak", D(85), D("0.51"), D("43.35")),
        ("tou-winter-off-peak", D(187), D("0.37"), D("69.19")),
        ("tou-winter-super-off-peak", D(136), D("0.33"), D("44.88")),
        ("baseline-credit", D(187), D("-0.10"), D("-18.70")),
        ("base-services", D(17), D("0.79343"), D("13.49")),
        ("tou-summer-on-peak", D("22.5"), D("0.58"), D("13.05")),
        ("tou-summer-mid-peak", D(10), D("0.46"), D("4.60")),
        ("tou-summer-off-peak", D("123.5"), D("0.34"), D("41.99")),
        ("baseline-credit", D("148.2"), D("-0.10"), D("-14.82")),
        ("base-services", D(13), D("0.79343"), D("10.31")),
    ]
    assert (bill.status, bill.consumption_kwh) == ("issued", D(564))
    assert (bill.subtotal, bill.tax_total, bill.total) == (D("207.34"), D(0), D("207.34"))


def test_the_same_dates_in_2026_wait_for_a_tariff_version():
    period = DatePeriod(date(2026, 5, 15), date(2026, 6, 14))
    code, cycle_id = _scene(period, date(2026, 6, 14))
    customer = _customer(cycle_id, period)
    run_id = _run(code, date(2026, 6, 14))
    found = [
        (e.agreement_id, e.code, e.detail) for e in BillRunException.objects.filter(run_id=run_id)
    ]
    assert found == [
        (
            customer.agreement.id,
            "no-tariff-version",
            f"{TARIFF}: no version of the tariff is in force on 2026-05-15",
        )
    ]
    assert Bill.objects.count() == 0


def test_a_genuinely_missing_day_still_waits_as_intervals_incomplete():
    code, cycle_id = _scene(SEP_OCT, date(2026, 10, 14))
    complete = _customer(cycle_id, SEP_OCT)
    gap = _customer(cycle_id, SEP_OCT, skip=date(2026, 10, 5))
    assert IntervalDay.objects.filter(meter_id=gap.meter_id).count() == 28
    run_id = _run(code, date(2026, 10, 14))
    found = [
        (e.agreement_id, e.code, e.detail) for e in BillRunException.objects.filter(run_id=run_id)
    ]
    assert found == [
        (
            gap.agreement.id,
            "intervals-incomplete",
            "interval data does not cover every day of the period",
        )
    ]
    assert list(Bill.objects.values_list("agreement_id", "total")) == [
        (complete.agreement.id, D("184.52"))
    ]
