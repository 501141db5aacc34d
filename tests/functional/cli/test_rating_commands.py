import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.shared_data import URDB

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_tariffs_load_then_rate_the_worked_example_as_json():
    assert "tariffs: 16 created" in run("tariffs", "load")
    assert "versions: 0 created, 21 unchanged" in run("tariffs", "load")
    bill = json.loads(
        run(
            "rate",
            "--tariff",
            "EVN-RES",
            "--from",
            "2024-11-01",
            "--to",
            "2024-12-01",
            "--kwh",
            "250",
            "--json",
        )
    )
    assert (bill["subtotal"], bill["tax_total"], bill["total"]) == ("562550", "45004", "607554")


def test_rate_tou_registers_and_a_table_for_people():
    run("tariffs", "load")
    text = run(
        "rate",
        "--tariff",
        "EVN-BUS-LV",
        "--from",
        "2025-06-01",
        "--to",
        "2025-07-01",
        "--tou",
        "peak=100,normal=200,offpeak=50",
        "--language",
        "en",
    )
    # 100 × 5,422 + 200 × 3,152 + 50 × 1,918 = 1,268,500; VAT 8 % 101,480
    assert "Business, < 6 kV — Peak hours" in text
    assert text.strip().splitlines()[-1].split()[-1] == "1369980"


def test_rate_intervals_from_a_csv_file(tmp_path):
    run("tariffs", "load")
    path = tmp_path / "labor-day.csv"
    rows = ["start,kwh"] + [f"2026-09-07T{h:02d}:00:00-07:00,1" for h in range(24)]
    path.write_text("\n".join(rows))
    bill = json.loads(
        run(
            "rate",
            "--tariff",
            "SCE-TOU-D-4-9PM",
            "--from",
            "2026-09-07",
            "--to",
            "2026-09-08",
            "--intervals",
            str(path),
            "--region",
            "9",
            "--json",
            "--language",
            "en",
        )
    )
    # Labor Day is an SCE holiday: 4–9 pm is mid-peak (0.46), not on-peak (0.58).
    assert (
        bill["lines"][0]["description"] == "Energy — Summer mid-peak (weekends and holidays 4–9 pm)"
    )
    assert bill["lines"][0]["rounded"] == "2.30"


def test_rate_refuses_bad_input_naming_the_field():
    run("tariffs", "load")
    with pytest.raises(CommandError, match=r"^region: unknown baseline region 'x'"):
        run(
            "rate",
            "--tariff",
            "SCE-D",
            "--from",
            "2026-06-01",
            "--to",
            "2026-07-01",
            "--kwh",
            "10",
            "--region",
            "x",
        )
    with pytest.raises(CommandError, match=r"^tariff: no tariff with code 'NOPE'"):
        run("rate", "--tariff", "NOPE", "--from", "2026-06-01", "--to", "2026-07-01", "--kwh", "10")


def test_import_urdb_reports_what_it_did_not_import():
    text = run(
        "tariffs",
        "import-urdb",
        str(URDB / "pysam_tests_urdbv7.json"),
        "--tariff",
        "V7",
        "--utility",
        "test",
        "--from",
        "2021-01-01",
    )
    assert "V7 [2021-01-01, …): imported" in text
    assert "warning: annualmincharge: an annual minimum needs a year of bills: not applied" in text
