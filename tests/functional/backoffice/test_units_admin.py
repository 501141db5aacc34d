"""The organisation units in the back office: written through the operations, the tree rules
shown beside the field."""

import pytest

from ampere.accounts.models import OrganisationUnit, UnitLevel, Utility
from ampere.accounts.operations import create_unit, ensure_utility

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "s3cret-pass")
    client.force_login(user)
    return client


@pytest.fixture
def tree():
    ensure_utility(code="evn-spc")
    ensure_utility(code="sce")
    root = create_unit(
        utility_code="evn-spc", level_code="tong-cong-ty", code="EVNSPC", name="Tổng công ty"
    )
    region = create_unit(utility_code="sce", level_code="region", code="ORANGE", name="Orange")
    return root, region


def test_a_unit_is_added_under_its_parent(staff, tree):
    root, _ = tree
    spc = Utility.objects.get(code="evn-spc")
    level = UnitLevel.objects.get(utility=spc, code="cong-ty-dien-luc")
    response = staff.post(
        "/admin/accounts/organisationunit/add/",
        {
            "utility": spc.id,
            "level": level.id,
            "parent": root,
            "code": "PCDN",
            "name": "Công ty Điện lực Đồng Nai",
            "short_name": "PC Đồng Nai",
            "time_zone": "",
        },
    )
    assert response.status_code == 302
    unit = OrganisationUnit.objects.get(code="PCDN")
    assert (unit.parent_id, unit.rank, unit.name) == (root, 2, "Công ty Điện lực Đồng Nai")


def test_a_parent_of_another_utility_is_shown_beside_the_field(staff, tree):
    _, region = tree
    spc = Utility.objects.get(code="evn-spc")
    level = UnitLevel.objects.get(utility=spc, code="cong-ty-dien-luc")
    before = OrganisationUnit.objects.count()
    response = staff.post(
        "/admin/accounts/organisationunit/add/",
        {
            "utility": spc.id,
            "level": level.id,
            "parent": region,
            "code": "PCX",
            "name": "Công ty Điện lực X",
            "time_zone": "",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "parent": ["the parent unit ORANGE belongs to another utility"]
    }
    assert OrganisationUnit.objects.count() == before


def test_units_are_searched_by_name(staff, tree):
    response = staff.get("/admin/accounts/organisationunit/", {"q": "Orange"})
    assert response.status_code == 200
    assert "1 result" in response.content.decode()
