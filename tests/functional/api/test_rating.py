import pytest

from ampere.rating.operations import load_shipped_tariffs

pytestmark = pytest.mark.django_db


@pytest.fixture
def tariffs():
    load_shipped_tariffs()


def test_quote_prices_the_worked_example_without_login(client, tariffs):
    response = client.post(
        "/api/v1/rating/quote",
        {"tariff": "EVN-RES", "from": "2025-06-01", "to": "2025-07-01", "kwh": "300"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["subtotal"], body["tax_total"], body["total"]) == ("739500", "59160", "798660")
    assert [(line["quantity"], line["unit_price"], line["rounded"]) for line in body["lines"]] == [
        ("50", "1984", "99200"),
        ("50", "2050", "102500"),
        ("100", "2380", "238000"),
        ("100", "2998", "299800"),
    ]
    assert body["lines"][0]["description"] == "Điện sinh hoạt — bậc 1"
    assert body["taxes"][0]["description"] == "Thuế GTGT 8%"


def test_a_bad_quote_gets_a_problem_naming_the_field(client, tariffs):
    response = client.post(
        "/api/v1/rating/quote",
        {"tariff": "EVN-RES", "from": "2025-06-01", "to": "2025-07-01", "kwh": "-3"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "kwh"


def test_the_quote_is_in_the_openapi_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/rating/quote"]["post"]
    assert operation.get("security") in (None, [])
