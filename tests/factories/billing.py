"""Helpers that set billing up for tests: a utility with its holidays and rules, and draft bills
priced with EVN's residential tiers of 2025-05-10 or SCE's Base Services Charge."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ampere.accounts.models import ServiceAgreement
from ampere.accounts.operations import load_holidays
from ampere.billing.operations import install_billing_presets
from ampere.billing.types import DraftBill, DraftLine, ReadingDetail
from ampere.core.periods import DatePeriod
from tests.factories.accounts import AgreementFactory, TariffFactory, UtilityFactory

D = Decimal
EVN_TIERS = [(50, 1984), (50, 2050), (100, 2380), (100, 2998), (100, 3350), (None, 3460)]
VAT8 = D("0.08")


def billing_utility(code: str = "evn-hcmc", years: tuple[int, ...] = (2025, 2026)) -> int:
    utility_id: int = UtilityFactory(code=code).id
    load_holidays(utility_id=utility_id, years=years)
    install_billing_presets(utility_id=utility_id, valid_from=date(2020, 1, 1))
    return utility_id


def evn_lines(kwh: int) -> tuple[DraftLine, ...]:
    """The residential tiers of ``kwh`` for one household, VAT 8 %."""
    lines: list[DraftLine] = []
    left = kwh
    for number, (width, price) in enumerate(EVN_TIERS, start=1):
        used = left if width is None else min(left, width)
        if used <= 0:
            break
        lines.append(
            DraftLine(
                "energy",
                f"tier-{number}",
                f"Điện sinh hoạt bậc {number}",
                D(used),
                "kWh",
                D(price),
                D(used) * D(price),
                VAT8,
            )
        )
        left -= used
    return tuple(lines)


def month(year: int, number: int) -> DatePeriod:
    end = date(year + number // 12, number % 12 + 1, 1)
    return DatePeriod(date(year, number, 1), end)


def evn_agreement(**kwargs) -> ServiceAgreement:
    return AgreementFactory(**kwargs)


def sce_agreement(**kwargs) -> ServiceAgreement:
    utility = UtilityFactory(code="sce")
    tariff = TariffFactory(code="SCE-D", name="Schedule D", utility_code="sce")
    return AgreementFactory(
        account__utility=utility,
        account__customer__preferred_language="es",
        account__customer__name="María González",
        service_point__premise__address_line="1 Main St",
        service_point__premise__ward="",
        service_point__premise__province="CA",
        tariff=tariff,
        **kwargs,
    )


def evn_draft(
    agreement: ServiceAgreement,
    period: DatePeriod,
    kwh: int,
    *,
    bill_date: date,
    estimated: bool = False,
    language: str = "vi",
    lines: tuple[DraftLine, ...] | None = None,
) -> DraftBill:
    return DraftBill(
        account_id=agreement.account_id,
        agreement_id=agreement.id,
        period=period,
        bill_date=bill_date,
        currency="VND",
        language=language,
        consumption_kwh=D(kwh),
        estimated=estimated,
        lines=evn_lines(kwh) if lines is None else lines,
        readings=(ReadingDetail("CT0001", "total", D(10000), D(10000 + kwh)),),
    )


def sce_draft(
    agreement: ServiceAgreement, period: DatePeriod, kwh: int, *, bill_date: date
) -> DraftBill:
    days = period.days
    return DraftBill(
        account_id=agreement.account_id,
        agreement_id=agreement.id,
        period=period,
        bill_date=bill_date,
        currency="USD",
        language="es",
        consumption_kwh=D(kwh),
        estimated=False,
        lines=(
            DraftLine("energy", "tier-1", "Tier 1", D(kwh), "kWh", D("0.30"), D(kwh) * D("0.30")),
            DraftLine(
                "fixed",
                "base-services",
                "Base Services Charge",
                D(days),
                "day",
                D("0.79343"),
                D(days) * D("0.79343"),
            ),
        ),
    )
