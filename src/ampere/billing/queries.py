"""Reads of billing. They return plain values and dataclasses, never half-loaded models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from psycopg.types.range import Range

from ampere.accounts.queries import get_holidays
from ampere.billing.dates import (
    DueDateRule as DueDateRuleValue,
)
from ampere.billing.dates import (
    ScheduleEntry,
    WorkingCalendar,
    due_date_for,
    first_due_day_on_or_after,
    horizon,
    is_late_charge_allowed_on,
)
from ampere.billing.documents.pdf import BillDocumentData
from ampere.billing.holds import HoldPolicy as HoldPolicyValue
from ampere.billing.holds import PastBill
from ampere.billing.models import (
    Bill,
    BillHold,
    BillingCycle,
    BillLine,
    BlackoutWindow,
    CollectionAccount,
    CycleAssignment,
    CycleSchedule,
    DueDateRule,
    HoldPolicy,
)
from ampere.billing.types import BillLineView, BillSummary, BillView, ReadingDetail, UsagePoint
from ampere.billing.vietqr import VietQRRequest, vietqr_payload
from ampere.core.errors import DomainError, InvalidInput, NotFound
from ampere.core.money import Money
from ampere.core.periods import DatePeriod


class CycleNotFound(NotFound):
    code = "cycle-not-found"


class CycleScheduleMissing(InvalidInput):
    code = "cycle-schedule-missing"


class DueDateRuleMissing(InvalidInput):
    code = "due-date-rule-missing"


class HolidayCalendarMissing(InvalidInput):
    code = "holiday-calendar-missing"


class HoldPolicyMissing(InvalidInput):
    code = "hold-policy-missing"


class CollectionAccountMissing(InvalidInput):
    code = "collection-account-missing"


class BillNotFound(NotFound):
    code = "bill-not-found"


def as_period(value: Range[date] | None) -> DatePeriod:
    """A daterange from the database as a half-open DatePeriod."""
    assert value is not None and value.lower is not None
    return DatePeriod(value.lower, value.upper)


# --- cycles ------------------------------------------------------------------------------------


def get_cycle_id(*, utility_id: int, code: str) -> int:
    found = (
        BillingCycle.objects.filter(utility_id=utility_id, code=code)
        .values_list("id", flat=True)
        .first()
    )
    if found is None:
        raise CycleNotFound(f"no billing cycle {code!r}", field="cycle")
    return found


def get_schedule_entry(*, cycle_id: int, month: date) -> ScheduleEntry:
    """The cycle's calendar row for ``month``; raises CycleScheduleMissing naming ``cycle``."""
    month = month.replace(day=1)
    row = (
        CycleSchedule.objects.filter(cycle_id=cycle_id, month=month)
        .values_list("month", "period", "bill_date")
        .first()
    )
    if row is None:
        code = BillingCycle.objects.filter(id=cycle_id).values_list("code", flat=True).first()
        if code is None:
            raise CycleNotFound(f"no billing cycle with id {cycle_id}", field="cycle")
        raise CycleScheduleMissing(
            f"billing cycle {code!r} has no schedule for {month:%Y-%m}", field="cycle"
        )
    return ScheduleEntry(row[0], as_period(row[1]), row[2])


def get_schedule(*, cycle_id: int, months: DatePeriod) -> list[ScheduleEntry]:
    """The cycle's calendar rows whose month lies in ``months``, in order."""
    rows = CycleSchedule.objects.filter(cycle_id=cycle_id, month__gte=months.start)
    if months.end is not None:
        rows = rows.filter(month__lt=months.end)
    return [
        ScheduleEntry(m, as_period(p), b)
        for m, p, b in rows.order_by("month").values_list("month", "period", "bill_date")
    ]


def get_cycles_billing_on(*, utility_id: int, bill_date: date) -> list[tuple[str, ScheduleEntry]]:
    """The cycles whose bill date is ``bill_date`` (the runs due that day), by cycle code."""
    rows = (
        CycleSchedule.objects.filter(cycle__utility_id=utility_id, bill_date=bill_date)
        .order_by("cycle__code")
        .values_list("cycle__code", "month", "period", "bill_date")
    )
    return [(c, ScheduleEntry(m, as_period(p), b)) for c, m, p, b in rows]


def get_account_cycle_id(*, account_id: int, on_date: date) -> int | None:
    """The cycle the account is on, on ``on_date`` (None when on none)."""
    return (
        CycleAssignment.objects.filter(account_id=account_id, valid_period__contains=on_date)
        .values_list("cycle_id", flat=True)
        .first()
    )


def get_cycle_account_ids(
    *, cycle_id: int, on_date: date, after_id: int = 0, limit: int = 1000
) -> list[int]:
    """The accounts on the cycle on ``on_date``, by id, paged by ``after_id``."""
    return list(
        CycleAssignment.objects.filter(
            cycle_id=cycle_id, valid_period__contains=on_date, account_id__gt=after_id
        )
        .order_by("account_id")
        .values_list("account_id", flat=True)[:limit]
    )


# --- due dates and blackouts ------------------------------------------------------------------


def get_due_date_rule(*, utility_id: int, on_date: date) -> tuple[DueDateRuleValue, frozenset[int]]:
    """The rule in force on ``on_date`` and its weekend days; raises DueDateRuleMissing."""
    row = (
        DueDateRule.objects.filter(utility_id=utility_id, valid_period__contains=on_date)
        .values_list("days_after_bill_date", "weekend_days")
        .first()
    )
    if row is None:
        raise DueDateRuleMissing(
            f"utility {utility_id} has no due-date rule in force on {on_date}",
            field="due_date_rule",
        )
    return DueDateRuleValue(row[0]), frozenset(row[1])


def get_blackouts(*, utility_id: int, period: DatePeriod) -> tuple[DatePeriod, ...]:
    """The live (not cancelled) blackout windows overlapping ``period``, in order."""
    rows = BlackoutWindow.objects.filter(
        utility_id=utility_id,
        cancelled_at__isnull=True,
        period__overlap=Range(period.start, period.end, "[)"),
    ).order_by("period")
    return tuple(as_period(p) for p in rows.values_list("period", flat=True))


def get_working_calendar(
    *, utility_id: int, period: DatePeriod, weekend_days: frozenset[int]
) -> WorkingCalendar:
    """Holidays and blackouts of ``period`` (bounded). Raises HolidayCalendarMissing when a
    year of the period has no holidays loaded (due dates would silently ignore them)."""
    assert period.end is not None
    holidays = get_holidays(
        utility_id=utility_id,
        period=DatePeriod(date(period.start.year, 1, 1), date(period.end.year + 1, 1, 1)),
    )
    years = {d.year for d in holidays}
    for year in range(period.start.year, period.end.year + 1):
        if year not in years:
            raise HolidayCalendarMissing(
                f"utility {utility_id} has no holidays loaded for {year}", field="holidays"
            )
    return WorkingCalendar(
        weekend_days=weekend_days,
        holidays=frozenset(d for d in holidays if period.contains(d)),
        blackouts=get_blackouts(utility_id=utility_id, period=period),
    )


def get_due_date(*, utility_id: int, bill_date: date) -> date:
    """The due date of a bill of the utility issued on ``bill_date``.

    Raises DueDateRuleMissing, HolidayCalendarMissing, NoWorkingDay.
    """
    rule, weekend = get_due_date_rule(utility_id=utility_id, on_date=bill_date)
    # Windows may push the due date past the nominal one: look as far as the last of them.
    windows = get_blackouts(utility_id=utility_id, period=DatePeriod(bill_date, None))
    span = horizon(bill_date=bill_date, rule=rule, blackouts=windows)
    calendar = get_working_calendar(utility_id=utility_id, period=span, weekend_days=weekend)
    return due_date_for(bill_date=bill_date, rule=rule, calendar=calendar)


def get_effective_due_date(*, utility_id: int, due_date: date) -> date:
    """A stored due date moved out of blackout windows declared after it was set (ledger rows
    are never changed, so collections asks this). Weekends and holidays were applied already."""
    windows = get_blackouts(utility_id=utility_id, period=DatePeriod(due_date, None))
    if not windows or not windows[0].contains(due_date):
        return due_date
    _, weekend = get_due_date_rule(utility_id=utility_id, on_date=due_date)
    span = horizon(bill_date=due_date, rule=DueDateRuleValue(0), blackouts=windows)
    calendar = get_working_calendar(utility_id=utility_id, period=span, weekend_days=weekend)
    return first_due_day_on_or_after(due_date, calendar)


def is_late_charge_allowed(*, utility_id: int, on_date: date) -> bool:
    """Whether a late charge may accrue on ``on_date``: not inside a live blackout window."""
    day = DatePeriod(on_date, on_date + timedelta(days=1))
    return is_late_charge_allowed_on(on_date, get_blackouts(utility_id=utility_id, period=day))


# --- holds -------------------------------------------------------------------------------------


def get_hold_policy(*, utility_id: int) -> HoldPolicyValue:
    """The utility's hold thresholds; raises HoldPolicyMissing."""
    row = HoldPolicy.objects.filter(utility_id=utility_id).first()
    if row is None:
        raise HoldPolicyMissing(
            f"utility {utility_id} has no hold-for-review policy", field="hold_policy"
        )
    return HoldPolicyValue(
        high_kwh_ratio=row.high_kwh_ratio,
        low_kwh_ratio=row.low_kwh_ratio,
        history_periods=row.history_periods,
        compare_per_day=row.compare_per_day,
        ratio_floor_kwh=row.ratio_floor_kwh,
        max_total=row.max_total,
        max_consecutive_estimates=row.max_consecutive_estimates,
    )


def _history(*, agreement_id: int, before: date, limit: int) -> list[UsagePoint]:
    """Issued (not cancelled) original bills and rebills of the agreement whose period ends
    by ``before``, newest first."""
    rows = (
        Bill.objects.filter(
            agreement_id=agreement_id,
            status="issued",
            kind__in=["original", "rebill"],
            period__fully_lt=Range(before, None, "[)"),
        )
        .order_by("-period")
        .values_list("period", "consumption_kwh", "estimated")[:limit]
    )
    return [UsagePoint(as_period(p), kwh, est) for p, kwh, est in rows]


def get_bill_history(*, agreement_id: int, before: date, limit: int) -> list[PastBill]:
    """The agreement's previous issued bills, newest first (what hold rules compare with)."""
    if limit <= 0:
        return []
    return [
        PastBill(u.period, u.consumption_kwh, u.estimated)
        for u in _history(agreement_id=agreement_id, before=before, limit=limit)
    ]


def get_usage_history(
    *, agreement_id: int, through: DatePeriod, periods: int = 12
) -> list[UsagePoint]:
    """The last ``periods`` issued periods of the agreement up to and including ``through``,
    oldest first (the chart of a bill)."""
    assert through.end is not None
    return _history(agreement_id=agreement_id, before=through.end, limit=periods)[::-1]


# --- bills -------------------------------------------------------------------------------------

_BILL_FIELDS = (
    "id",
    "kind",
    "status",
    "account_id",
    "account__number",
    "agreement_id",
    "account__utility_id",
    "period",
    "bill_date",
    "due_date",
    "issued_at",
    "currency",
    "language",
    "consumption_kwh",
    "estimated",
    "subtotal",
    "tax_total",
    "total",
    "readings",
    "reverses_id",
    "replaces_id",
)


def _readings(raw: list[dict[str, str]]) -> tuple[ReadingDetail, ...]:
    return tuple(
        ReadingDetail(
            meter_number=r["meter_number"],
            register=r["register"],
            previous_reading=Decimal(r["previous_reading"]),
            current_reading=Decimal(r["current_reading"]),
            multiplier=Decimal(r["multiplier"]),
        )
        for r in raw
    )


def get_bill(*, bill_id: int) -> BillView:
    """A bill with its lines, in two queries; raises BillNotFound."""
    row = Bill.objects.filter(id=bill_id).values(*_BILL_FIELDS).first()
    if row is None:
        raise BillNotFound(f"no bill {bill_id}", field="bill")
    lines = tuple(
        BillLineView(*line)
        for line in BillLine.objects.filter(bill_id=bill_id)
        .order_by("sequence")
        .values_list(
            "sequence",
            "kind",
            "code",
            "description",
            "quantity",
            "unit",
            "unit_price",
            "amount_unrounded",
            "amount",
            "tax_rate",
            "tax_amount",
        )
    )
    return BillView(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        account_id=row["account_id"],
        account_number=row["account__number"],
        agreement_id=row["agreement_id"],
        utility_id=row["account__utility_id"],
        period=as_period(row["period"]),
        bill_date=row["bill_date"],
        due_date=row["due_date"],
        issued_at=row["issued_at"],
        currency=row["currency"],
        language=row["language"],
        consumption_kwh=row["consumption_kwh"],
        estimated=row["estimated"],
        subtotal=row["subtotal"],
        tax_total=row["tax_total"],
        total=row["total"],
        lines=lines,
        readings=_readings(row["readings"]),
        reverses_id=row["reverses_id"],
        replaces_id=row["replaces_id"],
    )


def get_hold_reasons(*, bill_id: int) -> list[tuple[str, str]]:
    """(code, detail) of each reason a bill was held, in code order."""
    return list(
        BillHold.objects.filter(bill_id=bill_id).order_by("code").values_list("code", "detail")
    )


def get_held_bill_ids(*, utility_id: int, after_id: int = 0, limit: int = 100) -> list[int]:
    """The clerk's worklist: held bills of the utility, oldest first, paged by id."""
    return list(
        Bill.objects.filter(status="held", account__utility_id=utility_id, id__gt=after_id)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def get_vietqr_payload(*, utility_id: int, bill: BillView) -> str:
    """The VietQR payload of a VND bill: the utility's collection account, the bill's amount,
    its number, and the account number as purpose. Raises CollectionAccountMissing."""
    row = (
        CollectionAccount.objects.filter(utility_id=utility_id)
        .values_list("bank_bin", "account_number", "to_card")
        .first()
    )
    if row is None:
        raise CollectionAccountMissing(
            f"utility {utility_id} has no collection account for VietQR",
            field="collection_account",
        )
    amount = int(bill.total) if bill.total > 0 else None
    return vietqr_payload(
        VietQRRequest(
            bank_bin=row[0],
            account_number=row[1],
            to_card=row[2],
            amount_vnd=amount,
            bill_number=str(bill.id),
            purpose=f"TIEN DIEN {bill.account_number}",
        )
    )


def get_service_address(*, bill_id: int) -> str:
    """Where the bill's energy was delivered: the premise of its agreement, one line."""
    parts = (
        Bill.objects.filter(id=bill_id)
        .values_list(
            "agreement__service_point__premise__address_line",
            "agreement__service_point__premise__ward",
            "agreement__service_point__premise__district",
            "agreement__service_point__premise__province",
        )
        .get()
    )
    return ", ".join(part for part in parts if part)


def get_bill_document_data(*, bill_id: int) -> BillDocumentData:
    """Everything the PDF of a bill shows. Raises BillNotFound, CollectionAccountMissing,
    and DomainError (field ``status``) for a bill that was never issued."""
    bill = get_bill(bill_id=bill_id)
    if bill.issued_at is None:
        raise DomainError(f"bill {bill_id} was never issued: it has no document", field="status")
    context = (
        Bill.objects.filter(id=bill_id)
        .values_list(
            "account__utility__name",
            "account__utility__address",
            "account__utility__tax_code",
            "account__utility__default_language",
            "account__customer__name",
        )
        .get()
    )
    history: list[UsagePoint] = []
    if bill.kind != "reversal":
        history = get_usage_history(agreement_id=bill.agreement_id, through=bill.period)
        if not any(point.period == bill.period for point in history):
            history = [*history, UsagePoint(bill.period, bill.consumption_kwh, bill.estimated)][
                -12:
            ]
    payload = None
    if bill.currency == "VND":
        payload = get_vietqr_payload(utility_id=bill.utility_id, bill=bill)
    return BillDocumentData(
        bill_id=bill.id,
        kind=bill.kind,
        language=bill.language,
        legal_language=context[3],
        currency=bill.currency,
        utility_name=context[0],
        utility_address=context[1],
        utility_tax_code=context[2],
        customer_name=context[4],
        account_number=bill.account_number,
        service_address=get_service_address(bill_id=bill_id),
        period=bill.period,
        bill_date=bill.bill_date,
        due_date=bill.due_date,
        issued_at=bill.issued_at,
        consumption_kwh=bill.consumption_kwh,
        estimated=bill.estimated,
        lines=bill.lines,
        subtotal=bill.subtotal,
        tax_total=bill.tax_total,
        total=bill.total,
        readings=bill.readings,
        history=tuple(history),
        vietqr_payload=payload,
    )


def has_bills(*, utility_id: int) -> bool:
    """Whether any bill was made for the utility's accounts."""
    return Bill.objects.filter(account__utility_id=utility_id).exists()


def list_account_bills(
    *, account_id: int, limit: int = 20, before_id: int | None = None, issued_only: bool = False
) -> list[BillSummary]:
    """The account's bills, newest first (by id), paged with ``before_id``, in one query;
    ``issued_only`` leaves out bills never issued (held, or cancelled while held)."""
    rows = Bill.objects.filter(account_id=account_id)
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    if issued_only:
        rows = rows.filter(issued_at__isnull=False)
    return [
        BillSummary(
            id=r[0],
            kind=r[1],
            status=r[2],
            period=as_period(r[3]),
            bill_date=r[4],
            due_date=r[5],
            issued_at=r[6],
            currency=r[7],
            consumption_kwh=r[8],
            estimated=r[9],
            total=r[10],
            reverses_id=r[11],
            replaces_id=r[12],
        )
        for r in rows.order_by("-id").values_list(
            "id",
            "kind",
            "status",
            "period",
            "bill_date",
            "due_date",
            "issued_at",
            "currency",
            "consumption_kwh",
            "estimated",
            "total",
            "reverses_id",
            "replaces_id",
        )[:limit]
    ]


def get_bill_owner(*, bill_id: int) -> tuple[int, bool]:
    """The account of a bill and whether it was ever issued; raises BillNotFound."""
    row = Bill.objects.filter(id=bill_id).values_list("account_id", "issued_at").first()
    if row is None:
        raise BillNotFound(f"no bill {bill_id}", field="bill")
    return row[0], row[1] is not None


def get_einvoice_xml(*, bill_id: int) -> tuple[str, str, int]:
    """The signed e-invoice XML of a bill, its symbol and number; raises NotFound when the bill
    has none (yet)."""
    from ampere.billing.models import EInvoice

    row = (
        EInvoice.objects.filter(bill_id=bill_id)
        .values_list("xml", "series__symbol", "number")
        .first()
    )
    if row is None:
        raise NotFound(f"bill {bill_id} has no e-invoice", field="bill")
    return row[0], row[1], row[2]


@dataclass(frozen=True)
class LatestBill:
    id: int
    period: DatePeriod
    bill_date: date
    due_date: date | None
    total: Money
    status: str


@dataclass(frozen=True)
class AccountOverview:
    """An account as its customer sees it first: balance and the latest issued bill."""

    id: int
    number: str
    utility_name: str
    status: str
    balance: Money
    latest_bill: LatestBill | None


_ACCOUNT_OVERVIEWS_SQL = """
    SELECT a.id, a.number, u.short_name, a.status, u.currency,
           (SELECT COALESCE(SUM(e.amount), 0) FROM accounts_ledgerentry e
            WHERE e.account_id = a.id),
           b.id, b.period, b.bill_date, b.due_date, b.total, b.status
    FROM accounts_account a
    JOIN accounts_utility u ON u.id = a.utility_id
    LEFT JOIN LATERAL (
        SELECT b.id, b.period, b.bill_date, b.due_date, b.total, b.status
        FROM billing_bill b
        WHERE b.account_id = a.id AND b.issued_at IS NOT NULL AND b.kind <> 'reversal'
        ORDER BY b.bill_date DESC, b.id DESC
        LIMIT 1
    ) b ON TRUE
    WHERE a.customer_id = ANY(%s)
    ORDER BY a.number
"""


def list_account_overviews(*, customer_ids: Iterable[int]) -> list[AccountOverview]:
    """The customers' accounts by number, each with its balance and its latest issued bill
    (reversals aside), in one query."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNT_OVERVIEWS_SQL, [ids])
        rows = cursor.fetchall()
    return [
        AccountOverview(
            id=r[0],
            number=r[1],
            utility_name=r[2],
            status=r[3],
            balance=Money.of(r[5], r[4]).rounded(),
            latest_bill=None
            if r[6] is None
            else LatestBill(
                id=r[6],
                period=as_period(r[7]),
                bill_date=r[8],
                due_date=r[9],
                total=Money.of(r[10], r[4]).rounded(),
                status=r[11],
            ),
        )
        for r in rows
    ]


def find_billed_account_number(*, utility_id: int) -> str | None:
    """The number of the account of the utility's latest issued bill, or None (demo logins
    are linked to an account that has a bill to show)."""
    return (
        Bill.objects.filter(account__utility_id=utility_id, issued_at__isnull=False)
        .order_by("-id")
        .values_list("account__number", flat=True)
        .first()
    )
