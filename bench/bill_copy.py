"""Write cost of the bill tables: bills and their lines written by COPY with reserved ids (the
bulk path bill runs will take), against the same rows copied into bare tables with no index,
constraint or trigger (the ceiling). Ledger charges and rating are not part of this figure.

Full size: 200,000 bills of 4 lines; --quick: 20,000. Needs PostgreSQL on 127.0.0.1:5432 or
DATABASE_URL; the scratch database ``bench_bill_copy`` is dropped and made again.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

NAME = "bench_bill_copy"
TIERS = [(50, 1984), (50, 2050), (100, 2380), (100, 2998)]


def fresh_database() -> None:
    import psycopg
    from psycopg import sql

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    admin: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(NAME)))
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{NAME}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ampere.config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def agreements(count: int) -> tuple[int, list[tuple[int, int]]]:
    """``count`` accounts with one agreement each, made by set-based SQL."""
    from django.db import connection
    from tests.factories.accounts import AgreementFactory

    first = AgreementFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH a AS (
                INSERT INTO accounts_account (utility_id, customer_id, number, status, opened_on)
                SELECT %(utility)s, %(customer)s, 'B' || lpad(g::text, 12, '0'), 'active',
                       '2025-01-01'
                FROM generate_series(1, %(n)s) g RETURNING id
            ), s AS (
                INSERT INTO accounts_servicepoint (utility_id, premise_id, code, voltage_class,
                    nominal_voltage_v, phases, feeder_code, transformer_code)
                SELECT %(utility)s, %(premise)s, 'BSP' || g, 'lv', 220, 1, '', ''
                FROM generate_series(1, %(n)s) g RETURNING id
            ), pairs AS (
                SELECT a.id AS account_id, s.id AS point_id
                FROM (SELECT id, row_number() OVER (ORDER BY id) r FROM a) a
                JOIN (SELECT id, row_number() OVER (ORDER BY id) r FROM s) s USING (r)
            )
            INSERT INTO accounts_serviceagreement (account_id, service_point_id, tariff_id,
                purpose_of_use, households, short_lease_undeclared, valid_period, status)
            SELECT account_id, point_id, %(tariff)s, 'residential', 1, false,
                   '[2025-01-01,)', 'active' FROM pairs
            RETURNING account_id, id
            """,
            {
                "utility": first.account.utility_id,
                "customer": first.account.customer_id,
                "premise": first.service_point.premise_id,
                "tariff": first.tariff_id,
                "n": count,
            },
        )
        rows = sorted(cursor.fetchall())
    return first.account.utility_id, rows


def copy_rows(table: str, columns: str, text: str) -> None:
    from django.db import connection

    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        copy.write(text)


BILL_COLUMNS = (
    "id, account_id, agreement_id, kind, status, period, bill_date, due_date, "
    "issued_at, currency, language, consumption_kwh, estimated, subtotal, tax_total, "
    "total, readings, created_at"
)
LINE_COLUMNS = (
    "bill_id, sequence, kind, code, description, quantity, unit, unit_price, "
    "amount_unrounded, amount, tax_rate, tax_amount"
)


def texts(ids: list[int], pairs: list[tuple[int, int]], now: datetime) -> tuple[str, str]:
    bills = io.StringIO()
    lines = io.StringIO()
    for bill_id, (account_id, agreement_id) in zip(ids, pairs, strict=True):
        bills.write(
            f"{bill_id}\t{account_id}\t{agreement_id}\toriginal\tissued\t[2025-05-01,2025-06-01)"
            f"\t2025-06-02\t2025-06-09\t{now.isoformat()}\tVND\tvi\t300\tf\t739500\t59160\t798660"
            f"\t[]\t{now.isoformat()}\n"
        )
        for n, (kwh, price) in enumerate(TIERS, start=1):
            amount = kwh * price
            lines.write(
                f"{bill_id}\t{n}\tenergy\ttier-{n}\tĐiện sinh hoạt bậc {n}\t{kwh}\tkWh\t{price}"
                f"\t{amount}\t{amount}\t0.08\t{amount * 8 // 100}\n"
            )
    return bills.getvalue(), lines.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 20_000 if args.quick else 200_000
    fresh_database()
    from django.db import connection, transaction

    from ampere.billing.operations import reserve_bill_ids

    _, pairs = agreements(count)
    now = datetime(2025, 6, 2, 1, tzinfo=UTC)
    ids = reserve_bill_ids(count=count)
    bill_text, line_text = texts(ids, pairs, now)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bare_bill (LIKE billing_bill)")
        cursor.execute("CREATE TABLE bare_line (LIKE billing_billline INCLUDING IDENTITY)")

    started = time.perf_counter()
    with transaction.atomic():
        copy_rows("bare_bill", BILL_COLUMNS, bill_text)
        copy_rows("bare_line", LINE_COLUMNS, line_text)
    bare = time.perf_counter() - started

    started = time.perf_counter()
    with transaction.atomic():
        copy_rows("billing_bill", BILL_COLUMNS, bill_text)
        copy_rows("billing_billline", LINE_COLUMNS, line_text)
    guarded = time.perf_counter() - started

    print(
        json.dumps(
            {
                "bills": count,
                "lines": count * len(TIERS),
                "bills_per_second_billing_tables": round(count / guarded),
                "bills_per_second_bare_tables": round(count / bare),
                "billing_tables_seconds": round(guarded, 2),
                "bare_tables_seconds": round(bare, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
