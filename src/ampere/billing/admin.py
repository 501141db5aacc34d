"""Back office for billing: start a bill run and follow it (partitions, counts, timings, errors,
the agreements it could not bill), the held bills a clerk releases or cancels, cancel and rebill
of issued bills, and the cycles with their calendars. Every change goes through an operation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from ampere.billing import models
from ampere.billing.corrections import cancel_and_rebill
from ampere.billing.operations import cancel_held_bill, release_bill
from ampere.billing.runs import (
    DEFAULT_PARTITION_SIZE,
    enqueue_bill_run,
    execute_bill_run,
    start_bill_run,
)
from ampere.core.errors import DomainError

if TYPE_CHECKING:
    BillRunBase = admin.ModelAdmin[models.BillRun]
    PartitionBase = admin.ModelAdmin[models.BillRunPartition]
    ExceptionBase = admin.ModelAdmin[models.BillRunException]
    BillBase = admin.ModelAdmin[models.Bill]
    CycleBase = admin.ModelAdmin[models.BillingCycle]
    BlackoutBase = admin.ModelAdmin[models.BlackoutWindow]
    PartitionInlineBase = admin.TabularInline[models.BillRunPartition, models.BillRun]
    LineInlineBase = admin.TabularInline[models.BillLine, models.Bill]
    HoldInlineBase = admin.TabularInline[models.BillHold, models.Bill]
    ScheduleInlineBase = admin.TabularInline[models.CycleSchedule, models.BillingCycle]
else:
    BillRunBase = PartitionBase = ExceptionBase = BillBase = CycleBase = BlackoutBase = (
        admin.ModelAdmin
    )
    PartitionInlineBase = LineInlineBase = HoldInlineBase = ScheduleInlineBase = admin.TabularInline


def _clerk(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


def _now() -> datetime:
    return datetime.now(UTC)


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- bill runs -----------------------------------------------------------------------------------


class StartRunForm(forms.Form):
    cycle = forms.ModelChoiceField(
        queryset=models.BillingCycle.objects.select_related("utility").order_by(
            "utility__code", "code"
        ),
        help_text="The cycle to bill.",
    )
    as_of = forms.DateField(
        label="As of", help_text="The run date: bills the month of this date's calendar row."
    )
    partition_size = forms.IntegerField(initial=DEFAULT_PARTITION_SIZE, min_value=1)
    documents = forms.BooleanField(
        required=False, initial=False, help_text="Queue PDFs and e-invoices after each partition."
    )


class PartitionInline(_ReadOnly, PartitionInlineBase):
    model = models.BillRunPartition
    extra = 0
    ordering = ("number",)
    fields = (
        "number",
        "first_account_id",
        "last_account_id",
        "account_count",
        "status",
        "attempts",
        "bills_issued",
        "bills_held",
        "skipped",
        "exceptions",
        "amount_posted",
        "seconds",
        "timings",
        "error",
    )
    readonly_fields = fields

    @admin.display(description="seconds")
    def seconds(self, obj: models.BillRunPartition) -> str:
        if obj.started_at is None or obj.finished_at is None or obj.status != "done":
            return "—"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.2f}"


@admin.register(models.BillRun)
class BillRunAdmin(_ReadOnly, BillRunBase):
    """The runs and their partitions; "Start a bill run" plans one and runs it (in this request
    without a broker, on the Celery workers with one); the action resumes a stopped run."""

    list_display = (
        "id",
        "utility",
        "cycle",
        "month",
        "period",
        "bill_date",
        "due_date",
        "status",
        "account_count",
        "partition_count",
        "issued",
        "held",
        "not_billed",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "utility")
    list_select_related = ("utility", "cycle")
    ordering = ("-id",)
    inlines = (PartitionInline,)
    actions = ("resume_runs",)
    readonly_fields = (
        "utility",
        "cycle",
        "month",
        "period",
        "bill_date",
        "due_date",
        "as_of",
        "status",
        "partition_size",
        "partition_count",
        "account_count",
        "documents",
        "created_by",
        "created_at",
        "finished_at",
        "links",
    )
    change_list_template = "admin/billing/billrun/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[models.BillRun]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                issued_count=Sum("partitions__bills_issued"),
                held_count=Sum("partitions__bills_held"),
                exception_count=Sum("partitions__exceptions"),
            )
        )

    @admin.display(description="issued")
    def issued(self, obj: Any) -> int:
        return int(obj.issued_count or 0)

    @admin.display(description="held")
    def held(self, obj: Any) -> int:
        return int(obj.held_count or 0)

    @admin.display(description="not billed")
    def not_billed(self, obj: Any) -> int:
        return int(obj.exception_count or 0)

    @admin.display(description="see")
    def links(self, obj: models.BillRun) -> str:
        bills = reverse("admin:billing_bill_changelist")
        exceptions = reverse("admin:billing_billrunexception_changelist")
        return format_html(
            '<a href="{}?bill_run__id__exact={}">bills</a> · '
            '<a href="{}?bill_run__id__exact={}&amp;status__exact=held">held bills</a> · '
            '<a href="{}?run__id__exact={}">agreements not billed</a>',
            bills,
            obj.id,
            bills,
            obj.id,
            exceptions,
            obj.id,
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "start/",
                self.admin_site.admin_view(self.start_view),
                name="billing_billrun_start",
            ),
            *super().get_urls(),
        ]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("billing.view_billrun"):
            return HttpResponse(status=403)
        form = StartRunForm(request.POST or None, initial={"as_of": _now().date()})
        if request.method == "POST" and form.is_valid():
            cycle = form.cleaned_data["cycle"]
            try:
                ref = start_bill_run(
                    cycle_code=cycle.code,
                    utility_code=cycle.utility.code,
                    as_of=form.cleaned_data["as_of"],
                    now=_now(),
                    created_by=_clerk(request),
                    partition_size=form.cleaned_data["partition_size"],
                    documents=form.cleaned_data["documents"],
                )
                self._run(request, ref.id)
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                return HttpResponseRedirect(reverse("admin:billing_billrun_change", args=[ref.id]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Start a bill run",
            "form": form,
            "opts": self.model._meta,
            "broker": bool(settings.CELERY_BROKER_URL),
        }
        return TemplateResponse(request, "admin/billing/billrun/start.html", context)

    def _run(self, request: HttpRequest, run_id: int) -> None:
        if settings.CELERY_BROKER_URL:
            with transaction.atomic():
                count = enqueue_bill_run(run_id=run_id)
            self.message_user(request, f"Run {run_id}: {count} partitions queued for the workers.")
            return
        outcomes = execute_bill_run(run_id=run_id, now=_now)
        failed = [o for o in outcomes if o.status == "failed"]
        level = messages.ERROR if failed else messages.SUCCESS
        self.message_user(
            request,
            f"Run {run_id}: {len(outcomes) - len(failed)} partitions billed"
            + (f", {len(failed)} failed (see their errors; resume the run)" if failed else "")
            + ".",
            level,
        )

    @admin.action(description="Resume: bill the partitions not done")
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[models.BillRun]) -> None:
        for run_id in queryset.filter(status="running").order_by("id").values_list("id", flat=True):
            self._run(request, run_id)


@admin.register(models.BillRunPartition)
class BillRunPartitionAdmin(_ReadOnly, PartitionBase):
    list_display = (
        "run",
        "number",
        "first_account_id",
        "last_account_id",
        "status",
        "attempts",
        "bills_issued",
        "bills_held",
        "exceptions",
        "started_at",
        "finished_at",
    )
    list_filter = ("status",)
    ordering = ("run", "number")


@admin.register(models.BillRunException)
class BillRunExceptionAdmin(_ReadOnly, ExceptionBase):
    """Agreements a run could not bill, with the reason and the input; the next run of the
    month bills them once the data is right."""

    list_display = ("id", "run", "account", "agreement", "period", "code", "detail", "billed")
    list_filter = ("code",)
    list_select_related = ("account",)
    search_fields = ("account__number",)
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(boolean=True, description="billed since")
    def billed(self, obj: models.BillRunException) -> bool:
        return models.Bill.objects.filter(
            agreement_id=obj.agreement_id, kind="original", period__overlap=obj.period
        ).exists()


# --- bills ---------------------------------------------------------------------------------------


class LineInline(_ReadOnly, LineInlineBase):
    model = models.BillLine
    extra = 0
    ordering = ("sequence",)
    fields = (
        "sequence",
        "kind",
        "code",
        "description",
        "quantity",
        "unit",
        "unit_price",
        "amount",
        "tax_rate",
        "tax_amount",
    )
    readonly_fields = fields


class HoldInline(_ReadOnly, HoldInlineBase):
    model = models.BillHold
    extra = 0
    fields = ("code", "detail")
    readonly_fields = fields


@admin.register(models.Bill)
class BillAdmin(_ReadOnly, BillBase):
    """Bills (nobody edits them). A clerk releases or cancels held bills, or cancels and
    rebills an issued bill (a reversing bill and a new bill, both posted)."""

    list_display = (
        "id",
        "account",
        "kind",
        "status",
        "period",
        "bill_date",
        "due_date",
        "consumption_kwh",
        "estimated",
        "total",
        "currency",
        "bill_run",
    )
    list_filter = ("status", "kind", "estimated", "currency")
    list_select_related = ("account",)
    search_fields = ("account__number",)
    search_help_text = "Account number"
    ordering = ("-id",)
    show_full_result_count = False
    inlines = (LineInline, HoldInline)
    actions = ("release", "cancel_held", "cancel_and_rebill")
    readonly_fields = (
        "account",
        "agreement",
        "cycle",
        "bill_run",
        "kind",
        "status",
        "period",
        "bill_date",
        "due_date",
        "issued_at",
        "cancelled_at",
        "currency",
        "language",
        "consumption_kwh",
        "estimated",
        "subtotal",
        "tax_total",
        "total",
        "reverses",
        "replaces",
        "readings",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[models.Bill]:
        return super().get_queryset(request)

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[models.Bill],
        act: Any,
        done: str,
    ) -> None:
        count = 0
        for bill_id in queryset.order_by("id").values_list("id", flat=True)[:500]:
            try:
                act(bill_id)
            except DomainError as error:
                self.message_user(request, f"Bill {bill_id}: {error}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, f"{count} bills {done}.", messages.SUCCESS)

    @admin.action(description="Release held bills (issue and post them)")
    def release(self, request: HttpRequest, queryset: QuerySet[models.Bill]) -> None:
        self._each(
            request,
            queryset,
            lambda bill_id: release_bill(bill_id=bill_id, released_by=_clerk(request), now=_now()),
            "released",
        )

    @admin.action(description="Cancel held bills (nothing posted)")
    def cancel_held(self, request: HttpRequest, queryset: QuerySet[models.Bill]) -> None:
        self._each(
            request,
            queryset,
            lambda bill_id: cancel_held_bill(
                bill_id=bill_id,
                cancelled_by=_clerk(request),
                reason="cancelled in the back office",
                now=_now(),
            ),
            "cancelled",
        )

    @admin.action(description="Cancel and rebill (reversing bill and a new bill)")
    def cancel_and_rebill(self, request: HttpRequest, queryset: QuerySet[models.Bill]) -> None:
        self._each(
            request,
            queryset,
            lambda bill_id: cancel_and_rebill(
                bill_id=bill_id,
                reason="cancelled and rebilled in the back office",
                by=_clerk(request),
                now=_now(),
            ),
            "cancelled and rebilled",
        )


# --- cycles and windows --------------------------------------------------------------------------


class ScheduleInline(_ReadOnly, ScheduleInlineBase):
    model = models.CycleSchedule
    extra = 0
    ordering = ("-month",)
    fields = ("month", "period", "bill_date")
    readonly_fields = fields


@admin.register(models.BillingCycle)
class BillingCycleAdmin(CycleBase):
    list_display = ("code", "name", "utility")
    list_filter = ("utility",)
    ordering = ("utility", "code")
    inlines = (ScheduleInline,)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.BlackoutWindow)
class BlackoutWindowAdmin(_ReadOnly, BlackoutBase):
    list_display = ("utility", "period", "reason", "declared_by", "declared_at", "cancelled_at")
    list_filter = ("utility",)
    ordering = ("-declared_at",)
