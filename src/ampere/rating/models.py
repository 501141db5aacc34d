"""The tariff catalogue. This module holds the head of each tariff; versions and prices are added
by the rating engine's catalogue."""

from __future__ import annotations

from django.db import models


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
