from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.metering import interval_imports
from ampere.metering.models import IntervalDay, QuarantinedInterval
from tests.factories.metering import sce_smart_meter
from tests.integration.metering.test_interval_imports import GREEN_BUTTON

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2025, 6, 3, 8, tzinfo=UTC)
HEADER = "meter,channel,interval_start,interval_minutes,value"


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("clerk", "clerk@example.com", "s3cret-pass")
    client.force_login(user)
    return client


@pytest.fixture
def point():
    return sce_smart_meter()


def import_day(day: int, *, bad_rows: int = 2):
    lines = [HEADER, f"AMI-1,kwh,2025-06-{day:02d}T00:00:00-07:00,15,0.5"]
    lines += [f"AMI-{9 + n},kwh,2025-06-{day:02d}T00:15:00-07:00,15,0.5" for n in range(bad_rows)]
    return interval_imports.import_interval_file(
        utility_code="sce",
        data=("\n".join(lines) + "\n").encode(),
        file_format="headend",
        file_name=f"day-{day}.csv",
        now=NOW,
    )


def changelist_queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_import_and_quarantine_lists_take_as_many_queries_for_many_rows(staff, point):
    import_day(1)
    few_imports, _ = changelist_queries(staff, "/admin/metering/intervalimport/")
    few_rows, _ = changelist_queries(staff, "/admin/metering/quarantinedinterval/")
    for day in range(2, 12):
        import_day(day, bad_rows=3)
    many_imports, page = changelist_queries(staff, "/admin/metering/intervalimport/")
    many_rows, rows_page = changelist_queries(staff, "/admin/metering/quarantinedinterval/")
    assert (few_imports, few_rows) == (many_imports, many_rows)
    assert "day-11.csv" in page
    assert "32 quarantined intervals" in rows_page


def test_quarantine_list_filters_by_status_reason_meter_and_import(staff, point):
    first = import_day(1)
    import_day(2, bad_rows=1)
    base = "/admin/metering/quarantinedinterval/"
    for query, count in [
        ("?status__exact=open", "3 quarantined intervals"),
        ("?reason__exact=unknown-meter", "3 quarantined intervals"),
        ("?reason__exact=duplicate-row", "0 quarantined intervals"),
        ("?meter=AMI-10", "\n1 quarantined interval\n"),
        (f"?interval_import__id__exact={first.import_id}", "2 quarantined intervals"),
        ("?q=AMI-9", "2 quarantined intervals"),
    ]:
        _, page = changelist_queries(staff, base + query)
        assert count in page, query


def test_import_list_links_to_its_quarantined_rows(staff, point):
    result = import_day(1)
    _, page = changelist_queries(staff, "/admin/metering/intervalimport/?status__exact=quarantined")
    assert (
        f'<a href="/admin/metering/quarantinedinterval/?interval_import__id__exact='
        f'{result.import_id}">2</a>'
    ) in page
    assert (
        staff.get(f"/admin/metering/intervalimport/{result.import_id}/change/").status_code == 200
    )


def test_a_clerk_corrects_a_row_in_the_back_office(staff, point):
    import_day(1, bad_rows=1)
    row = QuarantinedInterval.objects.get()
    url = f"/admin/metering/quarantinedinterval/{row.id}/change/"
    page = staff.get(url).content.decode()
    assert "AMI-9,kwh,2025-06-01T00:15:00-07:00,15,0.5</textarea>" in page
    refused = staff.post(url, {"corrected_raw": "AMI-8,kwh,2025-06-01T00:15:00-07:00,15,0.5"})
    assert (refused.status_code, refused["Location"]) == (302, url)
    row.refresh_from_db()
    assert row.status == "open"
    response = staff.post(
        url,
        {
            "corrected_raw": "AMI-1,kwh,2025-06-01T00:15:00-07:00,15,0.25",
            "resolution_note": "serial typo",
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.resolved_by, row.corrected_raw, row.resolution_note) == (
        "resolved",
        "staff:clerk",
        "AMI-1,kwh,2025-06-01T00:15:00-07:00,15,0.25",
        "serial typo",
    )
    assert IntervalDay.objects.get().values[:2] == [500, 250]
    resolved_page = staff.get(url).content.decode()
    assert "<textarea" not in resolved_page


def test_a_clerk_marks_rows_resolved(staff, point):
    import_day(1)
    ids = list(QuarantinedInterval.objects.order_by("id").values_list("id", flat=True))
    response = staff.post(
        "/admin/metering/quarantinedinterval/",
        {"action": "mark_resolved", "_selected_action": [str(i) for i in ids]},
    )
    assert response.status_code == 302
    assert (
        list(QuarantinedInterval.objects.order_by("id").values_list("status", "resolved_by"))
        == [("resolved", "staff:clerk")] * 2
    )


def test_a_green_button_row_cannot_be_corrected_in_the_back_office(staff, point):
    interval_imports.import_interval_file(
        utility_code="sce", data=GREEN_BUTTON.encode(), file_format="greenbutton", now=NOW
    )
    row = QuarantinedInterval.objects.order_by("row_number").first()
    assert row is not None
    url = f"/admin/metering/quarantinedinterval/{row.id}/change/"
    page = staff.get(url).content.decode()
    assert "<textarea" not in page
    response = staff.post(url, {"corrected_raw": "AMI-1,kwh,2025-06-02T00:15:00-07:00,15,1"})
    assert (response.status_code, response["Location"]) == (302, url)
    row.refresh_from_db()
    assert (row.status, row.corrected_raw) == ("open", "")
    assert IntervalDay.objects.get().values[:3] == [500, 0, 250]
