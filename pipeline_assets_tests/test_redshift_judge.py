"""The Redshift stand-in's judge (each rule refuses its construct, what Redshift takes passes) and its COPY readers."""

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline_assets.warehouses.redshift import RedshiftWarehouse
from pipeline_assets_tests.redshift_emulator import CopyRefused, LoadError, _csv_rows, _parquet_rows, query
from pipeline_assets_tests.redshift_judge import NotRedshift, judge, unsupported

pytestmark = pytest.mark.stand_in

REFUSED = [
    ("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "ON CONFLICT"),
    ("UPDATE t SET a = 1 RETURNING a", "RETURNING"),
    ("CREATE INDEX i ON t (a)", "CREATE INDEX"),
    ("ALTER TABLE t ALTER COLUMN a TYPE bigint", "ALTER COLUMN … TYPE"),
    ("ALTER TABLE t ADD COLUMN IF NOT EXISTS a integer", "ADD COLUMN IF NOT EXISTS"),
    ("CREATE TABLE t (a jsonb)", "JSONB"),
    ("CREATE TABLE t (a text[])", "TEXT[]"),
    ("CREATE TABLE t (a bytea)", "BYTEA"),
    ("CREATE TABLE t (a serial)", "SERIAL"),
    ("CREATE TABLE t (a uuid)", "UUID"),
    ("CREATE TABLE t (a varchar(65536))", "VARCHAR(65536)"),
    ("CREATE TABLE t (a char(4097))", "CHAR(4097)"),
    (f'CREATE TABLE "{"n" * 128}" (a integer)', "128-byte name"),
    ("SELECT * FROM generate_series(1, 3)", "GENERATE_SERIES()"),
    ("SELECT pg_advisory_xact_lock(hashtext('x'))", "PG_ADVISORY_XACT_LOCK()"),
    ("SELECT string_agg(a, ',') FROM t", "STRING_AGG()"),
    ('LOCK TABLE "s"."t" IN ACCESS EXCLUSIVE MODE', "LOCK … IN … MODE"),
    ("SELECT count(DISTINCT (a, b)) FROM t", "row constructor (a, b)"),
    ("SELECT a IS DISTINCT FROM b FROM t", "IS [NOT] DISTINCT FROM"),
    ("SELECT ARRAY[1, 2]", "array constructor"),
    ("SELECT * FROM (VALUES (1)) AS v(a)", "VALUES list used as a constant table"),
    ("SAVEPOINT pipeline_assets_file", "savepoints"),
    ("ROLLBACK TO SAVEPOINT pipeline_assets_file", "savepoints"),
]
ACCEPTED = [
    'CREATE SCHEMA IF NOT EXISTS "s"',
    'CREATE TABLE IF NOT EXISTS "s"."t" (a TIMESTAMPTZ, b varchar(65535), c varbyte(1024000), d numeric(38,9))',
    'LOCK TABLE "s"."t"',
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')",
    "SELECT a FROM t WHERE a IN (1, 2)",
    "SELECT pg_backend_pid()",
    "SELECT pg_last_copy_count()",
    'ALTER TABLE "s"."t" ADD COLUMN rows_loaded BIGINT',
    'ALTER TABLE "s"."t" RENAME TO "u"',
    "COPY \"s\".\"t\" FROM 's3://b/m' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST",
]


@pytest.mark.parametrize("sql, construct", REFUSED)
def test_each_rule_refuses_its_construct_naming_it_and_the_statement(sql, construct):
    with pytest.raises(NotRedshift) as raised:
        judge(sql)
    assert construct in str(raised.value) and sql in str(raised.value)
    assert ".html" in str(raised.value), "each rule names the Redshift page it comes from"


@pytest.mark.parametrize("sql", ACCEPTED)
def test_what_redshift_takes_passes(sql):
    assert unsupported(sql) == []


def test_a_statement_sqlglot_cannot_read_as_redshift_is_refused():
    with pytest.raises(NotRedshift, match="grammar"):
        judge("SELEC 1 FROM")


def test_the_duplicates_check_counts_a_composite_key_without_a_row_constructor(pg):
    """PostgreSQL's count(DISTINCT (a, b)) is refused by Redshift: the Redshift spelling passes the judge and counts
    the same, NULLs and look-alike concatenations included."""
    sql = "SELECT count(*) - {} FROM (VALUES (1, '2'), (1, '2'), (12, NULL), (1, NULL), (NULL, '2'), (1, '2x')) AS v(a, b)"
    distinct = RedshiftWarehouse.count_distinct(RedshiftWarehouse.__new__(RedshiftWarehouse), ['"a"', '"b"'])
    assert unsupported(f'SELECT {distinct} FROM "s"."t"') == []
    assert query(pg, sql.format(distinct)) == query(pg, sql.format('count(DISTINCT ("a", "b"))')) == [(1,)]


COLUMNS = [("id", "integer", None), ("at", "timestamp without time zone", None), ("note", "character varying", 3)]


def test_the_emulated_csv_copy_reads_the_file_as_the_statement_says():
    data = b'id|at|note\n1|2026-01-01 00:00:01|"a"\n2|\\N|""\n'
    options = {"FORMAT": "CSV", "IGNOREHEADER": "1", "DELIMITER": "|", "NULL": "\\N", "EMPTYASNULL": None}
    assert _csv_rows(data, COLUMNS, options) == [["1", "2026-01-01 00:00:01", "a"], ["2", None, None]]
    without_header = _csv_rows(data, COLUMNS, {**options, "IGNOREHEADER": None})
    assert isinstance(without_header, LoadError)
    assert (without_header.line_number, without_header.colname, without_header.err_code) == (1, "id", 1207)
    with_commas = _csv_rows(data, COLUMNS, {**options, "DELIMITER": None})
    assert isinstance(with_commas, LoadError) and with_commas.err_reason == "Delimiter not found"


def test_the_emulated_csv_copy_holds_dates_to_redshifts_defaults_unless_told_auto():
    data = b"1,2026-01-01T00:00:01,a\n"
    refused = _csv_rows(data, COLUMNS, {"FORMAT": "CSV"})
    assert isinstance(refused, LoadError) and (refused.colname, refused.err_code) == ("at", 1206)
    assert _csv_rows(data, COLUMNS, {"FORMAT": "CSV", "TIMEFORMAT": "auto"}) == [["1", "2026-01-01T00:00:01", "a"]]
    too_long = _csv_rows(b"1,2026-01-01 00:00:01,abcd\n", COLUMNS, {"FORMAT": "CSV"})
    assert isinstance(too_long, LoadError) and (too_long.colname, too_long.err_code) == ("note", 1204)


def test_the_emulated_parquet_copy_refuses_what_redshift_would():
    buffer = io.BytesIO()
    pq.write_table(
        pa.table({"id": [1], "at": [None], "note": ["x"]}).cast(
            pa.schema([("id", pa.int32()), ("at", pa.timestamp("us")), ("note", pa.string())])
        ),
        buffer,
    )
    assert _parquet_rows(buffer.getvalue(), "s3://b/f", COLUMNS) == [["1", None, "x"]]
    with pytest.raises(CopyRefused, match="3 Parquet columns for a 2-column table"):
        _parquet_rows(buffer.getvalue(), "s3://b/f", COLUMNS[:2])
    with pytest.raises(CopyRefused, match="incompatible Parquet type"):
        _parquet_rows(buffer.getvalue(), "s3://b/f", [COLUMNS[2], COLUMNS[1], COLUMNS[0]])
    with pytest.raises(CopyRefused, match="not a Parquet file"):
        _parquet_rows(b"id,at,note\n", "s3://b/f", COLUMNS)
