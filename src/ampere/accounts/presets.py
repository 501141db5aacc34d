"""The utilities Ampere knows out of the box (data, loaded by `ampere demo` and `ampere up`)."""

from __future__ import annotations

from dataclasses import dataclass

from ampere.accounts.numbers import NumberScheme


@dataclass(frozen=True)
class LevelPreset:
    """A level of the utility's organisation, top first; ``serves_premises`` marks the level
    whose units hold the service areas."""

    code: str
    name: str
    serves_premises: bool = False


@dataclass(frozen=True)
class UtilityPreset:
    code: str
    name: str
    short_name: str
    country_code: str
    currency: str
    time_zone: str
    languages: tuple[str, ...]
    default_language: str
    number_scheme: NumberScheme
    number_prefix: str
    default_area_code: str
    tax_code: str
    address: str
    tariff_owner: str
    holiday_rule: str
    unit_levels: tuple[LevelPreset, ...]


# EVN's companies: Tổng công ty (the corporation) → Công ty Điện lực (a power company: a province
# for EVN SPC, a group of districts for EVN HCMC) → Điện lực (a district or town branch). EVN HCMC's
# power companies serve premises directly (it has no district branches below them).
EVN_HCMC_LEVELS = (
    LevelPreset("tong-cong-ty", "Tổng công ty"),
    LevelPreset("cong-ty-dien-luc", "Công ty Điện lực", serves_premises=True),
)
EVN_SPC_LEVELS = (
    LevelPreset("tong-cong-ty", "Tổng công ty"),
    LevelPreset("cong-ty-dien-luc", "Công ty Điện lực"),
    LevelPreset("dien-luc", "Điện lực", serves_premises=True),
)
SCE_LEVELS = (
    LevelPreset("region", "Region"),
    LevelPreset("district", "District", serves_premises=True),
)


PRESETS: dict[str, UtilityPreset] = {
    p.code: p
    for p in (
        UtilityPreset(
            code="evn-hcmc",
            name="Tổng công ty Điện lực Thành phố Hồ Chí Minh",
            short_name="EVNHCMC",
            country_code="VN",
            currency="VND",
            time_zone="Asia/Ho_Chi_Minh",
            languages=("vi", "en"),
            default_language="vi",
            number_scheme=NumberScheme.EVN13,
            number_prefix="PE",
            default_area_code="0100",
            tax_code="0300951119",
            address="35 Tôn Đức Thắng, Phường Sài Gòn, Thành phố Hồ Chí Minh",
            tariff_owner="evn",
            holiday_rule="vn",
            unit_levels=EVN_HCMC_LEVELS,
        ),
        UtilityPreset(
            code="evn-spc",
            name="Tổng công ty Điện lực miền Nam",
            short_name="EVNSPC",
            country_code="VN",
            currency="VND",
            time_zone="Asia/Ho_Chi_Minh",
            languages=("vi", "en"),
            default_language="vi",
            number_scheme=NumberScheme.EVN13,
            number_prefix="PB",
            default_area_code="0100",
            tax_code="0300942001",
            address="72 Hai Bà Trưng, Phường Sài Gòn, Thành phố Hồ Chí Minh",
            tariff_owner="evn",
            holiday_rule="vn",
            unit_levels=EVN_SPC_LEVELS,
        ),
        UtilityPreset(
            code="sce",
            name="Southern California Edison",
            short_name="SCE",
            country_code="US",
            currency="USD",
            time_zone="America/Los_Angeles",
            languages=("en", "es"),
            default_language="en",
            number_scheme=NumberScheme.SCE12,
            number_prefix="700",
            default_area_code="",
            tax_code="",
            address="2244 Walnut Grove Ave, Rosemead, CA 91770",
            tariff_owner="sce",
            holiday_rule="sce-tou",
            unit_levels=SCE_LEVELS,
        ),
    )
}
