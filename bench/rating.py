"""Rating throughput.

(a) Register reads: 1,000,000 account-periods on the shipped EVN residential tariff (reading
    dates over four weeks around the 2025-05-10 price change, so many periods are split), with
    the batch engine; a sample is checked line for line against the reference engine.
(b) Hourly rating of 10,000 customer-years on a TOU + tiers + demand rate (given as a URDB record
    and imported), with the batch engine, beside NREL PySAM ``Utilityrate5`` on the same inputs.
    Both price calendar months of 2018 (Jan 1 a Monday, as SAM assumes), without DST or holidays
    (SAM has neither). Totals are compared month by month.

Usage: python bench/rating.py [--quick]; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ampere.core.periods import DatePeriod
from ampere.rating.engine.batch import (
    IntervalBatch,
    RegisterBatch,
    rate_interval_batch,
    rate_register_batch,
)
from ampere.rating.engine.model import RatingContext, RegisterUsage
from ampere.rating.engine.parse import parse_tariff, parse_taxes, parse_version
from ampere.rating.engine.reference import rate_register
from ampere.rating.engine.urdb import to_document

DATA = Path(__file__).resolve().parents[1] / "src" / "ampere" / "rating" / "data"


def register_reads(count: int, seed: int = 7) -> dict[str, object]:
    _, versions = parse_tariff(
        yaml.safe_load((DATA / "tariffs" / "evn-residential.yaml").read_text())
    )
    owners = yaml.safe_load((DATA / "taxes.yaml").read_text())["owners"]
    taxes = parse_taxes(next(o for o in owners if o["owner"] == "evn"))
    rng = np.random.default_rng(seed)
    ends = np.datetime64("2025-05-01") + rng.integers(0, 28, count)
    starts = ends - rng.integers(28, 34, count)
    norm = rng.choice(np.array([100, 100, 100, 100, 200, 300, 25, 50, 75]), count)
    batch = RegisterBatch(
        period_start=starts.astype("datetime64[D]"),
        period_end=ends.astype("datetime64[D]"),
        kwh_wh=rng.integers(0, 1500, count).astype(np.int64) * 1000,
        household_norm=norm.astype(np.int64),
        short_lease_undeclared=rng.random(count) < 0.01,
    )
    began = time.perf_counter()
    result = rate_register_batch(versions=versions, taxes=taxes, accounts=batch, language="vi")
    seconds = time.perf_counter() - began
    checked = 0
    assert batch.kwh_wh is not None and batch.household_norm is not None
    assert batch.short_lease_undeclared is not None
    for row in rng.choice(count, min(count, 300), replace=False):
        bill = rate_register(
            versions=versions,
            taxes=taxes,
            period=DatePeriod(
                starts[row].astype("datetime64[D]").astype(object),
                ends[row].astype("datetime64[D]").astype(object),
            ),
            usage=RegisterUsage(kwh=Decimal(int(batch.kwh_wh[row])) / 1000),
            context=RatingContext(
                household_norm=Decimal(int(batch.household_norm[row])) / 100,
                short_lease_undeclared=bool(batch.short_lease_undeclared[row]),
            ),
            language="vi",
        )
        assert result.bill(int(row)) == bill, row
        checked += 1
    split = int(sum(len(g.rows) for g in result.groups if g.plan.is_split))
    return {
        "account_periods": count,
        "seconds": round(seconds, 3),
        "account_periods_per_second": round(count / seconds),
        "split_periods": split,
        "billing_period_groups": len(result.groups),
        "total_vnd": int(result.total.sum()),
        "checked_against_reference": checked,
    }


def benchmark_rate() -> dict[str, object]:
    """A URDB record: 3 TOU periods (summer has a peak), 2 monthly tiers that add 0.05 $/kWh
    above 500 kWh in every period, a 12 $/kW monthly demand charge, 4.5 $/kW in the peak period,
    and 10 $/month."""
    summer_weekday = [0] * 12 + [1] * 4 + [2] * 5 + [1] * 2 + [0]
    summer_weekend = [0] * 12 + [1] * 9 + [0] * 3
    winter = [0] * 7 + [1] * 14 + [0] * 3
    weekday = [summer_weekday if 6 <= m <= 9 else winter for m in range(1, 13)]
    weekend = [summer_weekend if 6 <= m <= 9 else winter for m in range(1, 13)]
    tiers = [(0.09, "0.05"), (0.15, "0.05"), (0.32, "0.05")]
    return {
        "label": "bench-tou-tiers-demand",
        "name": "Bench TOU with tiers and demand",
        "energyratestructure": [
            [
                {"max": 500, "rate": base, "unit": "kWh"},
                {"rate": round(base + float(adder), 5), "unit": "kWh"},
            ]
            for base, adder in tiers
        ],
        "energyweekdayschedule": weekday,
        "energyweekendschedule": weekend,
        "demandratestructure": [[{"rate": 0}], [{"rate": 0}], [{"rate": 4.5}]],
        "demandweekdayschedule": weekday,
        "demandweekendschedule": weekend,
        "flatdemandstructure": [[{"rate": 12}]],
        "flatdemandmonths": [0] * 12,
        "fixedmonthlycharge": 10,
    }


def loads(count: int, seed: int = 11) -> np.ndarray:
    """Hourly Wh of ``count`` customers for 2018 (time-major: [hour, customer]): a daily shape ×
    a seasonal swing × a customer scale × noise, as whole Wh (3-decimal kWh)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(8760)[:, None]
    shape = 0.6 + 0.5 * np.sin((hours % 24 - 7) / 24 * 2 * np.pi) ** 2
    season = 1 + 0.4 * np.cos((hours / 8760 - 0.6) * 2 * np.pi)
    scale = rng.uniform(0.3, 4.0, (1, count))
    noise = rng.gamma(4.0, 0.25, (8760, count))
    return np.round(shape * season * scale * noise * 1000).astype(np.int32)


def pysam_bills(record: dict[str, object], wh: np.ndarray) -> tuple[np.ndarray, float]:
    import PySAM.Utilityrate5 as utilityrate

    def matrix(rows: object) -> list[list[int]]:
        assert isinstance(rows, list)
        return [[p + 1 for p in row] for row in rows]

    model = utilityrate.new()
    model.Lifetime.analysis_period = 1
    model.Lifetime.system_use_lifetime_output = 0
    model.Lifetime.inflation_rate = 0
    model.SystemOutput.gen = [0.0] * 8760
    model.SystemOutput.degradation = [0]
    model.Load.load_escalation = [0]
    rates = model.ElectricityRates
    rates.ur_metering_option = 0
    rates.ur_monthly_fixed_charge = 10
    rates.ur_monthly_min_charge = 0
    rates.ur_annual_min_charge = 0
    rates.rate_escalation = [0]
    rates.ur_en_ts_sell_rate = 0
    rates.ur_en_ts_buy_rate = 0
    rates.ur_nm_yearend_sell_rate = 0
    rates.ur_sell_eq_buy = 0
    rates.ur_ec_sched_weekday = matrix(record["energyweekdayschedule"])
    rates.ur_ec_sched_weekend = matrix(record["energyweekendschedule"])
    structure = record["energyratestructure"]
    assert isinstance(structure, list)
    rates.ur_ec_tou_mat = [
        [p + 1, t + 1, tier.get("max", 1e38), 0, tier["rate"], 0]
        for p, tiers in enumerate(structure)
        for t, tier in enumerate(tiers)
    ]
    rates.ur_dc_enable = 1
    rates.ur_dc_sched_weekday = matrix(record["demandweekdayschedule"])
    rates.ur_dc_sched_weekend = matrix(record["demandweekendschedule"])
    rates.ur_dc_tou_mat = [[1, 1, 1e38, 0], [2, 1, 1e38, 0], [3, 1, 1e38, 4.5]]
    rates.ur_dc_flat_mat = [[m, 1, 1e38, 12] for m in range(12)]
    bills = np.zeros((wh.shape[1], 12))
    began = time.perf_counter()
    for row in range(wh.shape[1]):
        model.Load.load = (wh[:, row] / 1000).tolist()
        model.execute(0)
        bills[row] = model.Outputs.year1_monthly_utility_bill_wo_sys
    return bills, time.perf_counter() - began


def hourly(count: int, pysam_count: int, chunk: int = 2000) -> dict[str, object]:
    record = benchmark_rate()
    document, warnings = to_document(record, time_zone="Etc/GMT+8")
    version = parse_version(
        {**document, "from": "2018-01-01", "to": "2019-01-01"}, tariff_code="BENCH"
    )
    taxes = parse_taxes({"owner": "bench", "taxes": []})
    months = [
        DatePeriod(date(2018, m, 1), date(2018 + m // 12, m % 12 + 1, 1)) for m in range(1, 13)
    ]
    starts = (np.datetime64("2018-01-01T08:00") + np.arange(8760) * np.timedelta64(1, "h")).astype(
        "datetime64[s]"
    )
    wh = loads(count)
    bills_minor = np.zeros((count, 12), np.int64)
    unrounded = np.zeros((count, 12))
    began = time.perf_counter()
    for first in range(0, count, chunk):
        block = wh[:, first : first + chunk]
        size = block.shape[1]
        results = rate_interval_batch(
            versions=[version],
            taxes=taxes,
            periods=months,
            accounts=IntervalBatch(
                starts=starts,
                kwh_wh=block,
                minutes=60,
                context=RegisterBatch(
                    period_start=np.zeros(size, "datetime64[D]"),
                    period_end=np.zeros(size, "datetime64[D]"),
                ),
            ),
            language="en",
        )
        for month, result in enumerate(results):
            bills_minor[first : first + size, month] = result.total
    seconds = time.perf_counter() - began
    # Unrounded monthly totals of the first rows (exact Decimal) to compare with SAM's doubles.
    sample = min(count, pysam_count)
    for first in range(0, sample, chunk):
        block = wh[:, first : min(first + chunk, sample)]
        results = rate_interval_batch(
            versions=[version],
            taxes=taxes,
            periods=months,
            accounts=IntervalBatch(
                starts=starts,
                kwh_wh=block,
                minutes=60,
                context=RegisterBatch(
                    period_start=np.zeros(block.shape[1], "datetime64[D]"),
                    period_end=np.zeros(block.shape[1], "datetime64[D]"),
                ),
            ),
            language="en",
        )
        for month, result in enumerate(results):
            for row in range(block.shape[1]):
                bill = result.bill(row)
                unrounded[first + row, month] = float(sum(line.amount for line in bill.lines))
    sam, sam_seconds = pysam_bills(record, wh[:, :pysam_count])
    ours = bills_minor[:pysam_count] / 100
    sam_cents = np.round(sam * 100).astype(np.int64)
    exact_cents = np.round(unrounded[:pysam_count] * 100).astype(np.int64)
    ours_per_year = seconds / count
    sam_per_year = sam_seconds / pysam_count
    return {
        "customer_years": count,
        "hours_per_year": 8760,
        "seconds": round(seconds, 3),
        "ms_per_customer_year": round(ours_per_year * 1000, 4),
        "pysam_customer_years": pysam_count,
        "pysam_seconds": round(sam_seconds, 3),
        "pysam_ms_per_customer_year": round(sam_per_year * 1000, 4),
        "speedup_vs_pysam": round(sam_per_year / ours_per_year, 1),
        "months_compared": int(sam.size),
        "months_within_1e-9_usd_unrounded_lines": int(
            (np.abs(unrounded[:pysam_count] - sam) < 1e-9).sum()
        ),
        "months_equal_to_the_cent_unrounded_lines": int((exact_cents == sam_cents).sum()),
        "max_abs_diff_unrounded_usd": float(np.abs(unrounded[:pysam_count] - sam).max()),
        "months_equal_to_the_cent_lines_rounded": int(
            (bills_minor[:pysam_count] == sam_cents).sum()
        ),
        "max_abs_diff_lines_rounded_usd": round(float(np.abs(ours - sam).max()), 4),
        "import_warnings": warnings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    args = parser.parse_args()
    register_count = 50_000 if args.quick else 1_000_000
    customers = 500 if args.quick else 10_000
    pysam_customers = 200 if args.quick else 10_000
    results = {
        "machine": {"cpus": os.cpu_count()},
        "register_reads_evn_residential": register_reads(register_count),
        "hourly_tou_tiers_demand": hourly(customers, pysam_customers),
        "quick": args.quick,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
