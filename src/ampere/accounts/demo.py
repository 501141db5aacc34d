"""Realistic demo data in bulk: customers, premises, service points, accounts, agreements,
programme enrolments and legacy numbers, written with COPY in chunks of one transaction each.

Deterministic: the same seed on the same database state gives the same data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction

from ampere.accounts import demo_places as places
from ampere.accounts.models import Account, Customer, Utility
from ampere.accounts.operations import allocate_account_numbers, ensure_utility
from ampere.accounts.text import search_key
from ampere.core.errors import InvalidInput
from ampere.database import copy_rows, reserve_ids
from ampere.rating.models import Tariff
from ampere.rating.operations import load_shipped_tariffs

CHUNK = 20_000


@dataclass(frozen=True)
class DemoReport:
    utility_code: str
    accounts: int
    enrolments: int
    legacy_numbers: int
    seconds: float


@dataclass(frozen=True)
class _Offer:
    """A kind of customer in the demo mix: tariff, purpose, voltage and how common it is."""

    tariff: str
    purpose: str
    organisation: bool
    voltage_class: str
    nominal_v: int
    phases: int
    weight: float


EVN_MIX = (
    _Offer("EVN-RES", "residential", False, "lv", 220, 1, 86.0),
    _Offer("EVN-RES", "residential", False, "lv", 380, 3, 2.0),
    _Offer("EVN-BUS-LV", "business", True, "lv", 380, 3, 7.5),
    _Offer("EVN-MFG-LV", "manufacturing", True, "lv", 380, 3, 2.5),
    _Offer("EVN-MFG-MV6", "manufacturing", True, "mv22", 22000, 3, 0.5),
    _Offer("EVN-BUS-MV", "business", True, "mv22", 22000, 3, 0.5),
    _Offer("EVN-ADM-SCHOOL-LV", "administrative", True, "lv", 380, 3, 0.5),
    _Offer("EVN-ADM-PUBLIC-LV", "administrative", True, "lv", 380, 3, 0.5),
)
SCE_MIX = (
    _Offer("SCE-TOU-D-4-9PM", "residential", False, "lv", 240, 1, 55.0),
    _Offer("SCE-TOU-D-5-8PM", "residential", False, "lv", 240, 1, 25.0),
    _Offer("SCE-D", "residential", False, "lv", 240, 1, 20.0),
)


def _pick(
    rng: np.random.Generator, items: Sequence[Any], n: int, weights: Sequence[float] | None = None
) -> np.ndarray:
    p = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)  # sampling weights, not money
        p = w / w.sum()
    return rng.choice(len(items), size=n, p=p)


def _vn_phone(rng: np.random.Generator) -> str:
    prefix = places.VN_MOBILE_PREFIXES[int(rng.integers(len(places.VN_MOBILE_PREFIXES)))]
    return f"+84{prefix}{int(rng.integers(0, 10_000_000)):07d}"


def _us_phone(rng: np.random.Generator, area: str) -> str:
    exchange = int(rng.integers(200, 1000))
    if exchange % 100 == 11 or exchange == 555:
        exchange += 1
    return f"+1{area}{exchange:03d}{int(rng.integers(0, 10_000)):04d}"


class _Names:
    """Name pools for the US demo, drawn once from Faker with a fixed seed."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        english, spanish = Faker("en_US"), Faker("es_MX")
        english.seed_instance(seed)
        spanish.seed_instance(seed)
        self.english_first = [english.first_name() for _ in range(600)]
        self.english_last = [english.last_name() for _ in range(900)]
        self.spanish_first = [spanish.first_name() for _ in range(400)]
        self.spanish_last = [spanish.last_name() for _ in range(500)]
        self.streets = sorted({english.street_name().rsplit(" ", 1)[0] for _ in range(1500)})


def create_demo_data(
    *,
    utility_code: str,
    accounts: int,
    seed: int,
    as_of: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> DemoReport:
    """Create ``accounts`` demo accounts for ``utility_code`` ('evn-hcmc', 'evn-spc', 'sce').

    Raises InvalidInput for a count below 1 or a utility without demo rules.
    """
    if accounts < 1:
        raise InvalidInput("create at least one account", field="accounts")
    if utility_code not in ("evn-hcmc", "evn-spc", "sce"):
        raise InvalidInput(f"no demo rules for utility {utility_code!r}", field="utility")
    started = time.perf_counter()
    load_shipped_tariffs()
    utility_id = ensure_utility(
        code=utility_code, holiday_years=range(as_of.year - 15, as_of.year + 3)
    )
    utility = Utility.objects.get(id=utility_id)
    tariff_ids = dict(Tariff.objects.values_list("code", "id"))
    base = Customer.objects.filter(utility_id=utility_id).count()
    names = _Names(seed) if utility.country_code == "US" else None
    enrolments = legacy = 0
    done = 0
    chunk_index = 0
    while done < accounts:
        n = min(CHUNK, accounts - done)
        rng = np.random.default_rng([seed, chunk_index, 7])
        with transaction.atomic():
            e, lg = _write_chunk(
                utility=utility,
                tariff_ids=tariff_ids,
                names=names,
                rng=rng,
                n=n,
                index0=base + done,
                as_of=as_of,
                now=now,
            )
        enrolments += e
        legacy += lg
        done += n
        chunk_index += 1
        if progress is not None:
            progress(n)
    return DemoReport(utility_code, accounts, enrolments, legacy, time.perf_counter() - started)


def _write_chunk(
    *,
    utility: Utility,
    tariff_ids: dict[str, int],
    names: _Names | None,
    rng: np.random.Generator,
    n: int,
    index0: int,
    as_of: date,
    now: datetime,
) -> tuple[int, int]:
    is_vn = utility.country_code == "VN"
    mix = EVN_MIX if is_vn else SCE_MIX
    missing = {o.tariff for o in mix} - tariff_ids.keys()
    if missing:
        raise InvalidInput(f"tariffs missing from the catalogue: {sorted(missing)}", field="tariff")
    offer_of = _pick(rng, mix, n, [o.weight for o in mix])
    area_rows: tuple[tuple[str, str, str, str], ...]
    if is_vn:
        area_rows = places.HCMC_DISTRICTS if utility.code == "evn-hcmc" else places.SPC_PROVINCES
    else:
        area_rows = tuple((c[0], "", c[4], c[5]) for c in places.SCE_CITIES)
    area_of = _pick(rng, area_rows, n)
    opened = rng.integers(30, 15 * 365, size=n)
    gender = rng.integers(0, 2, size=n)
    family_of = _pick(rng, places.VN_FAMILY, n, [w for _, w in places.VN_FAMILY])
    spanish = rng.random(n) < 0.38
    ids = {
        table: reserve_ids(table=f"accounts_{table}", count=n)
        for table in ("customer", "premise", "servicepoint", "account", "serviceagreement")
    }
    numbers: dict[int, str] = {}
    for area_index in sorted(set(area_of.tolist())):
        members = np.flatnonzero(area_of == area_index)
        code = area_rows[area_index][1] or utility.default_area_code
        allocated = allocate_account_numbers(utility_id=utility.id, area=code, count=len(members))
        numbers.update(zip(members.tolist(), allocated, strict=True))
    customers, phones, premises, points, account_rows, agreements = [], [], [], [], [], []
    enrol_rows: list[tuple[Any, ...]] = []
    legacy_rows: list[tuple[Any, ...]] = []
    for i in range(n):
        offer = mix[int(offer_of[i])]
        global_index = index0 + i
        opened_on = as_of - timedelta(days=int(opened[i]))
        customer_id = ids["customer"][i]
        if is_vn:
            name, language, national_id, tax_code = _vn_person_or_company(
                rng, offer.organisation, int(gender[i]), int(family_of[i]), global_index
            )
        else:
            assert names is not None
            name, language = _us_person(rng, names, bool(spanish[i]))
            national_id = tax_code = ""
        phone_list = [
            _vn_phone(rng) if is_vn else _us_phone(rng, places.SCE_CITIES[int(area_of[i])][3])
        ]
        if rng.random() < 0.25:
            extra = (
                _vn_phone(rng) if is_vn else _us_phone(rng, places.SCE_CITIES[int(area_of[i])][3])
            )
            if extra != phone_list[0]:
                phone_list.append(extra)
        email = ""
        if rng.random() < (0.4 if is_vn else 0.75):
            email = f"{search_key(name).replace(' ', '.')[:30]}{global_index % 997}@example.com"
        customers.append(
            (
                customer_id,
                utility.id,
                "organisation" if offer.organisation else "person",
                name,
                search_key(name),
                national_id,
                tax_code,
                language,
                email,
                rng.random() < 0.7,
                bool(email) and rng.random() < 0.6,
                now,
            )
        )
        for k, phone in enumerate(phone_list):
            phones.append(
                (
                    customer_id,
                    phone,
                    "mobile" if is_vn else "landline" if k else "mobile",
                    k == 0,
                )
            )
        area = area_rows[int(area_of[i])]
        premise_id = ids["premise"][i]
        lat = Decimal(area[2]) + Decimal(int(rng.integers(-2000, 2000))) / Decimal(100000)
        lon = Decimal(area[3]) + Decimal(int(rng.integers(-2000, 2000))) / Decimal(100000)
        if is_vn:
            street = places.VN_STREETS[int(rng.integers(len(places.VN_STREETS)))]
            ward = f"{places.VN_WARD_PREFIX[int(rng.integers(4))]} {int(rng.integers(1, 20))}"
            house = f"{int(rng.integers(1, 400))}" + (
                f"/{int(rng.integers(1, 60))}" if rng.random() < 0.4 else ""
            )
            province = "Thành phố Hồ Chí Minh" if utility.code == "evn-hcmc" else area[0]
            district = area[0] if utility.code == "evn-hcmc" else ""
            premises.append(
                (
                    premise_id,
                    utility.id,
                    f"{house} {street}",
                    ward,
                    district,
                    province,
                    "",
                    area[1],
                    lat,
                    lon,
                    "",
                    False,
                )
            )
        else:
            assert names is not None
            city = places.SCE_CITIES[int(area_of[i])]
            street = names.streets[int(rng.integers(len(names.streets)))]
            suffix = places.US_STREET_SUFFIXES[int(rng.integers(len(places.US_STREET_SUFFIXES)))]
            premises.append(
                (
                    premise_id,
                    utility.id,
                    f"{int(rng.integers(100, 20000))} {street} {suffix}",
                    "",
                    city[0],
                    "CA",
                    city[1],
                    "",
                    lat,
                    lon,
                    city[2],
                    bool(rng.random() < 0.12),
                )
            )
        point_id = ids["servicepoint"][i]
        points.append(
            (
                point_id,
                utility.id,
                premise_id,
                f"SP{point_id:010d}",
                offer.voltage_class,
                offer.nominal_v,
                offer.phases,
                f"F{int(rng.integers(100, 999))}",
                f"T{area[1] or 'US'}-{int(rng.integers(1, 5000)):04d}",
            )
        )
        account_id = ids["account"][i]
        account_rows.append((account_id, utility.id, customer_id, numbers[i], "active", opened_on))
        households, renters, short_lease, capacity = _agreement_terms(rng, offer, is_vn)
        agreement_id = ids["serviceagreement"][i]
        agreements.append(
            (
                agreement_id,
                account_id,
                point_id,
                tariff_ids[offer.tariff],
                offer.purpose,
                households,
                renters,
                short_lease,
                capacity,
                f"[{opened_on.isoformat()},)",
                "active",
            )
        )
        enrol_rows.extend(_enrolments(rng, agreement_id, opened_on, is_vn))
        if not is_vn or rng.random() < 0.3:
            legacy_rows.append(
                (
                    utility.id,
                    account_id,
                    _legacy_number(utility.code, global_index),
                    "CMIS2" if is_vn else "CSS",
                )
            )
    copy_rows(
        table="accounts_customer",
        columns=(
            "id",
            "utility_id",
            "kind",
            "name",
            "search_name",
            "national_id",
            "tax_code",
            "preferred_language",
            "email",
            "consent_sms",
            "consent_email",
            "created_at",
        ),
        rows=customers,
    )
    copy_rows(
        table="accounts_customerphone",
        columns=("customer_id", "number", "kind", "is_primary"),
        rows=phones,
    )
    copy_rows(
        table="accounts_premise",
        columns=(
            "id",
            "utility_id",
            "address_line",
            "ward",
            "district",
            "province",
            "postal_code",
            "administrative_area_code",
            "latitude",
            "longitude",
            "baseline_region",
            "all_electric",
        ),
        rows=premises,
    )
    copy_rows(
        table="accounts_servicepoint",
        columns=(
            "id",
            "utility_id",
            "premise_id",
            "code",
            "voltage_class",
            "nominal_voltage_v",
            "phases",
            "feeder_code",
            "transformer_code",
        ),
        rows=points,
    )
    copy_rows(
        table="accounts_account",
        columns=("id", "utility_id", "customer_id", "number", "status", "opened_on"),
        rows=account_rows,
    )
    copy_rows(
        table="accounts_serviceagreement",
        columns=(
            "id",
            "account_id",
            "service_point_id",
            "tariff_id",
            "purpose_of_use",
            "households",
            "renter_occupants",
            "short_lease_undeclared",
            "contracted_capacity_kw",
            "valid_period",
            "status",
        ),
        rows=agreements,
    )
    copy_rows(
        table="accounts_programenrolment",
        columns=("agreement_id", "program", "valid_period", "details"),
        rows=enrol_rows,
    )
    copy_rows(
        table="accounts_legacyaccountnumber",
        columns=("utility_id", "account_id", "number", "source_system"),
        rows=legacy_rows,
    )
    return len(enrol_rows), len(legacy_rows)


def _vn_person_or_company(
    rng: np.random.Generator, organisation: bool, gender: int, family_index: int, index: int
) -> tuple[str, str, str, str]:
    language = "en" if rng.random() < 0.02 else "vi"
    if organisation:
        kind = places.VN_BUSINESS_KINDS[int(rng.integers(len(places.VN_BUSINESS_KINDS)))]
        trade = places.VN_BUSINESS_TRADES[int(rng.integers(len(places.VN_BUSINESS_TRADES)))]
        word = places.VN_BUSINESS_WORDS[int(rng.integers(len(places.VN_BUSINESS_WORDS)))]
        tax_code = f"03{index % 100_000_000:08d}"
        return f"{kind} {trade} {word}", language, "", tax_code
    family = places.VN_FAMILY[family_index][0]
    middles = places.VN_MIDDLE_FEMALE if gender else places.VN_MIDDLE_MALE
    givens = places.VN_GIVEN_FEMALE if gender else places.VN_GIVEN_MALE
    middle = middles[int(rng.integers(len(middles)))]
    name = f"{family} {middle} {givens[int(rng.integers(len(givens)))]}"
    # Citizen ID (CCCD): province 079, gender/century digit, birth year, serial — unique by index.
    national_id = f"079{2 + gender}{(index // 1_000_000) % 100:02d}{index % 1_000_000:06d}"
    return name, language, national_id, ""


def _us_person(rng: np.random.Generator, names: _Names, spanish: bool) -> tuple[str, str]:
    if spanish:
        first = names.spanish_first[int(rng.integers(len(names.spanish_first)))]
        last = names.spanish_last[int(rng.integers(len(names.spanish_last)))]
        return f"{first} {last}", "es" if rng.random() < 0.5 else "en"
    first = names.english_first[int(rng.integers(len(names.english_first)))]
    last = names.english_last[int(rng.integers(len(names.english_last)))]
    return f"{first} {last}", "en"


def _agreement_terms(
    rng: np.random.Generator, offer: _Offer, is_vn: bool
) -> tuple[Decimal, int | None, bool, Decimal | None]:
    if not is_vn or offer.purpose != "residential":
        capacity = None if offer.purpose == "residential" else Decimal(int(rng.integers(10, 400)))
        return Decimal(1), None, False, capacity
    roll = rng.random()
    if roll < 0.90:
        return Decimal(1), None, False, None
    if roll < 0.96:
        return Decimal(2), None, False, None
    if roll < 0.975:
        return Decimal(3), None, False, None
    if roll < 0.995:
        return Decimal(1), int(rng.integers(1, 9)), False, None
    return Decimal(1), None, True, None


def _enrolments(
    rng: np.random.Generator, agreement_id: int, opened_on: date, is_vn: bool
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []

    def add(program: str, details: dict[str, str]) -> None:
        rows.append((agreement_id, program, f"[{opened_on.isoformat()},)", json.dumps(details)))

    if is_vn:
        if rng.random() < 0.003:
            add("life_support", {"certified_by": "demo"})
        return rows
    roll = rng.random()
    if roll < 0.22:
        add("care", {})
    elif roll < 0.25:
        add("fera", {})
    if rng.random() < 0.03:
        add("medical_baseline", {"allowance_units": "1"})
    if rng.random() < 0.06:
        amps = int(rng.integers(15, 40))
        tons = (Decimal(amps * 240) / Decimal(1400) + Decimal("0.09")).quantize(Decimal("0.01"))
        add("sdp", {"ac_amps": str(amps), "ac_volts": "240", "ac_tons": str(tons)})
    if rng.random() < 0.005:
        add("life_support", {"certified_by": "demo"})
    return rows


def _legacy_number(utility_code: str, index: int) -> str:
    """Numbers of the previous system: EVN's CMIS 2 codes, SCE's 10-digit CSS accounts."""
    if utility_code == "evn-hcmc":
        return f"HCM{index:09d}"
    if utility_code == "evn-spc":
        return f"SPC{index:09d}"
    return f"2{(index * 7919) % 10**9:09d}"  # 7919 is prime to 10**9: unique per index


def demo_account_count(*, utility_code: str) -> int:
    return Account.objects.filter(utility__code=utility_code).count()
