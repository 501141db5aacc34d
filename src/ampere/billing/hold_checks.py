"""The hold rules over priced bills: a vectorised pre-check over every bill and the bill history,
the exact rule (``billing.holds``) only for the few it flags."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
from django.db import connection

from ampere.billing.holds import PastBill, PricedBillFacts, hold_candidates
from ampere.billing.holds import hold_reasons as exact_hold_reasons
from ampere.billing.queries import (
    as_period,
)
from ampere.billing.run_context import RunContext
from ampere.billing.targets import Targets
from ampere.billing.usage import Usage, wh_of
from ampere.core.periods import DatePeriod
from ampere.database import date_array, int_array

_HISTORY_SQL = """
SELECT t.agreement_id, h.rn, h.consumption_kwh, h.estimated, h.days
FROM unnest(%s::bigint[], %s::date[]) AS t(agreement_id, before)
CROSS JOIN LATERAL (
    SELECT row_number() OVER (ORDER BY b.period DESC) AS rn, b.consumption_kwh, b.estimated,
           upper(b.period) - lower(b.period) AS days
    FROM (SELECT period, consumption_kwh, estimated FROM billing_bill b
          WHERE b.agreement_id = t.agreement_id AND b.status = 'issued'
            AND b.kind IN ('original', 'rebill') AND upper(b.period) <= t.before
          ORDER BY b.period DESC LIMIT %s) b
) h
"""


@dataclass
class BillFacts:
    """Per priced bill (flat, in the order of the priced groups' targets)."""

    index: list[int] = field(default_factory=list)  # target index
    total: list[int] = field(default_factory=list)
    subtotal: list[int] = field(default_factory=list)
    tax_total: list[int] = field(default_factory=list)
    wh: list[int] = field(default_factory=list)


def hold_reasons_of(
    context: RunContext, targets: Targets, usages: list[Usage], facts: BillFacts
) -> dict[int, tuple[tuple[str, str], ...]]:
    """Hold reasons of the priced bills that have any (by target index)."""
    policy = context.policy
    needed = policy.history_needed
    count = len(facts.index)
    if not count:
        return {}
    agreements = [targets.agreement_id[i] for i in facts.index]
    starts = [targets.start[i] for i in facts.index]
    history_count = np.zeros(count, np.int64)
    history_sum = np.zeros(count, np.int64)
    per_day_centi = np.zeros(count, np.int64)
    leading = np.zeros(count, np.int64)
    if needed:
        position = {a: n for n, a in enumerate(agreements)}
        with connection.cursor() as cursor:
            cursor.execute(_HISTORY_SQL, [int_array(agreements), date_array(starts), needed])
            records = cursor.fetchall()
        per_day: dict[int, list[Decimal]] = defaultdict(list)
        broken: set[int] = set()
        for agreement_id, rn, kwh, was_estimated, days in sorted(
            records, key=lambda r: (r[0], r[1])
        ):
            n = position[agreement_id]
            if rn <= policy.history_periods:
                history_count[n] += 1
                history_sum[n] += wh_of(kwh)
                per_day[n].append(kwh / Decimal(days))
            if n not in broken:
                if was_estimated:
                    leading[n] += 1
                else:
                    broken.add(n)
        for n, values in per_day.items():
            mean = sum(values, Decimal(0)) / len(values)
            per_day_centi[n] = int((mean * 100).to_integral_value())
    days = np.array([(targets.end[i] - targets.start[i]).days for i in facts.index], np.int64)
    candidates = hold_candidates(
        policy=policy,
        minor_digits=context.minor_digits,
        total_minor=np.array(facts.total, np.int64),
        consumption_wh=np.array(facts.wh, np.int64),
        days=days,
        estimated=np.array([usages[i].source == "estimated" for i in facts.index], np.bool_),
        live=np.array([targets.live[i] for i in facts.index], np.bool_),
        history_count=history_count,
        history_sum_wh=history_sum,
        history_per_day_centi=per_day_centi,
        leading_estimates=leading,
    )
    found: dict[int, tuple[tuple[str, str], ...]] = {}
    flagged = np.flatnonzero(candidates).tolist()
    if not flagged:
        return found
    periods = _history_periods(
        [agreements[n] for n in flagged], [starts[n] for n in flagged], needed
    )
    scale = Decimal(1).scaleb(-context.minor_digits)
    for n in flagged:
        index = facts.index[n]
        past = [PastBill(period, kwh, est) for period, kwh, est in periods.get(agreements[n], [])]
        reasons = exact_hold_reasons(
            bill=PricedBillFacts(
                period=targets.period(index),
                total=Decimal(facts.total[n]) * scale,
                consumption_kwh=Decimal(facts.wh[n]).scaleb(-3),
                estimated=usages[index].source == "estimated",
                agreement_live=targets.live[index],
            ),
            history=past,
            policy=policy,
        )
        if reasons:
            found[index] = tuple((r.code, r.detail) for r in reasons)
    return found


def _history_periods(
    agreements: list[int], starts: list[date], limit: int
) -> dict[int, list[tuple[DatePeriod, Decimal, bool]]]:
    if not limit or not agreements:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.agreement_id, b.period, b.consumption_kwh, b.estimated
            FROM unnest(%s::bigint[], %s::date[]) AS t(agreement_id, before)
            CROSS JOIN LATERAL (
                SELECT period, consumption_kwh, estimated FROM billing_bill b
                WHERE b.agreement_id = t.agreement_id AND b.status = 'issued'
                  AND b.kind IN ('original', 'rebill') AND upper(b.period) <= t.before
                ORDER BY b.period DESC LIMIT %s) b
            ORDER BY t.agreement_id, b.period DESC
            """,
            [int_array(agreements), date_array(starts), limit],
        )
        found: dict[int, list[tuple[DatePeriod, Decimal, bool]]] = defaultdict(list)
        for agreement_id, period, kwh, estimated in cursor.fetchall():
            found[agreement_id].append((as_period(period), kwh, estimated))
    return found
