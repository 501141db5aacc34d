"""factory_boy factories for the accounts domain.

``AgreementFactory()`` builds the whole chain (utility, customer, premise, service point, account,
agreement) with valid data; override what a test cares about.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import factory
from psycopg.types.range import Range

from ampere.accounts import models
from ampere.accounts.numbers import NumberScheme, format_number
from ampere.accounts.presets import PRESETS
from ampere.accounts.text import search_key
from ampere.rating.models import Tariff


class UtilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Utility
        django_get_or_create = ("code",)

    code = "evn-hcmc"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        preset = PRESETS.get(kwargs["code"])
        if preset is not None:
            for name in (
                "name",
                "short_name",
                "country_code",
                "currency",
                "time_zone",
                "default_language",
                "number_prefix",
                "default_area_code",
                "tax_code",
                "address",
                "tariff_owner",
                "holiday_rule",
            ):
                kwargs.setdefault(name, getattr(preset, name))
            kwargs.setdefault("languages", list(preset.languages))
            kwargs.setdefault("number_scheme", preset.number_scheme.value)
        return super()._create(model_class, *args, **kwargs)


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tariff
        django_get_or_create = ("code",)

    code = "EVN-RES"
    name = "Giá bán lẻ điện sinh hoạt bậc thang"
    utility_code = "evn"
    customer_class = "residential"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Customer

    utility = factory.SubFactory(UtilityFactory)
    kind = "person"
    name = factory.Sequence(lambda n: f"Nguyễn Văn Khách {n}")
    search_name = factory.LazyAttribute(lambda o: search_key(o.name))
    preferred_language = "vi"
    created_at = datetime(2025, 1, 1, tzinfo=UTC)


class PremiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Premise

    utility = factory.SubFactory(UtilityFactory)
    address_line = factory.Sequence(lambda n: f"{n} Nguyễn Huệ")
    ward = "Phường Sài Gòn"
    province = "Thành phố Hồ Chí Minh"


class ServicePointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ServicePoint

    utility = factory.SubFactory(UtilityFactory)
    premise = factory.SubFactory(PremiseFactory, utility=factory.SelfAttribute("..utility"))
    code = factory.Sequence(lambda n: f"SP{n:08d}")
    voltage_class = "lv"
    nominal_voltage_v = 220
    phases = 1


def _number(utility: models.Utility, serial: int) -> str:
    return format_number(
        scheme=NumberScheme(utility.number_scheme),
        prefix=utility.number_prefix,
        area=utility.default_area_code,
        serial=serial,
    )


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Account

    utility = factory.SubFactory(UtilityFactory)
    customer = factory.SubFactory(CustomerFactory, utility=factory.SelfAttribute("..utility"))
    number = factory.LazyAttributeSequence(lambda o, n: _number(o.utility, 900000 + n))
    opened_on = date(2025, 1, 1)


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ServiceAgreement

    account = factory.SubFactory(AccountFactory)
    service_point = factory.SubFactory(
        ServicePointFactory, utility=factory.SelfAttribute("..account.utility")
    )
    tariff = factory.SubFactory(TariffFactory)
    purpose_of_use = "residential"
    households = Decimal(1)
    valid_period = Range(date(2025, 1, 1), None, "[)")
