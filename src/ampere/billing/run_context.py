"""What every bill of a run shares: the utility, the period and dates, the hold policy, taxes and
tariff versions (loaded once per run and process), and the timing laps of a partition."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ampere.accounts.models import Utility
from ampere.billing.holds import HoldPolicy
from ampere.billing.models import (
    BillRun,
)
from ampere.billing.queries import (
    as_period,
    get_hold_policy,
)
from ampere.core.errors import DomainError
from ampere.core.periods import DatePeriod
from ampere.metering.types import (
    TouCalendar,
)
from ampere.rating.engine.model import TariffVersion, TaxSchedule
from ampere.rating.queries import get_tax_schedule, get_versions

# --- the context of a run (cached per process) -------------------------------------------------


@dataclass
class RunContext:
    id: int
    utility_id: int
    utility_code: str
    currency: str
    minor_digits: int
    legal_language: str
    tariff_owner: str
    time_zone: str
    cycle_id: int | None
    period: DatePeriod
    bill_date: date
    due_date: date | None
    documents: bool
    policy: HoldPolicy
    taxes: TaxSchedule
    versions: dict[str, tuple[TariffVersion, ...] | DomainError] = field(default_factory=dict)
    calendars: dict[tuple[str, DatePeriod], TouCalendar] = field(default_factory=dict)

    @property
    def created_by(self) -> str:
        return f"billrun:{self.id}" if self.id else "rebill"

    def versions_of(self, tariff_code: str) -> tuple[TariffVersion, ...] | DomainError:
        found = self.versions.get(tariff_code)
        if found is None:
            try:
                found = get_versions(tariff_code=tariff_code)
            except DomainError as error:
                found = error
            self.versions[tariff_code] = found
        return found


_CONTEXTS: dict[int, RunContext] = {}


def _utility_row(utility_id: int) -> dict[str, Any]:
    from ampere.core.money import currency

    row = dict(
        Utility.objects.values(
            "code", "currency", "default_language", "tariff_owner", "time_zone"
        ).get(id=utility_id)
    )
    row["minor_digits"] = currency(str(row["currency"])).minor_digits
    return row


def run_context(run_id: int) -> RunContext:
    found = _CONTEXTS.get(run_id)
    if found is not None:
        return found
    row = BillRun.objects.values(
        "utility_id", "cycle_id", "period", "bill_date", "due_date", "documents"
    ).get(id=run_id)
    utility = _utility_row(row["utility_id"])
    context = RunContext(
        id=run_id,
        utility_id=row["utility_id"],
        utility_code=utility["code"],
        currency=utility["currency"],
        minor_digits=utility["minor_digits"],
        legal_language=utility["default_language"],
        tariff_owner=utility["tariff_owner"],
        time_zone=utility["time_zone"],
        cycle_id=row["cycle_id"],
        period=as_period(row["period"]),
        bill_date=row["bill_date"],
        due_date=row["due_date"],
        documents=row["documents"],
        policy=get_hold_policy(utility_id=row["utility_id"]),
        taxes=get_tax_schedule(owner=utility["tariff_owner"]),
    )
    if len(_CONTEXTS) > 8:
        _CONTEXTS.clear()
    _CONTEXTS[run_id] = context
    return context


class Laps:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        at = time.perf_counter()
        self.laps[name] = round(self.laps.get(name, 0.0) + at - self.last, 4)
        self.last = at

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started


def utility_context(*, utility_id: int, bill_date: date, due_date: date | None) -> RunContext:
    """The context of bills made outside a run (rebills) for a utility, dated ``bill_date``."""
    utility = _utility_row(utility_id)
    return RunContext(
        id=0,
        utility_id=utility_id,
        utility_code=utility["code"],
        currency=utility["currency"],
        minor_digits=utility["minor_digits"],
        legal_language=utility["default_language"],
        tariff_owner=utility["tariff_owner"],
        time_zone=utility["time_zone"],
        cycle_id=None,
        period=DatePeriod(bill_date, bill_date + timedelta(days=1)),
        bill_date=bill_date,
        due_date=due_date,
        documents=True,
        policy=get_hold_policy(utility_id=utility_id),
        taxes=get_tax_schedule(owner=utility["tariff_owner"]),
    )
