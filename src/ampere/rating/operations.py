"""Writes to the tariff catalogue: shipped tariffs, tax rates and URDB imports."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from psycopg.types.range import Range

from ampere.core.errors import Conflict, InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating.engine import urdb
from ampere.rating.engine.parse import check_sequence, parse_taxes, parse_version
from ampere.rating.models import CustomerClass, Tariff, TariffVersion, TaxRate


class PublishedVersionChanged(Conflict):
    """A stored version differs from the data: published prices are not edited in place."""

    code = "published-version-changed"


@dataclass(frozen=True)
class LoadReport:
    tariffs_created: int
    tariffs_updated: int
    versions_created: int = 0
    versions_unchanged: int = 0
    tax_rates_created: int = 0
    tax_rates_unchanged: int = 0


@dataclass(frozen=True)
class ImportReport:
    tariff_code: str
    version_id: int
    period: DatePeriod
    created: bool
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _shipped(name: str) -> Any:
    text = resources.files("ampere.rating").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _shipped_tariff_files() -> list[Any]:
    """Each tariff document of ``data/tariffs/*.yaml`` (a file holds one, or a list under
    ``tariffs`` so that tariffs of one family share YAML anchors)."""
    folder = resources.files("ampere.rating").joinpath("data", "tariffs")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    documents: list[Any] = []
    for name in names:
        document = _shipped(f"tariffs/{name}")
        documents += document.get("tariffs", [document])
    return documents


def _plain(value: Any) -> Any:
    """A YAML value as JSON: dates as ISO text, floats as their shortest decimal text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(value)
    return value


def _range(period: DatePeriod) -> Range[date]:
    return Range(period.start, period.end, "[)")


def _as_period(value: Range[date]) -> DatePeriod:
    assert value.lower is not None
    return DatePeriod(value.lower, value.upper)


def _head(head: Mapping[str, Any], field_name: str) -> tuple[Tariff, bool]:
    if head.get("customer_class") not in CustomerClass.values:
        raise InvalidInput(
            f"unknown customer class {head.get('customer_class')!r}",
            field=f"{field_name}.customer_class",
        )
    for key in ("code", "name", "utility_code"):
        if not head.get(key):
            raise InvalidInput("is missing", field=f"{field_name}.{key}")
    tariff, created = Tariff.objects.update_or_create(
        code=head["code"],
        defaults={
            "name": head["name"],
            "utility_code": head["utility_code"],
            "customer_class": head["customer_class"],
        },
    )
    return tariff, created


def save_versions(
    *, tariff: Tariff, documents: Sequence[Mapping[str, Any]], field_prefix: str = "versions"
) -> tuple[int, int]:
    """Store dated version documents of one tariff (each parsed first); returns (created,
    unchanged). Raises TariffDataError naming the field, PublishedVersionChanged when a stored
    version differs, Conflict on an overlap or a gap. Call inside a transaction."""
    parsed = [
        (
            parse_version(doc, tariff_code=tariff.code, field=f"{field_prefix}[{i}]"),
            _plain({k: v for k, v in doc.items() if k not in {"from", "to"}}),
        )
        for i, doc in enumerate(documents)
    ]
    check_sequence([v for v, _ in parsed], field_prefix)
    stored = {
        _as_period(row.effective_period): row
        for row in TariffVersion.objects.filter(tariff=tariff).order_by("effective_period")
    }
    created = unchanged = 0
    for index, (version, document) in enumerate(parsed):
        existing = stored.get(version.period)
        if existing is not None:
            if existing.document != document:
                raise PublishedVersionChanged(
                    f"the stored version of {tariff.code} from {version.period.start} has other "
                    "prices: publish a new dated version instead of editing this one",
                    field=f"{field_prefix}[{index}]",
                )
            unchanged += 1
            continue
        try:
            with transaction.atomic():
                TariffVersion.objects.create(
                    tariff=tariff,
                    effective_period=_range(version.period),
                    instrument=version.instrument,
                    source=str(document.get("source", "")),
                    document=document,
                )
        except IntegrityError:
            raise Conflict(
                f"the version of {tariff.code} from {version.period.start} overlaps a stored one",
                field=f"{field_prefix}[{index}].from",
            ) from None
        created += 1
    _refuse_gaps(tariff)
    return created, unchanged


def _refuse_gaps(tariff: Tariff) -> None:
    periods = [
        _as_period(r)
        for r in TariffVersion.objects.filter(tariff=tariff)
        .order_by("effective_period")
        .values_list("effective_period", flat=True)
    ]
    for before, after in itertools.pairwise(periods):
        if before.end is not None and after.start > before.end:
            raise Conflict(
                f"{tariff.code} has no version from {before.end} to {after.start}",
                field="versions",
            )


def save_tax_schedule(*, document: Mapping[str, Any], field_prefix: str) -> tuple[int, int]:
    """Store one owner's dated tax rates (parsed first); returns (created, unchanged)."""
    schedule = parse_taxes(document, field_prefix)
    created = unchanged = 0
    names = {str(t["code"]): _plain(t.get("name") or {}) for t in document.get("taxes") or []}
    for index, rate in enumerate(schedule.rates):
        found = TaxRate.objects.filter(
            owner=schedule.owner, code=rate.code, effective_period=_range(rate.period)
        ).first()
        if found is not None:
            if found.rate != rate.rate:
                raise PublishedVersionChanged(
                    f"the stored {rate.code} rate from {rate.period.start} is {found.rate}",
                    field=f"{field_prefix}.rates[{index}]",
                )
            unchanged += 1
            continue
        try:
            with transaction.atomic():
                TaxRate.objects.create(
                    owner=schedule.owner,
                    code=rate.code,
                    name=names.get(rate.code, {}),
                    rate=rate.rate,
                    effective_period=_range(rate.period),
                )
        except IntegrityError:
            raise Conflict(
                f"the {rate.code} rate from {rate.period.start} overlaps a stored one",
                field=f"{field_prefix}.rates[{index}]",
            ) from None
        created += 1
    return created, unchanged


def load_shipped_tariffs() -> LoadReport:
    """Load the catalogue shipped with Ampere: heads, versions with their prices and TOU hours,
    and tax rates. All or nothing, and idempotent: a second load changes nothing. Raises
    TariffDataError / InvalidInput naming the bad field, Conflict for a clash with stored data.
    """
    catalogue = _shipped("catalogue.yaml")
    tariff_files = _shipped_tariff_files()
    taxes = _shipped("taxes.yaml")
    created = updated = versions_created = versions_unchanged = 0
    rates_created = rates_unchanged = 0
    with transaction.atomic():
        heads: dict[str, Tariff] = {}
        for index, head in enumerate(catalogue["tariffs"]):
            tariff, was_created = _head(head, f"tariffs[{index}]")
            heads[tariff.code] = tariff
            created += was_created
            updated += not was_created
        for document in tariff_files:
            code = str(document.get("tariff"))
            if code not in heads:
                raise InvalidInput(f"tariff {code!r} is not in the catalogue", field="tariff")
            made, same = save_versions(
                tariff=heads[code],
                documents=document.get("versions") or [],
                field_prefix=f"{code}.versions",
            )
            versions_created += made
            versions_unchanged += same
        for index, owner in enumerate(taxes["owners"]):
            made, same = save_tax_schedule(document=owner, field_prefix=f"owners[{index}]")
            rates_created += made
            rates_unchanged += same
    return LoadReport(
        created,
        updated,
        versions_created,
        versions_unchanged,
        rates_created,
        rates_unchanged,
    )


def import_urdb_rate(
    *,
    record: Mapping[str, Any],
    tariff_code: str,
    name: str | None = None,
    utility_code: str,
    customer_class: str = CustomerClass.COMMERCIAL,
    effective_from: date | None = None,
    effective_to: date | None = None,
    time_zone: str = "America/Los_Angeles",
) -> ImportReport:
    """Import one URDB rate as a version of ``tariff_code`` (created when new). The period is
    given or taken from the record's start and end dates; an open-ended version before it is
    closed on its start. Raises TariffDataError naming the URDB field, Conflict on an overlap.
    """
    rate = urdb.unwrap(record)
    document, warnings = urdb.to_document(rate, time_zone=time_zone)
    start, end = urdb.record_dates(rate)
    start = effective_from or start
    end = effective_to if effective_to is not None else (end if effective_from is None else None)
    if start is None:
        raise InvalidInput("the record has no start date: give one", field="effective_from")
    document = {
        **document,
        "from": start.isoformat(),
        "to": None if end is None else end.isoformat(),
    }
    parse_version(document, tariff_code=tariff_code)
    with transaction.atomic():
        tariff, _ = _head(
            {
                "code": tariff_code,
                "name": name or str(rate.get("name") or tariff_code)[:200],
                "utility_code": utility_code,
                "customer_class": customer_class,
            },
            "tariff",
        )
        open_before = (
            TariffVersion.objects.select_for_update()
            .filter(tariff=tariff, effective_period__upper_inf=True)
            .first()
        )
        if open_before is not None and _as_period(open_before.effective_period).start < start:
            open_before.effective_period = Range(open_before.effective_period.lower, start, "[)")
            open_before.save(update_fields=["effective_period"])
        made, _ = save_versions(tariff=tariff, documents=[document], field_prefix="rate")
        version = TariffVersion.objects.get(
            tariff=tariff, effective_period=_range(DatePeriod(start, end))
        )
    return ImportReport(
        tariff_code, version.id, DatePeriod(start, end), bool(made), tuple(warnings)
    )
