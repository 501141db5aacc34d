"""Writes and use cases of the accounts domain. Each owns its transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from psycopg.types.range import Range

from ampere.accounts.calendars import holiday_calendar
from ampere.accounts.models import (
    Account,
    AccountNumberSeries,
    AgreementStatus,
    Customer,
    CustomerAccess,
    CustomerKind,
    CustomerPhone,
    Holiday,
    Language,
    LegacyAccountNumber,
    OrganisationUnit,
    PhoneKind,
    Premise,
    Program,
    ProgramEnrolment,
    PurposeOfUse,
    ServiceAgreement,
    ServicePoint,
    UnitLevel,
    Utility,
    VoltageClass,
)
from ampere.accounts.numbers import RULES, NumberScheme, format_number
from ampere.accounts.phones import is_mobile, to_e164
from ampere.accounts.presets import PRESETS, LevelPreset
from ampere.accounts.queries import (
    UnitNotFound,
    UtilityNotFound,
    check_unit_placement,
    find_account,
)
from ampere.accounts.text import search_key
from ampere.accounts.types import (
    AccountRef,
    AgreementInput,
    ConnectedAccount,
    CustomerInput,
    PremiseInput,
    ServicePointInput,
)
from ampere.core.errors import Conflict, InvalidInput, NotFound
from ampere.core.i18n import _
from ampere.core.localtime import zone
from ampere.core.periods import DatePeriod
from ampere.database import constraint_name
from ampere.rating.queries import get_tariff_head


class AgreementOverlap(Conflict):
    code = "agreement-overlap"


class EnrolmentConflict(Conflict):
    code = "enrolment-conflict"


def date_range(period: DatePeriod) -> Range[date]:
    return Range(period.start, period.end, "[)")


def _choice(value: str, choices: Iterable[str], field: str) -> str:
    allowed = list(choices)
    if value not in allowed:
        raise InvalidInput(f"{value!r} is not one of {', '.join(allowed)}", field=field)
    return value


# --- utilities -----------------------------------------------------------------------------


def ensure_utility(*, code: str, holiday_years: Sequence[int] = ()) -> int:
    """Create a known utility from its preset if missing; load its holidays for the years."""
    preset = PRESETS.get(code)
    existing = Utility.objects.filter(code=code).values_list("id", flat=True).first()
    if existing is None:
        if preset is None:
            raise UtilityNotFound(
                f"unknown utility {code!r}; known: {', '.join(sorted(PRESETS))}", field="utility"
            )
        utility = Utility.objects.create(
            code=preset.code,
            name=preset.name,
            short_name=preset.short_name,
            country_code=preset.country_code,
            currency=preset.currency,
            time_zone=preset.time_zone,
            languages=list(preset.languages),
            default_language=preset.default_language,
            number_scheme=preset.number_scheme.value,
            number_prefix=preset.number_prefix,
            default_area_code=preset.default_area_code,
            tax_code=preset.tax_code,
            address=preset.address,
            tariff_owner=preset.tariff_owner,
            holiday_rule=preset.holiday_rule,
        )
        existing = utility.id
    if preset is not None:
        _ensure_unit_levels(utility_id=existing, levels=preset.unit_levels)
    if holiday_years:
        load_holidays(utility_id=existing, years=holiday_years)
    return existing


def load_holidays(*, utility_id: int, years: Sequence[int]) -> int:
    """Add the rule's holidays for ``years`` (keeps days staff added by hand); returns how many."""
    rule = Utility.objects.values_list("holiday_rule", flat=True).get(id=utility_id)
    days = holiday_calendar(rule, years)
    created = Holiday.objects.bulk_create(
        [Holiday(utility_id=utility_id, date=d, name=n[:120]) for d, n in sorted(days.items())],
        ignore_conflicts=True,
    )
    return len(created)


def _ensure_unit_levels(*, utility_id: int, levels: Sequence[LevelPreset]) -> None:
    """The preset's organisation levels (rank 1 first) where the utility has none yet."""
    if UnitLevel.objects.filter(utility_id=utility_id).exists():
        return
    UnitLevel.objects.bulk_create(
        [
            UnitLevel(
                utility_id=utility_id,
                rank=rank,
                code=level.code,
                name=level.name,
                serves_premises=level.serves_premises,
            )
            for rank, level in enumerate(levels, start=1)
        ]
    )


# --- organisation units --------------------------------------------------------------------


class UnitLevelNotFound(InvalidInput):
    code = "unit-level-not-found"


class UnitExists(Conflict):
    code = "unit-exists"


def create_unit(
    *,
    utility_code: str,
    level_code: str,
    code: str,
    name: str,
    parent_id: int | None = None,
    short_name: str = "",
    time_zone: str = "",
) -> int:
    """A new organisation unit on a level of its utility, under ``parent_id`` (a unit of the
    same utility on the level just above; none for a top-level unit). Returns its id.

    Raises UtilityNotFound, UnitLevelNotFound, UnitNotFound, UnitParentOfAnotherUtility,
    UnitParentOnWrongLevel, UnitExists, InvalidInput (empty code or name, unknown zone).
    """
    utility = _utility(utility_code)
    level = UnitLevel.objects.filter(utility=utility, code=level_code).values("id", "rank").first()
    if level is None:
        raise UnitLevelNotFound(
            _("utility {utility} has no organisation level {level}"),
            field="level",
            params={"utility": utility_code, "level": level_code},
        )
    cleaned_code, cleaned_name = code.strip(), " ".join(name.split())
    if not cleaned_code:
        raise InvalidInput(_("a unit needs a code"), field="code")
    if not cleaned_name:
        raise InvalidInput(_("a unit needs a name"), field="name")
    if time_zone:
        zone(time_zone)
    with transaction.atomic():
        check_unit_placement(utility_id=utility.id, rank=level["rank"], parent_id=parent_id)
        if OrganisationUnit.objects.filter(utility=utility, code=cleaned_code).exists():
            raise UnitExists(
                _("utility {utility} has a unit {code} already"),
                field="code",
                params={"utility": utility_code, "code": cleaned_code},
            )
        unit = OrganisationUnit.objects.create(
            utility=utility,
            level_id=level["id"],
            rank=level["rank"],
            parent_id=parent_id,
            code=cleaned_code,
            name=cleaned_name,
            short_name=short_name.strip(),
            time_zone=time_zone,
        )
    return unit.id


def move_unit(*, unit_id: int, parent_id: int) -> None:
    """Place a unit (with everything below it) under another parent of its utility, on the
    level just above the unit's.

    Raises UnitNotFound, UnitParentOfAnotherUtility, UnitCycle, UnitParentOnWrongLevel.
    """
    with transaction.atomic():
        unit = (
            OrganisationUnit.objects.select_for_update()
            .filter(id=unit_id)
            .values("utility_id", "rank")
            .first()
        )
        if unit is None:
            raise UnitNotFound(
                _("no organisation unit with id {unit_id}"),
                field="unit",
                params={"unit_id": unit_id},
            )
        check_unit_placement(
            utility_id=unit["utility_id"], rank=unit["rank"], parent_id=parent_id, unit_id=unit_id
        )
        OrganisationUnit.objects.filter(id=unit_id).update(parent_id=parent_id)


def rename_unit(*, unit_id: int, name: str, short_name: str = "", time_zone: str = "") -> None:
    """A unit's name, short name and zone (blank: the utility's). Raises UnitNotFound,
    InvalidInput."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput(_("a unit needs a name"), field="name")
    if time_zone:
        zone(time_zone)
    updated = OrganisationUnit.objects.filter(id=unit_id).update(
        name=cleaned, short_name=short_name.strip(), time_zone=time_zone
    )
    if not updated:
        raise UnitNotFound(
            _("no organisation unit with id {unit_id}"), field="unit", params={"unit_id": unit_id}
        )


# --- numbers -------------------------------------------------------------------------------


def allocate_account_numbers(*, utility_id: int, area: str, count: int) -> list[str]:
    """Hand out ``count`` new account numbers (with check digits) for ``area``."""
    if count < 1:
        raise InvalidInput("count must be at least 1", field="count")
    utility = Utility.objects.values("number_scheme", "number_prefix").get(id=utility_id)
    scheme = NumberScheme(utility["number_scheme"])
    rule = RULES[scheme]
    area = area if rule.area_digits else ""
    with transaction.atomic():
        AccountNumberSeries.objects.get_or_create(utility_id=utility_id, area=area)
        series = AccountNumberSeries.objects.select_for_update().get(
            utility_id=utility_id, area=area
        )
        first = series.next_serial
        if first + count > 10**rule.serial_digits:
            raise Conflict(f"account numbers of area {area!r} are exhausted", field="area")
        series.next_serial = first + count
        series.save(update_fields=["next_serial"])
    return [
        format_number(scheme=scheme, prefix=utility["number_prefix"], area=area, serial=s)
        for s in range(first, first + count)
    ]


# --- customers, premises, agreements ---------------------------------------------------------


def _customer_row(
    utility: Utility, data: CustomerInput, *, now: datetime
) -> tuple[Customer, list[str]]:
    _choice(data.kind, CustomerKind.values, "customer.kind")
    name = " ".join(data.name.split())
    if not name:
        raise InvalidInput("a customer needs a name", field="customer.name")
    if len(name) > 200:
        raise InvalidInput("a name has at most 200 characters", field="customer.name")
    _choice(data.preferred_language, Language.values, "customer.preferred_language")
    if data.email:
        try:
            validate_email(data.email)
        except DjangoValidationError:
            raise InvalidInput(
                f"{data.email!r} is not an e-mail address", field="customer.email"
            ) from None
    phones: list[str] = []
    for index, raw in enumerate(data.phones):
        e164 = to_e164(raw, country_code=utility.country_code, field=f"customer.phones[{index}]")
        if e164 not in phones:
            phones.append(e164)
    if data.consent_sms and not phones:
        raise InvalidInput("consent to SMS needs a phone number", field="customer.phones")
    if data.consent_email and not data.email:
        raise InvalidInput("consent to e-mail needs an e-mail address", field="customer.email")
    customer = Customer(
        utility=utility,
        kind=data.kind,
        name=name,
        search_name=search_key(name),
        national_id=data.national_id.strip(),
        tax_code=data.tax_code.strip(),
        preferred_language=data.preferred_language,
        email=data.email,
        consent_sms=data.consent_sms,
        consent_email=data.consent_email,
        created_at=now,
    )
    return customer, phones


def _premise_row(utility: Utility, data: PremiseInput) -> Premise:
    if not data.address_line.strip():
        raise InvalidInput("a premise needs an address", field="premise.address_line")
    if not data.province.strip():
        raise InvalidInput("a premise needs a province or state", field="premise.province")
    if (data.latitude is None) != (data.longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither", field="premise.latitude")
    if data.latitude is not None and not Decimal(-90) <= data.latitude <= Decimal(90):
        raise InvalidInput("latitude must be within ±90", field="premise.latitude")
    if data.longitude is not None and not Decimal(-180) <= data.longitude <= Decimal(180):
        raise InvalidInput("longitude must be within ±180", field="premise.longitude")
    return Premise(
        utility=utility,
        address_line=data.address_line.strip(),
        ward=data.ward,
        district=data.district,
        province=data.province.strip(),
        postal_code=data.postal_code,
        administrative_area_code=data.administrative_area_code,
        latitude=data.latitude,
        longitude=data.longitude,
        baseline_region=data.baseline_region,
        all_electric=data.all_electric,
    )


def _service_point_row(utility: Utility, premise: Premise, data: ServicePointInput) -> ServicePoint:
    if not data.code.strip():
        raise InvalidInput("a service point needs a code", field="service_point.code")
    _choice(data.voltage_class, VoltageClass.values, "service_point.voltage_class")
    if data.phases not in (1, 3):
        raise InvalidInput("phases must be 1 or 3", field="service_point.phases")
    if data.nominal_voltage_v <= 0:
        raise InvalidInput(
            "nominal voltage must be positive", field="service_point.nominal_voltage_v"
        )
    if ServicePoint.objects.filter(utility=utility, code=data.code).exists():
        raise Conflict(f"service point {data.code!r} exists already", field="service_point.code")
    return ServicePoint(
        utility=utility,
        premise=premise,
        code=data.code.strip(),
        voltage_class=data.voltage_class,
        nominal_voltage_v=data.nominal_voltage_v,
        phases=data.phases,
        feeder_code=data.feeder_code,
        transformer_code=data.transformer_code,
    )


def _agreement_row(
    utility: Utility, account_id: int, service_point_id: int, data: AgreementInput
) -> ServiceAgreement:
    try:
        tariff = get_tariff_head(code=data.tariff_code)
    except NotFound:
        raise InvalidInput(
            f"unknown tariff code {data.tariff_code!r}", field="agreement.tariff_code"
        ) from None
    if tariff.utility_code != utility.tariff_owner:
        raise InvalidInput(
            f"tariff {tariff.code!r} is filed by {tariff.utility_code!r}, not by {utility.code!r}",
            field="agreement.tariff_code",
        )
    _choice(data.purpose_of_use, PurposeOfUse.values, "agreement.purpose_of_use")
    if data.households <= 0:
        raise InvalidInput("households must be positive", field="agreement.households")
    if data.renter_occupants is not None and data.renter_occupants <= 0:
        raise InvalidInput("renter occupants must be positive", field="agreement.renter_occupants")
    if data.contracted_capacity_kw is not None and data.contracted_capacity_kw <= 0:
        raise InvalidInput(
            "contracted capacity must be positive", field="agreement.contracted_capacity_kw"
        )
    if data.period.is_empty():
        raise InvalidInput("the agreement period is empty", field="agreement.period")
    return ServiceAgreement(
        account_id=account_id,
        service_point_id=service_point_id,
        tariff_id=tariff.id,
        purpose_of_use=data.purpose_of_use,
        households=data.households,
        renter_occupants=data.renter_occupants,
        short_lease_undeclared=data.short_lease_undeclared,
        contracted_capacity_kw=data.contracted_capacity_kw,
        valid_period=date_range(data.period),
        status=AgreementStatus.ACTIVE,
    )


def _save_agreement(agreement: ServiceAgreement) -> None:
    try:
        with transaction.atomic():
            agreement.save()
    except IntegrityError as error:
        if constraint_name(error) == "one_live_agreement_per_service_point":
            raise AgreementOverlap(
                "another agreement on this service point overlaps the period",
                field="agreement.period",
            ) from None
        raise


def _utility(code: str) -> Utility:
    utility = Utility.objects.filter(code=code).first()
    if utility is None:
        raise UtilityNotFound(f"no utility with code {code!r}", field="utility")
    return utility


def _ref(account: Account, utility: Utility) -> AccountRef:
    return AccountRef(account.id, account.number, utility.id, utility.code, utility.currency)


def connect_customer(
    *,
    utility_code: str,
    customer: CustomerInput,
    premise: PremiseInput,
    service_point: ServicePointInput,
    agreement: AgreementInput,
    legacy_numbers: Sequence[tuple[str, str]] = (),
    area: str | None = None,
    now: datetime,
) -> ConnectedAccount:
    """A new customer with an account, a premise, a service point and an agreement — all or
    nothing. ``legacy_numbers`` are (number, source system) pairs from a previous system.

    Raises InvalidInput (naming the field), AgreementOverlap, Conflict.
    """
    utility = _utility(utility_code)
    customer_row, phones = _customer_row(utility, customer, now=now)
    premise_row = _premise_row(utility, premise)
    with transaction.atomic():
        customer_row.save()
        CustomerPhone.objects.bulk_create(
            [
                CustomerPhone(
                    customer=customer_row,
                    number=p,
                    kind=PhoneKind.MOBILE if is_mobile(p) else PhoneKind.LANDLINE,
                    is_primary=i == 0,
                )
                for i, p in enumerate(phones)
            ]
        )
        premise_row.save()
        point = _service_point_row(utility, premise_row, service_point)
        point.save()
        (number,) = allocate_account_numbers(
            utility_id=utility.id, area=area or utility.default_area_code, count=1
        )
        account = Account.objects.create(
            utility=utility, customer=customer_row, number=number, opened_on=agreement.period.start
        )
        for index, (legacy, system) in enumerate(legacy_numbers):
            _add_legacy(utility, account, legacy, system, field=f"legacy_numbers[{index}]")
        row = _agreement_row(utility, account.id, point.id, agreement)
        _save_agreement(row)
    return ConnectedAccount(
        _ref(account, utility), customer_row.id, premise_row.id, point.id, row.id
    )


def sign_agreement(*, account_id: int, service_point_id: int, agreement: AgreementInput) -> int:
    """A new agreement for an existing account and service point; raises AgreementOverlap."""
    account = Account.objects.select_related("utility").filter(id=account_id).first()
    if account is None:
        raise NotFound(f"no account with id {account_id}", field="account")
    if not ServicePoint.objects.filter(id=service_point_id, utility_id=account.utility_id).exists():
        raise NotFound(f"no service point with id {service_point_id}", field="service_point")
    row = _agreement_row(account.utility, account.id, service_point_id, agreement)
    _save_agreement(row)
    return row.id


def _add_legacy(
    utility: Utility, account: Account, number: str, system: str, *, field: str
) -> None:
    cleaned = number.strip()
    if not cleaned:
        raise InvalidInput("a legacy number cannot be empty", field=field)
    if not system.strip():
        raise InvalidInput("name the system the legacy number comes from", field=field)
    if LegacyAccountNumber.objects.filter(utility=utility, number=cleaned).exists():
        raise Conflict(f"legacy number {cleaned!r} belongs to another account", field=field)
    if Account.objects.filter(number=cleaned.upper()).exists():
        raise Conflict(f"{cleaned!r} is a current account number", field=field)
    LegacyAccountNumber.objects.create(
        utility=utility, account=account, number=cleaned, source_system=system
    )


def add_legacy_number(*, account_id: int, number: str, source_system: str) -> None:
    account = Account.objects.select_related("utility").get(id=account_id)
    with transaction.atomic():
        _add_legacy(account.utility, account, number, source_system, field="legacy_number")


def enrol(
    *, agreement_id: int, program: str, period: DatePeriod, details: dict[str, str] | None = None
) -> int:
    """Enrol an agreement in a programme (CARE, FERA, Medical Baseline, SDP, life support)."""
    _choice(program, Program.values, "program")
    if period.is_empty():
        raise InvalidInput("the enrolment period is empty", field="period")
    row = ProgramEnrolment(
        agreement_id=agreement_id,
        program=program,
        valid_period=date_range(period),
        details=details or {},
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as error:
        constraint = constraint_name(error)
        if constraint == "care_and_fera_not_combined":
            raise EnrolmentConflict("CARE and FERA cannot be combined", field="program") from None
        if constraint == "one_enrolment_per_program_at_a_time":
            raise EnrolmentConflict(
                f"the agreement is enrolled in {program} for an overlapping period", field="period"
            ) from None
        raise
    return row.id


def grant_customer_access(*, user_id: int, account_number: str, now: datetime) -> int:
    """Let a login act for the customer who holds ``account_number`` (new or legacy number).

    Returns the customer id; raises AccountNotFound / InvalidAccountNumber.
    """
    account = find_account(number=account_number)
    customer_id = Account.objects.values_list("customer_id", flat=True).get(id=account.id)
    CustomerAccess.objects.get_or_create(
        user_id=user_id, customer_id=customer_id, defaults={"granted_at": now}
    )
    return customer_id
