"""The back office of bill runs: start one from a page, see its partitions and counts, the
agreements it could not bill, and work the held bills."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.accounts.models import LedgerEntry
from ampere.billing.models import Bill, BillingCycle, BillRun, BillRunException
from ampere.metering.models import RegisterRead
from tests.factories.billrun import AS_OF, customer, scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("clerk", "clerk@example.com", "s3cret-pass")
    client.force_login(user)
    return client


def test_a_clerk_starts_a_run_and_follows_it(staff):
    the_scene = scene()
    customer(the_scene, kwh=300, previous_kwh=100)
    missing = customer(the_scene, kwh=None)
    RegisterRead.objects.filter(installation__service_point=missing.service_point).delete()
    form = staff.get("/admin/billing/billrun/start/")
    assert form.status_code == 200
    assert "Start the bill run" in form.content.decode()
    cycle = BillingCycle.objects.get()
    response = staff.post(
        "/admin/billing/billrun/start/",
        {"cycle": cycle.id, "as_of": AS_OF.isoformat(), "partition_size": 10},
    )
    run = BillRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/billrun/{run.id}/change/"
    page = staff.get(response["Location"]).content.decode()
    assert "1 partitions billed" in page
    assert re.search(r'<td class="field-status">\s*(<p>)?\s*Done', page)
    listing = staff.get("/admin/billing/billrun/").content.decode()
    assert f">{run.id}<" in listing
    exceptions = staff.get(f"/admin/billing/billrunexception/?run__id__exact={run.id}")
    assert "reads-missing" in exceptions.content.decode()
    assert BillRunException.objects.get().agreement_id == missing.id


def test_a_bad_start_says_why_and_starts_nothing(staff):
    scene(schedule=False)
    cycle = BillingCycle.objects.get()
    response = staff.post(
        "/admin/billing/billrun/start/",
        {"cycle": cycle.id, "as_of": AS_OF.isoformat(), "partition_size": 10},
    )
    assert response.status_code == 200
    assert "billing cycle &#x27;C24&#x27; has no schedule for 2026-08" in response.content.decode()
    assert BillRun.objects.count() == 0


def test_held_bills_are_released_from_the_list(staff):
    the_scene = scene()
    agreement = customer(the_scene, kwh=0)
    staff.post(
        "/admin/billing/billrun/start/",
        {"cycle": BillingCycle.objects.get().id, "as_of": AS_OF.isoformat(), "partition_size": 5},
    )
    bill = Bill.objects.get(agreement=agreement)
    assert bill.status == "held"
    with CaptureQueriesContext(connection) as few:
        assert staff.get("/admin/billing/bill/?status__exact=held").status_code == 200
    staff.post(
        "/admin/billing/bill/",
        {"action": "cancel_held", "_selected_action": [bill.id]},
    )
    bill.refresh_from_db()
    assert bill.status == "cancelled"
    assert LedgerEntry.objects.count() == 0
    assert Decimal(bill.total) == 0
    assert len(few) < 20
