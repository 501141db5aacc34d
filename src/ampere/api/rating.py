"""POST /api/v1/rating/quote: the public bill calculator ("tính tiền điện"). No login."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from ampere.accounts.calendars import holiday_calendar
from ampere.core.errors import InvalidInput
from ampere.core.periods import DatePeriod
from ampere.rating import queries
from ampere.rating.engine.model import IntervalUsage, RatingContext, RegisterUsage

router = Router(tags=["rating"])

Program = Literal["care", "fera", "medical_baseline", "sdp", "life_support"]


class IntervalIn(Schema):
    start: datetime = Field(description="Start of the interval, with its UTC offset")
    kwh: Decimal = Field(ge=0, decimal_places=3)


class QuoteIn(Schema):
    tariff: str = Field(examples=["EVN-RES"], max_length=64)
    from_date: date = Field(alias="from", description="First day (the previous reading date)")
    to_date: date = Field(alias="to", description="Reading date: the period ends before it")
    kwh: Decimal | None = Field(default=None, ge=0, decimal_places=3, description="Total kWh")
    tou_kwh: dict[str, Decimal] | None = Field(
        default=None, description="kWh per TOU register, e.g. {peak, normal, offpeak}"
    )
    intervals: list[IntervalIn] | None = Field(default=None, max_length=40_000)
    interval_minutes: int = Field(default=60, ge=1, le=60)
    max_kw: Decimal | None = Field(default=None, ge=0, decimal_places=3)
    max_kw_by_period: dict[str, Decimal] | None = None
    households: Decimal = Field(default=Decimal(1), gt=0, decimal_places=2)
    renter_occupants: int | None = Field(
        default=None, gt=0, description="Renters (students, workers): 4 persons = 1 household"
    )
    short_lease_undeclared: bool = False
    region: str = Field(default="", max_length=8, description="SCE baseline region")
    all_electric: bool = False
    programs: list[Program] = Field(default_factory=list)
    sdp_tons: Decimal = Field(default=Decimal(0), ge=0, decimal_places=3)
    language: Literal["vi", "en", "es"] = "vi"


class LineOut(Schema):
    code: str
    kind: str
    description: str
    quantity: str
    unit: str
    unit_price: str
    amount: str = Field(description="Unrounded amount")
    rounded: str
    from_date: date = Field(alias="from")
    to_date: date | None = Field(alias="to")
    proration: list[int] | None = None


class SegmentOut(Schema):
    from_date: date = Field(alias="from")
    to_date: date | None = Field(alias="to")


class QuoteOut(Schema):
    tariff: str
    from_date: date = Field(alias="from")
    to_date: date | None = Field(alias="to")
    currency: str
    language: str
    segments: list[SegmentOut]
    lines: list[LineOut]
    taxes: list[LineOut]
    subtotal: str
    tax_total: str
    total: str


def _usage(payload: QuoteIn) -> RegisterUsage | IntervalUsage:
    given = [payload.kwh is not None or bool(payload.tou_kwh), payload.intervals is not None]
    if sum(given) != 1:
        raise InvalidInput("give kwh or tou_kwh, or intervals (one of them)", field="kwh")
    if payload.intervals is not None:
        return IntervalUsage(
            starts=tuple(i.start for i in payload.intervals),
            kwh=tuple(i.kwh for i in payload.intervals),
            minutes=payload.interval_minutes,
        )
    return RegisterUsage(
        kwh=payload.kwh,
        tou_kwh=tuple((payload.tou_kwh or {}).items()),
        max_kw=payload.max_kw,
        max_kw_by_period=tuple((payload.max_kw_by_period or {}).items()),
    )


@router.post(
    "/quote", response=QuoteOut, auth=None, by_alias=True, summary="Price usage on a tariff"
)
def quote(request: HttpRequest, payload: QuoteIn) -> dict[str, object]:
    """Price a period's usage as the bill would: lines, taxes and total (nothing is stored).

    Give total `kwh`, or `tou_kwh` per register, or `intervals`. A problem response names the
    field that is wrong.
    """
    if payload.to_date <= payload.from_date:
        raise InvalidInput("must be after from", field="to")
    period = DatePeriod(payload.from_date, payload.to_date)
    norm = (
        payload.households
        if payload.renter_occupants is None
        else Decimal(payload.renter_occupants) / 4
    )
    rule = queries.get_holiday_rule(tariff_code=payload.tariff, period=period)
    holidays = (
        frozenset(holiday_calendar(rule, range(period.start.year, payload.to_date.year + 1)))
        if rule
        else frozenset()
    )
    bill = queries.quote(
        tariff_code=payload.tariff,
        period=period,
        usage=_usage(payload),
        context=RatingContext(
            household_norm=norm,
            short_lease_undeclared=payload.short_lease_undeclared,
            baseline_region=payload.region,
            all_electric=payload.all_electric,
            programs=frozenset(payload.programs),
            sdp_tons=payload.sdp_tons,
        ),
        holidays=holidays,
        language=payload.language,
    )
    return bill.as_dict()
