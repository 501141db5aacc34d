"""Interval ingest: load N meters × D days × 96 quarter-hour values into PostgreSQL with binary
COPY (one row per meter per local day), then time a month's TOU totals and maximum demand for
all those meters through the billing consumption query.

Runs in its own database ``bench_interval_<pid>``, created on the server of DATABASE_URL (else
127.0.0.1:5432, user postgres), migrated, and dropped at the end.

    python bench/interval_ingest.py            # 10,000 meters × 30 days × 96 = 28.8 M values
    python bench/interval_ingest.py --quick    # 500 meters × 30 days
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg

if TYPE_CHECKING:
    from ampere.metering.intervals import DayArrays
    from ampere.metering.types import TouCalendar


@contextmanager
def bench_database(prefix: str, *, keep: bool = False) -> Iterator[str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    name = f"{prefix}_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    bench_url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ampere.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        yield name
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MONTH_START = date(2025, 6, 1)  # a month without a DST change: every day has 96 values


def _setup(meters: int) -> tuple[list[int], list[int]]:
    """A utility (SCE), one premise, ``meters`` service points each with a smart meter."""
    from django.db import connection

    from ampere.accounts.operations import ensure_utility

    utility_id = ensure_utility(code="sce", holiday_years=[2025])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_premise (utility_id, address_line, ward, district, province,"
            " postal_code, administrative_area_code, baseline_region, all_electric)"
            " VALUES (%s, '1 Bench St', '', '', 'CA', '', '', '', false) RETURNING id",
            [utility_id],
        )
        (premise_id,) = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO accounts_servicepoint (utility_id, premise_id, code, voltage_class,
                nominal_voltage_v, phases, feeder_code, transformer_code)
            SELECT %s, %s, 'SP' || lpad(g::text, 8, '0'), 'lv', 240, 1, '', ''
            FROM generate_series(1, %s) g
            """,
            [utility_id, premise_id, meters],
        )
        cursor.execute(
            """
            INSERT INTO metering_meter (utility_id, serial, kind, phases, multiplier,
                register_digits, interval_minutes, manufacturer)
            SELECT %s, 'AMI' || lpad(g::text, 8, '0'), 'smart', 1, 1, 6, 15, ''
            FROM generate_series(1, %s) g
            """,
            [utility_id, meters],
        )
        cursor.execute(
            """
            INSERT INTO metering_installation (meter_id, service_point_id, installed_period)
            SELECT m.id, sp.id, tstzrange('2024-01-01 00:00-08', NULL, '[)')
            FROM metering_meter m JOIN accounts_servicepoint sp
              ON substr(sp.code, 3) = substr(m.serial, 4)
            """
        )
        cursor.execute("SELECT id FROM metering_meter ORDER BY id")
        meter_ids = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT id FROM accounts_servicepoint ORDER BY id")
        point_ids = [r[0] for r in cursor.fetchall()]
    assert len(meter_ids) == len(point_ids) == meters
    return meter_ids, point_ids


def _blocks(meter_ids: list[int], days: int, seed: int) -> list[DayArrays]:
    """One block per day: a residential-looking curve (Wh per quarter-hour) with noise."""
    from ampere.metering.intervals import PG_EPOCH, DayArrays

    rng = np.random.default_rng(seed)
    ids = np.array(meter_ids, dtype=np.int64)
    hours = np.arange(96) / 4
    shape = 60 + 140 * np.exp(-((hours - 19) ** 2) / 6) + 50 * np.exp(-((hours - 8) ** 2) / 3)
    scale = rng.uniform(0.5, 2.0, size=len(ids))
    blocks = []
    for offset in range(days):
        day = MONTH_START + timedelta(days=offset)
        noise = rng.integers(0, 40, size=(len(ids), 96), dtype=np.int32)
        values = (shape[None, :] * scale[:, None]).astype(np.int32) + noise
        blocks.append(
            DayArrays(
                meter_ids=ids,
                days=np.full(len(ids), (day - PG_EPOCH).days, dtype=np.int32),
                channel="kwh",
                interval_minutes=15,
                values=values,
            )
        )
    return blocks


def _tou() -> TouCalendar:
    from ampere.core.periods import DatePeriod
    from ampere.metering.types import TouCalendar, TouSeason, TouWindow

    weekday = (
        TouWindow("off_peak", 0, 16 * 60),
        TouWindow("on_peak", 16 * 60, 21 * 60),
        TouWindow("off_peak", 21 * 60, 24 * 60),
    )
    weekend = (
        TouWindow("off_peak", 0, 16 * 60),
        TouWindow("mid_peak", 16 * 60, 21 * 60),
        TouWindow("off_peak", 21 * 60, 24 * 60),
    )
    return TouCalendar(
        seasons=(
            TouSeason(
                DatePeriod(date(2025, 6, 1), date(2025, 10, 1)),
                {"weekday": weekday, "saturday": weekend, "sunday": weekend, "holiday": weekend},
            ),
        ),
        holidays=frozenset({date(2025, 7, 4)}),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--meters", type=int)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database for inspection")
    args = parser.parse_args()
    meters = args.meters or (500 if args.quick else 10_000)
    with bench_database("bench_interval", keep=args.keep) as database:
        from django.db import connection, transaction

        from ampere.core.periods import DatePeriod
        from ampere.metering.intervals import load_interval_days
        from ampere.metering.queries import consumption_for_billing
        from ampere.metering.types import ConsumptionRequest

        meter_ids, point_ids = _setup(meters)
        started = time.perf_counter()
        blocks = _blocks(meter_ids, args.days, args.seed)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        with transaction.atomic():
            values = load_interval_days(blocks)
        load_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE metering_intervalday")
            cursor.execute("SELECT pg_total_relation_size('metering_intervalday')")
            (table_bytes,) = cursor.fetchone()
            cursor.execute("SELECT count(*), sum(total) FROM metering_intervalday")
            rows, total_wh = cursor.fetchone()
        period = DatePeriod(MONTH_START, MONTH_START + timedelta(days=args.days))
        requests = [ConsumptionRequest(p, period) for p in point_ids]
        tou = _tou()
        started = time.perf_counter()
        result = consumption_for_billing(requests=requests, tou=tou)
        tou_seconds = time.perf_counter() - started
        interval_rows = [r for r in result if r.basis == "interval"]
        energy_kwh = sum(r.quantity for r in interval_rows if r.unit == "kWh" and r.quantity)
        assert energy_kwh * 1000 == total_wh, (energy_kwh, total_wh)
        figures = {
            "bench": "interval_ingest",
            "database": database,
            "meters": meters,
            "days": args.days,
            "values": values,
            "rows": rows,
            "generate_seconds": round(generated, 3),
            "load_seconds": round(load_seconds, 3),
            "values_per_second": round(values / load_seconds),
            "table_megabytes": round(table_bytes / 2**20, 1),
            "bytes_per_value": round(table_bytes / values, 2),
            "tou_totals_seconds": round(tou_seconds, 3),
            "tou_rows": len(interval_rows),
            "total_kwh": str(energy_kwh),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
