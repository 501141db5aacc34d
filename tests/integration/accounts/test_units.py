"""Organisation units: levels per utility, the tree kept sound by the database and by the
operations that write it."""

import pytest
from django.db import IntegrityError, transaction

from ampere.accounts import models
from ampere.accounts.operations import (
    UnitExists,
    UnitLevelNotFound,
    create_unit,
    ensure_utility,
    move_unit,
)
from ampere.accounts.queries import (
    UnitCycle,
    UnitNotFound,
    UnitParentOfAnotherUtility,
    UnitParentOnWrongLevel,
    get_unit_ids_under,
    get_unit_ids_under_any,
    get_units,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def spc():
    """EVN SPC: Tổng công ty → two Công ty Điện lực → their Điện lực."""
    ensure_utility(code="evn-spc")
    ensure_utility(code="sce")
    root = create_unit(
        utility_code="evn-spc", level_code="tong-cong-ty", code="EVNSPC", name="Tổng công ty"
    )
    dong_nai = create_unit(
        utility_code="evn-spc",
        level_code="cong-ty-dien-luc",
        code="PCDN",
        name="Công ty Điện lực Đồng Nai",
        parent_id=root,
    )
    can_tho = create_unit(
        utility_code="evn-spc",
        level_code="cong-ty-dien-luc",
        code="PCCT",
        name="Công ty Điện lực Cần Thơ",
        parent_id=root,
    )
    bien_hoa = create_unit(
        utility_code="evn-spc",
        level_code="dien-luc",
        code="PCDN-BH",
        name="Điện lực Biên Hòa",
        parent_id=dong_nai,
    )
    ninh_kieu = create_unit(
        utility_code="evn-spc",
        level_code="dien-luc",
        code="PCCT-NK",
        name="Điện lực Ninh Kiều",
        parent_id=can_tho,
    )
    return {"root": root, "PCDN": dong_nai, "PCCT": can_tho, "BH": bien_hoa, "NK": ninh_kieu}


def unit_rows():
    return sorted(models.OrganisationUnit.objects.values_list("id", "code", "parent_id", "rank"))


def test_levels_come_from_the_utility_preset():
    ensure_utility(code="evn-hcmc")
    ensure_utility(code="evn-spc")
    ensure_utility(code="sce")
    levels = list(
        models.UnitLevel.objects.order_by("utility__code", "rank").values_list(
            "utility__code", "rank", "code", "serves_premises"
        )
    )
    assert levels == [
        ("evn-hcmc", 1, "tong-cong-ty", False),
        ("evn-hcmc", 2, "cong-ty-dien-luc", True),
        ("evn-spc", 1, "tong-cong-ty", False),
        ("evn-spc", 2, "cong-ty-dien-luc", False),
        ("evn-spc", 3, "dien-luc", True),
        ("sce", 1, "region", False),
        ("sce", 2, "district", True),
    ]
    ensure_utility(code="sce")  # again: nothing added
    assert models.UnitLevel.objects.count() == 7


def test_units_under_a_unit(spc, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert get_unit_ids_under(unit_id=spc["PCDN"]) == {spc["PCDN"], spc["BH"]}
    assert get_unit_ids_under(unit_id=spc["root"]) == set(spc.values())
    assert get_unit_ids_under(unit_id=spc["NK"]) == {spc["NK"]}
    assert get_unit_ids_under_any(unit_ids=[spc["BH"], spc["PCCT"]]) == {
        spc["BH"],
        spc["PCCT"],
        spc["NK"],
    }
    assert get_unit_ids_under(unit_id=-1) == frozenset()


def test_units_of_a_utility(spc):
    units = get_units(utility_code="evn-spc")
    assert [(u.code, u.level_code, u.rank, u.parent_id, u.time_zone) for u in units] == [
        ("EVNSPC", "tong-cong-ty", 1, None, "Asia/Ho_Chi_Minh"),
        ("PCCT", "cong-ty-dien-luc", 2, spc["root"], "Asia/Ho_Chi_Minh"),
        ("PCDN", "cong-ty-dien-luc", 2, spc["root"], "Asia/Ho_Chi_Minh"),
        ("PCCT-NK", "dien-luc", 3, spc["PCCT"], "Asia/Ho_Chi_Minh"),
        ("PCDN-BH", "dien-luc", 3, spc["PCDN"], "Asia/Ho_Chi_Minh"),
    ]


def test_a_unit_moves_under_another_parent(spc):
    move_unit(unit_id=spc["BH"], parent_id=spc["PCCT"])
    assert get_unit_ids_under(unit_id=spc["PCCT"]) == {spc["PCCT"], spc["NK"], spc["BH"]}
    assert get_unit_ids_under(unit_id=spc["PCDN"]) == {spc["PCDN"]}


def test_a_parent_of_another_utility_is_refused(spc):
    sce_region = create_unit(
        utility_code="sce", level_code="region", code="METRO-EAST", name="Metro East"
    )
    before = unit_rows()
    with pytest.raises(UnitParentOfAnotherUtility) as error:
        create_unit(
            utility_code="sce",
            level_code="district",
            code="X",
            name="Stray district",
            parent_id=spc["PCDN"],
        )
    assert error.value.message == "the parent unit PCDN belongs to another utility"
    assert error.value.field == "parent"
    with pytest.raises(UnitParentOfAnotherUtility) as error:
        move_unit(unit_id=spc["BH"], parent_id=sce_region)
    assert error.value.message == "the parent unit METRO-EAST belongs to another utility"
    assert unit_rows() == before


def test_a_cycle_is_refused(spc):
    before = unit_rows()
    with pytest.raises(UnitCycle) as error:
        move_unit(unit_id=spc["PCDN"], parent_id=spc["BH"])
    assert error.value.message == (
        "unit PCDN-BH is the unit itself or below it: the tree would have a cycle"
    )
    with pytest.raises(UnitCycle) as error:
        move_unit(unit_id=spc["PCDN"], parent_id=spc["PCDN"])
    assert error.value.message == (
        "unit PCDN is the unit itself or below it: the tree would have a cycle"
    )
    assert unit_rows() == before


def test_a_parent_on_the_wrong_level_is_refused(spc):
    before = unit_rows()
    with pytest.raises(UnitParentOnWrongLevel) as error:
        create_unit(
            utility_code="evn-spc",
            level_code="dien-luc",
            code="PC-X",
            name="Điện lực X",
            parent_id=spc["root"],
        )
    assert error.value.message == (
        "the parent unit EVNSPC is not on the level just above the unit's"
    )
    with pytest.raises(UnitParentOnWrongLevel) as error:
        create_unit(utility_code="evn-spc", level_code="dien-luc", code="PC-Y", name="Điện lực Y")
    assert error.value.message == "a unit below the top level needs a parent unit"
    with pytest.raises(UnitParentOnWrongLevel):
        create_unit(
            utility_code="evn-spc",
            level_code="tong-cong-ty",
            code="PC-Z",
            name="Z",
            parent_id=spc["root"],
        )
    assert unit_rows() == before


def test_unknown_level_parent_and_duplicate_code(spc):
    before = unit_rows()
    with pytest.raises(UnitLevelNotFound) as error:
        create_unit(utility_code="evn-spc", level_code="region", code="R", name="R")
    assert error.value.message == "utility evn-spc has no organisation level region"
    with pytest.raises(UnitNotFound) as not_found:
        create_unit(
            utility_code="evn-spc",
            level_code="dien-luc",
            code="PC-Q",
            name="Q",
            parent_id=-5,
        )
    assert not_found.value.message == "no organisation unit with id -5"
    with pytest.raises(UnitExists) as exists:
        create_unit(
            utility_code="evn-spc",
            level_code="dien-luc",
            code="PCDN-BH",
            name="again",
            parent_id=spc["PCDN"],
        )
    assert exists.value.message == "utility evn-spc has a unit PCDN-BH already"
    assert unit_rows() == before


def test_the_database_refuses_a_parent_of_another_utility_or_level(spc):
    """The composite foreign keys hold without the operations (an admin script, raw SQL)."""
    sce = models.Utility.objects.get(code="sce")
    district = models.UnitLevel.objects.get(utility=sce, code="district")
    before = unit_rows()
    with pytest.raises(IntegrityError, match="unit_parent_of_utility"), transaction.atomic():
        models.OrganisationUnit.objects.create(
            utility=sce, level=district, rank=2, parent_id=spc["root"], code="D", name="D"
        )
    spc_level = models.UnitLevel.objects.get(utility__code="evn-spc", code="tong-cong-ty")
    with pytest.raises(IntegrityError, match="unit_level_of_utility"), transaction.atomic():
        models.OrganisationUnit.objects.create(
            utility=sce, level=spc_level, rank=1, parent_id=None, code="E", name="E"
        )
    with pytest.raises(IntegrityError, match="unit_parent_of_utility"), transaction.atomic():
        models.OrganisationUnit.objects.filter(id=spc["PCDN"]).update(parent_id=spc["BH"])
    assert unit_rows() == before
