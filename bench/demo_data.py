"""Demo data throughput: accounts per second created by `ampere demo` (COPY in chunks).

Full size: 100,000 accounts for each of EVN HCMC and SCE; --quick: 5,000 each.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime

from _database import fresh_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--accounts", type=int, default=None)
    args = parser.parse_args()
    accounts = args.accounts or (5_000 if args.quick else 100_000)
    fresh_database("bench_demo_data")

    from ampere.accounts.demo import create_demo_data

    figures: dict[str, object] = {"accounts_per_utility": accounts}
    total_seconds = 0.0
    for utility in ("evn-hcmc", "sce"):
        started = time.perf_counter()
        report = create_demo_data(
            utility_code=utility,
            accounts=accounts,
            seed=1,
            as_of=date(2026, 11, 1),
            now=datetime(2026, 11, 1, tzinfo=UTC),
        )
        seconds = time.perf_counter() - started
        total_seconds += seconds
        figures[f"{utility}_seconds"] = round(seconds, 2)
        figures[f"{utility}_accounts_per_second"] = round(report.accounts / seconds)
        print(f"{utility}: {report.accounts} accounts in {seconds:.1f} s")
    figures["accounts_per_second"] = round(2 * accounts / total_seconds)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
