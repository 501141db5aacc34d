from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ampere.accounts.ledger import post_entry
from ampere.accounts.operations import grant_customer_access
from ampere.api.auth import issue_access_token
from ampere.core.money import Money
from tests.factories.accounts import AccountFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def household(django_user_model):
    mine, other = AccountFactory(), AccountFactory()
    user = django_user_model.objects.create_user("hanh", password="pw-Very-Long-1")
    grant_customer_access(user_id=user.id, account_number=mine.number, now=NOW)
    token = issue_access_token(user_id=user.id, name="app", days=30, now=datetime.now(UTC))
    post_entry(
        account_id=mine.id,
        kind="charge",
        amount=Money.of(798_660, "VND"),
        value_date=date(2025, 6, 1),
        due_date=date(2025, 6, 8),
        source_type="bill",
        source_id="B1",
        created_by="test",
        now=NOW,
    )
    return mine, other, {"Authorization": f"Bearer {token}"}


def test_customer_sees_own_account_with_balance_and_open_items(client, household):
    mine, _, auth = household
    response = client.get(f"/api/v1/accounts/{mine.id}", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == mine.number
    assert Decimal(body["balance"]) == Decimal(798_660)
    assert [(i["source_id"], Decimal(i["open"])) for i in body["open_items"]] == [
        ("B1", Decimal(798_660))
    ]


def test_customer_cannot_see_another_customers_account(client, household):
    _, other, auth = household
    for path in (f"/api/v1/accounts/{other.id}", f"/api/v1/accounts/{other.id}/ledger"):
        response = client.get(path, headers=auth)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"


def test_customer_list_shows_only_own_accounts(client, household):
    mine, _, auth = household
    response = client.get("/api/v1/accounts/", headers=auth)
    assert [a["number"] for a in response.json()] == [mine.number]


def test_no_credentials_and_bad_token_are_refused(client, household):
    mine, _, _ = household
    assert client.get(f"/api/v1/accounts/{mine.id}").status_code == 401
    bad = client.get(f"/api/v1/accounts/{mine.id}", headers={"Authorization": "Bearer amp_nope"})
    assert bad.status_code == 401
    assert bad.json()["detail"] == "the bearer token is unknown, expired or revoked"


def test_staff_search_and_ledger_query_count(client, household, django_user_model):
    mine, _, _ = household
    staff = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    client.force_login(staff)
    assert [a["id"] for a in client.get("/api/v1/accounts/", {"q": mine.number}).json()] == [
        mine.id
    ]
    assert client.get("/api/v1/accounts/").status_code == 422
    for i in range(5):
        post_entry(
            account_id=mine.id,
            kind="fee",
            amount=Money.of(1000 + i, "VND"),
            value_date=date(2025, 6, 2),
            source_type="fee",
            source_id=f"F{i}",
            created_by="test",
            now=NOW,
        )
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/accounts/{mine.id}/ledger", {"limit": 3})
    assert [line["source_id"] for line in response.json()] == ["F4", "F3", "F2"]
    # session, user, one page of the ledger: staff skip the customer look-up; never one per row
    assert len(queries) == 3


def test_access_command_grants_and_issues_tokens(household):
    mine, _, _ = household
    out = StringIO()
    call_command("access", "grant", user="lan", account=mine.number, create_user=True, stdout=out)
    assert "lan may act for customer" in out.getvalue()
    out = StringIO()
    call_command("access", "token", user="lan", days=7, stdout=out)
    assert out.getvalue().startswith("Bearer token (shown once): amp_")
