from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.accounts.demo import create_demo_data
from ampere.accounts.ledger import post_entry
from ampere.accounts.models import Account, LegacyAccountNumber
from ampere.core.money import Money

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("clerk", "clerk@example.com", "s3cret-pass")
    client.force_login(user)
    return client


def demo(accounts: int) -> None:
    create_demo_data(
        utility_code="sce",
        accounts=accounts,
        seed=2,
        as_of=date(2026, 11, 1),
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )


def changelist_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_account_list_query_count_does_not_grow_with_rows(staff):
    demo(10)
    few = changelist_queries(staff, "/admin/accounts/account/")
    demo(90)
    many = changelist_queries(staff, "/admin/accounts/account/")
    assert few == many


def test_search_by_legacy_number_finds_the_account(staff):
    demo(20)
    legacy = LegacyAccountNumber.objects.select_related("account").order_by("id")[0]
    response = staff.get("/admin/accounts/account/", {"q": legacy.number})
    assert response.status_code == 200
    assert legacy.account.number in response.content.decode()
    assert "1 result" in response.content.decode()


def test_account_page_shows_read_only_ledger_and_balance(staff):
    demo(1)
    account = Account.objects.get()
    post_entry(
        account_id=account.id,
        kind="fee",
        amount=Money.of("12.34", "USD"),
        value_date=date(2026, 11, 1),
        source_type="test",
        source_id="T1",
        created_by="test",
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    page = staff.get(f"/admin/accounts/account/{account.id}/change/").content.decode()
    assert "Ledger (read only; corrections are new entries)" in page
    assert "12.34 USD" in page


def test_ledger_admin_cannot_add(staff):
    assert staff.get("/admin/accounts/ledgerentry/add/").status_code == 403


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
