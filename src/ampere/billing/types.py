"""Frozen value objects billing takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ampere.core.periods import DatePeriod


class LineKind:
    """What a bill line charges for (the values of BillLine.kind)."""

    ENERGY = "energy"  # kWh of a tier or a time-of-use period
    DEMAND = "demand"  # kW
    FIXED = "fixed"  # a charge per day or month (SCE Base Services Charge)
    DISCOUNT = "discount"  # CARE, FERA (negative)
    CREDIT = "credit"  # Summer Discount Plan, baseline credit (negative)
    SURCHARGE = "surcharge"
    OTHER = "other"

    ALL = ("energy", "demand", "fixed", "discount", "credit", "surcharge", "other")


@dataclass(frozen=True, slots=True)
class DraftLine:
    """A priced line as rating gives it, before rounding.

    ``code`` is a stable slug ("tier-1", "tou-peak", "base-services") from which documents
    choose words in the customer's language; ``description`` is the legal (utility-language)
    text, used on e-invoices.
    """

    kind: str
    code: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount_unrounded: Decimal
    tax_rate: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ReadingDetail:
    """A meter register's readings on the bill (EVN prints them; e-invoices carry them)."""

    meter_number: str
    register: str  # "total", "peak", "normal", "off-peak"
    previous_reading: Decimal
    current_reading: Decimal
    multiplier: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class DraftBill:
    """Everything needed to write one bill (the single-bill path; runs write in bulk)."""

    account_id: int
    agreement_id: int
    period: DatePeriod
    bill_date: date
    currency: str
    language: str
    consumption_kwh: Decimal
    estimated: bool
    lines: tuple[DraftLine, ...]
    cycle_id: int | None = None
    bill_run_id: int | None = None
    readings: tuple[ReadingDetail, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class HoldReason:
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class BillRef:
    id: int
    status: str
    total: Decimal
    currency: str
    due_date: date | None
    hold_reasons: tuple[HoldReason, ...] = ()


@dataclass(frozen=True, slots=True)
class BillLineView:
    sequence: int
    kind: str
    code: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount_unrounded: Decimal
    amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal


@dataclass(frozen=True, slots=True)
class BillView:
    id: int
    kind: str
    status: str
    account_id: int
    account_number: str
    agreement_id: int
    utility_id: int
    period: DatePeriod
    bill_date: date
    due_date: date | None
    issued_at: datetime | None
    currency: str
    language: str
    consumption_kwh: Decimal
    estimated: bool
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    lines: tuple[BillLineView, ...]
    readings: tuple[ReadingDetail, ...]
    reverses_id: int | None
    replaces_id: int | None


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """One period of the usage history chart."""

    period: DatePeriod
    consumption_kwh: Decimal
    estimated: bool


@dataclass(frozen=True, slots=True)
class DocumentRef:
    bill_id: int
    kind: str
    path: str
    sha256: str
    size_bytes: int
    created: bool  # False when it existed already (idempotent re-run)


@dataclass(frozen=True, slots=True)
class EInvoiceRef:
    bill_id: int
    form: str
    symbol: str
    number: int
    issue_date: date
    created: bool


@dataclass(frozen=True, slots=True)
class BillSummary:
    """A bill in an account's list (no lines)."""

    id: int
    kind: str
    status: str
    period: DatePeriod
    bill_date: date
    due_date: date | None
    issued_at: datetime | None
    currency: str
    consumption_kwh: Decimal
    estimated: bool
    total: Decimal
    reverses_id: int | None
    replaces_id: int | None
