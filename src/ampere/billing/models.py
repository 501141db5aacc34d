"""Data and database constraints of billing (no behaviour here).

Bills and their lines are written in bulk by bill runs (``COPY`` with ids reserved from the
sequences), so the tables keep to plain columns and their integrity lives in PostgreSQL:
constraints for what one row must satisfy, triggers for what may change after it is written.
"""

from __future__ import annotations

import pgtrigger
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q

from ampere.accounts.models import Account, ServiceAgreement, Utility

# --- cycles and their calendar ---------------------------------------------------------------


class BillingCycle(models.Model):
    """A group of accounts read and billed on the same days each month (SCE cycles 1–21)."""

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="billing_cycles")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="cycle_code_per_utility"),
        ]

    def __str__(self) -> str:
        return self.code


class CycleSchedule(models.Model):
    """One month of a cycle's calendar: the billing (reading) period and the bill date.

    ``period`` runs from the previous reading date to this month's reading date, half-open.
    """

    cycle = models.ForeignKey(BillingCycle, on_delete=models.PROTECT, related_name="schedule")
    month = models.DateField()
    period = DateRangeField()
    bill_date = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cycle", "month"], name="one_schedule_row_per_month"),
            ExclusionConstraint(
                name="cycle_periods_do_not_overlap",
                expressions=[("cycle", RangeOperators.EQUAL), ("period", RangeOperators.OVERLAPS)],
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="schedule_month_first_day"),
            models.CheckConstraint(
                condition=Q(period__isempty=False)
                & Q(period__lower_inf=False)
                & Q(period__upper_inf=False),
                name="schedule_period_bounded",
            ),
            models.CheckConstraint(
                condition=Q(
                    bill_date__gte=Func(
                        F("period"), function="upper", output_field=models.DateField()
                    )
                ),
                name="schedule_bills_after_reading",
            ),
        ]
        indexes = [models.Index(fields=["bill_date"], name="schedule_bill_date")]

    def __str__(self) -> str:
        return f"{self.cycle_id} {self.month:%Y-%m}"


class CycleAssignment(models.Model):
    """Which cycle an account is on, over a half-open validity period."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="cycle_assignments")
    cycle = models.ForeignKey(BillingCycle, on_delete=models.PROTECT, related_name="assignments")
    valid_period = DateRangeField()

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="one_cycle_per_account_at_a_time",
                expressions=[
                    ("account", RangeOperators.EQUAL),
                    ("valid_period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(valid_period__isempty=False) & Q(valid_period__lower_inf=False),
                name="cycle_assignment_starts",
            ),
        ]
        indexes = [models.Index(fields=["cycle", "account"], name="cycle_assignment_cycle")]

    def __str__(self) -> str:
        return f"{self.account_id} on {self.cycle_id} {self.valid_period}"


# --- due dates, blackout windows, hold thresholds ---------------------------------------------


class DueDateRule(models.Model):
    """A utility's due-date rule over a period: ``days_after_bill_date`` calendar days after
    the bill (notice) date, rolled forward off weekends, holidays and blackout windows."""

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="due_date_rules")
    valid_period = DateRangeField()
    days_after_bill_date = models.PositiveSmallIntegerField()
    # ISO weekdays (6 = Saturday, 7 = Sunday) on which nothing falls due.
    weekend_days = ArrayField(models.PositiveSmallIntegerField(), default=list)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="one_due_date_rule_at_a_time",
                expressions=[
                    ("utility", RangeOperators.EQUAL),
                    ("valid_period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(days_after_bill_date__lte=120), name="due_date_days_in_range"
            ),
            models.CheckConstraint(
                condition=Q(weekend_days__contained_by=[1, 2, 3, 4, 5, 6, 7]),
                name="due_date_weekend_days_iso",
            ),
            models.CheckConstraint(
                condition=Q(valid_period__isempty=False), name="due_date_rule_period_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.utility_id}: +{self.days_after_bill_date} days {self.valid_period}"


class BlackoutWindow(models.Model):
    """Days on which no bill may fall due and no late charge accrues (a system conversion).

    Cancelling a window keeps the row (who declared and who cancelled it stays known).
    """

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="blackouts")
    period = DateRangeField()
    reason = models.CharField(max_length=200)
    declared_by = models.CharField(max_length=64)
    declared_at = models.DateTimeField()
    cancelled_by = models.CharField(max_length=64, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="live_blackouts_do_not_overlap",
                expressions=[
                    ("utility", RangeOperators.EQUAL),
                    ("period", RangeOperators.OVERLAPS),
                ],
                condition=Q(cancelled_at__isnull=True),
            ),
            models.CheckConstraint(
                condition=Q(period__isempty=False)
                & Q(period__lower_inf=False)
                & Q(period__upper_inf=False),
                name="blackout_period_bounded",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="blackout_has_reason"),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True, cancelled_by="")
                | (Q(cancelled_at__isnull=False) & ~Q(cancelled_by="")),
                name="blackout_cancel_names_who",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.utility_id} blackout {self.period}"


class HoldPolicy(models.Model):
    """A utility's thresholds for holding bills for review (see ``billing.holds``)."""

    utility = models.OneToOneField(Utility, on_delete=models.PROTECT, related_name="hold_policy")
    high_kwh_ratio = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    low_kwh_ratio = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    history_periods = models.PositiveSmallIntegerField(default=1)
    compare_per_day = models.BooleanField(default=False)
    ratio_floor_kwh = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    max_total = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    max_consecutive_estimates = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "hold policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(high_kwh_ratio__isnull=True) | Q(high_kwh_ratio__gt=1),
                name="hold_high_ratio_above_one",
            ),
            models.CheckConstraint(
                condition=Q(low_kwh_ratio__isnull=True)
                | Q(low_kwh_ratio__gte=0, low_kwh_ratio__lt=1),
                name="hold_low_ratio_below_one",
            ),
            models.CheckConstraint(condition=Q(history_periods__gte=1), name="hold_history_1"),
        ]

    def __str__(self) -> str:
        return f"hold policy of {self.utility_id}"


# --- bills -------------------------------------------------------------------------------------


class BillStatusChoice(models.TextChoices):
    HELD = "held", "Held for review"
    ISSUED = "issued", "Issued"
    CANCELLED = "cancelled", "Cancelled"


class BillKindChoice(models.TextChoices):
    ORIGINAL = "original", "Original"
    REVERSAL = "reversal", "Reversal"
    REBILL = "rebill", "Rebill"


_BILL_GUARD = """
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'bill % is never deleted', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - '{status,issued_at,due_date,cancelled_at}'::text[])
       IS DISTINCT FROM (to_jsonb(OLD) - '{status,issued_at,due_date,cancelled_at}'::text[]) THEN
        RAISE EXCEPTION 'bill % changes only its status', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status = 'held' AND NEW.status = 'issued' THEN
        IF NEW.cancelled_at IS NOT NULL THEN
            RAISE EXCEPTION 'bill % is issued, not cancelled', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.issued_at IS DISTINCT FROM OLD.issued_at OR NEW.due_date IS DISTINCT FROM OLD.due_date
    THEN
        RAISE EXCEPTION 'bill % keeps its issue and due dates', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status = 'held' AND NEW.status = 'cancelled' THEN
        RETURN NEW;
    END IF;
    IF OLD.status = 'issued' AND NEW.status = 'cancelled' THEN
        IF NOT EXISTS (
            SELECT 1 FROM billing_bill r WHERE r.reverses_id = OLD.id AND r.status = 'issued'
        ) THEN
            RAISE EXCEPTION 'issued bill % is cancelled only by a reversing bill', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'bill % cannot go from % to %', OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'restrict_violation';
"""


class Bill(models.Model):
    """A bill of one agreement for one half-open period.

    Written held (outsorted, waiting for a clerk) or issued (posted to the ledger as a charge
    with ``source_type="bill"`` and sent). Once written only the status moves, through the
    guarded transitions (held → issued | cancelled; issued → cancelled once a reversing bill
    is issued); PostgreSQL refuses any other UPDATE and every DELETE.
    """

    # Indexes are few on purpose (each one costs every bulk write): the foreign keys are
    # served by the composite indexes below, not by one index each.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="bills", db_index=False
    )
    agreement = models.ForeignKey(
        ServiceAgreement, on_delete=models.PROTECT, related_name="bills", db_index=False
    )
    cycle = models.ForeignKey(
        BillingCycle,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bills",
        db_index=False,
    )
    # The run that made the bill; null for bills written one at a time (a clerk's rebill).
    bill_run = models.ForeignKey(
        "BillRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bills",
        db_index=False,
    )
    kind = models.CharField(max_length=8, choices=BillKindChoice.choices)
    status = models.CharField(max_length=9, choices=BillStatusChoice.choices)
    period = DateRangeField()
    bill_date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    language = models.CharField(max_length=2)
    consumption_kwh = models.DecimalField(max_digits=14, decimal_places=3)
    estimated = models.BooleanField(default=False)
    subtotal = models.DecimalField(max_digits=18, decimal_places=2)
    tax_total = models.DecimalField(max_digits=18, decimal_places=2)
    total = models.DecimalField(max_digits=18, decimal_places=2)
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        db_index=False,
    )
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        db_index=False,
    )
    # Meter registers read for the bill: [{meter_number, register, previous_reading,
    # current_reading, multiplier}], as strings (exact decimals).
    readings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "period"],
                condition=Q(kind="original"),
                name="one_original_bill_per_agreement_period",
            ),
            # Partial: originals (nearly every row) carry no entry in these two indexes.
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="a_bill_is_reversed_once",
            ),
            models.UniqueConstraint(
                fields=["replaces"],
                condition=Q(replaces__isnull=False) & ~Q(status="cancelled"),
                name="one_live_rebill_per_replaced_bill",
            ),
            models.CheckConstraint(
                condition=Q(period__isempty=False)
                & Q(period__lower_inf=False)
                & Q(period__upper_inf=False),
                name="bill_period_bounded",
            ),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") + F("tax_total")), name="bill_total_adds_up"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="reversal", reverses__isnull=False, replaces__isnull=True)
                    | Q(kind="rebill", reverses__isnull=True, replaces__isnull=False)
                    | Q(kind="original", reverses__isnull=True, replaces__isnull=True)
                ),
                name="bill_kind_links",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        status="held",
                        issued_at__isnull=True,
                        due_date__isnull=True,
                        cancelled_at__isnull=True,
                    )
                    & ~Q(kind="reversal")
                )
                | (Q(status="issued", issued_at__isnull=False) & Q(cancelled_at__isnull=True))
                | Q(status="cancelled", cancelled_at__isnull=False),
                name="bill_status_dates",
            ),
            models.CheckConstraint(
                condition=Q(due_date__isnull=True) | Q(total__gt=0),
                name="bill_due_date_only_when_owed",
            ),
            models.CheckConstraint(
                condition=Q(issued_at__isnull=True) | Q(total__lte=0) | Q(due_date__isnull=False),
                name="bill_owed_has_due_date",
            ),
            models.CheckConstraint(
                condition=~Q(currency="VND")
                | (
                    Q(subtotal=Func(F("subtotal"), function="trunc"))
                    & Q(tax_total=Func(F("tax_total"), function="trunc"))
                ),
                name="bill_whole_dong",
            ),
            models.CheckConstraint(condition=Q(language__in=["vi", "en", "es"]), name="bill_lang"),
        ]
        indexes = [
            models.Index(fields=["agreement", "period"], name="bill_agreement_period"),
            models.Index(fields=["account", "-bill_date"], name="bill_account_date"),
            models.Index(fields=["bill_run"], name="bill_run"),
            models.Index(fields=["id"], condition=Q(status="held"), name="bill_held"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="bill_guarded_changes",
                when=pgtrigger.Before,
                operation=pgtrigger.Update | pgtrigger.Delete,
                func=_BILL_GUARD,
            ),
            pgtrigger.Protect(
                name="bill_written_held_or_issued",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                condition=pgtrigger.Condition("NEW.status NOT IN ('held', 'issued')"),
            ),
        ]

    def __str__(self) -> str:
        return f"bill {self.id} {self.status} {self.total} {self.currency}"


class BillLine(models.Model):
    """A line of a bill; append-only (PostgreSQL refuses UPDATE and DELETE).

    The amount is kept unrounded (as rated) and rounded once; the line's share of its tax rate's
    tax is allocated so the lines add up to the bill's tax exactly.
    """

    # One index only, the key (bill, sequence): lines are read by bill, and written in bulk.
    pk = models.CompositePrimaryKey("bill_id", "sequence")
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="lines", db_index=False)
    sequence = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10)
    code = models.CharField(max_length=40)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=16, decimal_places=4)
    unit = models.CharField(max_length=10, blank=True)
    unit_price = models.DecimalField(max_digits=16, decimal_places=6)
    amount_unrounded = models.DecimalField(max_digits=24, decimal_places=8)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4)
    tax_amount = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(sequence__gte=1), name="bill_line_sequence_1"),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0, tax_rate__lt=1), name="bill_line_tax_rate"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "energy",
                        "demand",
                        "fixed",
                        "discount",
                        "credit",
                        "surcharge",
                        "other",
                    ]
                ),
                name="bill_line_kind",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="bill_line_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.bill_id}#{self.sequence} {self.amount}"


class BillHold(models.Model):
    """Why a bill was held for review (one row per reason); append-only."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="holds")
    code = models.CharField(max_length=32)
    detail = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bill", "code"], name="bill_hold_reason_once"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="bill_hold_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.bill_id} held: {self.code}"


class ReviewDecision(models.TextChoices):
    RELEASED = "released", "Released"
    CANCELLED = "cancelled", "Cancelled"


class BillReview(models.Model):
    """A clerk's decision on a held bill; append-only, one per bill."""

    bill = models.OneToOneField(Bill, on_delete=models.PROTECT, related_name="review")
    decision = models.CharField(max_length=9, choices=ReviewDecision.choices)
    decided_by = models.CharField(max_length=64)
    decided_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(decision="released") | ~Q(note=""), name="bill_cancel_gives_reason"
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="bill_review_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.decision}"


class BillDocument(models.Model):
    """A rendered document of a bill kept in file storage (the PDF); one per bill and kind."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=8)
    path = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bill", "kind"], name="one_document_per_bill_kind"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="bill_document_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return self.path


# --- e-invoices and payment codes (VND utilities) ----------------------------------------------


class InvoiceSeries(models.Model):
    """An e-invoice symbol (KHHDon, e.g. K25TAA) of a form (KHMSHDon, 1 = VAT invoice) and the
    next number in it. The row is locked while a number is taken, in the same transaction that
    writes the invoice, so numbers run without gaps."""

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="invoice_series")
    form = models.CharField(max_length=1)
    symbol = models.CharField(max_length=6)
    valid_period = DateRangeField()
    next_number = models.BigIntegerField(default=1)

    class Meta:
        verbose_name_plural = "invoice series"
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "form", "symbol"], name="invoice_symbol_per_utility"
            ),
            ExclusionConstraint(
                name="one_invoice_series_at_a_time",
                expressions=[
                    ("utility", RangeOperators.EQUAL),
                    ("form", RangeOperators.EQUAL),
                    ("valid_period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(next_number__gte=1, next_number__lte=100_000_000),
                name="invoice_number_eight_digits",
            ),
            models.CheckConstraint(
                condition=Q(symbol__regex=r"^[CK][0-9]{2}[A-Z]{3}$"), name="invoice_symbol_form"
            ),
            models.CheckConstraint(condition=Q(form__regex=r"^[1-9]$"), name="invoice_form_digit"),
            models.CheckConstraint(
                condition=Q(valid_period__isempty=False)
                & Q(valid_period__lower_inf=False)
                & Q(valid_period__upper_inf=False),
                name="invoice_series_period_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form}/{self.symbol}"


class EInvoice(models.Model):
    """The legal e-invoice of a bill: signed XML (Decree 123/2020, Circular 78/2021)."""

    bill = models.OneToOneField(Bill, on_delete=models.PROTECT, related_name="einvoice")
    series = models.ForeignKey(InvoiceSeries, on_delete=models.PROTECT, related_name="invoices")
    number = models.PositiveIntegerField()
    issue_date = models.DateField()
    xml = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "number"], name="invoice_number_once"),
            models.CheckConstraint(
                condition=Q(number__gte=1, number__lte=99_999_999), name="invoice_number_range"
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="einvoice_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.series_id}/{self.number}"


class CollectionAccount(models.Model):
    """The bank account a utility's VietQR codes pay into (NAPAS bank BIN and account)."""

    utility = models.OneToOneField(
        Utility, on_delete=models.PROTECT, related_name="collection_account"
    )
    bank_bin = models.CharField(max_length=6)
    account_number = models.CharField(max_length=19)
    to_card = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(bank_bin__regex=r"^[0-9]{6}$"), name="bank_bin_6"),
            models.CheckConstraint(
                condition=Q(account_number__regex=r"^[0-9A-Za-z]{1,19}$"),
                name="collection_account_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_bin}/{self.account_number}"


# --- bill runs ---------------------------------------------------------------------------------


class BillRunStatus(models.TextChoices):
    RUNNING = "running", "Running"  # partitions wait, run or failed: the run resumes
    COMPLETED = "completed", "Completed"


class BillRun(models.Model):
    """A bill run of one cycle for one month of its calendar (the schedule row's period).

    Planned once into partitions of consecutive account ids; the run stays ``running`` until
    every partition is done, and running it again resumes the partitions not done. At most one
    run of a cycle and month runs at a time; a later run of the same month bills only what the
    first did not (the one-bill-per-agreement-and-period constraint skips the rest).
    """

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="bill_runs")
    cycle = models.ForeignKey(BillingCycle, on_delete=models.PROTECT, related_name="runs")
    month = models.DateField()
    period = DateRangeField()
    bill_date = models.DateField()
    # Every issued bill of the run that is owed falls due on this day (one bill date, one rule).
    due_date = models.DateField()
    as_of = models.DateField()
    status = models.CharField(
        max_length=9, choices=BillRunStatus.choices, default=BillRunStatus.RUNNING
    )
    partition_size = models.PositiveIntegerField()
    partition_count = models.PositiveIntegerField()
    account_count = models.PositiveIntegerField()
    # Queue the documents (PDF, e-invoice) of each partition after it commits.
    documents = models.BooleanField(default=True)
    created_by = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "month"],
                condition=Q(status="running"),
                name="one_running_bill_run_per_cycle_month",
            ),
            models.CheckConstraint(condition=Q(partition_size__gte=1), name="bill_run_size"),
            models.CheckConstraint(
                condition=Q(status="running", finished_at__isnull=True)
                | Q(status="completed", finished_at__isnull=False),
                name="bill_run_finished_when_completed",
            ),
        ]
        indexes = [models.Index(fields=["utility", "-created_at"], name="bill_run_utility")]

    def __str__(self) -> str:
        return f"run {self.id} {self.cycle_id} {self.month:%Y-%m}"


class PartitionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"  # a worker took it (it may have died: the row lock tells)
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # rolled back whole; runs again when the run resumes


class BillRunPartition(models.Model):
    """Accounts ``first_account_id``..``last_account_id`` (inclusive) of a run's cycle, billed
    in one transaction: its bills, lines, holds, exceptions, ledger charges and this row's
    ``done`` commit together, or nothing does."""

    run = models.ForeignKey(BillRun, on_delete=models.PROTECT, related_name="partitions")
    number = models.PositiveIntegerField()
    first_account_id = models.BigIntegerField()
    last_account_id = models.BigIntegerField()
    account_count = models.PositiveIntegerField()
    status = models.CharField(
        max_length=7, choices=PartitionStatus.choices, default=PartitionStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    agreements = models.PositiveIntegerField(default=0)
    bills_issued = models.PositiveIntegerField(default=0)
    bills_held = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)  # billed already (a re-run)
    exceptions = models.PositiveIntegerField(default=0)
    estimated_reads = models.PositiveIntegerField(default=0)
    # Sum of the issued bills' totals: what the partition posted to the ledger.
    amount_posted = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    lines = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # seconds per step of the last attempt
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=100, blank=True)  # who took it last

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="partition_number_per_run"),
            models.CheckConstraint(
                condition=Q(first_account_id__lte=F("last_account_id")),
                name="partition_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} #{self.number}"


class BillRunException(models.Model):
    """An agreement a run could not bill, kept with the reason and the input (quarantine): no
    tariff version for the period, a rating rejection, reads missing and not estimable. A
    later run of the same month bills it once the data is right. Append-only."""

    run = models.ForeignKey(BillRun, on_delete=models.PROTECT, related_name="exceptions")
    partition = models.ForeignKey(
        BillRunPartition, on_delete=models.PROTECT, related_name="exception_rows"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    agreement = models.ForeignKey(ServiceAgreement, on_delete=models.PROTECT, related_name="+")
    period = DateRangeField()
    code = models.CharField(max_length=40)
    detail = models.CharField(max_length=300)
    raw = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["run", "partition"], name="bill_run_exception_run"),
            models.Index(fields=["agreement"], name="bill_run_exception_agreement"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="bill_run_exception_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} agreement {self.agreement_id}: {self.code}"


class RebillCursor(models.Model):
    """How far a utility's consumption revisions have been rebilled (``revised_at``)."""

    utility = models.OneToOneField(Utility, on_delete=models.PROTECT, related_name="+")
    processed_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.utility_id} rebilled to {self.processed_until}"
