"""Back office for the accounts domain: staff find customers and accounts and read the ledger
(which nobody edits)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ampere.accounts import models
from ampere.accounts.queries import get_balance, search_account_ids


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


@admin.register(models.Utility)
class UtilityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("short_name", "code", "currency", "time_zone", "number_scheme")
    inlines = (HolidayInline,)


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
