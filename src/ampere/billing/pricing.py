"""Pricing the targets with the batch rating engine, one call per tariff and shape of usage;
targets that cannot be priced become exceptions with the reason."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from ampere.billing.assembly import (
    LINE_KIND,
    allocate_tax,
    line_code,
)
from ampere.billing.run_context import RunContext
from ampere.billing.targets import Targets
from ampere.billing.usage import Usage, normal_name, tariff_needs
from ampere.core.errors import DomainError
from ampere.core.periods import DatePeriod
from ampere.rating.engine.batch import BatchGroup, RegisterBatch, rate_register_batch
from ampere.rating.engine.model import EnergyCharge, TariffVersion
from ampere.rating.engine.plan import plan_period


@dataclass
class Unbilled:
    index: int
    code: str
    detail: str
    raw: dict[str, Any]


@dataclass
class Priced:
    """The priced targets of one engine group: rows into Targets, and their lines."""

    targets: list[int]
    group: BatchGroup
    wh: list[int]  # the kWh priced (Wh) of each target: TOU periods summed, or the total
    line_rates: list[Decimal]
    line_kinds: list[str]
    line_codes: list[str]
    line_tax: np.ndarray[Any, np.dtype[np.int64]]  # [column, position] minor units
    sequence: np.ndarray[Any, np.dtype[np.int64]]  # [column, position], 0 where absent


def raw_target(targets: Targets, index: int, usage: Usage | None) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "tariff": targets.tariff[index],
        "service_point_id": targets.service_point_id[index],
        "period": [targets.start[index].isoformat(), targets.end[index].isoformat()],
    }
    if usage is not None:
        raw["usage"] = {
            "total_wh": usage.total_wh,
            "tou_wh": usage.tou_wh,
            "tou_wh_by_segment": usage.tou_wh_by_segment,
            "max_w": usage.max_w,
            "source": usage.source,
        }
    return raw


def price_targets(
    context: RunContext, targets: Targets, usages: list[Usage], exceptions: list[Unbilled]
) -> list[Priced]:
    """Price every target with the batch engine, one call per tariff and shape of usage;
    targets that cannot be priced become exceptions with the reason."""
    by_tariff: dict[str, list[int]] = defaultdict(list)
    for index in range(len(targets)):
        usage = usages[index]
        if usage.source == "missing":
            exceptions.append(
                Unbilled(
                    index,
                    "reads-missing",
                    "no reads for the period and too little history to estimate them",
                    raw_target(targets, index, usage),
                )
            )
        elif usage.source == "incomplete":
            exceptions.append(
                Unbilled(
                    index,
                    "intervals-incomplete",
                    "interval data does not cover every day of the period",
                    raw_target(targets, index, usage),
                )
            )
        else:
            by_tariff[targets.tariff[index]].append(index)
    priced: list[Priced] = []
    for tariff, indexes in sorted(by_tariff.items()):
        versions = context.versions_of(tariff)
        if isinstance(versions, DomainError):
            for index in indexes:
                exceptions.append(
                    Unbilled(
                        index,
                        "no-tariff-version",
                        f"{tariff}: {versions.message}"[:300],
                        raw_target(targets, index, usages[index]),
                    )
                )
            continue
        priced += _price_tariff(
            context=context,
            targets=targets,
            usages=usages,
            exceptions=exceptions,
            tariff=tariff,
            versions=versions,
            indexes=indexes,
        )
    return priced


def _price_tariff(
    *,
    context: RunContext,
    targets: Targets,
    usages: list[Usage],
    exceptions: list[Unbilled],
    tariff: str,
    versions: tuple[TariffVersion, ...],
    indexes: list[int],
) -> list[Priced]:
    needs = tariff_needs(versions)
    periods = {normal_name(p): p for p in needs.tou_periods}
    plans: dict[tuple[date, date], str | None] = {}
    shapes: dict[tuple[tuple[str, ...], bool, bool], list[int]] = defaultdict(list)

    def refuse(index: int, code: str, detail: str) -> None:
        exceptions.append(
            Unbilled(index, code, detail[:300], raw_target(targets, index, usages[index]))
        )

    for index in indexes:
        key = (targets.start[index], targets.end[index])
        if key not in plans:
            try:
                plan = plan_period(versions=versions, taxes=context.taxes, period=DatePeriod(*key))
            except DomainError as error:
                plans[key] = f"{error.code}: {tariff}: {error.message}"
            else:
                several = [s for s in plan.segments if len(s.taxes) > 1]
                plans[key] = (
                    "several taxes on one segment: a bill line carries one tax rate"
                    if several
                    else None
                )
        problem = plans[key]
        if problem is not None:
            code, _, detail = problem.partition(": ")
            if not detail:
                code, detail = "not-rateable", problem
            refuse(index, "no-tariff-version" if code == "no-tariff-version" else code, detail)
            continue
        usage = usages[index]
        tou: tuple[str, ...] = ()
        if needs.tou_periods and usage.tou_wh is not None:
            names = {normal_name(k) for k in usage.tou_wh}
            # Registers give every period; interval data only the periods the days touched.
            if names == set(periods) or (usage.from_intervals and names <= set(periods)):
                tou = tuple(sorted(periods.values()))
        if needs.needs_tou and not tou:
            refuse(
                index,
                "tou-usage-missing",
                f"{tariff} prices kWh by time of use: the meter gives no kWh per TOU period",
            )
            continue
        if needs.per_period_demand:
            refuse(index, "demand-missing", f"{tariff} prices demand per TOU period")
            continue
        if needs.needs_max and usage.max_w is None:
            refuse(index, "demand-missing", f"{tariff} has a demand charge: no maximum demand")
            continue
        segmented = bool(tou) and usage.tou_wh_by_segment is not None
        shapes[(tou, needs.needs_max, segmented)].append(index)
    priced: list[Priced] = []
    for (tou, with_max, segmented), members in shapes.items():
        priced += _rate_shape(
            context=context,
            targets=targets,
            usages=usages,
            exceptions=exceptions,
            tariff=tariff,
            versions=versions,
            tou=tou,
            with_max=with_max,
            segmented=segmented,
            members=members,
        )
    return priced


def _rate_shape(
    *,
    context: RunContext,
    targets: Targets,
    usages: list[Usage],
    exceptions: list[Unbilled],
    tariff: str,
    versions: tuple[TariffVersion, ...],
    tou: tuple[str, ...],
    with_max: bool,
    segmented: bool,
    members: list[int],
) -> list[Priced]:
    programs = {
        name: np.array([name in targets.programs[i] for i in members], np.bool_)
        for name in ("care", "fera", "medical_baseline", "sdp")
    }
    tou_wh: dict[str, Any] = {}
    tou_wh_by_segment: dict[str, Any] = {}
    if segmented:
        widest = max(len(usages[i].tou_wh_by_segment or ()) for i in members)
        for name in tou:
            key = normal_name(name)
            table = np.zeros((len(members), widest), np.int64)
            for row, i in enumerate(members):
                for column, part in enumerate(usages[i].tou_wh_by_segment or ()):
                    table[row, column] = next(
                        (v for k, v in part.items() if normal_name(k) == key), 0
                    )
            tou_wh_by_segment[name] = table
    elif tou:
        for name in tou:
            key = normal_name(name)
            values = []
            for i in members:
                found = usages[i].tou_wh
                assert found is not None
                values.append(next((v for k, v in found.items() if normal_name(k) == key), 0))
            tou_wh[name] = np.array(values, np.int64)
    batch = RegisterBatch(
        period_start=np.array([targets.start[i] for i in members], "datetime64[D]"),
        period_end=np.array([targets.end[i] for i in members], "datetime64[D]"),
        kwh_wh=None if tou else np.array([usages[i].total_wh for i in members], np.int64),
        tou_wh=tou_wh,
        tou_wh_by_segment=tou_wh_by_segment,
        max_w=np.array([usages[i].max_w or 0 for i in members], np.int64) if with_max else None,
        household_norm=np.array([targets.norm_centi[i] for i in members], np.int64),
        short_lease_undeclared=np.array([targets.short_lease[i] for i in members], np.bool_),
        region=np.array([targets.region[i] for i in members], np.str_),
        all_electric=np.array([targets.all_electric[i] for i in members], np.bool_),
        programs=programs,
        sdp_tons_milli=np.array([targets.sdp_tons_milli[i] for i in members], np.int64),
    )
    try:
        result = rate_register_batch(
            versions=versions, taxes=context.taxes, accounts=batch, language=context.legal_language
        )
    except DomainError as error:
        for index in members:
            exceptions.append(
                Unbilled(
                    index,
                    "rating-refused",
                    f"{tariff}: {error}"[:300],
                    raw_target(targets, index, usages[index]),
                )
            )
        return []
    for row, reason in sorted(result.rejected.items()):
        index = members[row]
        exceptions.append(
            Unbilled(
                index,
                "rating-rejected",
                f"{tariff}: {reason}"[:300],
                raw_target(targets, index, usages[index]),
            )
        )
    if tou and not segmented:
        wh = sum(tou_wh.values(), np.zeros(len(members), np.int64)).tolist()
    else:
        wh = [int(usages[i].total_wh or 0) for i in members]
    return [_assemble(group, members, wh, versions) for group in result.groups]


def _assemble(
    group: BatchGroup, members: list[int], wh: list[int], versions: Sequence[TariffVersion]
) -> Priced:
    """Bill lines of an engine group: kinds, codes, tax rates, tax shares and sequences."""
    columns = group.columns
    size = len(group.rows)
    rate_of_segment = {
        s.period: (s.taxes[0].rate if s.taxes else Decimal(0)) for s in group.plan.segments
    }
    energy_ids = frozenset(
        c.id for v in versions for c in v.pricing.components if isinstance(c, EnergyCharge)
    )
    periods_of: dict[str, tuple[str, ...]] = {}
    for version in versions:
        for component in version.pricing.components:
            if isinstance(component, EnergyCharge) and component.schedule is not None:
                periods_of[component.id] = version.pricing.schedule(component.schedule).periods
    rates = [rate_of_segment[c.segment] for c in columns]
    kinds = [LINE_KIND.get(c.kind, "other") for c in columns]
    codes = [
        line_code(
            c.code,
            kind=c.kind,
            energy_ids=energy_ids,
            periods=periods_of.get(c.component, ()),
        )
        for c in columns
    ]
    present = np.stack([c.present for c in columns]) if columns else np.zeros((0, size), np.bool_)
    rounded = np.stack([c.rounded for c in columns]) if columns else np.zeros((0, size), np.int64)
    line_tax = np.zeros((len(columns), size), np.int64)
    for rate in sorted(set(rates)):
        selected = [i for i, r in enumerate(rates) if r == rate]
        tax = np.zeros(size, np.int64)
        for item in group.taxes:
            if item.rate == rate:
                tax = tax + item.rounded
        if rate == 0 and not tax.any():
            continue
        line_tax[selected] = allocate_tax(rounded[selected], present[selected], tax)
    sequence = np.where(present, np.cumsum(present, axis=0), 0)
    return Priced(
        targets=[members[int(r)] for r in group.rows],
        group=group,
        wh=[wh[int(r)] for r in group.rows],
        line_rates=rates,
        line_kinds=kinds,
        line_codes=codes,
        line_tax=line_tax,
        sequence=sequence,
    )
