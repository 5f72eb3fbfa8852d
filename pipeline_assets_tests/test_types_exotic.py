"""The types that have no plain Arrow counterpart arrive exactly, in the documented form (README "Type mapping"):
MySQL BIT, geometry, TIME and zero dates; PostgreSQL money, negative-scale numerics, timetz, intervals with months,
arrays with other lower bounds, and BC, year-10000 and DST-gap times."""

from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from pipeline_assets_tests.conftest import mysql_connection, pg_connection
from pipeline_assets_tests.runs import failure
from pipeline_assets_tests.test_types import _column_types, _target_rows
from pipeline_assets_tests.test_types_unrepresentable import _nulled, _run

POINT_WKB = bytes.fromhex("0101000000000000000000f03f0000000000000040")  # POINT(1 2)
SRID_4326 = (4326).to_bytes(4, "little")


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_mysql_bit_geometry_time(warehouse, mysql, mysql_db, pg, wh_schema, instance, tmp_path):
    with mysql.cursor() as cur:
        cur.execute(
            "CREATE TABLE types (id INT PRIMARY KEY, b1 BIT(1), b8 BIT(8), b64 BIT(64), g GEOMETRY, p POINT, t TIME(6))"
        )
        cur.execute(
            "INSERT INTO types VALUES (1, b'1', b'10000001', b'1111111111111111111111111111111111111111111111111111111"
            "111111111', ST_GeomFromText('POINT(1 2)', 4326), ST_GeomFromText('POINT(1 2)'), '-838:59:59.000001'),"
            " (2, b'0', b'0', b'0', NULL, NULL, '00:00:00'), (3, NULL, NULL, NULL, NULL, NULL, NULL)"
        )
    result = _run(mysql_connection(mysql_db), "types", warehouse, wh_schema, instance, tmp_path, None)
    assert result.success, failure(result)
    rows = sorted(_target_rows(warehouse, tmp_path, pg, wh_schema))
    assert [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows] == [
        (1, True, 129, Decimal(2**64 - 1), SRID_4326 + POINT_WKB, bytes(4) + POINT_WKB, "-838:59:59.000001"),
        (2, False, 0, Decimal(0), None, None, "00:00:00.000000"),
        (3, None, None, None, None, None, None),
    ]
    types = _column_types(warehouse, tmp_path, pg, wh_schema)
    expected = ("boolean", "bigint", "numeric(20,0)", "bytea", "text")
    if warehouse == "duckdb":
        expected = ("BOOLEAN", "BIGINT", "UBIGINT", "BLOB", "VARCHAR")
    assert tuple(types[c] for c in ("b1", "b8", "b64", "g", "t")) == expected


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_mysql_zero_dates(warehouse, mysql, mysql_db, pg, wh_schema, instance, tmp_path):
    with mysql.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE types (id INT PRIMARY KEY, d DATE, dt DATETIME)")
        cur.execute(
            "INSERT INTO types VALUES (1, '0000-00-00', '2024-00-10 00:00:00'), (2, '2024-05-00', '2026-01-01'),"
            " (3, '2026-01-02', '0000-00-00 00:00:00')"
        )
    source = mysql_connection(mysql_db)
    message = failure(_run(source, "types", warehouse, wh_schema, instance, tmp_path, None))
    assert "types.d: '0000-00-00' cannot be stored exactly" in message
    assert "set on_unrepresentable: null or text" in message
    result = _run(source, "types", warehouse, wh_schema, instance, tmp_path, "null")
    assert result.success, failure(result)
    assert _nulled(result) == {"d": 2, "dt": 2}
    assert sorted(_target_rows(warehouse, tmp_path, pg, wh_schema)) == [
        (1, None, None),
        (2, None, datetime(2026, 1, 1)),
        (3, date(2026, 1, 2), None),
    ]


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_postgres_money_scale_timetz_interval_array(warehouse, pg, pg_schema, wh_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {pg_schema}.types (id int PRIMARY KEY, m money, neg numeric(5,-2), tz timetz,"
            " iv interval, arr int[])"
        )
        cur.execute(
            f"INSERT INTO {pg_schema}.types VALUES (1, '-92233720368547758.08', 9999900, '12:00:01.5+02:30',"
            " '1 year 2 mons 3 days 04:05:06.000007', '[0:2]={10,20,30}'),"
            " (2, 12.34, -100, '00:00-14', '-1 mons', '{1,NULL}'), (3, NULL, NULL, NULL, NULL, NULL)"
        )
    result = _run(pg_connection(), f"{pg_schema}.types", warehouse, wh_schema, instance, tmp_path, None)
    assert result.success, failure(result)
    assert sorted(_target_rows(warehouse, tmp_path, pg, wh_schema)) == [
        (
            1,
            Decimal("-92233720368547758.08"),
            Decimal(9999900),
            "12:00:01.5+02:30",
            "1 year 2 mons 3 days 04:05:06.000007",
            "[0:2]={10,20,30}",
        ),
        (2, Decimal("12.34"), Decimal(-100), "00:00:00-14", "-1 mons", "{1,NULL}"),
        (3, None, None, None, None, None),
    ]
    types = _column_types(warehouse, tmp_path, pg, wh_schema)
    expected = ("numeric(19,2)", "numeric(7,0)") if warehouse == "postgres" else ("DECIMAL(19,2)", "DECIMAL(7,0)")
    assert (types["m"], types["neg"]) == expected


_PG_EPOCHS = (
    "SELECT id, (extract(epoch FROM ts) * 1000000)::bigint, (extract(epoch FROM tstz) * 1000000)::bigint,"
    " d - date '1970-01-01', t::text FROM {table} ORDER BY id"
)
_DUCK_EPOCHS = (
    "SELECT id, epoch_us(ts), epoch_us(tstz), d - DATE '1970-01-01', CAST(t AS VARCHAR) FROM {table} ORDER BY id"
)


def _epochs(warehouse: str, tmp_path, pg, table: str) -> list[tuple]:
    """Each row's times as microseconds (dates as days) since 1970: one form for values no driver's types hold."""
    if warehouse == "postgres":
        with pg.cursor() as cur:
            cur.execute(_PG_EPOCHS.format(table=table))
            return cur.fetchall()
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        return conn.execute(_DUCK_EPOCHS.format(table=table)).fetchall()


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_postgres_times_exact_or_refused(warehouse, pg, pg_schema, wh_schema, instance, tmp_path):
    """BC, year 10000+, the hour a DST change skips and 24:00 arrive unchanged; infinity is refused (it has no Arrow
    form)."""
    with pg.cursor() as cur:
        cur.execute("SET TIME ZONE 'Europe/Berlin'")  # 2026-03-29 02:30 does not exist there
        cur.execute(
            f"CREATE TABLE {pg_schema}.types (id int PRIMARY KEY, ts timestamp, tstz timestamptz, d date, t time)"
        )
        cur.execute(
            f"INSERT INTO {pg_schema}.types VALUES"
            " (1, '2026-03-29 02:30', '2026-03-29 02:30', '2026-03-29', '24:00'),"
            " (2, '0001-01-01', '0001-01-01 00:00+00', '0001-01-01', '00:00'),"
            " (3, '0044-03-15 12:00 BC', '0044-03-15 12:00+00 BC', '4713-01-01 BC', NULL),"
            " (4, '12000-01-01 00:00:01', '12000-01-01 00:00:01+00', '50000-12-31', '12:00:00.000001'),"
            " (5, '9999-12-31 23:59:59.999999', '2026-10-25 02:30', '9999-12-31', '23:59:59.999999'),"
            " (6, NULL, NULL, NULL, NULL)"
        )
        cur.execute("RESET TIME ZONE")
    expected = _epochs("postgres", tmp_path, pg, f"{pg_schema}.types")
    result = _run(pg_connection(), f"{pg_schema}.types", warehouse, wh_schema, instance, tmp_path, None)
    assert result.success, failure(result)
    assert _epochs(warehouse, tmp_path, pg, f"{wh_schema}.types") == expected
    with pg.cursor() as cur:
        cur.execute(f"INSERT INTO {pg_schema}.types VALUES (7, 'infinity', NULL, NULL, NULL)")
    message = failure(_run(pg_connection(), f"{pg_schema}.types", warehouse, wh_schema, instance, tmp_path, None))
    assert "types.ts: 'infinity' (row id=7) cannot be carried exactly" in message
