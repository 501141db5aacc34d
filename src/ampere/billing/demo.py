"""Demo billing set-up on top of the demo meters: one billing cycle per reading cycle (same code),
its calendar from the reading dates (each period from one reading date to the next, billed two
working days after), every account put on the cycle its service point is read in, and the
utility's due-date rule, hold policy and (VND) VietQR collection account and a self-signed
e-invoice certificate marked DEMO. Set-based; running it again adds only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from ampere.accounts.models import Utility
from ampere.accounts.queries import get_holidays
from ampere.billing.dates import WorkingCalendar
from ampere.billing.einvoice.signing import self_signed_credentials, write_credentials
from ampere.billing.models import BillingCycle, CollectionAccount, CycleSchedule, InvoiceSeries
from ampere.billing.operations import (
    declare_invoice_series,
    install_billing_presets,
    set_collection_account,
)
from ampere.billing.queries import as_period
from ampere.core.errors import NotFound
from ampere.core.periods import DatePeriod

BILL_LAG_WORKING_DAYS = 2
# A demo collection account (Vietcombank's NAPAS BIN) for the VietQR codes of VND bills.
DEMO_BANK_BIN = "970436"
DEMO_BANK_ACCOUNT = "0071000999999"


@dataclass(frozen=True)
class DemoBillingResult:
    cycles: int
    schedule_rows: int
    assignments: int


def install_demo_billing(*, utility_code: str, valid_from: date) -> DemoBillingResult:
    """Billing cycles, calendars and cycle assignments for the utility's demo meters.

    Raises NotFound for an unknown utility.
    """
    utility = (
        Utility.objects.filter(code=utility_code)
        .values("id", "currency", "short_name", "country_code")
        .first()
    )
    if utility is None:
        raise NotFound(f"no utility with code {utility_code!r}", field="utility")
    utility_id = utility["id"]
    install_billing_presets(utility_id=utility_id, valid_from=valid_from)
    if (
        utility["currency"] == "VND"
        and not CollectionAccount.objects.filter(utility_id=utility_id).exists()
    ):
        set_collection_account(
            utility_id=utility_id, bank_bin=DEMO_BANK_BIN, account_number=DEMO_BANK_ACCOUNT
        )
    if utility["currency"] == "VND":
        # valid_from is two years before the demo's as-of date: series up to the year after it.
        for year in range(valid_from.year, valid_from.year + 4):
            if not InvoiceSeries.objects.filter(
                utility_id=utility_id, form="1", valid_period__contains=date(year, 6, 30)
            ).exists():
                declare_invoice_series(
                    utility_id=utility_id, form="1", symbol=f"K{year % 100:02d}TAA", year=year
                )
        directory = Path(settings.EINVOICE_CREDENTIALS_DIR)
        if not (directory / f"{utility_code}.key.pem").exists():
            write_credentials(
                self_signed_credentials(
                    common_name=f"{utility['short_name']} DEMO e-invoice signer (not valid)",
                    organisation=f"{utility['short_name']} (Ampere demo)",
                    country=utility["country_code"],
                    valid_from=datetime.combine(valid_from, time(0), tzinfo=UTC),
                ),
                directory=directory,
                utility_code=utility_code,
            )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.code, c.name, array_agg(d.date ORDER BY d.date)
            FROM metering_readingcycle c JOIN metering_readingdate d ON d.cycle_id = c.id
            WHERE c.utility_id = %s GROUP BY c.code, c.name ORDER BY c.code
            """,
            [utility_id],
        )
        reading = cursor.fetchall()
    if not reading:
        return DemoBillingResult(0, 0, 0)
    first = min(min(dates) for _, _, dates in reading)
    last = max(max(dates) for _, _, dates in reading)
    calendar = WorkingCalendar(
        holidays=get_holidays(
            utility_id=utility_id, period=DatePeriod(first, last + timedelta(days=60))
        )
    )
    rows = 0
    with transaction.atomic():
        for code, name, dates in reading:
            cycle, _ = BillingCycle.objects.get_or_create(
                utility_id=utility_id, code=code, defaults={"name": f"Billing {name}"}
            )
            taken = {
                (month, as_period(period))
                for month, period in CycleSchedule.objects.filter(cycle=cycle).values_list(
                    "month", "period"
                )
            }
            months = {month for month, _ in taken}
            periods = [period for _, period in taken]
            new = []
            for previous, current in pairwise(dates):
                month = current.replace(day=1)
                period = DatePeriod(previous, current)
                if month in months or any(period.overlaps(p) for p in periods):
                    continue
                bill_date = current
                for _ in range(BILL_LAG_WORKING_DAYS):
                    bill_date += timedelta(days=1)
                    while not calendar.is_working_day(bill_date):
                        bill_date += timedelta(days=1)
                new.append(
                    CycleSchedule(
                        cycle=cycle,
                        month=month,
                        period=(previous, current),
                        bill_date=bill_date,
                    )
                )
            CycleSchedule.objects.bulk_create(new)
            rows += len(new)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO billing_cycleassignment (account_id, cycle_id, valid_period)
                SELECT DISTINCT ON (a.id) a.id, bc.id, daterange(a.opened_on, NULL)
                FROM accounts_account a
                JOIN accounts_serviceagreement ag ON ag.account_id = a.id
                JOIN metering_routestop s ON s.service_point_id = ag.service_point_id
                JOIN metering_route r ON r.id = s.route_id
                JOIN metering_readingcycle rc ON rc.id = r.cycle_id
                JOIN billing_billingcycle bc ON bc.utility_id = a.utility_id AND bc.code = rc.code
                WHERE a.utility_id = %s
                  AND NOT EXISTS (SELECT 1 FROM billing_cycleassignment ca
                                  WHERE ca.account_id = a.id)
                ORDER BY a.id, ag.id
                """,
                [utility_id],
            )
            assignments = cursor.rowcount
    return DemoBillingResult(len(reading), rows, assignments)


def latest_billable_cycle(*, utility_code: str, as_of: date) -> tuple[str, date] | None:
    """The demo cycle with accounts whose last reading date on or before ``as_of`` is the
    latest, and that date (what `ampere up` bills): None when no cycle has read yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.code, upper(s.period) FROM billing_cycleschedule s
            JOIN billing_billingcycle c ON c.id = s.cycle_id
            JOIN accounts_utility u ON u.id = c.utility_id
            WHERE u.code = %s AND upper(s.period) <= %s
              AND EXISTS (SELECT 1 FROM billing_cycleassignment a WHERE a.cycle_id = c.id)
            ORDER BY upper(s.period) DESC, c.code LIMIT 1
            """,
            [utility_code, as_of],
        )
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1])
