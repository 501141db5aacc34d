"""The tariff catalogue: tariff heads, their dated versions and the dated tax rates."""

from __future__ import annotations

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.db import models
from django.db.models import Q


class CustomerClass(models.TextChoices):
    RESIDENTIAL = "residential", "Residential (sinh hoạt)"
    BUSINESS = "business", "Business (kinh doanh)"
    MANUFACTURING = "manufacturing", "Manufacturing (sản xuất)"
    ADMINISTRATIVE = "administrative", "Administrative (hành chính sự nghiệp)"
    AGRICULTURE = "agriculture", "Agriculture"
    COMMERCIAL = "commercial", "Commercial"
    LIGHTING = "lighting", "Public lighting"


class Tariff(models.Model):
    """A rate schedule a utility files (EVN-RES, SCE-TOU-D-4-9PM ...).

    ``utility_code`` names the utility by its code: rating sits below accounts and knows no
    customers or utilities, only which utility filed the schedule.
    """

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    utility_code = models.SlugField(max_length=32, db_index=True)
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    description = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class TariffVersion(models.Model):
    """A dated version of a tariff: its pricing as one document the engine parses.

    The document is the version's plain form (the same YAML shape shipped in ``rating/data``
    and produced by the URDB importer), validated by ``engine.parse`` before it is stored.
    Versions of one tariff never overlap (exclusion constraint); the loader refuses gaps.
    """

    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="versions")
    effective_period = DateRangeField()
    instrument = models.CharField(max_length=200, blank=True)
    source = models.TextField(blank=True)
    document = models.JSONField()

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="tariff_versions_do_not_overlap",
                expressions=[
                    ("tariff", RangeOperators.EQUAL),
                    ("effective_period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(effective_period__isempty=False)
                & Q(effective_period__startswith__isnull=False),
                name="tariff_version_period_has_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tariff_id} {self.effective_period}"


class TaxRate(models.Model):
    """A dated rate of a tax on the bills of a tariff owner (VAT 8 % from 2023-07-01 ...)."""

    owner = models.SlugField(max_length=32)
    code = models.SlugField(max_length=32)
    name = models.JSONField()  # {vi, en, es}
    rate = models.DecimalField(max_digits=6, decimal_places=4)
    effective_period = DateRangeField()

    class Meta:
        constraints = [
            ExclusionConstraint(
                name="tax_rates_do_not_overlap",
                expressions=[
                    ("owner", RangeOperators.EQUAL),
                    ("code", RangeOperators.EQUAL),
                    ("effective_period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lt=1), name="tax_rate_is_a_fraction"
            ),
            models.CheckConstraint(
                condition=Q(effective_period__isempty=False)
                & Q(effective_period__startswith__isnull=False),
                name="tax_rate_period_has_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.code} {self.rate} {self.effective_period}"
