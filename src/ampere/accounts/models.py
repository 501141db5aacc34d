"""Data and database constraints of the accounts domain (no behaviour here)."""

from __future__ import annotations

import pgtrigger
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateRangeField, RangeOperators
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ampere.accounts.numbers import NumberScheme
from ampere.rating.models import Tariff


class Utility(models.Model):
    """A distribution company Ampere bills for (EVN HCMC, EVN SPC, SCE ...)."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=40)
    country_code = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    time_zone = models.CharField(max_length=64)
    languages = ArrayField(models.CharField(max_length=5), default=list)
    default_language = models.CharField(max_length=5)
    number_scheme = models.CharField(
        max_length=8, choices=[(s.value, s.value) for s in NumberScheme]
    )
    number_prefix = models.CharField(max_length=3)
    default_area_code = models.CharField(max_length=4, blank=True)
    tax_code = models.CharField(max_length=20, blank=True)
    address = models.CharField(max_length=300, blank=True)
    # Whose tariffs apply: EVN's companies all bill on the national "evn" schedules.
    tariff_owner = models.SlugField(max_length=32)
    holiday_rule = models.CharField(max_length=16)

    class Meta:
        verbose_name_plural = "utilities"

    def __str__(self) -> str:
        return self.short_name


class Holiday(models.Model):
    """A day of the utility's holiday calendar (priced as a weekend day, no due date on it)."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "date"], name="holiday_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class UnitLevel(models.Model):
    """A level of a utility's organisation (data, not code): EVN's Tổng công ty (rank 1) →
    Công ty Điện lực (2) → Điện lực quận/huyện (3); SCE's region (1) → district (2).

    The units of the level that ``serves_premises`` hold the service areas.
    """

    # Indexed by unit_level_rank_unique (utility, rank).
    utility = models.ForeignKey(
        Utility, on_delete=models.PROTECT, related_name="unit_levels", db_index=False
    )
    rank = models.PositiveSmallIntegerField(_("rank"), help_text=_("1 is the top level"))
    code = models.SlugField(_("code"), max_length=32, db_index=False)
    name = models.CharField(_("name"), max_length=120)
    serves_premises = models.BooleanField(_("serves premises"), default=False)

    class Meta:
        verbose_name = _("organisation level")
        verbose_name_plural = _("organisation levels")
        constraints = [
            models.UniqueConstraint(fields=["utility", "rank"], name="unit_level_rank_unique"),
            models.UniqueConstraint(fields=["utility", "code"], name="unit_level_code_unique"),
            # The target of the units' (level, utility, rank) foreign key (migration 0007).
            models.UniqueConstraint(
                fields=["id", "utility", "rank"], name="unit_level_id_utility_rank"
            ),
            models.CheckConstraint(condition=Q(rank__gte=1), name="unit_level_rank_positive"),
            models.CheckConstraint(condition=~Q(code=""), name="unit_level_has_code"),
        ]

    def __str__(self) -> str:
        return self.name


class OrganisationUnit(models.Model):
    """A unit of a utility's organisation: a Tổng công ty, a Công ty Điện lực, an Điện lực
    quận/huyện; an SCE region or district.

    The database keeps the tree sound on its own (migration 0007): a unit's level belongs to
    its utility and ``rank`` is that level's rank; a parent is a unit of the same utility one
    rank above (a composite foreign key to ``(id, utility, rank)`` through ``parent_rank``), and
    a top-level unit has no parent. Ranks fall strictly towards the root, so no cycle can exist.
    """

    # Indexed by unit_code_unique (utility, code).
    utility = models.ForeignKey(
        Utility, on_delete=models.PROTECT, related_name="units", db_index=False
    )
    level = models.ForeignKey(UnitLevel, on_delete=models.PROTECT, related_name="units")
    rank = models.PositiveSmallIntegerField(_("rank"), editable=False)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent unit"),
    )
    parent_rank = models.GeneratedField(
        expression=models.F("rank") - 1,
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    code = models.SlugField(_("code"), max_length=32, db_index=False)
    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    # Blank: the utility's zone. Business hours and clocks run in this zone.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("organisation unit")
        verbose_name_plural = _("organisation units")
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="unit_code_unique"),
            # The target of the children's (parent, utility, parent_rank) foreign key.
            models.UniqueConstraint(fields=["id", "utility", "rank"], name="unit_id_utility_rank"),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, rank=1) | Q(parent__isnull=False, rank__gt=1),
                name="unit_root_has_rank_one",
            ),
            models.CheckConstraint(condition=~Q(code=""), name="unit_has_code"),
            models.CheckConstraint(condition=~Q(name=""), name="unit_has_name"),
        ]

    def __str__(self) -> str:
        return self.name


class AccountNumberSeries(models.Model):
    """The next serial per utility and area; rows are locked while numbers are handed out."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE)
    area = models.CharField(max_length=4, blank=True)
    next_serial = models.BigIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "area"], name="one_series_per_area"),
            models.CheckConstraint(condition=Q(next_serial__gte=1), name="series_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.utility_id}/{self.area or '-'} next {self.next_serial}"


class CustomerKind(models.TextChoices):
    PERSON = "person", "Person"
    ORGANISATION = "organisation", "Organisation"


class Language(models.TextChoices):
    VIETNAMESE = "vi", "Tiếng Việt"
    ENGLISH = "en", "English"
    SPANISH = "es", "Español"


class Customer(models.Model):
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT)
    kind = models.CharField(max_length=12, choices=CustomerKind.choices)
    name = models.CharField(max_length=200)
    # Lower case without diacritics ("nguyen van an"), for search that forgives missing accents.
    search_name = models.CharField(max_length=200, editable=False)
    national_id = models.CharField(max_length=20, blank=True)
    tax_code = models.CharField(max_length=20, blank=True)
    preferred_language = models.CharField(max_length=2, choices=Language.choices)
    email = models.EmailField(blank=True)
    consent_sms = models.BooleanField(default=False)
    consent_email = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            GinIndex(OpClass("search_name", name="gin_trgm_ops"), name="customer_search_name_trgm"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "national_id"],
                condition=~Q(national_id=""),
                name="national_id_once_per_utility",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="customer_has_name"),
        ]

    def __str__(self) -> str:
        return self.name


class PhoneKind(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    LANDLINE = "landline", "Landline"


class CustomerPhone(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=16, db_index=True)  # E.164
    kind = models.CharField(max_length=10, choices=PhoneKind.choices)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "number"], name="phone_once_per_customer"),
            models.CheckConstraint(
                condition=Q(number__regex=r"^\+[1-9][0-9]{6,14}$"), name="phone_e164"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Premise(models.Model):
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT)
    address_line = models.CharField(max_length=200)
    ward = models.CharField(max_length=100, blank=True)
    district = models.CharField(max_length=100, blank=True)
    province = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=10, blank=True)
    administrative_area_code = models.CharField(max_length=12, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    baseline_region = models.CharField(max_length=8, blank=True)
    all_electric = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="premise_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="premise_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return ", ".join(
            p for p in (self.address_line, self.ward, self.district, self.province) if p
        )


class VoltageClass(models.TextChoices):
    LOW = "lv", "Low voltage (< 1 kV)"
    BELOW_6KV = "mv6", "1 kV – < 6 kV"
    FROM_6_TO_22KV = "mv22", "6 kV – < 22 kV"
    FROM_22_TO_110KV = "hv110", "22 kV – < 110 kV"
    FROM_110KV = "ehv", "≥ 110 kV"


class ServicePoint(models.Model):
    """Where energy is delivered and measured (điểm đo)."""

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT)
    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="service_points")
    code = models.CharField(max_length=32)
    voltage_class = models.CharField(max_length=6, choices=VoltageClass.choices)
    nominal_voltage_v = models.PositiveIntegerField()
    phases = models.PositiveSmallIntegerField()
    feeder_code = models.CharField(max_length=32, blank=True)
    transformer_code = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="service_point_code_unique"),
            models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="service_point_phases"),
        ]

    def __str__(self) -> str:
        return self.code


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class Account(models.Model):
    """The contract account: what is billed, owes and pays (mã khách hàng)."""

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts")
    number = models.CharField(max_length=16, unique=True)
    status = models.CharField(max_length=8, choices=AccountStatus.choices, default="active")
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=models.F("opened_on")),
                name="account_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class LegacyAccountNumber(models.Model):
    """A number the account had in a previous system; it keeps finding the account forever."""

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="legacy_numbers")
    number = models.CharField(max_length=32)
    source_system = models.CharField(max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "number"], name="legacy_number_unique"),
        ]

    def __str__(self) -> str:
        return self.number


class PurposeOfUse(models.TextChoices):
    RESIDENTIAL = "residential", "Residential (sinh hoạt)"
    BUSINESS = "business", "Business (kinh doanh)"
    MANUFACTURING = "manufacturing", "Manufacturing (sản xuất)"
    ADMINISTRATIVE = "administrative", "Administrative (hành chính sự nghiệp)"
    AGRICULTURE = "agriculture", "Agriculture"
    LIGHTING = "lighting", "Public lighting"


class AgreementStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    CANCELLED = "cancelled", "Cancelled"


class ServiceAgreement(models.Model):
    """The power purchase contract (hợp đồng mua bán điện) for one service point."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="agreements")
    service_point = models.ForeignKey(
        ServicePoint, on_delete=models.PROTECT, related_name="agreements"
    )
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT)
    purpose_of_use = models.CharField(max_length=16, choices=PurposeOfUse.choices)
    households = models.DecimalField(max_digits=6, decimal_places=2, default=1)
    renter_occupants = models.PositiveSmallIntegerField(null=True, blank=True)
    short_lease_undeclared = models.BooleanField(default=False)
    contracted_capacity_kw = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    valid_period = DateRangeField()
    status = models.CharField(max_length=10, choices=AgreementStatus.choices, default="active")

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="one_live_agreement_per_service_point",
                expressions=[
                    ("service_point", RangeOperators.EQUAL),
                    ("valid_period", RangeOperators.OVERLAPS),
                ],
                condition=~Q(status="cancelled"),
            ),
            models.CheckConstraint(condition=Q(households__gt=0), name="households_positive"),
            models.CheckConstraint(
                condition=Q(renter_occupants__isnull=True) | Q(renter_occupants__gt=0),
                name="renter_occupants_positive",
            ),
            models.CheckConstraint(
                condition=Q(contracted_capacity_kw__isnull=True) | Q(contracted_capacity_kw__gt=0),
                name="contracted_capacity_positive",
            ),
            models.CheckConstraint(
                condition=Q(valid_period__isempty=False), name="agreement_period_not_empty"
            ),
        ]
        indexes = [models.Index(fields=["account"], name="agreement_account")]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.service_point_id} {self.valid_period}"


class Program(models.TextChoices):
    MEDICAL_BASELINE = "medical_baseline", "Medical Baseline"
    CARE = "care", "CARE (California Alternate Rates for Energy)"
    FERA = "fera", "FERA (Family Electric Rate Assistance)"
    SUMMER_DISCOUNT_PLAN = "sdp", "Summer Discount Plan"
    LIFE_SUPPORT = "life_support", "Life support: protected from disconnection"


class ProgramEnrolment(models.Model):
    agreement = models.ForeignKey(
        ServiceAgreement, on_delete=models.PROTECT, related_name="enrolments"
    )
    program = models.CharField(max_length=20, choices=Program.choices)
    valid_period = DateRangeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="one_enrolment_per_program_at_a_time",
                expressions=[
                    ("agreement", RangeOperators.EQUAL),
                    ("program", RangeOperators.EQUAL),
                    ("valid_period", RangeOperators.OVERLAPS),
                ],
            ),
            ExclusionConstraint(
                name="care_and_fera_not_combined",
                expressions=[
                    ("agreement", RangeOperators.EQUAL),
                    ("valid_period", RangeOperators.OVERLAPS),
                ],
                condition=Q(program__in=["care", "fera"]),
            ),
            models.CheckConstraint(
                condition=Q(valid_period__isempty=False), name="enrolment_period_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} {self.valid_period}"


class EntryKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    PAYMENT = "payment", "Payment"
    ADJUSTMENT = "adjustment", "Adjustment"
    FEE = "fee", "Fee"
    REVERSAL = "reversal", "Reversal"
    REFUND = "refund", "Refund"
    TRANSFER = "transfer", "Transfer"


class LedgerEntry(models.Model):
    """One line of an account's ledger. Append-only: the database refuses UPDATE and DELETE.

    ``amount`` is signed from the utility's side: positive is owed by the customer (charges,
    fees, refunds paid out), negative is money received or credited (payments).
    """

    # Indexed by ledger_account_posted (account, posted_at): no second index to write.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    posted_at = models.DateTimeField()
    value_date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    source_type = models.CharField(max_length=20)
    source_id = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_by = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["account", "posted_at"], name="ledger_account_posted"),
            models.Index(fields=["source_type", "source_id"], name="ledger_source"),
        ]
        constraints = [
            models.CheckConstraint(
                name="ledger_sign_follows_kind",
                condition=(
                    Q(kind__in=["charge", "fee", "refund"], amount__gt=0)
                    | Q(kind="payment", amount__lt=0)
                    | (Q(kind__in=["adjustment", "reversal", "transfer"]) & ~Q(amount=0))
                ),
            ),
            models.CheckConstraint(
                name="ledger_reversal_points_back",
                condition=Q(kind="reversal", reverses__isnull=False)
                | (~Q(kind="reversal") & Q(reverses__isnull=True)),
            ),
            models.CheckConstraint(
                name="ledger_whole_dong",
                condition=~Q(currency="VND")
                | Q(amount=models.Func(models.F("amount"), function="trunc")),
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="ledger_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class LedgerAllocation(models.Model):
    """How much of a credit (payment, credit adjustment, reversal of a charge) settles a debit
    (charge, fee, refund, reversal of a payment). Append-only like the ledger: undoing an
    allocation is a new row with a negative amount that ``releases`` the first.

    The open amount of a debit is its amount less its allocations; a debit is an open item.
    """

    # Indexed by the allocation_* indexes below: no second index per key to write. The account
    # is not indexed: allocations are read by their entries (open items, who settled a bill),
    # never by account, and each allocation of a payment would write a page of its own to the
    # index (the entries of one account are far apart in it).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    debit_entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="debit_allocations", db_index=False
    )
    credit_entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="credit_allocations", db_index=False
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    allocated_at = models.DateTimeField()
    releases = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="released_by"
    )

    class Meta:
        indexes = [
            models.Index(fields=["debit_entry"], name="allocation_debit"),
            models.Index(fields=["credit_entry"], name="allocation_credit"),
        ]
        constraints = [
            models.CheckConstraint(
                name="allocation_sign",
                condition=Q(amount__gt=0, releases__isnull=True)
                | Q(amount__lt=0, releases__isnull=False),
            ),
            models.CheckConstraint(
                name="allocation_between_two_entries",
                condition=~Q(debit_entry=models.F("credit_entry")),
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="allocation_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"{self.credit_entry_id}→{self.debit_entry_id} {self.amount}"


class CustomerAccess(models.Model):
    """A login (Django user) that may act for a customer: see and pay its accounts' bills."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="customer_access")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="logins")
    granted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "customer"], name="customer_access_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.customer_id}"
