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


def post(client, body):
    return client.post("/api/v1/rating/quote", body, content_type="application/json")


def test_quote_for_renters_in_english(client, tariffs):
    response = post(
        client,
        {
            "tariff": "EVN-RES",
            "from": "2025-06-01",
            "to": "2025-07-01",
            "kwh": "100",
            "renter_occupants": 2,
            "language": "en",
        },
    )
    body = response.json()
    # 2 renters = ½ household: widths 25, 25, 50 → 25 × 1,984 + 25 × 2,050 + 50 × 2,380
    assert [(line["quantity"], line["rounded"]) for line in body["lines"]] == [
        ("25", "49600"),
        ("25", "51250"),
        ("50", "119000"),
    ]
    assert body["lines"][0]["description"] == "Residential energy — tier 1"
    assert body["total"] == "237438"  # 219,850 + VAT 17,588


def test_quote_intervals_on_an_sce_holiday(client, tariffs):
    intervals = [{"start": f"2026-09-07T{h:02d}:00:00-07:00", "kwh": "1"} for h in range(24)]
    response = post(
        client,
        {
            "tariff": "SCE-TOU-D-4-9PM",
            "from": "2026-09-07",
            "to": "2026-09-08",
            "intervals": intervals,
            "region": "9",
            "programs": ["care"],
            "language": "en",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(line["code"], line["rounded"]) for line in body["lines"]] == [
        ("energy.p2", "2.30"),  # Labor Day: 4–9 pm at the weekend price 0.46
        ("energy.p3", "6.46"),
        ("baseline-credit", "-1.69"),  # min(24, 16.9) × 0.10
        ("base-services", "0.20"),  # CARE price 0.19713
        ("care", "-2.63"),  # 30 % of 8.76
    ]
    assert body["total"] == "4.64"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"tariff": "NOPE", "from": "2025-06-01", "to": "2025-07-01", "kwh": "1"}, 404, "tariff"),
        ({"tariff": "EVN-RES", "from": "2025-06-01", "to": "2025-06-01", "kwh": "1"}, 422, "to"),
        ({"tariff": "EVN-RES", "from": "2025-06-01", "to": "2025-07-01"}, 422, "kwh"),
        (
            {
                "tariff": "EVN-RES",
                "from": "2025-06-01",
                "to": "2025-07-01",
                "kwh": "1",
                "renter_occupants": 0,
            },
            422,
            "renter_occupants",
        ),
        (
            {
                "tariff": "EVN-BUS-LV",
                "from": "2025-06-01",
                "to": "2025-07-01",
                "tou_kwh": {"peak": "1", "normal": "2"},
            },
            422,
            "tou_kwh.offpeak",
        ),
        (
            {
                "tariff": "SCE-D",
                "from": "2026-06-01",
                "to": "2026-07-01",
                "kwh": "1",
                "region": "99",
            },
            422,
            "region",
        ),
        (
            {"tariff": "EVN-RES", "from": "2018-06-01", "to": "2018-07-01", "kwh": "1"},
            404,
            "period",
        ),
        (
            {
                "tariff": "EVN-RES",
                "from": "2025-06-01",
                "to": "2025-07-01",
                "kwh": "1",
                "programs": ["vip"],
            },
            422,
            "programs.0",
        ),
    ],
)
def test_bad_quotes_get_problems_naming_the_field(client, tariffs, body, status, field):
    response = post(client, body)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
