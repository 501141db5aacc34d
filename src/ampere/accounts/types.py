"""Frozen value objects the accounts domain takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ampere.core.money import Money
from ampere.core.periods import DatePeriod


@dataclass(frozen=True)
class CustomerInput:
    kind: str
    name: str
    preferred_language: str
    phones: tuple[str, ...] = ()
    email: str = ""
    national_id: str = ""
    tax_code: str = ""
    consent_sms: bool = False
    consent_email: bool = False


@dataclass(frozen=True)
class PremiseInput:
    address_line: str
    province: str
    ward: str = ""
    district: str = ""
    postal_code: str = ""
    administrative_area_code: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    baseline_region: str = ""
    all_electric: bool = False


@dataclass(frozen=True)
class ServicePointInput:
    code: str
    voltage_class: str
    nominal_voltage_v: int
    phases: int
    feeder_code: str = ""
    transformer_code: str = ""


@dataclass(frozen=True)
class AgreementInput:
    tariff_code: str
    purpose_of_use: str
    period: DatePeriod
    households: Decimal = Decimal(1)
    renter_occupants: int | None = None
    short_lease_undeclared: bool = False
    contracted_capacity_kw: Decimal | None = None


@dataclass(frozen=True)
class AccountRef:
    id: int
    number: str
    utility_id: int
    utility_code: str
    currency: str
    matched_by: str = "number"  # or "legacy"


@dataclass(frozen=True)
class ConnectedAccount:
    account: AccountRef
    customer_id: int
    premise_id: int
    service_point_id: int
    agreement_id: int


@dataclass(frozen=True)
class LedgerLine:
    id: int
    kind: str
    amount: Money
    posted_at: datetime
    value_date: date
    due_date: date | None
    source_type: str
    source_id: str
    description: str
    reverses_id: int | None


@dataclass(frozen=True)
class AgreementTerms:
    """What rating needs to know of an agreement on a day (households norm, programmes)."""

    agreement_id: int
    tariff_code: str
    household_norm: Decimal
    short_lease_undeclared: bool
    programs: tuple[str, ...] = field(default_factory=tuple)


def household_norm(households: Decimal, renter_occupants: int | None) -> Decimal:
    """Tier-width multiplier: households on the meter, or renters at 4 persons per household."""
    if renter_occupants is not None:
        return Decimal(renter_occupants) / Decimal(4)
    return households


@dataclass(frozen=True)
class OpenItem:
    """A debit not yet fully settled (a bill's charge, a fee), oldest due first."""

    entry_id: int
    kind: str
    source_type: str
    source_id: str
    due_date: date | None
    original: Money
    open: Money
