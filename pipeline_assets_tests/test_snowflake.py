"""Snowflake as a warehouse, on fakesnow's server (see snowflake_server.py): PostgreSQL → S3 (SeaweedFS) → COPY INTO
by exact file names, per-file results in the ledger and the metadata, a partition loaded again, strays ignored."""

import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from pipeline_assets.cli.main import cli
from pipeline_assets.connect.snowflake_sql import copy_into_sql, unload_sql
from pipeline_assets_tests.conftest import pg_connection, project, s3_stage, write_config
from pipeline_assets_tests.runs import failure, metadata, run_table

DAYS = ["2026-02-01", "2026-02-02", "2026-02-03"]


def _orders(pg, schema: str) -> None:
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{schema}".orders AS SELECT g AS id, timestamp '2026-02-01' + g * interval '1 minute'
                        AS created_at, (g % 97)::numeric(10,2) AS amount, 'order ' || g AS "Note", g % 2 = 0 AS paid
                        FROM generate_series(0, 3 * 1440 - 1) g""")


def _config(tmp_path, snowflake, s3_server, s3_bucket, pg_schema: str, wh_schema: str, **table):
    return project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "sf": snowflake.connection()},
            "stage": s3_stage(s3_server, s3_bucket, target_file_mb=0.02),
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.orders",
                    "target": "sf",
                    "target_table": f"{wh_schema}.orders",
                    "name": "orders",
                    "cursor": "created_at",
                    "partitioning": "daily",
                    "start_date": DAYS[0],
                    **table,
                }
            ],
        },
    )


def test_postgres_to_snowflake_by_exact_files_with_per_file_results(
    pg, pg_schema, wh_schema, snowflake, s3_server, s3_bucket, instance, tmp_path
):
    _orders(pg, pg_schema)
    config = _config(tmp_path, snowflake, s3_server, s3_bucket, pg_schema, wh_schema)
    for day in DAYS:
        result = run_table(config, instance, "orders", day)
        assert result.success, failure(result)
        assert all(e.passed for e in result.get_asset_check_evaluations()), result.get_asset_check_evaluations()
    loaded = metadata(result, ["sf", wh_schema, "orders"])
    assert loaded["rows_loaded"] == 1440 and loaded["files"] > 1 and loaded["files_rejected"] == 0
    table = f'"{wh_schema}"."orders"'
    assert snowflake.query(f'SELECT count(*), sum("id"), sum("amount") FROM {table}') == [
        (4320, sum(range(4320)), sum(g % 97 for g in range(4320)))
    ]
    ledger = snowflake.query(
        "SELECT status, count(*), sum(rows_loaded) FROM _pipeline_assets.loaded_files "
        "WHERE target_table = %s GROUP BY status",
        (f"{wh_schema}.orders",),
    )
    assert [(status, rows) for status, _, rows in ledger] == [("loaded", 4320)]

    # a stray file in the partition's folder is never picked up: COPY names the files the manifest lists
    folder = metadata(result, ["stage", "app", "orders"])["stage_path"].removeprefix(f"s3://{s3_bucket}/")
    stray = s3_server.client()
    stray.copy_object(
        Bucket=s3_bucket,
        Key=f"{folder}/stray.parquet",
        CopySource={"Bucket": s3_bucket, "Key": f"{folder}/{_first_file(stray, s3_bucket, folder)}"},
    )
    # loading a partition again replaces it: Snowflake's own load history would skip the files, FORCE = TRUE does not
    again = run_table(config, instance, "orders", DAYS[2], only="loaded")
    assert again.success, failure(again)
    assert metadata(again, ["sf", wh_schema, "orders"])["rows_replaced"] == 1440
    assert snowflake.query(f"SELECT count(*) FROM {table}") == [(4320,)]
    statuses = dict(
        snowflake.query(
            "SELECT status, count(*) FROM _pipeline_assets.loaded_files WHERE target_table = %s GROUP BY status",
            (f"{wh_schema}.orders",),
        )
    )
    assert statuses == {"loaded": ledger[0][1]}, "the same files, loaded again; the stray is not in the ledger"


def _first_file(client, bucket: str, folder: str) -> str:
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=folder + "/")["Contents"]]
    return next(k for k in keys if k.endswith(".parquet")).rsplit("/", 1)[1]


def test_copy_statements_parse_as_snowflake_with_every_on_error():
    """fakesnow runs only ABORT_STATEMENT and no unload: these statements are held to their text and parsed."""
    access = "STORAGE_INTEGRATION = s3_int"
    sql = copy_into_sql('"dw"."t"', "s3://b/staging/x", ["a.parquet", "it's.parquet"], "parquet", "skip_file", access)
    assert sql == (
        "COPY INTO \"dw\".\"t\" FROM 's3://b/staging/x/' STORAGE_INTEGRATION = s3_int FILES = ('a.parquet', 'it''s.parquet') "
        "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE BINARY_AS_TEXT = FALSE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE "
        "FORCE = TRUE ON_ERROR = SKIP_FILE"
    )
    for on_error, native in (("abort", "ABORT_STATEMENT"), ("skip_file", "SKIP_FILE"), ("continue", "CONTINUE")):
        for file_format in ("parquet", "csv"):
            node = sqlglot.parse_one(
                copy_into_sql('"dw"."t"', "s3://b/p", ["f1"], file_format, on_error, access), read="snowflake"
            )
            assert isinstance(node, exp.Copy) and node.this.name == "t"
            params = {p.this.name.upper(): p for p in node.args["params"]}
            assert params["ON_ERROR"].expression.name.upper() == native
            assert {"FILES", "FILE_FORMAT", "MATCH_BY_COLUMN_NAME", "FORCE"} <= set(params)
            assert node.args["credentials"].sql("snowflake") == access
    unload = unload_sql(
        "s3://b/staging/t/2026-01-01/run",
        'SELECT "id" FROM "s"."t" WHERE "ts" >= %s',
        access,
        overwrite=False,
        include_query_id=True,
        max_file_bytes=16 * 2**20,
    )
    assert unload == (
        'COPY INTO \'s3://b/staging/t/2026-01-01/run/\' STORAGE_INTEGRATION = s3_int FROM (SELECT "id" FROM "s"."t" '
        'WHERE "ts" >= %s) FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE MAX_FILE_SIZE = 16777216 '
        "OVERWRITE = FALSE INCLUDE_QUERY_ID = TRUE DETAILED_OUTPUT = TRUE"
    )
    node = sqlglot.parse_one(unload.replace("%s", "'2026-01-01'"), read="snowflake")
    # INTO a location with its access clause (Snowflake's grammar puts it right after the URL) FROM a query
    assert (
        isinstance(node, exp.Copy) and node.this.this.is_string and node.args["credentials"].sql("snowflake") == access
    )
    assert node.find(exp.Select).sql("snowflake") == 'SELECT "id" FROM "s"."t" WHERE "ts" >= \'2026-01-01\''
    assert {"OVERWRITE", "INCLUDE_QUERY_ID", "DETAILED_OUTPUT", "HEADER", "MAX_FILE_SIZE"} <= {
        p.this.name.upper() for p in node.args["params"]
    }


def test_full_refresh_commits_the_new_table_before_swapping_it_in(
    pg, pg_schema, wh_schema, snowflake, s3_server, s3_bucket, tmp_path, monkeypatch
):
    """The refresh runs to the end on the stand-in: the new table built and committed, then ``SWAP WITH`` the live
    one (run by ``SnowflakeRules`` as Snowflake's DDL: it commits), the old table dropped after the commit."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".items AS SELECT g AS id, 'n' || g AS name,
                        timestamptz '2026-01-01' + g * interval '1 second' AS updated_at FROM generate_series(1, 300) g""")
    path = write_config(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "sf": snowflake.connection()},
            "stage": s3_stage(s3_server, s3_bucket),
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.items",
                    "target": "sf",
                    "target_table": f"{wh_schema}.items",
                    "name": "items",
                    "cursor": "updated_at",
                    "partitioning": "incremental",
                    "write_mode": "merge",
                    "primary_key": ["id"],
                }
            ],
        },
    )
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(path), "sync", "-t", "items"])
    assert first.exit_code == 0, first.output + first.stderr
    with pg.cursor() as cur:
        cur.execute(f'DELETE FROM "{pg_schema}".items WHERE id > 200')
    refresh = runner.invoke(cli, ["--config", str(path), "sync", "-t", "items", "--full-refresh", "--yes"])
    assert refresh.exit_code == 0, refresh.output + refresh.stderr
    assert snowflake.query(f'SELECT count(*), min("id"), max("id") FROM "{wh_schema}"."items"') == [(200, 1, 200)]
    tables = snowflake.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name", (wh_schema,)
    )
    assert tables == [("items",)], "the old table, swapped out, is dropped; no rename's leftover"
    statuses = dict(
        snowflake.query(
            "SELECT status, sum(rows_loaded) FROM _pipeline_assets.loaded_files WHERE target_table = %s "
            "GROUP BY status",
            (f"{wh_schema}.items",),
        )
    )
    assert statuses["loaded"] == 200 and statuses["superseded"] == 300, statuses
