"""Back office for meter data: the quarantine of bad reads (correct, accept, dismiss), interval
imports and their quarantine (correct a CSV row, mark rows resolved), meters, installations,
batches and revisions. Changes go through the operations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from ampere.core.errors import DomainError
from ampere.metering import interval_imports, operations
from ampere.metering.models import (
    ConsumptionRevision,
    Installation,
    IntervalFileFormat,
    IntervalImport,
    Meter,
    MeteringPolicy,
    QuarantinedInterval,
    QuarantinedRead,
    QuarantineResolution,
    ReadBatch,
    Route,
)

if TYPE_CHECKING:
    QuarantinedReadBase = admin.ModelAdmin[QuarantinedRead]
    ReadBatchBase = admin.ModelAdmin[ReadBatch]
    MeterBase = admin.ModelAdmin[Meter]
    InstallationBase = admin.ModelAdmin[Installation]
    ConsumptionRevisionBase = admin.ModelAdmin[ConsumptionRevision]
    MeteringPolicyBase = admin.ModelAdmin[MeteringPolicy]
    RouteBase = admin.ModelAdmin[Route]
    IntervalImportBase = admin.ModelAdmin[IntervalImport]
    QuarantinedIntervalBase = admin.ModelAdmin[QuarantinedInterval]
    QuarantinedIntervalFormBase = forms.ModelForm[QuarantinedInterval]
else:
    QuarantinedReadBase = admin.ModelAdmin
    ReadBatchBase = admin.ModelAdmin
    MeterBase = admin.ModelAdmin
    InstallationBase = admin.ModelAdmin
    ConsumptionRevisionBase = admin.ModelAdmin
    MeteringPolicyBase = admin.ModelAdmin
    RouteBase = admin.ModelAdmin
    IntervalImportBase = admin.ModelAdmin
    QuarantinedIntervalBase = admin.ModelAdmin
    QuarantinedIntervalFormBase = forms.ModelForm


def _clerk(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


@admin.register(QuarantinedRead)
class QuarantinedReadAdmin(QuarantinedReadBase):
    """A clerk corrects a row (edit meter, register, time or value and save), accepts a read
    flagged high, low or zero as it is, or dismisses a row with a note."""

    list_display = (
        "id",
        "batch",
        "row_number",
        "meter_serial",
        "register_code",
        "read_at",
        "value",
        "reasons",
        "can_accept",
        "status",
    )
    list_filter = ("status", "can_accept", "batch__channel")
    search_fields = ("meter_serial", "batch__external_id")
    ordering = ("id",)
    fields = (
        "batch",
        "row_number",
        "raw",
        "reasons",
        "message",
        "can_accept",
        "meter_serial",
        "register_code",
        "read_at",
        "value",
        "source",
        "status",
        "resolved_read",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    )
    readonly_fields = (
        "batch",
        "row_number",
        "raw",
        "reasons",
        "message",
        "can_accept",
        "source",
        "status",
        "resolved_read",
        "resolved_by",
        "resolved_at",
    )
    actions = ("accept_as_read", "dismiss_rows")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: QuarantinedRead, form: Any, change: bool
    ) -> None:
        """Saving an open row is a correction: the read is validated and stored, or refused."""
        try:
            operations.correct_quarantined_read(
                quarantine_id=obj.id,
                by=_clerk(request),
                value=obj.value,
                read_at=obj.read_at,
                meter_serial=obj.meter_serial,
                register_code=obj.register_code,
                note=obj.resolution_note,
                now=datetime.now(UTC),
            )
        except DomainError as error:
            self.message_user(request, f"Not stored: {error}", messages.ERROR)
        else:
            self.message_user(request, "The corrected read is stored.", messages.SUCCESS)

    @admin.action(description="Accept the read as it is (high, low or zero only)")
    def accept_as_read(self, request: HttpRequest, queryset: QuerySet[QuarantinedRead]) -> None:
        for row_id in queryset.order_by("id").values_list("id", flat=True):
            try:
                operations.accept_quarantined_read(
                    quarantine_id=row_id, by=_clerk(request), now=datetime.now(UTC)
                )
            except DomainError as error:
                self.message_user(request, f"Row {row_id}: {error}", messages.ERROR)

    @admin.action(description="Dismiss (duplicate or test row)")
    def dismiss_rows(self, request: HttpRequest, queryset: QuerySet[QuarantinedRead]) -> None:
        for row_id in queryset.order_by("id").values_list("id", flat=True):
            try:
                operations.dismiss_quarantined_read(
                    quarantine_id=row_id,
                    by=_clerk(request),
                    note="dismissed in the back office",
                    now=datetime.now(UTC),
                )
            except DomainError as error:
                self.message_user(request, f"Row {row_id}: {error}", messages.ERROR)


@admin.register(ReadBatch)
class ReadBatchAdmin(ReadBatchBase):
    list_display = (
        "id",
        "external_id",
        "submitted_by",
        "channel",
        "received_at",
        "row_count",
        "accepted_count",
        "duplicate_count",
        "quarantined_count",
    )
    list_filter = ("channel",)
    search_fields = ("external_id", "submitted_by")
    ordering = ("-id",)
    exclude = ("results",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Meter)
class MeterAdmin(MeterBase):
    list_display = (
        "serial",
        "utility",
        "kind",
        "phases",
        "multiplier",
        "register_digits",
        "interval_minutes",
    )
    list_filter = ("kind", "utility")
    search_fields = ("serial",)
    ordering = ("serial",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Installation)
class InstallationAdmin(InstallationBase):
    list_display = ("id", "meter", "service_point", "installed_period")
    search_fields = ("meter__serial", "service_point__code")
    raw_id_fields = ("meter", "service_point")
    ordering = ("-id",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConsumptionRevision)
class ConsumptionRevisionAdmin(ConsumptionRevisionBase):
    list_display = (
        "id",
        "service_point",
        "revised_period",
        "reason",
        "old_value",
        "new_value",
        "revised_at",
    )
    raw_id_fields = ("service_point", "register", "old_read", "new_read")
    ordering = ("-id",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MeteringPolicy)
class MeteringPolicyAdmin(MeteringPolicyBase):
    list_display = ("utility", "high_ratio", "low_ratio", "estimation_rule", "estimation_periods")


@admin.register(Route)
class RouteAdmin(RouteBase):
    list_display = ("code", "name", "cycle", "utility")
    search_fields = ("code", "name")
    ordering = ("code",)


@admin.register(IntervalImport)
class IntervalImportAdmin(IntervalImportBase):
    """Interval files received, read only; a file's quarantined rows are one click away."""

    list_display = (
        "id",
        "received_at",
        "utility",
        "file_format",
        "file_name",
        "status",
        "rows_read",
        "rows_stored",
        "quarantined_rows",
        "days_loaded",
    )
    list_filter = ("status", "file_format", "utility")
    list_select_related = ("utility",)
    search_fields = ("file_name", "=content_sha256")
    ordering = ("-id",)

    @admin.display(description="quarantined", ordering="rows_quarantined")
    def quarantined_rows(self, obj: IntervalImport) -> str:
        if not obj.rows_quarantined:
            return "0"
        url = reverse("admin:metering_quarantinedinterval_changelist")
        return format_html(
            '<a href="{}?interval_import__id__exact={}">{}</a>', url, obj.id, obj.rows_quarantined
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _MeterFilter(admin.SimpleListFilter):
    """Meters with open quarantined rows (the first 50 by serial; search finds any other)."""

    title = "meter"
    parameter_name = "meter"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        serials = (
            QuarantinedInterval.objects.filter(status=QuarantineResolution.OPEN)
            .exclude(meter_serial="")
            .order_by("meter_serial")
            .values_list("meter_serial", flat=True)
            .distinct()[:50]
        )
        return [(serial, serial) for serial in serials]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[QuarantinedInterval]
    ) -> QuerySet[QuarantinedInterval]:
        value = self.value()
        return queryset.filter(meter_serial=value) if value else queryset


class QuarantinedIntervalForm(QuarantinedIntervalFormBase):
    """The clerk edits the row as CSV text (it starts as the raw row) and saves to store it."""

    class Meta:
        model = QuarantinedInterval
        fields = ("corrected_raw", "resolution_note")
        labels = {"corrected_raw": "Corrected row"}
        help_texts = {
            "corrected_raw": "The row with the columns of the file's header; saving stores it "
            "through the normal import and resolves the row."
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.instance.corrected_raw:
            self.initial["corrected_raw"] = self.instance.raw
        if "corrected_raw" in self.fields:
            self.fields["corrected_raw"].required = True


@admin.register(QuarantinedInterval)
class QuarantinedIntervalAdmin(QuarantinedIntervalBase):
    """A clerk corrects an open head-end CSV row (edit the raw values and save: it is stored
    through the normal path and the row resolved) or marks rows resolved."""

    form = QuarantinedIntervalForm
    list_display = (
        "id",
        "interval_import",
        "row_ref",
        "meter_serial",
        "channel",
        "reason",
        "message",
        "status",
    )
    list_filter = ("status", "reason", _MeterFilter, "interval_import__file_format")
    list_select_related = ("interval_import",)
    search_fields = ("=meter_serial", "interval_import__file_name")
    ordering = ("-id",)
    fields = (
        "interval_import",
        "row_ref",
        "raw",
        "reason",
        "message",
        "meter_serial",
        "channel",
        "status",
        "corrected_raw",
        "resolution_note",
        "resolved_by",
        "resolved_at",
    )
    actions = ("mark_resolved",)

    def get_readonly_fields(
        self, request: HttpRequest, obj: QuarantinedInterval | None = None
    ) -> tuple[str, ...]:
        fixed = tuple(f for f in self.fields if f not in ("corrected_raw", "resolution_note"))
        if obj is None or self._correctable(obj):
            return fixed
        return (*fixed, "corrected_raw", "resolution_note")

    @staticmethod
    def _correctable(obj: QuarantinedInterval) -> bool:
        return (
            obj.status == QuarantineResolution.OPEN
            and obj.interval_import.file_format == IntervalFileFormat.HEAD_END
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: QuarantinedInterval, form: Any, change: bool
    ) -> None:
        """Saving an open CSV row is a correction: the row is stored, or refused with why."""
        if "corrected_raw" not in form.cleaned_data:  # resolved, or a Green Button reading
            setattr(request, "_correction_refused", True)  # noqa: B010
            self.message_user(
                request,
                "Only an open head-end CSV row can be corrected; mark the row resolved instead.",
                messages.ERROR,
            )
            return
        try:
            interval_imports.correct_quarantined_interval(
                quarantine_id=obj.id,
                raw=form.cleaned_data["corrected_raw"],
                by=_clerk(request),
                note=form.cleaned_data.get("resolution_note") or "",
                now=datetime.now(UTC),
            )
        except DomainError as error:
            setattr(request, "_correction_refused", True)  # noqa: B010
            self.message_user(request, f"Not stored: {error}", messages.ERROR)
        else:
            self.message_user(request, "The corrected row is stored.", messages.SUCCESS)

    def response_change(self, request: HttpRequest, obj: QuarantinedInterval) -> HttpResponse:
        if getattr(request, "_correction_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description="Mark resolved (dealt with otherwise)")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[QuarantinedInterval]) -> None:
        count = interval_imports.resolve_quarantined_intervals(
            quarantine_ids=list(queryset.values_list("id", flat=True)),
            by=_clerk(request),
            note="marked resolved in the back office",
            now=datetime.now(UTC),
        )
        self.message_user(request, f"{count} rows marked resolved.", messages.SUCCESS)
