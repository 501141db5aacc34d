"""The kernel's database helpers (ampere.database) against a real PostgreSQL."""

import struct
from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction

from ampere import database

pytestmark = pytest.mark.django_db


@pytest.fixture
def scratch():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE scratch (id bigserial PRIMARY KEY, name text, day date,"
            " n integer, CONSTRAINT scratch_name_once UNIQUE (name))"
        )
    return "scratch"


def rows(table: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, name, day, n FROM {table} ORDER BY id")
        return cursor.fetchall()


def test_reserve_ids_takes_ids_from_the_tables_sequence(scratch, django_assert_num_queries):
    assert database.reserve_ids(table=scratch, count=3) == [1, 2, 3]
    with django_assert_num_queries(0):
        assert database.reserve_ids(table=scratch, count=0) == []
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO scratch (name) VALUES ('next') RETURNING id")
        assert cursor.fetchone() == (4,)


def test_reserve_id_range_moves_the_sequence_past_a_block(scratch):
    assert database.reserve_ids(table=scratch, count=2) == [1, 2]
    assert database.reserve_id_range(table=scratch, count=5) == range(3, 8)
    assert database.reserve_id_range(table=scratch, count=0) == range(0)
    assert database.reserve_ids(table=scratch, count=1) == [8]


def test_constraint_name_names_the_broken_constraint(scratch):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO scratch (name) VALUES ('once')")
    with pytest.raises(IntegrityError) as broken, transaction.atomic(), connection.cursor() as c:
        c.execute("INSERT INTO scratch (name) VALUES ('once')")
    assert database.constraint_name(broken.value) == "scratch_name_once"
    assert database.constraint_name(IntegrityError("raised by hand")) == ""
    assert rows(scratch) == [(1, "once", None, None)]


def test_arrays_go_as_their_text_form():
    assert database.int_array([3, 1, 20]) == "{3,1,20}"
    assert database.int_array([]) == "{}"
    assert database.date_array([date(2026, 1, 31), date(2026, 2, 1)]) == "{2026-01-31,2026-02-01}"
    assert database.int_matrix([[1, 2], [3, 4]]) == "{{1,2},{3,4}}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::bigint[], %s::date[], %s::int[]",
            [
                database.int_array([3, 1]),
                database.date_array([date(2026, 1, 31)]),
                database.int_matrix([[1, 2], [3, 4]]),
            ],
        )
        assert cursor.fetchone() == ([3, 1], [date(2026, 1, 31)], [[1, 2], [3, 4]])


def current(*names: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), list(names))
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_settings_for_the_transaction_end_with_it():
    before = current("work_mem", "jit")
    with transaction.atomic():
        database.apply_settings({"work_mem": "7MB", "jit": "off"})
        assert current("work_mem", "jit") == ("7MB", "off")
    assert current("work_mem", "jit") == before
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        database.apply_settings({"work_mem": "7MB"})
        1 / 0  # noqa: B018
    assert current("work_mem", "jit") == before


def test_settings_for_the_session_last_until_reset():
    before = current("lock_timeout")
    with connection.cursor() as cursor:
        database.apply_settings({"lock_timeout": "2s"}, local=False, cursor=cursor)
        assert current("lock_timeout") == ("2s",)
        database.apply_settings({"lock_timeout": before[0]}, local=False, cursor=cursor)
    assert current("lock_timeout") == before


def test_settings_applied_puts_the_previous_values_back():
    with transaction.atomic():
        database.apply_settings({"work_mem": "5MB"})
        with connection.cursor() as cursor:
            with database.settings_applied(cursor=cursor, settings={"work_mem": "64MB"}):
                assert current("work_mem") == ("64MB",)
            assert current("work_mem") == ("5MB",)
            # a failure inside a transaction: its rollback undoes them
            with (
                pytest.raises(ZeroDivisionError),
                transaction.atomic(),
                database.settings_applied(cursor=cursor, settings={"work_mem": "9MB"}),
            ):
                1 / 0  # noqa: B018
            assert current("work_mem") == ("5MB",)


@pytest.mark.django_db(transaction=True)
def test_settings_applied_outside_a_transaction_are_put_back_after_a_failure():
    before = current("work_mem")
    with connection.cursor() as cursor:
        with database.settings_applied(cursor=cursor, settings={"work_mem": "64MB"}):
            assert current("work_mem") == ("64MB",)
        assert current("work_mem") == before
        with (
            pytest.raises(ZeroDivisionError),
            database.settings_applied(cursor=cursor, settings={"work_mem": "9MB"}),
        ):
            1 / 0  # noqa: B018
    assert current("work_mem") == before


def test_copy_text_escapes_what_the_text_format_reads():
    assert database.copy_text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert database.copy_text("Điện lực") == "Điện lực"


def test_copy_lines_writes_text_lines(scratch, monkeypatch):
    monkeypatch.setattr(database, "COPY_LINES_PER_WRITE", 2)  # three writes for five lines
    lines = [
        f"{n}\t{database.copy_text(name)}\t{database.NULL}\t{n * 10}\n"
        for n, name in enumerate(["tab\there", "new\nline", "back\\slash", "plain", "Điện"], 1)
    ]
    assert database.copy_lines(table=scratch, columns=("id", "name", "day", "n"), lines=lines) == 5
    assert rows(scratch) == [
        (1, "tab\there", None, 10),
        (2, "new\nline", None, 20),
        (3, "back\\slash", None, 30),
        (4, "plain", None, 40),
        (5, "Điện", None, 50),
    ]


def test_copy_rows_adapts_python_values(scratch):
    written = database.copy_rows(
        table=scratch,
        columns=("id", "name", "day"),
        rows=iter([(7, "a\tb", date(2026, 3, 1)), (8, None, None)]),
    )
    assert written == 2
    assert rows(scratch) == [(7, "a\tb", date(2026, 3, 1), None), (8, None, None, None)]


def test_copy_binary_writes_rows_in_the_binary_format(scratch):
    def row(n: int, name: str) -> bytes:
        text = name.encode()
        return struct.pack(">hiqi", 2, 8, n, len(text)) + text

    database.copy_binary(table=scratch, columns=("id", "name"), chunks=[row(1, "một"), row(2, "b")])
    assert rows(scratch) == [(1, "một", None, None), (2, "b", None, None)]


def test_prepared_cursor_binds_on_the_server_and_prepares_after_five_runs():
    with database.prepared_cursor() as cursor:
        for n in range(6):
            cursor.execute("SELECT %s::int + 1", [n])
            assert cursor.fetchone() == (n + 1,)
        raw = connection.connection
        assert raw.prepare_threshold == database.PREPARE_THRESHOLD
        assert raw._prepared._names  # the statement is prepared on the server
