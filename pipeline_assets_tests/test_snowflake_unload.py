"""Seed 000's migration: Snowflake unloads each partition straight into the S3 stage, PostgreSQL loads it.

fakesnow cannot unload, so the one statement it lacks is simulated: the test source parses the generated
``COPY INTO 's3://…' FROM (SELECT …)`` in Snowflake's dialect, runs its SELECT on fakesnow, and writes the files a
real unload would (Snowflake's names, several per partition, INCLUDE_QUERY_ID honoured, OVERWRITE = FALSE refused
on a non-empty folder) to the S3 server, answering DETAILED_OUTPUT's rows. Everything else is the real path."""

import io
import re
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from pipeline_assets import sources
from pipeline_assets.sources.snowflake import SnowflakeSource
from pipeline_assets_tests.conftest import pg_connection, project, s3_stage
from pipeline_assets_tests.runs import failure, metadata, run_table

DAYS = ["2026-03-01", "2026-03-02"]
ROWS_PER_FILE = 700


@pytest.fixture
def unloads(s3_server, monkeypatch) -> list[str]:
    """Swap in the simulating source; returns the unload statements it received."""
    seen: list[str] = []

    class SimulatedUnload(SnowflakeSource):
        def _unload(self, cur, sql: str, params: list) -> list[tuple]:
            seen.append(sql)
            node = sqlglot.parse_one(sql.replace("%s", "NULL"), read="snowflake")
            assert isinstance(node, exp.Copy) and node.this.this.is_string
            options = {
                p.this.name.upper(): p.expression.sql("snowflake").upper() if p.expression else None
                for p in node.args["params"]
            }
            assert options["DETAILED_OUTPUT"] == "TRUE" and options["HEADER"] == "TRUE", options
            location = node.this.this.name
            bucket, _, prefix = location.removeprefix("s3://").partition("/")
            client = s3_server.client()
            existing = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0)
            if options["OVERWRITE"] == "FALSE" and existing:
                raise RuntimeError(
                    f"Files already existing at the unload destination: {location}. Use overwrite option to force unloading."
                )
            query = re.search(r" FROM \((SELECT .*)\) FILE_FORMAT", sql).group(1)
            cur.execute(query, tuple(params) or None)
            table = cur.fetch_arrow_all() or pa.table({})
            query_id = f"{uuid.uuid4()}_" if options["INCLUDE_QUERY_ID"] == "TRUE" else ""
            reported = []
            for n, start in enumerate(range(0, table.num_rows, ROWS_PER_FILE)):
                chunk, body = table.slice(start, ROWS_PER_FILE), io.BytesIO()
                pq.write_table(chunk, body, compression="snappy")
                name = f"data_{query_id}0_0_{n}.snappy.parquet"
                client.put_object(Bucket=bucket, Key=prefix + name, Body=body.getvalue())
                reported.append((name, len(body.getvalue()), chunk.num_rows))
            return reported

    monkeypatch.setitem(sources.SOURCES, "snowflake", SimulatedUnload)
    return seen


def _dimpayer(snowflake) -> None:
    with snowflake.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS BI")
        cur.execute(
            "CREATE OR REPLACE TABLE BI.DIMPAYER (PAYER_ID NUMBER(38,0), NAME VARCHAR, BALANCE NUMBER(12,2), "
            "UPDATED_AT TIMESTAMP_NTZ)"
        )
        cur.execute(
            "INSERT INTO BI.DIMPAYER SELECT seq4(), 'payer ' || seq4(), uniform(0, 100000, random()) / 100, "
            "dateadd(minute, seq4(), '2026-03-01'::timestamp_ntz) FROM table(generator(rowcount => 2880))"
        )


def _config(tmp_path, snowflake, s3_server, s3_bucket, wh_schema, include_query_id: bool = True, **table):
    return project(
        tmp_path,
        {
            "connections": {
                "snow": snowflake.connection(
                    storage_integration="s3_int", unload={"include_query_id": include_query_id}
                ),
                "pg": pg_connection(),
            },
            "stage": s3_stage(s3_server, s3_bucket),
            "tables": [
                {
                    "source": "snow",
                    "table": "BI.DIMPAYER",
                    "target": "pg",
                    "target_table": f"{wh_schema}.dimpayer",
                    "name": "dimpayer",
                    "cursor": "UPDATED_AT",
                    "partitioning": "daily",
                    "start_date": DAYS[0],
                    **table,
                }
            ],
        },
    )


def _target(pg, wh_schema: str) -> tuple:
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*), count(DISTINCT "PAYER_ID"), min("UPDATED_AT")::date FROM "{wh_schema}".dimpayer')
        return cur.fetchone()


def test_snowflake_unloads_into_unique_run_folders_and_postgres_loads(
    unloads, snowflake, pg, wh_schema, s3_server, s3_bucket, instance, tmp_path
):
    _dimpayer(snowflake)
    config = _config(tmp_path, snowflake, s3_server, s3_bucket, wh_schema)
    for day in DAYS:
        result = run_table(config, instance, "dimpayer", day)
        assert result.success, failure(result)
        assert all(e.passed for e in result.get_asset_check_evaluations()), [
            (e.check_name, e.passed, e.metadata) for e in result.get_asset_check_evaluations() if not e.passed
        ]
    staged = metadata(result, ["stage", "snow", "dimpayer"])
    assert staged["files"] == 3 and staged["rows_extracted"] == 1440, "1,440 rows a day, 700 per unloaded file"
    assert re.match(
        rf"COPY INTO 's3://{s3_bucket}/staging/snow/BI_dimpayer/{DAYS[1]}/run_\d{{8}}_\d{{6}}_[0-9a-f-]+/' "
        r"STORAGE_INTEGRATION = s3_int ENCRYPTION = \(TYPE = 'AWS_SSE_S3'\) FROM \(SELECT .* WHERE \"UPDATED_AT\" >= %s AND \"UPDATED_AT\" < %s\) "
        r"FILE_FORMAT = \(TYPE = PARQUET\) HEADER = TRUE MAX_FILE_SIZE = 16777216 OVERWRITE = FALSE "
        r"INCLUDE_QUERY_ID = TRUE DETAILED_OUTPUT = TRUE$",
        unloads[-1],
    ), unloads[-1]
    assert _target(pg, wh_schema)[:2] == (2880, 2880)
    # a day unloaded again lands in a new folder and replaces the day: nothing doubles
    assert run_table(config, instance, "dimpayer", DAYS[0]).success
    assert _target(pg, wh_schema)[:2] == (2880, 2880)


def test_fixed_paths_overwrite_or_refuse_as_the_seed_describes(
    unloads, snowflake, pg, wh_schema, s3_server, s3_bucket, instance, tmp_path
):
    _dimpayer(snowflake)
    fixed = _config(tmp_path, snowflake, s3_server, s3_bucket, wh_schema, False, path_strategy="fixed", overwrite=True)
    client, folder = s3_server.client(), f"staging/snow/BI_dimpayer/{DAYS[0]}/fixed/"
    client.put_object(Bucket=s3_bucket, Key=folder + "data_0_0_9.snappy.parquet", Body=b"an older unload's file")
    result = run_table(fixed, instance, "dimpayer", DAYS[0])
    assert result.success, failure(result)
    assert "OVERWRITE = TRUE INCLUDE_QUERY_ID = FALSE" in unloads[-1]
    keys = sorted(
        o["Key"].rsplit("/", 1)[1] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix=folder)["Contents"]
    )
    assert keys == [
        "_manifest.json",
        "data_0_0_0.snappy.parquet",
        "data_0_0_1.snappy.parquet",
        "data_0_0_2.snappy.parquet",
    ]
    assert _target(pg, wh_schema)[:2] == (1440, 1440)

    strict = _config(tmp_path, snowflake, s3_server, s3_bucket, wh_schema, path_strategy="fixed", overwrite=False)
    refused = run_table(strict, instance, "dimpayer", DAYS[0])
    assert not refused.success
    assert (
        failure(refused)
        == f"stage: files already exist in s3://{s3_bucket}/{folder.rstrip('/')}/ and overwrite is false"
    )
    assert _target(pg, wh_schema)[:2] == (1440, 1440), "a refused unload leaves the target as it was"


def test_an_incremental_snowflake_table_merges_and_follows_deletes(
    unloads, snowflake, pg, wh_schema, s3_server, s3_bucket, instance, tmp_path
):
    """The watermark comes from Snowflake (asked before each unload) and the key list for ``delete_missing`` streams
    through the connector as Arrow batches."""
    _dimpayer(snowflake)
    config = _config(
        tmp_path,
        snowflake,
        s3_server,
        s3_bucket,
        wh_schema,
        partitioning="incremental",
        start_date=None,
        write_mode="merge",
        primary_key=["PAYER_ID"],
        delete_missing=True,
    )
    assert run_table(config, instance, "dimpayer").success
    assert _target(pg, wh_schema)[:2] == (2880, 2880)
    with snowflake.connect() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM BI.DIMPAYER WHERE PAYER_ID < 100")
        cur.execute("UPDATE BI.DIMPAYER SET NAME = 'renamed', UPDATED_AT = '2026-03-05 00:00:00' WHERE PAYER_ID = 500")
    result = run_table(config, instance, "dimpayer")
    assert result.success, failure(result)
    loaded = metadata(result, ["pg", wh_schema, "dimpayer"])
    # 100 deleted at the source, the updated row, and the row at the old watermark, read again by the closed start
    assert loaded["rows_replaced"] == 102 and loaded["watermark_after"].startswith("2026-03-05T00:00:00")
    assert _target(pg, wh_schema)[:2] == (2780, 2780)
    with pg.cursor() as cur:
        cur.execute(f'SELECT "NAME" FROM "{wh_schema}".dimpayer WHERE "PAYER_ID" = 500')
        assert cur.fetchone() == ("renamed",)
