"""Backfills of daily partitions through the stage, checked partition by partition against the source.

MariaDB → S3 (SeaweedFS) → PostgreSQL, and PostgreSQL → local folder → DuckDB, each with 120,000 rows over
six days; re-materializing a partition leaves source and target unchanged."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb

from pipeline_assets_tests.conftest import mysql_connection, pg_connection, project, s3_stage
from pipeline_assets_tests.runs import metadata, run_table

DAYS = [f"2026-01-0{d}" for d in range(1, 7)]
ROWS = 120_000
# Order-independent per-partition fingerprint, written once per dialect.
FINGERPRINT = "count(*), sum(id), sum(amount), sum(customer_id * 7 + char_length(note)), min({ts}), max({ts})"


def _rows(rng: random.Random):
    start = datetime(2026, 1, 1)
    for i in range(1, ROWS + 1):
        moment = start + timedelta(seconds=rng.randrange(6 * 86_400), microseconds=rng.randrange(1_000_000))
        yield i, moment, rng.randrange(1, 5_000), Decimal(rng.randrange(0, 10**8)) / 100, f"note {i} ✓ {'x' * (i % 17)}"


def _day_filter(column: str, day: str, placeholder: str) -> tuple[str, list]:
    start = datetime.fromisoformat(day)
    return f"WHERE {column} >= {placeholder} AND {column} < {placeholder}", [start, start + timedelta(days=1)]


def test_mariadb_to_s3_to_postgres_backfill(mysql, mysql_db, pg, wh_schema, s3_server, s3_bucket, instance, tmp_path):
    with mysql.cursor() as cur:
        cur.execute(
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, created_at DATETIME(6) NOT NULL, customer_id INT,"
            " amount DECIMAL(12,2), note TEXT)"
        )
        rows = list(_rows(random.Random(1)))
        for i in range(0, ROWS, 10_000):
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s)", rows[i : i + 10_000])
    config = project(
        tmp_path,
        {
            "connections": {"shop": mysql_connection(mysql_db), "dw": pg_connection()},
            "stage": s3_stage(s3_server, s3_bucket, target_file_mb=0.25),
            "tables": [
                {
                    "source": "shop",
                    "table": "orders",
                    "target": "dw",
                    "target_table": f"{wh_schema}.orders",
                    "cursor": "created_at",
                    "partitioning": "daily",
                    "start_date": "2026-01-01",
                    "batch_size": 5_000,
                    "primary_key": ["id"],
                }
            ],
        },
    )

    def source(day):
        where, params = _day_filter("created_at", day, "%s")
        with mysql.cursor() as cur:
            cur.execute(f"SELECT {FINGERPRINT.format(ts='created_at')} FROM orders {where}", params)
            return cur.fetchone()

    def target(day):
        where, params = _day_filter("created_at", day, "%s")
        with pg.cursor() as cur:
            cur.execute(f'SELECT {FINGERPRINT.format(ts="created_at")} FROM "{wh_schema}".orders {where}', params)
            return cur.fetchone()

    for day in DAYS:
        result = run_table(config, instance, "orders", day)
        assert result.success, result
        _assert_checks_pass(result, 6)
    staged = metadata(result, ["stage", "shop", "orders"])
    assert staged["files"] > 1, "a partition larger than target_file_mb rolls over to several files"
    objects = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix=f"staging/shop/{mysql_db}_orders/2026-01-06/")
    assert any(o["Key"].endswith(f"{mysql_db}_orders_2026-01-06_batch0001.parquet") for o in objects["Contents"])

    _assert_partitions_match(source, target)
    assert run_table(config, instance, "orders", "2026-01-03").success
    _assert_partitions_match(source, target)
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{wh_schema}".orders')
        assert cur.fetchone()[0] == ROWS


def test_postgres_to_local_stage_to_duckdb_backfill(pg, pg_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f'''CREATE TABLE "{pg_schema}".events AS
            SELECT g AS id, timestamptz '2026-01-01 00:00:00+00' + ((g - 1) * 4.32) * interval '1 second' AS created_at,
                   (g % 4999) + 1 AS customer_id, ((g * 7919) % 10000000) / 100.0::numeric(12,2) AS amount,
                   'note ' || g || ' ✓' AS note
            FROM generate_series(1, {ROWS}) g''')
        cur.execute(f'ALTER TABLE "{pg_schema}".events ALTER COLUMN amount TYPE numeric(12,2)')
    warehouse = tmp_path / "dw.duckdb"
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "dw": {"kind": "duckdb", "path": str(warehouse)}},
            "stage": {"url": "stage", "target_file_mb": 1},
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.events",
                    "target": "dw",
                    "cursor": "created_at",
                    "partitioning": "daily",
                    "start_date": "2026-01-01",
                }
            ],
        },
    )

    def source(day):
        where, params = _day_filter("created_at", day + "T00:00:00+00:00", "%s")
        with pg.cursor() as cur:
            cur.execute(f'SELECT {FINGERPRINT.format(ts="created_at")} FROM "{pg_schema}".events {where}', params)
            return cur.fetchone()

    def target(day):
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            return conn.execute(
                f"SELECT {FINGERPRINT.format(ts='created_at')} FROM app.events WHERE created_at >= ? AND created_at < ?",
                [start, start + timedelta(days=1)],
            ).fetchone()

    for day in DAYS:
        result = run_table(config, instance, "events", day)
        assert result.success
        _assert_checks_pass(result, 5)
    assert (tmp_path / "stage" / "app").is_dir(), "the local stage sits beside the config file"
    _assert_partitions_match(source, target)
    assert run_table(config, instance, "events", "2026-01-02").success
    _assert_partitions_match(source, target)


def _assert_checks_pass(result, expected: int) -> None:
    """The asset checks ran with the load, scoped to its partition, and all passed."""
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == expected and all(e.passed for e in evaluations), evaluations
    partitioned = [e for e in evaluations if e.check_name not in ("fresh", "total_rows_match_source")]
    assert {e.partition for e in partitioned} == {result.dagster_run.tags["dagster/partition"]}


def _assert_partitions_match(source, target) -> None:
    total = 0
    for day in DAYS:
        expected, actual = source(day), target(day)
        assert expected[0] > 10_000, f"{day} should hold a sixth of the rows"
        assert tuple(_normal(v) for v in actual) == tuple(_normal(v) for v in expected), day
        total += expected[0]
    assert total == ROWS


def _normal(value):
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, float):
        return Decimal(str(value))
    return Decimal(value) if isinstance(value, int | Decimal) else value
