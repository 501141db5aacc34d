import importlib
import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection, transaction

from ampere.core.periods import DatePeriod
from ampere.metering import greenbutton, queries
from ampere.metering.intervals import import_head_end_csv
from ampere.metering.models import IntervalDay, Meter
from ampere.metering.parsing import BadFile
from ampere.metering.types import ConsumptionRequest, TouCalendar, TouSeason, TouWindow
from tests.factories.metering import sce_smart_meter

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
SPRING = date(2025, 3, 9)  # 23 hours: 92 quarter-hours
FALL = date(2025, 11, 2)  # 25 hours: 100 quarter-hours


@pytest.fixture
def point():
    return sce_smart_meter().service_point_id


def day_csv(day, *, kwh="0.25", skip=(), quality=None):
    start = datetime(day.year, day.month, day.day, tzinfo=LA).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), LA)
    lines = ["meter,channel,interval_start,interval_minutes,value,quality"]
    at, index = start, 0
    while at < end:
        if index not in skip:
            flag = (quality or {}).get(index, "")
            lines.append(f"AMI-1,kwh,{at.astimezone(LA).isoformat()},15,{kwh},{flag}")
        at += timedelta(minutes=15)
        index += 1
    return "\n".join(lines) + "\n"


def summer_winter_calendar():
    weekday = (
        TouWindow("off_peak", 0, 960),
        TouWindow("on_peak", 960, 1260),
        TouWindow("off_peak", 1260, 1440),
    )
    weekend = (
        TouWindow("off_peak", 0, 960),
        TouWindow("mid_peak", 960, 1260),
        TouWindow("off_peak", 1260, 1440),
    )
    types = {"weekday": weekday, "saturday": weekend, "sunday": weekend, "holiday": weekend}
    return TouCalendar(seasons=(TouSeason(DatePeriod(date(2025, 1, 1), date(2026, 1, 1)), types),))


def test_spring_forward_day_has_92_quarter_hours_and_tou_totals(point):
    result = import_head_end_csv(utility_code="sce", text=day_csv(SPRING, quality={2: "estimated"}))
    assert (result.days_loaded, result.values_loaded, result.row_errors) == (1, 92, ())
    stored = IntervalDay.objects.get()
    assert (len(stored.values), stored.total, stored.peak) == (92, 23000, 250)
    assert stored.quality is not None
    assert stored.quality[:4] == [0, 0, 1, 0]
    curve = queries.day_curve(service_point_id=point, day=SPRING)
    assert len(curve) == 92
    assert [p.start_at.isoformat() for p in curve[7:9]] == [
        "2025-03-09T01:45:00-08:00",
        "2025-03-09T03:00:00-07:00",
    ]
    rows = queries.consumption_for_billing(
        requests=[ConsumptionRequest(point, DatePeriod(SPRING, SPRING + timedelta(days=1)))],
        tou=summer_winter_calendar(),
    )
    interval = [(r.bucket, r.quantity, r.unit, r.source) for r in rows if r.basis == "interval"]
    # Sunday: 00–16 h less the skipped hour (60) and 21–24 h (12) off-peak, 16–21 h mid-peak (20)
    assert interval == [
        ("mid_peak", Decimal(5), "kWh", "estimated"),
        ("off_peak", Decimal(18), "kWh", "estimated"),
        ("max_demand", Decimal(1), "kW", "estimated"),
    ]
    (daily,) = queries.daily_totals(
        service_point_id=point, period=DatePeriod(SPRING, SPRING + timedelta(days=1))
    )
    assert (daily.kwh, daily.complete) == (Decimal(23), False)


def test_fall_back_day_has_100_quarter_hours(point):
    result = import_head_end_csv(utility_code="sce", text=day_csv(FALL, kwh="0.5"))
    assert result.values_loaded == 100
    ranges = queries.tou_ranges(
        tou=summer_winter_calendar(),
        period=DatePeriod(FALL, FALL + timedelta(days=1)),
        tz_name="America/Los_Angeles",
    )
    quarter = [(b, lo, hi) for _, minutes, b, lo, hi in ranges if minutes == 15]
    assert quarter == [("off_peak", 1, 68), ("mid_peak", 69, 88), ("off_peak", 89, 100)]
    (daily,) = queries.daily_totals(
        service_point_id=point, period=DatePeriod(FALL, FALL + timedelta(days=1))
    )
    assert (daily.kwh, daily.complete) == (Decimal(50), True)
    peak = queries.month_peak(service_point_id=point, month=date(2025, 11, 1))
    assert peak is not None
    assert (peak.start_at.isoformat(), peak.kw, peak.kwh) == (
        "2025-11-02T00:00:00-07:00",
        Decimal(2),
        Decimal("0.5"),
    )


def test_bad_rows_are_reported_and_good_rows_stored(point):
    text = (
        "meter,channel,interval_start,interval_minutes,value\n"
        "AMI-1,kwh,2025-06-02T00:00:00-07:00,15,0.5\n"
        "AMI-9,kwh,2025-06-02T00:15:00-07:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T00:30:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T00:45:00-07:00,15,abc\n"
        "AMI-1,kwh,2025-06-02T00:00:00-07:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T01:05:00-07:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T01:15:00-07:00,15,0.0001\n"
        "AMI-1,kwh,2025-06-02T01:30:00-07:00,30,0.5\n"
        "AMI-1,kwh,2025-06-02T01:45:00-07:00,15,0.75\n"
    )
    result = import_head_end_csv(utility_code="sce", text=text)
    assert [(e["ref"], e["code"]) for e in result.row_errors] == [
        ("line 4", "timestamp-without-zone"),
        ("line 5", "bad-number"),
        ("line 8", "bad-number"),
        ("line 3", "unknown-meter"),
        ("line 6", "duplicate-row"),
        ("line 7", "misaligned-interval"),
        ("line 9", "interval-lengths-mixed"),
    ]
    stored = IntervalDay.objects.get()
    assert (stored.values[0], stored.values[7], stored.total) == (500, 750, 1250)
    assert stored.quality is not None
    assert stored.quality.count(2) == 94
    merged = import_head_end_csv(
        utility_code="sce",
        text="meter,channel,interval_start,interval_minutes,value\n"
        "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,0.25\n",
    )
    assert merged.values_loaded == 1
    stored = IntervalDay.objects.get()
    assert stored.quality is not None
    assert (stored.values[:2], stored.total, stored.quality.count(2)) == ([500, 250], 1500, 93)


def test_wrong_header_is_a_file_error(point):
    with pytest.raises(BadFile):
        import_head_end_csv(utility_code="sce", text="meter,start,value\nAMI-1,x,1\n")
    assert IntervalDay.objects.count() == 0


GREEN_BUTTON = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">
 <entry><link rel="self" href="/UsagePoint/1"/><title>Home</title>
  <content><espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory>
  </espi:UsagePoint></content></entry>
 <entry><link rel="self" href="/UsagePoint/1/MeterReading/1"/>
  <link rel="up" href="/UsagePoint/1/MeterReading"/><link rel="related" href="/ReadingType/7"/>
  <title>AMI-1</title><content><espi:MeterReading/></content></entry>
 <entry><link rel="self" href="/ReadingType/7"/><content><espi:ReadingType>
  <espi:flowDirection>1</espi:flowDirection><espi:intervalLength>900</espi:intervalLength>
  <espi:powerOfTenMultiplier>-3</espi:powerOfTenMultiplier><espi:uom>72</espi:uom>
 </espi:ReadingType></content></entry>
 <entry><link rel="self" href="/UsagePoint/1/MeterReading/1/IntervalBlock/1"/>
  <link rel="up" href="/UsagePoint/1/MeterReading/1/IntervalBlock"/>
  <content><espi:IntervalBlock>
   <espi:IntervalReading><espi:timePeriod><espi:duration>900</espi:duration>
    <espi:start>1748847600</espi:start></espi:timePeriod><espi:value>250000</espi:value>
   </espi:IntervalReading>
   <espi:IntervalReading><espi:ReadingQuality><espi:quality>8</espi:quality></espi:ReadingQuality>
    <espi:timePeriod><espi:duration>900</espi:duration><espi:start>1748848500</espi:start>
    </espi:timePeriod><espi:value>1500000</espi:value></espi:IntervalReading>
   <espi:IntervalReading><espi:timePeriod><espi:start>1748849400</espi:start></espi:timePeriod>
    <espi:value>2500.5</espi:value></espi:IntervalReading>
  </espi:IntervalBlock></content></entry>
</feed>"""


def test_green_button_honours_the_power_of_ten_multiplier(point):
    result = greenbutton.import_green_button(utility_code="sce", data=GREEN_BUTTON.encode())
    assert (result.values_loaded, [e["code"] for e in result.row_errors]) == (2, ["bad-number"])
    stored = IntervalDay.objects.get()
    assert stored.quality is not None
    # 1748847600 is 2025-06-02 00:00 in Los Angeles (UTC−7)
    assert (stored.day, stored.values[:3], stored.quality[:3]) == (
        date(2025, 6, 2),
        [250, 1500, 0],
        [0, 1, 2],
    )


def test_green_button_with_a_broken_structure_is_refused(point):
    with pytest.raises(BadFile, match="not well-formed"):
        greenbutton.import_green_button(utility_code="sce", data=b"<feed><entry>")
    second_type = (
        '<entry><link rel="self" href="/ReadingType/9"/><content><espi:ReadingType>'
        "<espi:uom>72</espi:uom></espi:ReadingType></content></entry></feed>"
    )
    broken = GREEN_BUTTON.replace(
        'href="/ReadingType/7"/>\n  <title>', 'href="/ReadingType/8"/>\n  <title>'
    ).replace("</feed>", second_type)
    with pytest.raises(BadFile, match="ReadingType"):
        greenbutton.import_green_button(utility_code="sce", data=broken.encode())
    assert IntervalDay.objects.count() == 0


def test_green_button_export_round_trips(point):
    import_head_end_csv(utility_code="sce", text=day_csv(SPRING, quality={5: "estimated"}))
    from ampere.accounts.models import ServiceAgreement

    account = ServiceAgreement.objects.get(service_point_id=point).account.number
    data = greenbutton.export_green_button(
        account_number=account,
        period_start=SPRING,
        period_end=SPRING + timedelta(days=1),
        now=datetime(2025, 7, 1, tzinfo=LA),
    )
    assert data.count(b"<espi:IntervalReading>") == 92
    assert b"<espi:tzOffset>-28800</espi:tzOffset>" in data
    before = list(IntervalDay.objects.values_list("values", "quality"))
    result = greenbutton.import_green_button(utility_code="sce", data=data)
    assert (result.values_loaded, result.row_errors) == (92, ())
    assert list(IntervalDay.objects.values_list("values", "quality")) == before


def two_season_calendar():
    summer = (
        TouWindow("summer_off", 0, 960),
        TouWindow("summer_on", 960, 1260),
        TouWindow("summer_off", 1260, 1440),
    )
    winter = (TouWindow("winter_off", 0, 960), TouWindow("winter_mid", 960, 1440))
    types = ("weekday", "saturday", "sunday", "holiday")
    return TouCalendar(
        seasons=(
            TouSeason(
                DatePeriod(date(2025, 6, 1), date(2025, 10, 1)), dict.fromkeys(types, summer)
            ),
            TouSeason(
                DatePeriod(date(2025, 10, 1), date(2026, 6, 1)), dict.fromkeys(types, winter)
            ),
        )
    )


def test_completeness_is_counted_per_period_not_per_bucket(point):
    """Across a season change no bucket occurs on every day; the period is complete when every
    day has data, and incomplete (even with estimated intervals) when a day has none."""
    for day in (date(2025, 9, 29), date(2025, 9, 30), date(2025, 10, 1), date(2025, 10, 2)):
        quality = {40: "estimated"} if day == date(2025, 10, 2) else None
        import_head_end_csv(utility_code="sce", text=day_csv(day, quality=quality))
    whole = DatePeriod(date(2025, 9, 29), date(2025, 10, 2))  # 3 days, all valid
    gap = DatePeriod(date(2025, 9, 29), date(2025, 10, 4))  # 5 days: 3 October is missing
    rows = queries.consumption_for_billing(
        requests=[ConsumptionRequest(point, whole), ConsumptionRequest(point, gap)],
        tou=two_season_calendar(),
    )
    found = [
        (r.request_index, r.bucket, r.quantity, r.source) for r in rows if r.basis == "interval"
    ]
    # 1 kWh an hour: summer 16–21 h on-peak (5 kWh a day), winter 16–24 h mid (8 kWh a day).
    assert found == [
        (0, "summer_off", Decimal(38), "actual"),
        (0, "summer_on", Decimal(10), "actual"),
        (0, "winter_mid", Decimal(8), "actual"),
        (0, "winter_off", Decimal(16), "actual"),
        (0, "max_demand", Decimal(1), "actual"),
        (1, "summer_off", Decimal(38), "incomplete"),
        (1, "summer_on", Decimal(10), "incomplete"),
        (1, "winter_mid", Decimal(16), "incomplete"),
        (1, "winter_off", Decimal(32), "incomplete"),
        (1, "max_demand", Decimal(1), "incomplete"),
    ]


def running(values):
    return list(itertools.accumulate(values))


def test_running_totals_are_written_at_load_and_merge(point):
    text = (
        "meter,channel,interval_start,interval_minutes,value\n"
        "AMI-1,kwh,2025-06-02T00:00:00-07:00,15,0.5\n"
        "AMI-1,kwh,2025-06-02T00:30:00-07:00,15,0.75\n"
    )
    import_head_end_csv(utility_code="sce", text=text)
    stored = IntervalDay.objects.get()
    assert stored.running_totals is not None
    assert stored.running_totals == running(stored.values)
    assert stored.running_totals[:4] == [500, 500, 1250, 1250]
    assert stored.running_totals[-1] == stored.total == 1250
    import_head_end_csv(
        utility_code="sce",
        text="meter,channel,interval_start,interval_minutes,value\n"
        "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,0.25\n",
    )
    stored = IntervalDay.objects.get()
    assert stored.running_totals is not None
    assert stored.running_totals[:4] == [500, 750, 1500, 1500]
    assert stored.running_totals == running(stored.values)


def test_a_day_whose_running_totals_leave_int4_keeps_none_and_sums_its_values(point):
    from ampere.metering.intervals import PG_EPOCH, DayArrays, load_interval_days

    meter_id = Meter.objects.get(serial="AMI-1").id
    big = np.full((1, 96), 30_000_000, np.int32)  # 96 × 30 MWh: 2.88e9 Wh > 2^31 - 1
    big[0, 64:84] = 40_000_000  # 16–21 h
    small = np.full((1, 96), 100, np.int32)
    days = [date(2025, 6, 2), date(2025, 6, 3)]
    load_interval_days(
        [
            DayArrays(
                meter_ids=np.array([meter_id, meter_id], np.int64),
                days=np.array([(d - PG_EPOCH).days for d in days], np.int32),
                channel="kwh",
                interval_minutes=15,
                values=np.concatenate([big, small]),
            )
        ]
    )
    stored = {d.day: d.running_totals for d in IntervalDay.objects.all()}
    assert stored[days[0]] is None
    assert stored[days[1]] == [100 * (i + 1) for i in range(96)]
    rows = queries.consumption_for_billing(
        requests=[ConsumptionRequest(point, DatePeriod(days[0], days[1] + timedelta(days=1)))],
        tou=summer_winter_calendar(),
    )
    found = [(r.bucket, r.quantity, r.source) for r in rows if r.basis == "interval"]
    # Monday and Tuesday: 16–21 h on-peak, the rest off-peak.
    assert found == [
        ("off_peak", Decimal(76 * 30_000) + Decimal("7.6"), "actual"),
        ("on_peak", Decimal(20 * 40_000) + Decimal("2.0"), "actual"),
        ("max_demand", Decimal(160_000), "actual"),
    ]


def test_the_migration_backfills_running_totals(point):
    backfill = importlib.import_module(
        "ampere.metering.migrations.0003_interval_running_totals"
    ).BACKFILL
    import_head_end_csv(utility_code="sce", text=day_csv(FALL, kwh="0.5"))
    import_head_end_csv(utility_code="sce", text=day_csv(SPRING, skip=(3,)))
    expected = {d.day: d.running_totals for d in IntervalDay.objects.all()}
    IntervalDay.objects.update(running_totals=None)
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    assert {d.day: d.running_totals for d in IntervalDay.objects.all()} == expected
    spring, fall = expected[SPRING], expected[FALL]
    assert spring is not None and fall is not None
    assert (len(spring), spring[-1], len(fall), fall[-1]) == (92, 22_750, 100, 50_000)


def test_large_request_sets_leave_the_session_settings_as_they_were(point):
    import_head_end_csv(utility_code="sce", text=day_csv(FALL, kwh="0.5"))
    assert connection.in_atomic_block  # the test's transaction: settings are set LOCAL
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', '7MB', true), current_setting('jit')")
        before = (cursor.fetchone()[1], "7MB")
    request = ConsumptionRequest(point, DatePeriod(FALL, FALL + timedelta(days=1)))
    rows = queries.consumption_for_billing(
        requests=[request] * queries.LARGE_REQUEST_COUNT, tou=summer_winter_calendar()
    )
    # Sunday: 00–16 h (68 quarter-hours with the repeated hour) and 21–24 h off-peak.
    assert {(r.bucket, r.quantity, r.source) for r in rows if r.basis == "interval"} == {
        ("off_peak", Decimal(40), "actual"),
        ("mid_peak", Decimal(10), "actual"),
        ("max_demand", Decimal(2), "actual"),
    }
    assert len([r for r in rows if r.basis == "interval"]) == 3 * queries.LARGE_REQUEST_COUNT
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_setting('work_mem')")
        assert cursor.fetchone() == before


@pytest.mark.django_db(transaction=True)
def test_a_callers_transaction_settings_do_not_outlive_its_transaction(point):
    import_head_end_csv(utility_code="sce", text=day_csv(FALL, kwh="0.5"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
        session = cursor.fetchone()
    request = ConsumptionRequest(point, DatePeriod(FALL, FALL + timedelta(days=1)))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('work_mem', '7MB', true)")
        rows = queries.consumption_for_billing(
            requests=[request] * queries.LARGE_REQUEST_COUNT, tou=summer_winter_calendar()
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('work_mem')")
            assert cursor.fetchone() == ("7MB",)
    assert len(rows) == 4 * queries.LARGE_REQUEST_COUNT  # register and interval rows
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
        assert cursor.fetchone() == session
