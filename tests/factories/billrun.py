"""A small utility ready for bill runs: EVN HCMC with its shipped tariffs, holidays, rules and a
cycle read on 24 July and 24 August 2026, billed on Monday 24 August (due seven days later,
moved off the National Day holidays of 31 August to 2 September to Thursday 3 September).

``customer(kwh=...)`` adds an account on the cycle with a meter read at both ends of the period.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from psycopg.types.range import Range

from ampere.accounts.models import ServiceAgreement
from ampere.billing.dates import ScheduleEntry
from ampere.billing.operations import assign_cycle, create_cycle, set_cycle_schedule
from ampere.core.localtime import local_midnight, zone
from ampere.core.periods import DatePeriod
from ampere.metering import operations as metering
from ampere.metering.models import Installation, Register, RegisterRead
from ampere.metering.types import MeterInput
from ampere.rating.models import Tariff
from ampere.rating.operations import load_shipped_tariffs
from tests.factories.accounts import AgreementFactory
from tests.factories.billing import billing_utility

READ_ON = date(2026, 8, 24)  # the reading date that closes the period
PERIOD = DatePeriod(date(2026, 7, 24), READ_ON)
PREVIOUS = DatePeriod(date(2026, 6, 24), date(2026, 7, 24))
BILL_DATE = date(2026, 8, 24)
AS_OF = date(2026, 8, 24)
DUE = date(2026, 9, 3)
NOW = datetime(2026, 8, 24, 12, tzinfo=UTC)  # 19:00 in Ho Chi Minh City
INSTALLED = date(2026, 5, 24)
TZ = zone("Asia/Ho_Chi_Minh")
_serials = itertools.count(1)


@dataclass(frozen=True)
class Scene:
    utility_id: int
    cycle_id: int
    cycle_code: str = "C24"


def scene(*, schedule: bool = True) -> Scene:
    load_shipped_tariffs()
    utility_id = billing_utility("evn-hcmc", years=(2026, 2027))
    cycle_id = create_cycle(utility_id=utility_id, code="C24", name="Reading day 24")
    if schedule:
        set_cycle_schedule(
            cycle_id=cycle_id,
            entries=[
                ScheduleEntry(date(2026, 7, 1), PREVIOUS, date(2026, 7, 24)),
                ScheduleEntry(date(2026, 8, 1), PERIOD, BILL_DATE),
            ],
        )
    return Scene(utility_id, cycle_id)


def read(
    agreement: ServiceAgreement,
    on: date,
    value: Decimal | int,
    *,
    code: str = "kwh",
    hour: int = 10,
) -> None:
    """An actual handheld read of the agreement's meter on a date (10:00 local time)."""
    installation = Installation.objects.get(service_point_id=agreement.service_point_id)
    register = Register.objects.get(meter_id=installation.meter_id, code=code)
    RegisterRead.objects.create(
        register=register,
        installation=installation,
        read_at=local_midnight(on, TZ) + timedelta(hours=hour),
        read_date=on,
        value=Decimal(value),
        source="handheld",
        recorded_at=NOW,
    )


def customer(
    the_scene: Scene,
    *,
    kwh: int | None,
    tariff: str = "EVN-RES",
    start: int = 10_000,
    previous_kwh: int | None = None,
    households: Decimal = Decimal(1),
    language: str = "vi",
) -> ServiceAgreement:
    """An account on the scene's cycle with an agreement, a meter installed in May and read
    on 24 July (``start``) and on 24 August (``start + kwh``; no read when ``kwh`` is None).
    With ``previous_kwh`` the meter was also read on 24 June, ``start - previous_kwh``."""
    agreement: ServiceAgreement = AgreementFactory(
        tariff=Tariff.objects.get(code=tariff),
        valid_period=Range(date(2026, 1, 1), None, "[)"),
        households=households,
        account__customer__preferred_language=language,
    )
    assign_cycle(
        account_id=agreement.account_id, cycle_id=the_scene.cycle_id, from_date=date(2026, 1, 1)
    )
    serial = f"T{next(_serials):07d}"
    metering.register_meter(
        utility_code="evn-hcmc",
        meter=MeterInput(serial=serial, kind="electronic", phases=1, register_digits=6),
    )
    first = start - (previous_kwh or 0) - 100
    metering.install_meter(
        utility_code="evn-hcmc",
        service_point_code=agreement.service_point.code,
        meter_serial=serial,
        at=local_midnight(INSTALLED, TZ),
        initial_reads={"kwh": Decimal(first)},
        now=NOW,
    )
    if previous_kwh is not None:
        read(agreement, PREVIOUS.start, start - previous_kwh)
    read(agreement, PERIOD.start, start)
    if kwh is not None:
        read(agreement, READ_ON, start + kwh)
    return agreement
