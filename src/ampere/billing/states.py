"""The bill's small state machine. PostgreSQL enforces the same rules with a trigger."""

from __future__ import annotations

from enum import StrEnum

from ampere.core.errors import Conflict


class BillStatus(StrEnum):
    HELD = "held"  # outsorted: waits for a clerk; not posted, not sent
    ISSUED = "issued"  # posted to the ledger and sent; never edited again
    CANCELLED = "cancelled"  # a held bill a clerk refused, or an issued bill a reversal undid


class BillKind(StrEnum):
    ORIGINAL = "original"  # the bill of a period, made by a bill run (one per agreement/period)
    REVERSAL = "reversal"  # undoes an issued bill: the same lines negated
    REBILL = "rebill"  # replaces a cancelled bill of the same period


class IllegalTransition(Conflict):
    code = "illegal-bill-transition"


INITIAL = frozenset({BillStatus.HELD, BillStatus.ISSUED})
TRANSITIONS: dict[BillStatus, frozenset[BillStatus]] = {
    BillStatus.HELD: frozenset({BillStatus.ISSUED, BillStatus.CANCELLED}),
    BillStatus.ISSUED: frozenset({BillStatus.CANCELLED}),
    BillStatus.CANCELLED: frozenset(),
}


def check_transition(*, current: str, target: str, reversed_by_issued_bill: bool = False) -> None:
    """Allow held → issued, held → cancelled, and issued → cancelled only once an issued
    reversing bill points at the bill. Raises IllegalTransition naming ``status``."""
    source, goal = BillStatus(current), BillStatus(target)
    if goal not in TRANSITIONS[source]:
        raise IllegalTransition(f"a bill {source} cannot become {goal}", field="status")
    if source is BillStatus.ISSUED and not reversed_by_issued_bill:
        raise IllegalTransition(
            "an issued bill is cancelled only by a reversing bill", field="status"
        )
