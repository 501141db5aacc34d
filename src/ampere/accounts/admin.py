"""Back office for the accounts domain: staff find customers and accounts and read the ledger
(which nobody edits)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from ampere.accounts import models
from ampere.accounts.operations import create_unit, move_unit, rename_unit
from ampere.accounts.queries import check_unit_placement, get_balance, search_account_ids
from ampere.core.errors import DomainError


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HolidayInline(admin.TabularInline):  # type: ignore[type-arg]
    model = models.Holiday
    extra = 0
    ordering = ("-date",)


class UnitLevelInline(admin.TabularInline):  # type: ignore[type-arg]
    model = models.UnitLevel
    extra = 0
    fields = ("rank", "code", "name", "serves_premises")
    ordering = ("rank",)


@admin.register(models.Utility)
class UtilityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("short_name", "code", "currency", "time_zone", "number_scheme")
    inlines = (UnitLevelInline, HolidayInline)


class PhoneInline(admin.TabularInline):  # type: ignore[type-arg]
    model = models.CustomerPhone
    extra = 0


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "preferred_language", "email", "utility")
    list_filter = ("utility", "kind", "preferred_language")
    list_select_related = ("utility",)
    search_fields = ("search_name",)
    search_help_text = "Name (accents optional)"
    readonly_fields = ("search_name", "created_at")
    inlines = (PhoneInline,)
    show_full_result_count = False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term.strip():
            return queryset, False
        ids = search_account_ids(term=search_term)
        return queryset.filter(accounts__id__in=ids).distinct(), False


class LegacyNumberInline(ReadOnlyInline):
    model = models.LegacyAccountNumber
    fields = ("number", "source_system")


class AgreementInline(ReadOnlyInline):
    model = models.ServiceAgreement
    fields = ("service_point", "tariff", "purpose_of_use", "households", "valid_period", "status")
    show_change_link = True


class LedgerInline(ReadOnlyInline):
    model = models.LedgerEntry
    fk_name = "account"
    fields = ("posted_at", "kind", "amount", "currency", "due_date", "source_type", "source_id")
    ordering = ("-id",)
    verbose_name_plural = "ledger (read only; corrections are new entries)"


@admin.register(models.Account)
class AccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("number", "customer", "utility", "status", "opened_on")
    list_filter = ("utility", "status")
    list_select_related = ("customer", "utility")
    search_fields = ("number",)
    search_help_text = "Account number, legacy number, phone or name"
    readonly_fields = ("number", "balance")
    raw_id_fields = ("customer",)
    inlines = (LegacyNumberInline, AgreementInline, LedgerInline)
    show_full_result_count = False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(id__in=search_account_ids(term=search_term)), False

    @admin.display(description="balance")
    def balance(self, obj: models.Account) -> str:
        return str(get_balance(account_id=obj.id)) if obj.pk else "-"


@admin.register(models.ServiceAgreement)
class ServiceAgreementAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "account", "service_point", "tariff", "purpose_of_use", "valid_period")
    list_select_related = ("account", "service_point", "tariff")
    list_filter = ("purpose_of_use", "status", "tariff")
    raw_id_fields = ("account", "service_point")
    show_full_result_count = False


class EnrolmentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = models.ProgramEnrolment
    extra = 0


@admin.register(models.ServicePoint)
class ServicePointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "premise", "voltage_class", "phases", "feeder_code")
    list_select_related = ("premise",)
    search_fields = ("=code",)
    raw_id_fields = ("premise",)
    show_full_result_count = False


@admin.register(models.LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The ledger, read only: the database refuses changes anyway."""

    list_display = (
        "id",
        "account",
        "kind",
        "amount",
        "currency",
        "posted_at",
        "due_date",
        "source_type",
        "source_id",
    )
    list_select_related = ("account",)
    list_filter = ("kind", "source_type")
    search_fields = ("=account__number",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- organisation ------------------------------------------------------------------------------


class OrganisationUnitForm(forms.ModelForm):  # type: ignore[type-arg]
    """Checks a unit's place in the tree with the rule the operations use (same utility, the
    level just above, no cycle), so the administrator sees the error beside the field."""

    class Meta:
        model = models.OrganisationUnit
        fields = ("utility", "level", "parent", "code", "name", "short_name", "time_zone")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        utility, level, parent = data.get("utility"), data.get("level"), data.get("parent")
        if utility is None or level is None:
            return data
        if level.utility_id != utility.id:
            self.add_error("level", gettext("This level belongs to another utility."))
            return data
        try:
            check_unit_placement(
                utility_id=utility.id,
                rank=level.rank,
                parent_id=None if parent is None else parent.id,
                unit_id=self.instance.pk,
            )
        except DomainError as error:
            self.add_error("parent" if error.field == "parent" else None, error.translated(gettext))
        return data


@admin.register(models.OrganisationUnit)
class OrganisationUnitAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Units are written by the operations: a new unit by ``create_unit``, a new parent by
    ``move_unit``; the level of an existing unit stays."""

    form = OrganisationUnitForm
    list_display = ("code", "name", "level", "parent", "utility")
    list_filter = ("utility", "level__rank")
    list_select_related = ("level", "parent", "utility")
    search_fields = ("code", "name", "short_name")
    search_help_text = gettext_lazy("Code or name")
    autocomplete_fields = ("parent",)
    ordering = ("utility", "rank", "code")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("utility", "level", "code") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.pk = create_unit(
                utility_code=obj.utility.code,
                level_code=obj.level.code,
                code=obj.code,
                name=obj.name,
                parent_id=obj.parent_id,
                short_name=obj.short_name,
                time_zone=obj.time_zone,
            )
            obj.refresh_from_db()
            return
        if "parent" in form.changed_data and obj.parent_id is not None:
            move_unit(unit_id=obj.pk, parent_id=obj.parent_id)
        rename_unit(
            unit_id=obj.pk, name=obj.name, short_name=obj.short_name, time_zone=obj.time_zone
        )
