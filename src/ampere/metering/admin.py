"""Back office for meter data: the quarantine of bad reads (correct, accept, dismiss), meters,
installations, batches and revisions. Changes go through the operations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ampere.core.errors import DomainError
from ampere.metering import operations
from ampere.metering.models import (
    ConsumptionRevision,
    Installation,
    Meter,
    MeteringPolicy,
    QuarantinedRead,
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
else:
    QuarantinedReadBase = admin.ModelAdmin
    ReadBatchBase = admin.ModelAdmin
    MeterBase = admin.ModelAdmin
    InstallationBase = admin.ModelAdmin
    ConsumptionRevisionBase = admin.ModelAdmin
    MeteringPolicyBase = admin.ModelAdmin
    RouteBase = admin.ModelAdmin


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
