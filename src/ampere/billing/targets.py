"""The bills to make, column-wise: the agreements of a partition (or of rebills) with what pricing
needs of their customer, premise and programmes, each loaded in one query."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection

from ampere.core.errors import NotFound
from ampere.core.periods import DatePeriod
from ampere.database import date_array, int_array

LANGUAGES = ("vi", "en", "es")


TARGETS_SQL = """
SELECT ag.account_id, ag.id, ag.service_point_id, t.code,
       greatest(lower(ag.valid_period), %(start)s) AS start_date,
       CASE WHEN upper_inf(ag.valid_period) THEN %(end)s
            ELSE least(upper(ag.valid_period), %(end)s) END AS end_date,
       ag.status = 'active'
           AND ag.valid_period @> (CASE WHEN upper_inf(ag.valid_period) THEN %(end)s
                                   ELSE least(upper(ag.valid_period), %(end)s) END - 1),
       ag.households, ag.renter_occupants, ag.short_lease_undeclared,
       c.preferred_language, p.baseline_region, p.all_electric, billed.found IS NOT NULL
FROM billing_cycleassignment ca
JOIN accounts_account a ON a.id = ca.account_id
JOIN accounts_customer c ON c.id = a.customer_id
JOIN accounts_serviceagreement ag ON ag.account_id = ca.account_id
JOIN rating_tariff t ON t.id = ag.tariff_id
JOIN accounts_servicepoint sp ON sp.id = ag.service_point_id
JOIN accounts_premise p ON p.id = sp.premise_id
LEFT JOIN LATERAL (
    -- Probed per agreement through its (agreement, period) index: a run re-billing a cycle
    -- must not scan every bill of the run so far.
    SELECT 1 AS found FROM billing_bill b
    WHERE b.agreement_id = ag.id AND b.kind = 'original'
      AND b.period && daterange(%(start)s, %(end)s)
    LIMIT 1
) billed ON true
WHERE ca.cycle_id = %(cycle)s AND ca.valid_period @> %(day)s::date
  AND ca.account_id BETWEEN %(low)s AND %(high)s
  AND ag.status <> 'cancelled' AND ag.valid_period && daterange(%(start)s, %(end)s)
ORDER BY ag.account_id, ag.id
"""


@dataclass
class Targets:
    """The bills to make, column-wise (one entry per agreement and period)."""

    account_id: list[int] = field(default_factory=list)
    agreement_id: list[int] = field(default_factory=list)
    service_point_id: list[int] = field(default_factory=list)
    tariff: list[str] = field(default_factory=list)
    start: list[date] = field(default_factory=list)
    end: list[date] = field(default_factory=list)
    live: list[bool] = field(default_factory=list)
    norm_centi: list[int] = field(default_factory=list)
    short_lease: list[bool] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)
    all_electric: list[bool] = field(default_factory=list)
    programs: list[frozenset[str]] = field(default_factory=list)
    sdp_tons_milli: list[int] = field(default_factory=list)
    replaces: list[int | None] = field(default_factory=list)
    _periods: dict[tuple[date, date], DatePeriod] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.agreement_id)

    def period(self, index: int) -> DatePeriod:
        key = (self.start[index], self.end[index])
        found = self._periods.get(key)
        if found is None:
            found = self._periods[key] = DatePeriod(*key)
        return found


def _norm_centi(households: Decimal, renters: int | None) -> int:
    norm = Decimal(renters) / 4 if renters is not None else households
    return int((norm * 100).to_integral_value())


def load_targets(rows: Sequence[Sequence[Any]], default_language: str) -> Targets:
    """Targets from rows of ``TARGETS_SQL`` (without the ``billed`` column)."""
    targets = Targets()
    for (
        account_id,
        agreement_id,
        point_id,
        tariff,
        start,
        end,
        live,
        households,
        renters,
        short_lease,
        language,
        region,
        all_electric,
    ) in rows:
        targets.account_id.append(account_id)
        targets.agreement_id.append(agreement_id)
        targets.service_point_id.append(point_id)
        targets.tariff.append(tariff)
        targets.start.append(start)
        targets.end.append(end)
        targets.live.append(bool(live))
        targets.norm_centi.append(_norm_centi(households, renters))
        targets.short_lease.append(short_lease)
        targets.language.append(language if language in LANGUAGES else default_language)
        targets.region.append(region)
        targets.all_electric.append(all_electric)
        targets.programs.append(frozenset())
        targets.sdp_tons_milli.append(0)
        targets.replaces.append(None)
    return targets


def add_programs(targets: Targets) -> None:
    """CARE, FERA, Medical Baseline and SDP enrolments of the targets (one query)."""
    if not len(targets):
        return
    position = {a: i for i, a in enumerate(targets.agreement_id)}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.agreement_id, e.program, e.details
            FROM accounts_programenrolment e
            JOIN unnest(%s::bigint[], %s::date[], %s::date[]) AS t(agreement_id, s, e2)
              ON t.agreement_id = e.agreement_id
            WHERE e.program IN ('care', 'fera', 'medical_baseline', 'sdp')
              AND e.valid_period @> (t.e2 - 1)
            """,
            [int_array(targets.agreement_id), date_array(targets.start), date_array(targets.end)],
        )
        for agreement_id, program, details in cursor.fetchall():
            index = position[agreement_id]
            targets.programs[index] = targets.programs[index] | {program}
            if program == "sdp":
                # Django's connection hands JSON over as text.
                plain = json.loads(details) if isinstance(details, str) else details
                tons = Decimal(str((plain or {}).get("ac_tons", "0")))
                targets.sdp_tons_milli[index] = int(tons * 1000)


# --- one bill at a time through the same path (rebills) --------------------------------------

_AGREEMENT_TARGETS_SQL = """
SELECT ag.account_id, ag.id, ag.service_point_id, t.code, r.s, r.e,
       ag.status = 'active' AND ag.valid_period @> (r.e - 1),
       ag.households, ag.renter_occupants, ag.short_lease_undeclared,
       c.preferred_language, p.baseline_region, p.all_electric
FROM unnest(%s::bigint[], %s::date[], %s::date[]) WITH ORDINALITY AS r(agreement_id, s, e, n)
JOIN accounts_serviceagreement ag ON ag.id = r.agreement_id
JOIN accounts_account a ON a.id = ag.account_id
JOIN accounts_customer c ON c.id = a.customer_id
JOIN rating_tariff t ON t.id = ag.tariff_id
JOIN accounts_servicepoint sp ON sp.id = ag.service_point_id
JOIN accounts_premise p ON p.id = sp.premise_id
ORDER BY r.n
"""


def targets_for(
    *,
    bills: Sequence[tuple[int, DatePeriod]],
    default_language: str,
    replaces: Sequence[int | None],
) -> Targets:
    """Targets for (agreement id, period) pairs (rebills: ``replaces`` the bill each one
    replaces), with the programmes they are enrolled in."""
    with connection.cursor() as cursor:
        cursor.execute(
            _AGREEMENT_TARGETS_SQL,
            [
                [agreement for agreement, _ in bills],
                [period.start for _, period in bills],
                [period.end for _, period in bills],
            ],
        )
        rows = cursor.fetchall()
    if len(rows) != len(bills):
        raise NotFound("an agreement to bill does not exist", field="agreement")
    targets = load_targets(rows, default_language)
    targets.replaces = list(replaces)
    add_programs(targets)
    return targets
