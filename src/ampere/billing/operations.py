"""Writes and use cases of billing. Each owns its transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from psycopg.types.range import Range

from ampere.accounts.ledger import post_entry
from ampere.accounts.models import Account, AgreementStatus, ServiceAgreement, Utility
from ampere.billing.dates import ScheduleEntry
from ampere.billing.documents.labels import words_for
from ampere.billing.documents.pdf import render_bill_pdf
from ampere.billing.einvoice.document import (
    ADJUSTMENT,
    ExtraField,
    InvoiceData,
    InvoiceLine,
    Party,
    RelatedInvoice,
    build_invoice,
    invoice_totals,
    to_bytes,
)
from ampere.billing.einvoice.signing import SigningCredentials, load_credentials, sign_invoice
from ampere.billing.holds import HoldPolicy as HoldPolicyValue
from ampere.billing.holds import PricedBillFacts, hold_reasons
from ampere.billing.models import (
    Bill,
    BillDocument,
    BillHold,
    BillingCycle,
    BillLine,
    BillReview,
    BlackoutWindow,
    CollectionAccount,
    CycleAssignment,
    CycleSchedule,
    DueDateRule,
    EInvoice,
    HoldPolicy,
    InvoiceSeries,
    ReviewDecision,
)
from ampere.billing.presets import PRESETS
from ampere.billing.queries import (
    as_period,
    get_bill,
    get_bill_document_data,
    get_bill_history,
    get_due_date,
    get_hold_policy,
    get_service_address,
)
from ampere.billing.queueing import ISSUE_EINVOICE, RENDER_BILL_PDF, enqueue_after_commit
from ampere.billing.states import BillKind, BillStatus, check_transition
from ampere.billing.totals import price_lines
from ampere.billing.types import BillRef, DocumentRef, DraftBill, EInvoiceRef
from ampere.billing.vietqr import VietQRRequest, vietqr_payload
from ampere.core.errors import Conflict, DomainError, InvalidInput, NotFound
from ampere.core.localtime import local_date, zone
from ampere.core.money import Money
from ampere.core.periods import DatePeriod
from ampere.database import constraint_name, reserve_ids


class BillExists(Conflict):
    code = "bill-exists"


class InvoiceSeriesMissing(InvalidInput):
    code = "invoice-series-missing"


class InvoiceNumbersExhausted(Conflict):
    code = "invoice-numbers-exhausted"


def _range(period: DatePeriod) -> Range[date]:
    return Range(period.start, period.end, "[)")


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise InvalidInput("a time must carry its time zone", field="now")
    return now


def _actor(name: str, field: str) -> str:
    if not name.strip():
        raise InvalidInput("say who does this", field=field)
    return name.strip()[:64]


# --- cycles and their calendar -------------------------------------------------------------------


def create_cycle(*, utility_id: int, code: str, name: str) -> int:
    """A new billing cycle of the utility; raises Conflict when the code is taken."""
    if not code.strip():
        raise InvalidInput("a cycle needs a code", field="code")
    if not Utility.objects.filter(id=utility_id).exists():
        raise NotFound(f"no utility with id {utility_id}", field="utility")
    try:
        with transaction.atomic():
            cycle = BillingCycle.objects.create(utility_id=utility_id, code=code, name=name or code)
    except IntegrityError:
        raise Conflict(f"cycle {code!r} exists already", field="code") from None
    return cycle.id


def set_cycle_schedule(*, cycle_id: int, entries: Sequence[ScheduleEntry]) -> int:
    """Add calendar rows to a cycle, all or nothing; returns how many.

    Raises Conflict naming ``entries[i]`` for a month that has a row already or a period that
    overlaps another month's.
    """
    if not BillingCycle.objects.filter(id=cycle_id).exists():
        raise NotFound(f"no billing cycle with id {cycle_id}", field="cycle")
    with transaction.atomic():
        for index, entry in enumerate(entries):
            try:
                with transaction.atomic():
                    CycleSchedule.objects.create(
                        cycle_id=cycle_id,
                        month=entry.month,
                        period=_range(entry.period),
                        bill_date=entry.bill_date,
                    )
            except IntegrityError as error:
                constraint = constraint_name(error)
                if constraint == "one_schedule_row_per_month":
                    message = f"{entry.month:%Y-%m} is scheduled already"
                elif constraint == "cycle_periods_do_not_overlap":
                    message = f"the period {entry.period} overlaps another month's"
                else:
                    raise
                raise Conflict(message, field=f"entries[{index}]") from None
    return len(entries)


def assign_cycle(*, account_id: int, cycle_id: int, from_date: date) -> int:
    """Put the account on the cycle from ``from_date`` on, ending its current assignment there.

    Returns the assignment id (the current one when the account is on that cycle already).
    Raises InvalidInput (``cycle`` of another utility), Conflict (a later assignment exists).
    """
    account = Account.objects.filter(id=account_id).values_list("utility_id", flat=True).first()
    if account is None:
        raise NotFound(f"no account with id {account_id}", field="account")
    cycle_utility = (
        BillingCycle.objects.filter(id=cycle_id).values_list("utility_id", flat=True).first()
    )
    if cycle_utility is None:
        raise NotFound(f"no billing cycle with id {cycle_id}", field="cycle")
    if cycle_utility != account:
        raise InvalidInput("the cycle belongs to another utility", field="cycle")
    with transaction.atomic():
        Account.objects.select_for_update().filter(id=account_id).exists()
        current = (
            CycleAssignment.objects.filter(account_id=account_id, valid_period__contains=from_date)
            .values_list("id", "cycle_id", "valid_period")
            .first()
        )
        if current is not None and current[1] == cycle_id:
            return current[0]
        if CycleAssignment.objects.filter(
            account_id=account_id, valid_period__startswith__gt=from_date
        ).exists():
            raise Conflict("the account has a cycle assignment starting later", field="from_date")
        if current is not None:
            period = as_period(current[2])
            if period.start == from_date:
                raise Conflict("the account starts another cycle on that day", field="from_date")
            CycleAssignment.objects.filter(id=current[0]).update(
                valid_period=Range(period.start, from_date, "[)")
            )
        row = CycleAssignment.objects.create(
            account_id=account_id, cycle_id=cycle_id, valid_period=Range(from_date, None, "[)")
        )
    return row.id


# --- rules and windows ---------------------------------------------------------------------------


def set_due_date_rule(
    *,
    utility_id: int,
    valid_from: date,
    days_after_bill_date: int,
    weekend_days: Sequence[int] = (6, 7),
    description: str = "",
) -> int:
    """The utility's due-date rule from ``valid_from`` on (the rule before it ends there)."""
    if not 0 <= days_after_bill_date <= 120:
        raise InvalidInput("days after the bill date must be 0..120", field="days_after_bill_date")
    if not set(weekend_days) <= set(range(1, 8)) or len(set(weekend_days)) == 7:
        raise InvalidInput("weekend days are ISO weekdays 1..7, not all", field="weekend_days")
    with transaction.atomic():
        Utility.objects.select_for_update().filter(id=utility_id).exists()
        if DueDateRule.objects.filter(
            utility_id=utility_id, valid_period__startswith__gte=valid_from
        ).exists():
            raise Conflict("a rule starts on or after that day already", field="valid_from")
        current = (
            DueDateRule.objects.filter(utility_id=utility_id, valid_period__contains=valid_from)
            .values_list("id", "valid_period")
            .first()
        )
        if current is not None:
            period = as_period(current[1])
            DueDateRule.objects.filter(id=current[0]).update(
                valid_period=Range(period.start, valid_from, "[)")
            )
        row = DueDateRule.objects.create(
            utility_id=utility_id,
            valid_period=Range(valid_from, None, "[)"),
            days_after_bill_date=days_after_bill_date,
            weekend_days=sorted(set(weekend_days)),
            description=description[:200],
        )
    return row.id


def set_hold_policy(*, utility_id: int, policy: HoldPolicyValue) -> None:
    """Set the utility's hold-for-review thresholds (configuration, replaced as a whole)."""
    HoldPolicy.objects.update_or_create(
        utility_id=utility_id,
        defaults={
            "high_kwh_ratio": policy.high_kwh_ratio,
            "low_kwh_ratio": policy.low_kwh_ratio,
            "history_periods": policy.history_periods,
            "compare_per_day": policy.compare_per_day,
            "ratio_floor_kwh": policy.ratio_floor_kwh,
            "max_total": policy.max_total,
            "max_consecutive_estimates": policy.max_consecutive_estimates,
        },
    )


def declare_blackout(
    *, utility_id: int, period: DatePeriod, reason: str, declared_by: str, now: datetime
) -> int:
    """Declare days on which no bill falls due and no late charge accrues.

    Raises InvalidInput (``period`` open or empty, ``reason`` empty), Conflict (``period``
    overlaps a live window).
    """
    if period.end is None or period.is_empty():
        raise InvalidInput("a blackout window has a first and a last day", field="period")
    if not reason.strip():
        raise InvalidInput("say why no bill may fall due", field="reason")
    if not Utility.objects.filter(id=utility_id).exists():
        raise NotFound(f"no utility with id {utility_id}", field="utility")
    try:
        with transaction.atomic():
            row = BlackoutWindow.objects.create(
                utility_id=utility_id,
                period=_range(period),
                reason=reason.strip()[:200],
                declared_by=_actor(declared_by, "declared_by"),
                declared_at=_aware(now),
            )
    except IntegrityError as error:
        if constraint_name(error) == "live_blackouts_do_not_overlap":
            raise Conflict(
                f"the window {period} overlaps a declared window", field="period"
            ) from None
        raise
    return row.id


def cancel_blackout(*, window_id: int, cancelled_by: str, now: datetime) -> None:
    """Withdraw a window (the row stays, marked cancelled). Raises NotFound, Conflict."""
    who = _actor(cancelled_by, "cancelled_by")
    with transaction.atomic():
        window = BlackoutWindow.objects.select_for_update().filter(id=window_id).first()
        if window is None:
            raise NotFound(f"no blackout window {window_id}", field="window")
        if window.cancelled_at is not None:
            raise Conflict(f"window {window_id} is cancelled already", field="window")
        window.cancelled_at = _aware(now)
        window.cancelled_by = who
        window.save(update_fields=["cancelled_at", "cancelled_by"])


def set_collection_account(
    *, utility_id: int, bank_bin: str, account_number: str, to_card: bool = False
) -> None:
    """The bank account VietQR codes on the utility's bills pay into."""
    # The payload builder checks the fields exactly as a QR will carry them.
    vietqr_payload(VietQRRequest(bank_bin=bank_bin, account_number=account_number))
    CollectionAccount.objects.update_or_create(
        utility_id=utility_id,
        defaults={"bank_bin": bank_bin, "account_number": account_number, "to_card": to_card},
    )


def declare_invoice_series(*, utility_id: int, form: str, symbol: str, year: int) -> int:
    """An e-invoice symbol for a calendar year (the two digits after C/K are the year)."""
    if len(symbol) != 6 or symbol[0] not in "CK" or not symbol[1:3].isdigit():
        raise InvalidInput("a symbol is C or K, two year digits, three letters", field="symbol")
    if not symbol[3:].isalpha() or not symbol[3:].isupper():
        raise InvalidInput("a symbol ends with three capital letters", field="symbol")
    if int(symbol[1:3]) != year % 100:
        raise InvalidInput(f"symbol {symbol} is not of the year {year}", field="symbol")
    if len(form) != 1 or not form.isdigit() or form == "0":
        raise InvalidInput("the form is one digit 1..9", field="form")
    try:
        with transaction.atomic():
            row = InvoiceSeries.objects.create(
                utility_id=utility_id,
                form=form,
                symbol=symbol,
                valid_period=Range(date(year, 1, 1), date(year + 1, 1, 1), "[)"),
            )
    except IntegrityError:
        raise Conflict(
            f"form {form} has a series for {year} already, or {symbol} exists", field="symbol"
        ) from None
    return row.id


# --- bills ---------------------------------------------------------------------------------------


def reserve_bill_ids(*, count: int) -> list[int]:
    """``count`` bill ids taken from the table's sequence (for writing bills and their lines
    by COPY in one go). Ids are unique but not necessarily consecutive."""
    if count < 1:
        raise InvalidInput("reserve at least one id", field="count")
    return reserve_ids(table="billing_bill", count=count)


def _post_bill(
    *,
    bill_id: int,
    account_id: int,
    total: Decimal,
    currency_code: str,
    due_date: date | None,
    value_date: date,
    period: DatePeriod,
    now: datetime,
    created_by: str,
) -> None:
    """A bill's ledger entry: a charge with its due date, or a credit for a negative bill."""
    if total == 0:
        return
    end = period.inclusive_end()
    post_entry(
        account_id=account_id,
        kind="charge" if total > 0 else "adjustment",
        amount=Money.of(total, currency_code),
        value_date=value_date,
        due_date=due_date if total > 0 else None,
        source_type="bill",
        source_id=str(bill_id),
        description=f"Bill {bill_id} {period.start}..{end}",
        created_by=created_by,
        now=now,
    )


def enqueue_bill_documents(bill_id: int, currency_code: str) -> None:
    """After commit, queue the bill's PDF and, for a VND bill, its e-invoice (an adjusting one
    for a reversing bill)."""
    enqueue_after_commit(RENDER_BILL_PDF, bill_id)
    if currency_code == "VND":
        enqueue_after_commit(ISSUE_EINVOICE, bill_id)


def _check_draft(draft: DraftBill) -> tuple[int, bool]:
    """The utility of the bill's account and whether the agreement is live at the end."""
    words_for(draft.language)
    if draft.period.end is None or draft.period.is_empty():
        raise InvalidInput("a bill period has a start and an end", field="period")
    account = (
        Account.objects.filter(id=draft.account_id)
        .values("utility_id", "utility__currency")
        .first()
    )
    if account is None:
        raise NotFound(f"no account with id {draft.account_id}", field="account")
    if draft.currency != account["utility__currency"]:
        raise InvalidInput(
            f"the account bills in {account['utility__currency']}, not {draft.currency}",
            field="currency",
        )
    agreement = (
        ServiceAgreement.objects.filter(id=draft.agreement_id)
        .values("account_id", "status", "valid_period")
        .first()
    )
    if agreement is None:
        raise NotFound(f"no agreement with id {draft.agreement_id}", field="agreement")
    if agreement["account_id"] != draft.account_id:
        raise InvalidInput("the agreement belongs to another account", field="agreement")
    if (
        draft.cycle_id is not None
        and not BillingCycle.objects.filter(
            id=draft.cycle_id, utility_id=account["utility_id"]
        ).exists()
    ):
        raise InvalidInput("no such cycle for the account's utility", field="cycle")
    valid = as_period(agreement["valid_period"])
    last_day = draft.period.inclusive_end()
    live = agreement["status"] == AgreementStatus.ACTIVE and (
        last_day is not None and valid.contains(last_day)
    )
    return account["utility_id"], live


def create_bill(*, draft: DraftBill, now: datetime, created_by: str) -> BillRef:
    """Write one original bill: priced, checked against the hold rules, then issued (posted
    to the ledger with its due date, documents queued) or held with its reasons.

    Bill runs write many bills in bulk with the same rules; this is the one-at-a-time path.
    Raises InvalidInput/NotFound naming the field, BillExists (``period``), and the errors of
    ``get_due_date`` and ``get_hold_policy`` (missing rule, holidays, policy).
    """
    _aware(now)
    who = _actor(created_by, "created_by")
    utility_id, live = _check_draft(draft)
    priced, totals = price_lines(draft.lines, currency_code=draft.currency)
    policy = get_hold_policy(utility_id=utility_id)
    history = get_bill_history(
        agreement_id=draft.agreement_id, before=draft.period.start, limit=policy.history_needed
    )
    reasons = hold_reasons(
        bill=PricedBillFacts(
            period=draft.period,
            total=totals.total,
            consumption_kwh=draft.consumption_kwh,
            estimated=draft.estimated,
            agreement_live=live,
        ),
        history=history,
        policy=policy,
    )
    status = BillStatus.HELD if reasons else BillStatus.ISSUED
    due_date = None
    if status is BillStatus.ISSUED and totals.total > 0:
        due_date = get_due_date(utility_id=utility_id, bill_date=draft.bill_date)
    with transaction.atomic():
        try:
            with transaction.atomic():
                bill = Bill.objects.create(
                    account_id=draft.account_id,
                    agreement_id=draft.agreement_id,
                    cycle_id=draft.cycle_id,
                    bill_run_id=draft.bill_run_id,
                    kind=BillKind.ORIGINAL,
                    status=status,
                    period=_range(draft.period),
                    bill_date=draft.bill_date,
                    due_date=due_date,
                    issued_at=now if status is BillStatus.ISSUED else None,
                    currency=draft.currency,
                    language=draft.language,
                    consumption_kwh=draft.consumption_kwh,
                    estimated=draft.estimated,
                    subtotal=totals.subtotal,
                    tax_total=totals.tax_total,
                    total=totals.total,
                    readings=[{k: str(v) for k, v in asdict(r).items()} for r in draft.readings],
                    created_at=now,
                )
        except IntegrityError as error:
            if constraint_name(error) == "one_original_bill_per_agreement_period":
                raise BillExists(
                    f"agreement {draft.agreement_id} has a bill for {draft.period} already",
                    field="period",
                ) from None
            raise
        BillLine.objects.bulk_create(
            [
                BillLine(
                    bill_id=bill.id,
                    sequence=p.sequence,
                    kind=p.line.kind,
                    code=p.line.code,
                    description=p.line.description,
                    quantity=p.line.quantity,
                    unit=p.line.unit,
                    unit_price=p.line.unit_price,
                    amount_unrounded=p.line.amount_unrounded,
                    amount=p.amount,
                    tax_rate=p.line.tax_rate,
                    tax_amount=p.tax_amount,
                )
                for p in priced
            ]
        )
        if reasons:
            BillHold.objects.bulk_create(
                [BillHold(bill_id=bill.id, code=r.code, detail=r.detail[:300]) for r in reasons]
            )
        else:
            _post_bill(
                bill_id=bill.id,
                account_id=draft.account_id,
                total=totals.total,
                currency_code=draft.currency,
                due_date=due_date,
                value_date=draft.bill_date,
                period=draft.period,
                now=now,
                created_by=who,
            )
            enqueue_bill_documents(bill.id, draft.currency)
    return BillRef(bill.id, status, totals.total, draft.currency, due_date, reasons)


@dataclass(frozen=True, slots=True)
class _LockedBill:
    status: str
    kind: str
    total: Decimal
    currency: str
    account_id: int
    period: DatePeriod
    utility_id: int
    time_zone: str


def _locked_bill(bill_id: int) -> _LockedBill:
    row = (
        Bill.objects.select_for_update(of=("self",))
        .filter(id=bill_id)
        .values_list(
            "status",
            "kind",
            "total",
            "currency",
            "account_id",
            "period",
            "account__utility_id",
            "account__utility__time_zone",
        )
        .first()
    )
    if row is None:
        raise NotFound(f"no bill {bill_id}", field="bill")
    return _LockedBill(row[0], row[1], row[2], row[3], row[4], as_period(row[5]), row[6], row[7])


def release_bill(*, bill_id: int, released_by: str, now: datetime, note: str = "") -> BillRef:
    """A clerk releases a held bill: it is issued today (the due date counts from today),
    posted to the ledger and its documents are queued.

    Raises NotFound, IllegalTransition (``status``), and the due-date errors.
    """
    who = _actor(released_by, "released_by")
    _aware(now)
    with transaction.atomic():
        bill = _locked_bill(bill_id)
        check_transition(current=bill.status, target=BillStatus.ISSUED)
        total = bill.total
        utility_id = bill.utility_id
        issue_date = local_date(now, zone(bill.time_zone))
        due_date = get_due_date(utility_id=utility_id, bill_date=issue_date) if total > 0 else None
        Bill.objects.filter(id=bill_id).update(
            status=BillStatus.ISSUED, issued_at=now, due_date=due_date
        )
        BillReview.objects.create(
            bill_id=bill_id,
            decision=ReviewDecision.RELEASED,
            decided_by=who,
            decided_at=now,
            note=note.strip()[:300],
        )
        _post_bill(
            bill_id=bill_id,
            account_id=bill.account_id,
            total=total,
            currency_code=bill.currency,
            due_date=due_date,
            value_date=issue_date,
            period=bill.period,
            now=now,
            created_by=who,
        )
        enqueue_bill_documents(bill_id, bill.currency)
    return BillRef(bill_id, BillStatus.ISSUED, total, bill.currency, due_date)


def cancel_held_bill(*, bill_id: int, cancelled_by: str, reason: str, now: datetime) -> BillRef:
    """A clerk refuses a held bill; nothing is posted. The period is billed again by a rebill.

    Raises NotFound, InvalidInput (``reason`` empty), IllegalTransition (``status``).
    """
    who = _actor(cancelled_by, "cancelled_by")
    if not reason.strip():
        raise InvalidInput("say why the bill is cancelled", field="reason")
    _aware(now)
    with transaction.atomic():
        bill = _locked_bill(bill_id)
        # A clerk cancels held bills only: an issued bill needs a reversing bill.
        check_transition(current=bill.status, target=BillStatus.CANCELLED)
        Bill.objects.filter(id=bill_id).update(status=BillStatus.CANCELLED, cancelled_at=now)
        BillReview.objects.create(
            bill_id=bill_id,
            decision=ReviewDecision.CANCELLED,
            decided_by=who,
            decided_at=now,
            note=reason.strip()[:300],
        )
    return BillRef(
        bill_id,
        BillStatus.CANCELLED,
        bill.total,
        bill.currency,
        None,
    )


# --- documents -----------------------------------------------------------------------------------


def render_bill_document(*, bill_id: int, now: datetime) -> DocumentRef:
    """Render the bill's PDF into file storage once; a second call returns the first.

    Raises BillNotFound, DomainError (``status``: never issued), InvalidInput (``language``),
    CollectionAccountMissing (VND utility without a VietQR account).
    """
    _aware(now)
    existing = (
        BillDocument.objects.filter(bill_id=bill_id, kind="pdf")
        .values_list("path", "sha256", "size_bytes")
        .first()
    )
    if existing is not None:
        return DocumentRef(bill_id, "pdf", existing[0], existing[1], existing[2], created=False)
    data = get_bill_document_data(bill_id=bill_id)
    content = render_bill_pdf(data)
    digest = hashlib.sha256(content).hexdigest()
    name = f"bills/{data.issued_at:%Y/%m}/{bill_id}.pdf"
    if default_storage.exists(name):
        # A worker that died after writing the file: the bytes are the same (deterministic).
        with default_storage.open(name, "rb") as stored:
            if hashlib.sha256(stored.read()).hexdigest() != digest:
                default_storage.delete(name)
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(content))
    try:
        with transaction.atomic():
            BillDocument.objects.create(
                bill_id=bill_id,
                kind="pdf",
                path=name,
                sha256=digest,
                size_bytes=len(content),
                created_at=now,
            )
    except IntegrityError:
        other = BillDocument.objects.values_list("path", "sha256", "size_bytes").get(
            bill_id=bill_id, kind="pdf"
        )
        return DocumentRef(bill_id, "pdf", other[0], other[1], other[2], created=False)
    return DocumentRef(bill_id, "pdf", name, digest, len(content), created=True)


REGISTER_SUFFIX = {"total": "", "normal": "_BT", "peak": "_CD", "off-peak": "_TD"}


def _invoice_extras(bill_id: int) -> list[ExtraField]:
    bill = get_bill(bill_id=bill_id)
    households = (
        ServiceAgreement.objects.filter(id=bill.agreement_id)
        .values_list("households", flat=True)
        .get()
    )
    end = bill.period.inclusive_end()
    assert end is not None
    extras = [
        ExtraField("MaKhachHang", bill.account_number),
        ExtraField("KyHoaDon", f"{bill.period.start:%d/%m/%Y}-{end:%d/%m/%Y}"),
        ExtraField("SoNgay", str(bill.period.days), "numeric"),
        ExtraField("SoHo", format(Decimal(households).normalize(), "f"), "numeric"),
        ExtraField("DienNangTieuThu", format(bill.consumption_kwh.normalize(), "f"), "numeric"),
    ]
    if bill.estimated:
        extras.append(ExtraField("ChiSoUocTinh", "1", "numeric"))
    for reading in bill.readings:
        suffix = REGISTER_SUFFIX.get(reading.register, f"_{reading.register.upper()}")
        extras += [
            ExtraField(f"SoCongTo{suffix}", reading.meter_number),
            ExtraField(
                f"ChiSoCu{suffix}", format(reading.previous_reading.normalize(), "f"), "numeric"
            ),
            ExtraField(
                f"ChiSoMoi{suffix}", format(reading.current_reading.normalize(), "f"), "numeric"
            ),
            ExtraField(f"HeSoNhan{suffix}", format(reading.multiplier.normalize(), "f"), "numeric"),
        ]
    return extras


def issue_einvoice(
    *, bill_id: int, now: datetime, credentials: SigningCredentials | None = None
) -> EInvoiceRef:
    """The signed e-invoice of an issued VND bill, numbered in the series of the issue date
    without gaps (the series row is locked while the invoice is written). Idempotent.

    The reversing bill of a cancelled bill gets an adjusting e-invoice (TCHDon 2) that names the
    cancelled bill's e-invoice and repeats its lines with negative quantities and amounts; its
    rebill gets an ordinary e-invoice. A bill cancelled before it was invoiced is not invoiced,
    nor is its reversal (the check runs under the series lock, so an invoice being issued
    while the bill is cancelled is seen by the reversal).

    Raises NotFound, InvalidInput (``currency``, ``kind``, ``status``, ``total``),
    InvoiceSeriesMissing, InvoiceNumbersExhausted, SigningCredentialsMissing.
    """
    _aware(now)
    bill = get_bill(bill_id=bill_id)
    if bill.currency != "VND":
        raise InvalidInput("e-invoices are issued for VND bills", field="currency")
    if bill.issued_at is None:
        raise InvalidInput("only an issued bill is invoiced", field="status")
    found = _einvoice_of(bill_id)
    if found is not None:
        return EInvoiceRef(bill_id, *found, created=False)
    if bill.kind != BillKind.REVERSAL and bill.total < 0:
        raise InvalidInput(
            f"bill {bill_id} has a negative total {bill.total}; only a reversing bill is"
            " invoiced negative (by an adjusting e-invoice)",
            field="total",
        )
    utility = Utility.objects.values("code", "name", "address", "tax_code", "time_zone").get(
        id=bill.utility_id
    )
    if credentials is None:
        credentials = load_credentials(
            directory=Path(settings.EINVOICE_CREDENTIALS_DIR), utility_code=utility["code"]
        )
    buyer = (
        Bill.objects.filter(id=bill_id)
        .values_list("account__customer__name", "account__customer__tax_code")
        .get()
    )
    address = get_service_address(bill_id=bill_id)
    lines = tuple(
        InvoiceLine(
            name=line.description,
            unit=line.unit,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            tax_rate=line.tax_rate,
        )
        for line in bill.lines
    )
    totals = invoice_totals(lines)
    if (totals.subtotal, totals.tax_total, totals.total) != (
        bill.subtotal,
        bill.tax_total,
        bill.total,
    ):
        raise DomainError(
            f"the invoice totals {totals.total} differ from the bill's {bill.total}",
            field="lines",
        )
    extras = tuple(_invoice_extras(bill_id))
    issue_date = local_date(now, zone(utility["time_zone"]))
    with transaction.atomic():
        series = (
            InvoiceSeries.objects.select_for_update()
            .filter(utility_id=bill.utility_id, form="1", valid_period__contains=issue_date)
            .first()
        )
        if series is None:
            raise InvoiceSeriesMissing(
                f"no e-invoice series of form 1 for {issue_date.year}", field="invoice_series"
            )
        again = _einvoice_of(bill_id)
        if again is not None:
            return EInvoiceRef(bill_id, *again, created=False)
        related = _related_invoice(bill_id, bill.kind, bill.reverses_id, bill.period)
        number = series.next_number
        if number > 99_999_999:
            raise InvoiceNumbersExhausted(
                f"series {series.symbol} has used all 8-digit numbers", field="invoice_series"
            )
        data = InvoiceData(
            form=series.form,
            symbol=series.symbol,
            number=number,
            issue_date=issue_date,
            seller=Party(utility["name"], utility["address"], utility["tax_code"]),
            buyer=Party(buyer[0], address, buyer[1], customer_code=bill.account_number),
            lines=lines,
            extras=extras,
            related=related,
        )
        xml = to_bytes(sign_invoice(build_invoice(data), credentials=credentials))
        EInvoice.objects.create(
            bill_id=bill_id,
            series=series,
            number=number,
            issue_date=issue_date,
            xml=xml.decode("utf-8"),
            created_at=now,
        )
        series.next_number = number + 1
        series.save(update_fields=["next_number"])
    return EInvoiceRef(bill_id, series.form, series.symbol, number, issue_date, created=True)


def _einvoice_of(bill_id: int) -> tuple[str, str, int, date] | None:
    """The form, symbol, number and issue date of the bill's e-invoice, if it has one."""
    return (
        EInvoice.objects.filter(bill_id=bill_id)
        .values_list("series__form", "series__symbol", "number", "issue_date")
        .first()
    )


def _related_invoice(
    bill_id: int, kind: str, reverses_id: int | None, period: DatePeriod
) -> RelatedInvoice | None:
    """The invoice a reversing bill adjusts; refuses a cancelled bill never invoiced (and its
    reversal). Runs under the series lock."""
    if kind != BillKind.REVERSAL:
        status = Bill.objects.filter(id=bill_id).values_list("status", flat=True).get()
        if status == BillStatus.CANCELLED:
            raise InvalidInput(
                f"bill {bill_id} was cancelled before it was invoiced", field="status"
            )
        return None
    if reverses_id is None:
        raise DomainError(f"reversing bill {bill_id} names no bill", field="kind")
    original = _einvoice_of(reverses_id)
    if original is None:
        raise InvalidInput(
            f"bill {reverses_id} was cancelled before it was invoiced, so its reversing bill"
            f" {bill_id} has no invoice to adjust",
            field="kind",
        )
    form, symbol, number, issued = original
    end = period.inclusive_end()
    note = (
        f"Điều chỉnh giảm toàn bộ hóa đơn ký hiệu {form}{symbol} số {number} ngày"
        f" {issued:%d/%m/%Y} (tiền điện kỳ {period.start:%d/%m/%Y}-{end:%d/%m/%Y}) do hủy hóa đơn"
    )
    return RelatedInvoice(ADJUSTMENT, form, symbol, number, issued, note)


def install_billing_presets(*, utility_id: int, valid_from: date) -> None:
    """Give a known utility its due-date rule (from ``valid_from``) and hold policy, once."""
    code = Utility.objects.filter(id=utility_id).values_list("code", flat=True).first()
    if code is None:
        raise NotFound(f"no utility with id {utility_id}", field="utility")
    preset = PRESETS.get(code)
    if preset is None:
        raise InvalidInput(f"no billing preset for utility {code!r}", field="utility")
    with transaction.atomic():
        if not DueDateRule.objects.filter(utility_id=utility_id).exists():
            set_due_date_rule(
                utility_id=utility_id,
                valid_from=valid_from,
                days_after_bill_date=preset.days_after_bill_date,
                weekend_days=preset.weekend_days,
                description=preset.due_date_description,
            )
        if not HoldPolicy.objects.filter(utility_id=utility_id).exists():
            set_hold_policy(utility_id=utility_id, policy=preset.hold_policy)
