import pytest

from ampere.billing.states import IllegalTransition, check_transition


@pytest.mark.parametrize(("current", "target"), [("held", "issued"), ("held", "cancelled")])
def test_held_bills_are_issued_or_cancelled(current, target):
    check_transition(current=current, target=target)


def test_an_issued_bill_is_cancelled_only_by_a_reversing_bill():
    with pytest.raises(IllegalTransition) as error:
        check_transition(current="issued", target="cancelled")
    assert error.value.field == "status"
    assert "reversing bill" in error.value.message
    check_transition(current="issued", target="cancelled", reversed_by_issued_bill=True)


@pytest.mark.parametrize(
    ("current", "target"),
    [("issued", "held"), ("cancelled", "issued"), ("cancelled", "held"), ("issued", "issued")],
)
def test_other_moves_are_refused(current, target):
    with pytest.raises(IllegalTransition) as error:
        check_transition(current=current, target=target, reversed_by_issued_bill=True)
    assert error.value.message == f"a bill {current} cannot become {target}"
