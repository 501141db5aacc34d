import json
from datetime import date

import pytest

from ampere.core.errors import Conflict
from ampere.rating import queries
from ampere.rating.engine.parse import TariffDataError
from ampere.rating.models import TariffVersion
from ampere.rating.operations import import_urdb_rate
from tests.shared_data import URDB

pytestmark = pytest.mark.django_db

RECORDS = sorted(URDB.glob("*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=[p.name for p in RECORDS])
def test_every_shared_record_imports_once(path):
    record = json.loads(path.read_text())
    report = import_urdb_rate(
        record=record, tariff_code="URDB-TEST", utility_code="test", effective_from=date(2021, 1, 1)
    )
    assert report.created
    again = import_urdb_rate(
        record=record, tariff_code="URDB-TEST", utility_code="test", effective_from=date(2021, 1, 1)
    )
    assert (again.created, again.version_id) == (False, report.version_id)
    versions = queries.get_versions(tariff_code="URDB-TEST")
    assert [v.period.start for v in versions] == [date(2021, 1, 1)]


def test_dates_come_from_the_record_and_a_newer_rate_closes_the_open_version():
    a1 = json.loads((URDB / "ecc_pge_A-1_TOU_2014-05.json").read_text())
    first = import_urdb_rate(
        record={**a1, "enddate": None}, tariff_code="PGE-A1", utility_code="pge"
    )
    assert (first.period.start, first.period.end) == (date(2014, 5, 1), None)
    newer = import_urdb_rate(
        record={**a1, "startdate": "2014-10-01T00:00:00.000Z", "enddate": None},
        tariff_code="PGE-A1",
        utility_code="pge",
    )
    assert [
        (v.period.start, v.period.end) for v in queries.list_versions(tariff_code="PGE-A1")
    ] == [
        (date(2014, 5, 1), date(2014, 10, 1)),
        (date(2014, 10, 1), None),
    ]
    assert newer.created


def test_a_broken_record_stores_nothing():
    record = json.loads((URDB / "reopt_tiered_tou_demand.json").read_text())
    record["energyweekdayschedule"][0] = record["energyweekdayschedule"][0][:23]
    with pytest.raises(TariffDataError) as error:
        import_urdb_rate(
            record=record, tariff_code="BROKEN", utility_code="x", effective_from=date(2021, 1, 1)
        )
    assert error.value.field == "energyweekdayschedule[0]"
    assert TariffVersion.objects.count() == 0


def test_an_overlapping_import_is_refused():
    record = json.loads((URDB / "reopt_tiered_tou_demand.json").read_text())
    import_urdb_rate(
        record=record,
        tariff_code="X",
        utility_code="x",
        effective_from=date(2021, 1, 1),
        effective_to=date(2022, 1, 1),
    )
    with pytest.raises(Conflict):
        import_urdb_rate(
            record=record,
            tariff_code="X",
            utility_code="x",
            effective_from=date(2021, 6, 1),
            effective_to=date(2021, 9, 1),
        )
    assert TariffVersion.objects.filter(tariff__code="X").count() == 1


def test_a_gap_between_versions_is_refused_and_nothing_is_stored():
    record = json.loads((URDB / "reopt_tiered_tou_demand.json").read_text())
    import_urdb_rate(
        record=record,
        tariff_code="G",
        utility_code="x",
        effective_from=date(2021, 1, 1),
        effective_to=date(2022, 1, 1),
    )
    with pytest.raises(Conflict) as error:
        import_urdb_rate(
            record=record, tariff_code="G", utility_code="x", effective_from=date(2022, 6, 1)
        )
    assert "no version from 2022-01-01 to 2022-06-01" in error.value.message
    assert TariffVersion.objects.filter(tariff__code="G").count() == 1


def test_reading_a_tariffs_versions_takes_two_queries(django_assert_num_queries):
    record = json.loads((URDB / "reopt_tiered_tou_demand.json").read_text())
    for year in (2020, 2021, 2022):
        import_urdb_rate(
            record=record,
            tariff_code="Q",
            utility_code="x",
            effective_from=date(year, 1, 1),
            effective_to=date(year + 1, 1, 1),
        )
    with django_assert_num_queries(2):
        versions = queries.get_versions(tariff_code="Q")
    assert [v.period.start.year for v in versions] == [2020, 2021, 2022]
