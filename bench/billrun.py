"""Bill run throughput: one full bill run of a utility end to end (reads to ledger; documents
excluded), in bills per second, beside the raw insert rate of the same rows as the ceiling.

Set-up (measured apart): demo accounts for EVN HCMC, their meters with three months of reads,
billing cycles with their calendars (five reading cycles). The run: the five cycles' runs for
October 2026, planned into partitions, billed by ``--workers`` processes (default 3 on two
cores: while one waits for PostgreSQL another computes) that take partitions with row locks, as
Celery workers would, without the broker: estimation of missing reads, consumption, batch
rating, hold rules, due dates, COPY of bills, lines and ledger charges.

Ceiling: the same bills, lines and ledger rows copied again (COPY, one transaction each) into
tables of the same columns without indexes, constraints or triggers, in the same database.

Full size: 1,000,000 accounts; --quick: 20,000. Needs PostgreSQL (``bench/_database.py``).
``--history`` bills September first, so that October's hold rules compare with a history.
``--reuse`` keeps the set-up in a template database and clones it on the next run.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from _database import fresh_database

NAME = "bench_billrun"
TEMPLATE = "bench_billrun_setup_{accounts}"
AS_OF = date(2026, 10, 26)  # every demo cycle (reading days 1..25) has read in October
SETUP_NOW = datetime(2026, 10, 26, 12, tzinfo=UTC)


def _admin() -> Any:
    import psycopg
    from django.conf import settings

    config = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        user=config["USER"],
        password=config.get("PASSWORD") or None,
        autocommit=True,
    )


def _template_exists(accounts: int) -> bool:
    with _admin() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [TEMPLATE.format(accounts=accounts)],
        ).fetchone()
    return row is not None and row[0] == f"accounts={accounts}"


def _clone(source: str, target: str, comment: str | None = None) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with _admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)
            )
        )
        if comment is not None:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(target), sql.Literal(comment)
                )
            )


def set_up(accounts: int) -> dict[str, float]:
    """Demo accounts, meters and reads, billing cycles; seconds of each step."""
    from ampere.accounts.demo import create_demo_data
    from ampere.billing.demo import install_demo_billing
    from ampere.metering.demo import install_demo_meters

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    create_demo_data(utility_code="evn-hcmc", accounts=accounts, seed=1, as_of=AS_OF, now=SETUP_NOW)
    seconds["accounts"] = time.perf_counter() - started
    started = time.perf_counter()
    install_demo_meters(utility_code="evn-hcmc", months=3, as_of=AS_OF, seed=1, now=SETUP_NOW)
    seconds["meters_and_reads"] = time.perf_counter() - started
    started = time.perf_counter()
    install_demo_billing(utility_code="evn-hcmc", valid_from=date(2024, 1, 1))
    seconds["billing_cycles"] = time.perf_counter() - started
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seconds["vacuum_analyze"] = time.perf_counter() - started
    return seconds


def _worker(run_ids: list[int]) -> None:
    from django.db import connection

    from ampere.billing.runs import pending_partition_ids, run_partition

    for run_id in run_ids:
        for partition_id in pending_partition_ids(run_id=run_id):
            run_partition(partition_id=partition_id, now=datetime.now(UTC))
    connection.close()


def bill(workers: int, partition_size: int, as_of: date = AS_OF) -> tuple[list[int], float]:
    from django.db import connections

    from ampere.billing.runs import start_bill_run

    now = datetime.now(UTC)
    run_ids = [
        start_bill_run(
            cycle_code=f"C{day:02d}",
            utility_code="evn-hcmc",
            as_of=as_of,
            now=now,
            created_by="bench",
            partition_size=partition_size,
            documents=False,
        ).id
        for day in (1, 7, 13, 19, 25)
    ]
    connections.close_all()
    started = time.perf_counter()
    if workers == 1:
        _worker(run_ids)
    else:
        context = multiprocessing.get_context("fork")
        # Each worker starts on another run, so they do not queue behind the same locks.
        processes = [
            context.Process(target=_worker, args=(run_ids[k:] + run_ids[:k],))
            for k in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            if process.exitcode:
                raise SystemExit(f"a worker failed ({process.exitcode})")
    return run_ids, time.perf_counter() - started


def _export(sql: str) -> tuple[bytes, int]:
    from django.db import connection

    buffer = io.BytesIO()
    rows = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT") as copy:
        for block in copy:
            buffer.write(block)
    rows = buffer.getvalue().count(b"\n")
    return buffer.getvalue(), rows


def ceiling(run_ids: list[int]) -> dict[str, Any]:
    """COPY of the run's rows into bare tables of the same columns (no index, constraint or
    trigger), one transaction per table."""
    from django.db import connection, transaction

    runs = ", ".join(str(i) for i in run_ids)
    tables = {
        "billing_bill": f"SELECT * FROM billing_bill WHERE bill_run_id IN ({runs})",
        "billing_billline": (
            "SELECT l.* FROM billing_billline l JOIN billing_bill b ON b.id = l.bill_id "
            f"WHERE b.bill_run_id IN ({runs})"
        ),
        "accounts_ledgerentry": (
            "SELECT * FROM accounts_ledgerentry WHERE created_by IN "
            f"({', '.join(repr(f'billrun:{i}') for i in run_ids)})"
        ),
    }
    figures: dict[str, Any] = {}
    total_seconds = 0.0
    for table, query in tables.items():
        data, rows = _export(query)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS raw_{table}")
            cursor.execute(f"CREATE TABLE raw_{table} (LIKE {table})")
        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY raw_{table} FROM STDIN") as copy,
        ):
            view = memoryview(data)
            for offset in range(0, len(data), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        seconds = time.perf_counter() - started
        total_seconds += seconds
        figures[f"{table}_rows"] = rows
        figures[f"{table}_rows_per_second"] = round(rows / seconds)
    figures["seconds"] = round(total_seconds, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--partition-size", type=int, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the set-up in a template database"
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="bill September first (not measured), so October's hold rules read a history",
    )
    args = parser.parse_args()
    accounts = args.accounts or (20_000 if args.quick else 1_000_000)
    partition_size = args.partition_size or (5_000 if accounts <= 50_000 else 20_000)
    figures: dict[str, Any] = {
        "accounts": accounts,
        "workers": args.workers,
        "partition_size": partition_size,
        "with_history": args.history,
    }
    os.environ.setdefault("AMPERE_LOG_LEVEL", "ERROR")
    fresh_database(NAME)
    from ampere.rating.operations import load_shipped_tariffs

    if args.reuse and _template_exists(accounts):
        started = time.perf_counter()
        _clone(TEMPLATE.format(accounts=accounts), NAME)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # a set-up kept from an older checkout
        figures["setup_cloned_seconds"] = round(time.perf_counter() - started, 1)
        print(f"set-up cloned in {figures['setup_cloned_seconds']} s")
    else:
        load_shipped_tariffs()
        setup = set_up(accounts)
        figures["setup_seconds"] = {k: round(v, 1) for k, v in setup.items()}
        print(f"set-up: {figures['setup_seconds']}")
        if args.reuse:
            _clone(NAME, TEMPLATE.format(accounts=accounts), comment=f"accounts={accounts}")
    if args.history:
        _, previous = bill(args.workers, partition_size, as_of=date(2026, 9, 26))
        figures["history_run_seconds"] = round(previous, 2)
        print(f"history: September billed in {previous:.1f} s")
    run_ids, seconds = bill(args.workers, partition_size)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), coalesce(sum(bills_issued), 0), coalesce(sum(bills_held), 0),
                   coalesce(sum(exceptions), 0), coalesce(sum(lines), 0),
                   coalesce(sum(estimated_reads), 0), count(*) FILTER (WHERE status <> 'done')
            FROM billing_billrunpartition WHERE run_id = ANY(%s)
            """,
            [run_ids],
        )
        partitions, issued, held, exceptions, lines, estimated, not_done = cursor.fetchone()
        cursor.execute(
            "SELECT timings FROM billing_billrunpartition WHERE run_id = ANY(%s)", [run_ids]
        )
        steps: dict[str, float] = defaultdict(float)
        for (timings,) in cursor.fetchall():
            plain = json.loads(timings) if isinstance(timings, str) else timings
            for step, value in plain.items():
                steps[step] += value
    bills = issued + held
    figures.update(
        {
            "partitions": partitions,
            "partitions_not_done": not_done,
            "bills": bills,
            "bills_held": held,
            "agreements_not_billed": exceptions,
            "bill_lines": lines,
            "estimated_reads": estimated,
            "run_seconds": round(seconds, 2),
            "bills_per_second": round(bills / seconds),
            "step_seconds_all_workers": {k: round(v, 1) for k, v in sorted(steps.items())},
        }
    )
    print(
        f"run: {bills} bills ({held} held, {exceptions} not billed), {lines} lines in "
        f"{seconds:.1f} s = {bills / seconds:,.0f} bills/s with {args.workers} workers"
    )
    raw = ceiling(run_ids)
    raw["bills_per_second"] = round(bills / raw["seconds"])
    figures["ceiling_raw_copy"] = raw
    print(
        f"ceiling: the same rows by raw COPY in {raw['seconds']} s "
        f"= {raw['bills_per_second']:,} bills/s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
