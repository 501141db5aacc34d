"""Helpers that put meters on service points for metering tests (through the operations)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ampere.metering import operations
from ampere.metering.types import MeterInput
from tests.factories.accounts import AgreementFactory

NOW = datetime(2025, 7, 1, tzinfo=UTC)


def metered_point(
    *,
    utility_code: str = "evn-hcmc",
    serial: str = "M-0001",
    registers: tuple[str, ...] = ("kwh",),
    digits: int = 5,
    multiplier: Decimal = Decimal(1),
    interval_minutes: int | None = None,
    installed_at: datetime,
    initial: dict[str, Decimal] | None = None,
    kind: str = "electronic",
):
    """An agreement (and its service point) with a meter installed; returns the agreement."""
    agreement = AgreementFactory(account__utility__code=utility_code)
    operations.register_meter(
        utility_code=utility_code,
        meter=MeterInput(
            serial=serial,
            kind=kind,
            phases=1,
            register_digits=digits,
            registers=registers,
            multiplier=multiplier,
            interval_minutes=interval_minutes,
        ),
    )
    operations.install_meter(
        utility_code=utility_code,
        service_point_code=agreement.service_point.code,
        meter_serial=serial,
        at=installed_at,
        initial_reads=initial
        if initial is not None
        else dict.fromkeys([c for c in registers if c != "kw_max"], Decimal(0)),
        now=NOW,
    )
    return agreement


def sce_smart_meter(*, serial: str = "AMI-1"):
    """An SCE agreement with a 15-minute smart meter (six register digits) installed on
    1 January 2025 in Los Angeles; returns the agreement."""
    return metered_point(
        utility_code="sce",
        serial=serial,
        kind="smart",
        digits=6,
        interval_minutes=15,
        installed_at=datetime(2025, 1, 1, tzinfo=ZoneInfo("America/Los_Angeles")),
    )
