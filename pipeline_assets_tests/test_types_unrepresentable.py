"""Values a target cannot hold exactly are refused (one line naming table, column and value), stored as NULL and
counted, or staged as text, by the table's ``on_unrepresentable`` policy; never silently changed."""

from decimal import Decimal

import pyarrow as pa
import pytest

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.representable import Guard, Limits
from pipeline_assets.core.schema import conform
from pipeline_assets.sources.postgres import arrow_type
from pipeline_assets_tests.conftest import mysql_connection, pg_connection, project
from pipeline_assets_tests.runs import failure, run_table
from pipeline_assets_tests.test_types import _column_types, _target_rows, _warehouse

WIDE = Decimal("12345678901234567890123456789012345.123456789012345678901234567890")
THOUSAND_DIGITS = "9" * 1000


def _run(source: dict, table: str, warehouse: str, wh_schema: str, instance, tmp_path, policy: str | None):
    extra = {"on_unrepresentable": policy} if policy else {}
    config = project(
        tmp_path,
        {
            "connections": {"src": source, "dw": _warehouse(warehouse, tmp_path)},
            "tables": [
                {"source": "src", "table": table, "target": "dw", "target_table": f"{wh_schema}.types", **extra}
            ],
        },
    )
    return run_table(config, instance, "types")


def _nulled(result) -> dict[str, int]:
    for event in result.get_asset_materialization_events():
        found = event.materialization.metadata.get("unrepresentable_nulled_by_column")
        if found is not None:
            return found.value
    return {}


@pytest.fixture
def pg_specials(pg, pg_schema) -> str:
    """A PostgreSQL table of numerics and times that Arrow, DuckDB or both cannot carry exactly."""
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.types (id int PRIMARY KEY, n numeric, ts timestamp, d date)")
        cur.execute(
            f"INSERT INTO {pg_schema}.types VALUES (1, 'NaN', '2026-01-01', '2026-01-01'),"
            " (2, 'Infinity', '2026-01-02', '2026-01-02'), (3, 1.5, 'infinity', '-infinity'),"
            f" (4, {THOUSAND_DIGITS}, '2026-01-04', '2026-01-04'), (5, NULL, NULL, NULL)"
        )
    return f"{pg_schema}.types"


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_postgres_specials_fail_by_default(warehouse, pg_specials, wh_schema, instance, tmp_path):
    result = _run(pg_connection(), pg_specials, warehouse, wh_schema, instance, tmp_path, None)
    message = failure(result)
    assert f"{pg_specials}.n: 'NaN'" in message and "on_unrepresentable: null or text" in message
    assert "\n" not in message.strip()


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_postgres_specials_null_and_counted(warehouse, pg, pg_specials, wh_schema, instance, tmp_path):
    result = _run(pg_connection(), pg_specials, warehouse, wh_schema, instance, tmp_path, "null")
    assert result.success, failure(result)
    assert _nulled(result) == {"n": 3, "ts": 1, "d": 1}
    rows = sorted(_target_rows(warehouse, tmp_path, pg, wh_schema))
    assert [(r[0], r[1]) for r in rows] == [(1, None), (2, None), (3, Decimal("1.5")), (4, None), (5, None)]
    assert rows[2][2:] == (None, None) and str(rows[0][2]) == "2026-01-01 00:00:00"


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_postgres_numeric_as_text(warehouse, pg, pg_schema, wh_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.types (id int PRIMARY KEY, n numeric)")
        cur.execute(f"INSERT INTO {pg_schema}.types VALUES (1, 'NaN'), (2, '-Infinity'), (3, {THOUSAND_DIGITS})")
    result = _run(pg_connection(), f"{pg_schema}.types", warehouse, wh_schema, instance, tmp_path, "text")
    assert result.success, failure(result)
    assert sorted(_target_rows(warehouse, tmp_path, pg, wh_schema)) == [
        (1, "NaN"),
        (2, "-Infinity"),
        (3, THOUSAND_DIGITS),
    ]
    assert _column_types(warehouse, tmp_path, pg, wh_schema)["n"] in ("text", "VARCHAR")


@pytest.fixture
def mysql_wide(mysql) -> None:
    """A MariaDB table with a DECIMAL(65,30) (DuckDB holds 38 digits) and a NUL in text (PostgreSQL's text cannot)."""
    with mysql.cursor() as cur:
        cur.execute("CREATE TABLE types (id INT PRIMARY KEY, wide DECIMAL(65,30), txt TEXT)")
        cur.executemany(
            "INSERT INTO types VALUES (%s, %s, %s)",
            [(1, WIDE, "a\x00b"), (2, Decimal("1.5"), "plain"), (3, None, None)],
        )


def test_mysql_wide_decimal_into_duckdb(mysql_wide, mysql_db, pg, wh_schema, instance, tmp_path):
    source = mysql_connection(mysql_db)
    message = failure(_run(source, "types", "duckdb", wh_schema, instance, tmp_path, None))
    assert "types.wide: Decimal('12345678901234567890123456789012345.1234" in message and "duckdb" in message
    assert _run(source, "types", "duckdb", wh_schema, instance, _dir(tmp_path, "n"), "null").success
    rows = sorted(_target_rows("duckdb", tmp_path / "n", pg, wh_schema))
    assert [r[:2] for r in rows] == [(1, None), (2, Decimal("1.5")), (3, None)]
    assert _run(source, "types", "duckdb", wh_schema, instance, _dir(tmp_path, "t"), "text").success
    rows = sorted(_target_rows("duckdb", tmp_path / "t", pg, wh_schema))
    assert [Decimal(r[1]) if r[1] else None for r in rows] == [WIDE, Decimal("1.5"), None]
    assert rows[0][2] == "a\x00b"  # DuckDB's text holds NUL


def test_mysql_nul_in_text_into_postgres(mysql_wide, mysql_db, pg, wh_schema, instance, tmp_path):
    source = mysql_connection(mysql_db)
    message = failure(_run(source, "types", "postgres", wh_schema, instance, tmp_path, None))
    assert "types.txt: 'a\\x00b' (row id=1) holds NUL, which postgres text cannot store" in message
    result = _run(source, "types", "postgres", wh_schema, instance, tmp_path, "null")
    assert result.success, failure(result)
    assert _nulled(result) == {"txt": 1}
    assert sorted(_target_rows("postgres", tmp_path, pg, wh_schema)) == [
        (1, WIDE, None),
        (2, Decimal("1.5"), "plain"),
        (3, None, None),
    ]


def _dir(tmp_path, name: str):
    (tmp_path / name).mkdir()
    return tmp_path / name


def test_decimal_text_with_too_many_digits_is_refused_not_wrapped():
    """Arrow casts 1000 nines to decimal128(38, 9) as -1; conform refuses it, and a guard judges it by its policy."""
    schema = pa.schema([pa.field("n", pa.decimal128(38, 9))])
    batch = pa.RecordBatch.from_arrays([pa.array(["1.5", THOUSAND_DIGITS, None])], names=["n"])
    with pytest.raises(PipelineError, match=r"t\.n: a value has more than 29 integer digits"):
        conform(batch, schema, "t")
    guard = Guard("t", "null", Limits("duckdb", decimal_digits=38))
    assert conform(batch, schema, "t", guard).column(0).to_pylist() == [Decimal("1.5"), None, None]
    assert guard.nulled == {"n": 1}


def test_postgres_negative_scale_and_money_types():
    assert arrow_type("numeric", ((5 << 16) | (-2 & 0x7FF)) + 4) == (pa.decimal128(7, 0), True)
    assert arrow_type("numeric", ((12 << 16) | 3) + 4) == (pa.decimal128(12, 3), True)
    assert arrow_type("money", -1) == (pa.decimal128(19, 2), True)
