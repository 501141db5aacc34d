from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ampere.core.errors import Conflict
from ampere.core.periods import DatePeriod
from ampere.metering import operations, queries
from ampere.metering.models import (
    ConsumptionRevision,
    QuarantinedRead,
    ReadBatch,
    RegisterRead,
)
from ampere.metering.parsing import BadFile, RawRow
from ampere.metering.types import ConsumptionRequest
from tests.factories.metering import NOW, metered_point

pytestmark = pytest.mark.django_db
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def row(n, value, at, *, meter="M-0001", register="kwh", **extra):
    return RawRow(n, {"meter": meter, "register": register, "read_at": at, "value": value, **extra})


def send(rows, batch="B1", **kwargs):
    return operations.import_read_batch(
        utility_code="evn-hcmc",
        rows=rows,
        external_id=batch,
        channel="cli",
        submitted_by="clerk",
        default_source="handheld",
        now=NOW,
        **kwargs,
    )


def consumption(point_id, start, end):
    return [
        (r.register, r.quantity, r.source)
        for r in queries.consumption_for_billing(
            requests=[ConsumptionRequest(point_id, DatePeriod(start, end))]
        )
        if r.basis == "register"
    ]


@pytest.fixture
def point():
    return metered_point(
        installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM), initial={"kwh": Decimal(1000)}
    ).service_point_id


def test_batch_stores_good_rows_and_quarantines_bad_ones(point):
    result = send(
        [
            row(1, "1200", "2025-02-01T10:00:00+07:00"),
            row(2, "1100", "2025-03-01T10:00:00+07:00"),  # below 1200: negative
            row(3, "50", "2025-03-01T10:00:00+07:00", meter="NOPE"),
            row(4, "1300", "2025-03-01T10:00:00"),  # no zone
            row(5, "abc", "2025-03-01T10:00:00+07:00"),
            row(6, "1200", "2025-02-01T10:00:00+07:00"),  # duplicate of row 1
        ]
    )
    statuses = [(r["row"], r["status"], [p["code"] for p in r["problems"]]) for r in result.rows]
    assert statuses == [
        (1, "accepted", []),
        (2, "quarantined", ["negative-consumption"]),
        (3, "quarantined", ["unknown-meter"]),
        (4, "quarantined", ["timestamp-without-zone"]),
        (5, "quarantined", ["bad-number"]),
        (6, "quarantined", ["duplicate-row"]),
    ]
    assert (result.accepted, result.duplicates, result.quarantined) == (1, 0, 5)
    quarantined = list(
        QuarantinedRead.objects.order_by("row_number").values_list("row_number", "raw", "reasons")
    )
    assert quarantined[0] == (
        2,
        {
            "meter": "M-0001",
            "register": "kwh",
            "read_at": "2025-03-01T10:00:00+07:00",
            "value": "1100",
        },
        ["negative-consumption"],
    )
    assert [q[0] for q in quarantined] == [2, 3, 4, 5, 6]
    assert consumption(point, date(2025, 1, 1), date(2025, 2, 1)) == [
        ("kwh", Decimal(200), "actual")
    ]


def test_the_same_batch_again_changes_nothing_and_answers_the_same(point):
    rows = [row(1, "1200", "2025-02-01T10:00:00+07:00"), row(2, "x", "2025-02-01T10:00:00+07:00")]
    first = send(rows)
    counts = (
        RegisterRead.objects.count(),
        QuarantinedRead.objects.count(),
        ReadBatch.objects.count(),
    )
    again = send(rows)
    assert again.as_dict() == first.as_dict()
    assert again.replayed and not first.replayed
    assert (
        RegisterRead.objects.count(),
        QuarantinedRead.objects.count(),
        ReadBatch.objects.count(),
    ) == counts
    with pytest.raises(Conflict):
        send([row(1, "1250", "2025-02-01T10:00:00+07:00")])
    assert RegisterRead.objects.count() == counts[0]


def test_a_read_stored_before_in_another_batch_is_a_duplicate(point):
    first = send([row(1, "1200", "2025-02-01T10:00:00+07:00")], batch="B1")
    second = send([row(1, "1200", "2025-02-01T10:00:00+07:00")], batch="B2")
    third = send([row(1, "1300", "2025-02-01T10:00:00+07:00")], batch="B3")
    assert [(r["status"], r["read_id"]) for r in second.rows] == [
        ("duplicate", first.rows[0]["read_id"])
    ]
    assert third.rows[0]["problems"][0]["code"] == "conflicts-with-stored-read"
    assert RegisterRead.objects.filter(source="handheld").count() == 1


def test_high_read_waits_for_a_clerk_who_accepts_it(point):
    send([row(1, "1100", "2025-02-01T10:00:00+07:00"), row(2, "1200", "2025-03-01T10:00:00+07:00")])
    # 100 kWh in the 28 days of February; 145 in the 31 of March ≥ 1.3 × 100 × 31 / 28
    result = send([row(1, "1345", "2025-04-01T10:00:00+07:00")], batch="B2")
    assert result.rows[0]["problems"] == [
        {
            "code": "high-consumption",
            "message": "145 is at least 1.30 × the previous period's 110.7",
            "field": "value",
        }
    ]
    quarantined = QuarantinedRead.objects.get()
    assert quarantined.can_accept
    read_id = operations.accept_quarantined_read(quarantine_id=quarantined.id, by="clerk", now=NOW)
    read = RegisterRead.objects.get(id=read_id)
    assert (read.value, read.flags) == (
        Decimal(1345),
        ["accepted-high-consumption", "accepted-by-clerk"],
    )
    quarantined.refresh_from_db()
    assert (quarantined.status, quarantined.resolved_read_id) == ("accepted", read_id)
    assert consumption(point, date(2025, 3, 1), date(2025, 4, 1)) == [
        ("kwh", Decimal(145), "actual")
    ]


def test_a_negative_read_cannot_be_accepted_but_can_be_corrected(point):
    send([row(1, "1200", "2025-02-01T10:00:00+07:00"), row(2, "1020", "2025-03-01T10:00:00+07:00")])
    quarantined = QuarantinedRead.objects.get()
    with pytest.raises(operations.QuarantineRefused):
        operations.accept_quarantined_read(quarantine_id=quarantined.id, by="clerk", now=NOW)
    assert RegisterRead.objects.filter(value=Decimal(1020)).count() == 0
    read_id = operations.correct_quarantined_read(
        quarantine_id=quarantined.id, by="clerk", value=Decimal(1320), now=NOW
    )
    assert RegisterRead.objects.get(id=read_id).value == Decimal(1320)
    quarantined.refresh_from_db()
    assert quarantined.status == "corrected"


def test_dismissing_needs_a_note(point):
    send([row(1, "x", "2025-02-01T10:00:00+07:00")])
    quarantined = QuarantinedRead.objects.get()
    with pytest.raises(Exception, match="say why"):
        operations.dismiss_quarantined_read(quarantine_id=quarantined.id, by="c", note=" ", now=NOW)
    operations.dismiss_quarantined_read(quarantine_id=quarantined.id, by="c", note="test", now=NOW)
    quarantined.refresh_from_db()
    assert (quarantined.status, quarantined.resolution_note) == ("dismissed", "test")


def test_rollover_consumption_in_the_billing_query():
    agreement = metered_point(
        installed_at=datetime(2025, 1, 1, 9, tzinfo=HCM), initial={"kwh": Decimal(99900)}
    )
    result = send([row(1, "150", "2025-02-01T10:00:00+07:00")])
    assert result.rows[0]["flags"] == ["rollover"]
    assert consumption(agreement.service_point_id, date(2025, 1, 1), date(2025, 2, 1)) == [
        ("kwh", Decimal(250), "actual")
    ]


def test_zero_on_a_live_agreement_is_held(point):
    result = send([row(1, "1000", "2025-02-01T10:00:00+07:00")])
    assert result.rows[0]["problems"][0]["code"] == "zero-consumption"


def test_file_with_wrong_columns_stores_nothing(point):
    with pytest.raises(BadFile):
        operations.import_reads_file(
            utility_code="evn-hcmc",
            data=b"meter,value\nM-0001,10\n",
            file_format="csv",
            submitted_by="clerk",
            channel="cli",
            default_source="handheld",
            external_id=None,
            now=NOW,
        )
    assert ReadBatch.objects.count() == 0


def test_estimate_then_the_actual_read_replaces_it_and_marks_a_revision(point):
    send(
        [
            row(1, "1310", "2025-02-01T10:00:00+07:00"),
            row(2, "1590", "2025-03-01T10:00:00+07:00"),
            row(3, "1900", "2025-04-01T10:00:00+07:00"),
        ]
    )
    # 1000 → 1900 over 90 days: 10 kWh/day; 30 days to 1 May
    result = operations.estimate_missing_reads(requests=[(point, date(2025, 5, 1))], now=NOW)
    assert (result.estimated, result.already_read, result.not_estimable) == (1, 0, ())
    assert consumption(point, date(2025, 4, 1), date(2025, 5, 1)) == [
        ("kwh", Decimal(300), "estimated")
    ]
    again = operations.estimate_missing_reads(requests=[(point, date(2025, 5, 1))], now=NOW)
    assert (again.estimated, again.already_read) == (0, 1)
    estimate = RegisterRead.objects.get(source="estimated")
    actual = send([row(1, "2150", "2025-05-01T16:00:00+07:00")], batch="late")
    assert actual.rows[0]["status"] == "accepted"
    estimate.refresh_from_db()
    assert (estimate.status, estimate.replaced_by_id) == ("replaced", actual.rows[0]["read_id"])
    assert consumption(point, date(2025, 4, 1), date(2025, 5, 1)) == [
        ("kwh", Decimal(250), "actual")
    ]
    revision = ConsumptionRevision.objects.get()
    assert (
        revision.service_point_id,
        revision.revised_period.lower,
        revision.revised_period.upper,
        revision.reason,
        revision.old_value,
        revision.new_value,
    ) == (point, date(2025, 4, 1), None, "estimate-replaced", Decimal(2200), Decimal(2150))
    (listed,) = queries.get_consumption_revisions(since=datetime(2025, 1, 1, tzinfo=HCM))
    assert listed.revised_period == DatePeriod(date(2025, 4, 1), None)


def test_an_actual_read_after_two_estimates_re_estimates_the_earlier_one(point):
    send([row(1, "1300", "2025-02-01T10:00:00+07:00")])
    operations.estimate_missing_reads(requests=[(point, date(2025, 3, 1))], now=NOW)
    operations.estimate_missing_reads(requests=[(point, date(2025, 4, 1))], now=NOW)
    assert sorted(
        RegisterRead.objects.filter(source="estimated").values_list("read_date", "value")
    ) == [(date(2025, 3, 1), Decimal(1571)), (date(2025, 4, 1), Decimal(1871))]
    send([row(1, "1900", "2025-04-01T15:00:00+07:00")], batch="B2")
    # 1300 on 1 Feb → 1900 on 1 Apr (59 days): 1 Mar is 28 days in → 1300 + 600 × 28 / 59 = 1585
    assert consumption(point, date(2025, 2, 1), date(2025, 3, 1)) == [
        ("kwh", Decimal(285), "estimated")
    ]
    assert consumption(point, date(2025, 3, 1), date(2025, 4, 1)) == [
        ("kwh", Decimal(315), "estimated")
    ]
    periods = sorted(
        (r.reason, r.revised_period.lower, r.revised_period.upper)
        for r in ConsumptionRevision.objects.all()
    )
    assert periods == [
        ("estimate-reestimated", date(2025, 2, 1), date(2025, 4, 1)),
        ("estimate-replaced", date(2025, 3, 1), None),
    ]


def test_missing_reads_are_reported_as_missing(point):
    assert consumption(point, date(2025, 1, 1), date(2025, 2, 1)) == [("kwh", None, "missing")]
