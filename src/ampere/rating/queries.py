"""Reads of the tariff catalogue, and the bill calculator (a quote touches no money history)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ampere.core.errors import InvalidInput, NotFound
from ampere.core.periods import DatePeriod
from ampere.rating.engine import reference
from ampere.rating.engine.model import (
    IntervalUsage,
    RatedBill,
    RatingContext,
    RegisterUsage,
    TariffVersion,
    TaxSchedule,
)
from ampere.rating.engine.parse import parse_taxes, parse_version
from ampere.rating.models import Tariff, TaxRate
from ampere.rating.models import TariffVersion as TariffVersionRow


class UnknownTariff(NotFound):
    code = "unknown-tariff"


@dataclass(frozen=True)
class TariffHead:
    id: int
    code: str
    name: str
    utility_code: str
    customer_class: str


@dataclass(frozen=True)
class VersionSummary:
    id: int
    period: DatePeriod
    instrument: str
    source: str


def get_tariff_head(*, code: str) -> TariffHead:
    """The catalogue head of tariff ``code``; raises UnknownTariff."""
    row = Tariff.objects.filter(code=code).values_list(
        "id", "code", "name", "utility_code", "customer_class"
    )
    found = row.first()
    if found is None:
        raise UnknownTariff(f"no tariff with code {code!r}", field="tariff")
    return TariffHead(*found)


def list_tariff_heads(*, utility_code: str | None = None) -> list[TariffHead]:
    rows = Tariff.objects.all()
    if utility_code is not None:
        rows = rows.filter(utility_code=utility_code)
    return [
        TariffHead(*r)
        for r in rows.order_by("code").values_list(
            "id", "code", "name", "utility_code", "customer_class"
        )
    ]


def list_versions(*, tariff_code: str) -> list[VersionSummary]:
    head = get_tariff_head(code=tariff_code)
    rows = (
        TariffVersionRow.objects.filter(tariff_id=head.id)
        .order_by("effective_period")
        .values_list("id", "effective_period", "instrument", "source")
    )
    return [
        VersionSummary(i, DatePeriod(p.lower, p.upper), instrument, source)
        for i, p, instrument, source in rows
    ]


def get_versions(
    *, tariff_code: str, period: DatePeriod | None = None
) -> tuple[TariffVersion, ...]:
    """The tariff's versions (overlapping ``period`` when given) as engine values, in order.
    Raises UnknownTariff; NotFound when no version overlaps."""
    head = get_tariff_head(code=tariff_code)
    rows = TariffVersionRow.objects.filter(tariff_id=head.id)
    if period is not None:
        rows = rows.filter(effective_period__overlap=(period.start, period.end))
    found = rows.order_by("effective_period").values_list("effective_period", "document")
    versions = tuple(
        parse_version(
            {**document, "from": p.lower, "to": p.upper}, tariff_code=tariff_code, field="document"
        )
        for p, document in found
    )
    if not versions:
        raise NotFound(f"{tariff_code} has no version in force then", field="period")
    return versions


def get_tax_schedule(*, owner: str) -> TaxSchedule:
    """The dated tax rates of a tariff owner (``evn``, ``sce``); empty when it has none."""
    rows = (
        TaxRate.objects.filter(owner=owner)
        .order_by("code", "effective_period")
        .values_list("code", "name", "rate", "effective_period")
    )
    taxes: dict[str, dict[str, object]] = {}
    for code, name, rate, period in rows:
        tax = taxes.setdefault(code, {"code": code, "name": name, "rates": []})
        rates = tax["rates"]
        assert isinstance(rates, list)
        rates.append({"from": period.lower, "to": period.upper, "rate": rate})
    return parse_taxes({"owner": owner, "taxes": list(taxes.values())})


def get_holiday_rule(*, tariff_code: str, period: DatePeriod) -> str | None:
    """The holiday rule the tariff's TOU schedules name (``sce-tou``), if any."""
    for version in get_versions(tariff_code=tariff_code, period=period):
        for schedule in version.pricing.schedules:
            if schedule.holiday_rule:
                return schedule.holiday_rule
    return None


def quote(
    *,
    tariff_code: str,
    period: DatePeriod,
    usage: RegisterUsage | IntervalUsage,
    context: RatingContext,
    holidays: frozenset[date] = frozenset(),
    language: str = "vi",
) -> RatedBill:
    """Price usage on a tariff for a period, as the bill would (nothing is stored).

    Raises UnknownTariff, NotFound (no version then), InvalidInput naming the bad field.
    """
    if period.end is None or period.end <= period.start:
        raise InvalidInput("the period ends after it starts", field="to")
    head = get_tariff_head(code=tariff_code)
    versions: Sequence[TariffVersion] = get_versions(tariff_code=tariff_code, period=period)
    taxes = get_tax_schedule(owner=head.utility_code)
    if isinstance(usage, IntervalUsage):
        return reference.rate_intervals(
            versions=versions,
            taxes=taxes,
            period=period,
            usage=usage,
            context=context,
            holidays=holidays,
            language=language,
        )
    return reference.rate_register(
        versions=versions,
        taxes=taxes,
        period=period,
        usage=usage,
        context=context,
        language=language,
    )
