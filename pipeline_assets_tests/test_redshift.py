"""The Redshift warehouse. No Redshift emulator exists: everything but COPY runs on the local PostgreSQL, and
COPY itself is performed by ``redshift_emulator`` after checking the statement and the manifest it reads from the
real S3 server. The generated COPY and manifest texts are asserted exactly."""

import json
import uuid
from datetime import datetime, timezone

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from pipeline_assets.config import parse_config
from pipeline_assets.errors import ConfigError
from pipeline_assets.resources import StageResource
from pipeline_assets.stage.lifecycle import DONE
from pipeline_assets.stage.manifest import StagedFile
from pipeline_assets.stage.tables import table_stage
from pipeline_assets.warehouses import WAREHOUSES, TargetTable
from pipeline_assets.warehouses.redshift import redshift_type
from pipeline_assets.warehouses.redshift_copy import copy_manifest, copy_statement
from pipeline_assets_tests.conftest import PG, pg_connection, project, s3_stage
from pipeline_assets_tests.redshift_emulator import ROLE, EmulatedRedshift, Emulation, install
from pipeline_assets_tests.runs import failure, metadata, run_table

DAY = "2026-01-01"


@pytest.fixture
def redshift(pg, s3_server, monkeypatch):
    """Route ``kind: redshift`` to the emulated-COPY warehouse on PostgreSQL; yields what its COPYs saw."""
    emulation = Emulation(s3_server.client(), f"pa_rs_sys_{uuid.uuid4().hex[:8]}")
    install(pg, emulation)
    monkeypatch.setitem(WAREHOUSES, "redshift", EmulatedRedshift)
    yield emulation
    with pg.cursor() as cur:
        cur.execute(f'DROP SCHEMA "{emulation.system_schema}" CASCADE')


def redshift_connection(**extra) -> dict:
    return {"kind": "redshift", "host": PG["host"], "port": PG["port"], "user": PG["user"], "database": PG["dbname"],
            "redshift": {"iam_role": ROLE, "sslmode": "disable", **extra}}  # fmt: skip


def _events(pg, schema: str, rows: int) -> None:
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{schema}".events AS SELECT g AS id, timestamp '{DAY}' + (g % 86400) * interval '1 second'
                        AS at, md5(g::text) AS note, (g % 1000) / 10.0::numeric(8,2) AS amount FROM generate_series(1, {rows}) g""")
        cur.execute(f'ALTER TABLE "{schema}".events ALTER COLUMN amount TYPE numeric(8,2)')


def _config(tmp_path, s3_server, s3_bucket, schema: str, wh_schema: str, **table):
    return project(tmp_path, {
        "connections": {"app": pg_connection(), "rs": redshift_connection()},
        "stage": s3_stage(s3_server, s3_bucket, target_file_mb=0.5),
        "tables": [{"source": "app", "table": f"{schema}.events", "target": "rs", "target_table": f"{wh_schema}.events",
                    "cursor": "at", "partitioning": "daily", "start_date": DAY, **table}],
    })  # fmt: skip


def _query(pg, sql: str, params=()) -> list[tuple]:
    with pg.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_copy_statement_and_manifest_text():
    files = [StagedFile("t/2026-01-01/run_x/a_batch0000.parquet", "s3://bkt/stage/t/2026-01-01/run_x/a_batch0000.parquet", 10,
                        1234, "e1"),
             StagedFile("t/2026-01-01/run_x/a_batch0001.parquet", "s3://bkt/stage/t/2026-01-01/run_x/a_batch0001.parquet", 3,
                        99, "e2")]  # fmt: skip
    assert copy_manifest(files).decode() == """{
  "entries": [
    {
      "url": "s3://bkt/stage/t/2026-01-01/run_x/a_batch0000.parquet",
      "mandatory": true,
      "meta": {
        "content_length": 1234
      }
    },
    {
      "url": "s3://bkt/stage/t/2026-01-01/run_x/a_batch0001.parquet",
      "mandatory": true,
      "meta": {
        "content_length": 99
      }
    }
  ]
}"""
    parquet = copy_statement('"dw"."orders"', "s3://bkt/stage/run_x/_redshift_ab12.manifest", ROLE, "parquet")
    assert parquet == ("COPY \"dw\".\"orders\" FROM 's3://bkt/stage/run_x/_redshift_ab12.manifest' "
                       "IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS PARQUET MANIFEST")  # fmt: skip
    csv = copy_statement('"dw"."o""dd"', "s3://bkt/it's/_redshift_ab12.manifest", ROLE, "csv")
    assert csv == ("COPY \"dw\".\"o\"\"dd\" FROM 's3://bkt/it''s/_redshift_ab12.manifest' IAM_ROLE "
                   "'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' "
                   "TIMEFORMAT 'auto' EMPTYASNULL MANIFEST")  # fmt: skip
    node = sqlglot.parse_one(csv, read="redshift")
    assert isinstance(node, exp.Copy) and node.this.name == 'o"dd' and node.args["files"][0].name == "s3://bkt/it's/_redshift_ab12.manifest"
    assert node.args["credentials"].args["iam_role"].name == ROLE


def test_type_mapping():
    json_type = pa.string() if not hasattr(pa, "json_") else pa.json_()
    expected = {
        pa.bool_(): "boolean", pa.int8(): "smallint", pa.int32(): "integer", pa.int64(): "bigint",
        pa.uint32(): "bigint", pa.uint64(): "numeric(20,0)", pa.decimal128(38, 9): "numeric(38,9)", pa.float32(): "real",
        pa.float64(): "double precision", pa.date32(): "date", pa.time64("us"): "time", pa.timestamp("us"): "timestamp",
        pa.timestamp("us", "UTC"): "timestamptz", pa.string(): "varchar(65535)", json_type: "varchar(65535)",
        pa.binary(): "varbyte(1024000)", pa.large_string(): "varchar(65535)",
    }  # fmt: skip
    assert {kind: redshift_type(kind) for kind in expected} == expected


def test_daily_replace_through_dagster_copies_exactly_the_ledgers_files(pg, pg_schema, wh_schema, s3_server, s3_bucket,
                                                                         redshift, instance, tmp_path):  # fmt: skip
    _events(pg, pg_schema, 60_000)
    config = _config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema)
    first = run_table(config, instance, "events", DAY)
    assert first.success, failure(first)
    assert all(e.passed for e in first.get_asset_check_evaluations())
    staged = metadata(first, ["stage", "app", "events"])
    assert staged["files"] > 1
    (copy,) = redshift.copies
    loaded = _query(pg, "SELECT file_uri FROM _pipeline_assets.loaded_files WHERE target_table = %s AND status = 'loaded'"
                        " AND load_run_id = %s", (f"{wh_schema}.events", first.run_id))  # fmt: skip
    assert sorted(copy["urls"]) == sorted(u for (u,) in loaded) and len(loaded) == staged["files"]
    assert copy["manifest"].startswith(str(staged["stage_path"]) + "/_redshift_")
    source = _query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{pg_schema}".events WHERE at < %s', (f"{DAY} 24:00",))
    assert _query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events') == source
    columns = _query(pg, "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns WHERE "
                         "table_schema = %s AND table_name = 'events' ORDER BY ordinal_position", (wh_schema,))  # fmt: skip
    assert columns == [("id", "integer", None), ("at", "timestamp without time zone", None),
                       ("note", "character varying", 65535), ("amount", "numeric", None)]  # fmt: skip

    stage = table_stage(config.tables[0], config, StageResource.from_config(config.stage, resolve=True).store(), EmulatedRedshift("rs", config.connections["rs"], None))
    entries = {e.key.rsplit("/", 1)[-1]: e for e in stage.entries(lambda run_id: "SUCCESS")}
    copy_manifest_entry = entries[copy["manifest"].rsplit("/", 1)[-1]]
    assert (copy_manifest_entry.kind, copy_manifest_entry.state) == ("manifest", DONE), "it belongs to its run, not an orphan"

    second = run_table(config, instance, "events", DAY)
    assert second.success, failure(second)
    assert metadata(second, ["rs", wh_schema, "events"])["rows_replaced"] == source[0][0]
    assert _query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events') == source
    statuses = _query(pg, "SELECT status, count(*) FROM _pipeline_assets.loaded_files WHERE target_table = %s GROUP BY 1 "
                          "ORDER BY 1", (f"{wh_schema}.events",))  # fmt: skip
    assert statuses == [("loaded", staged["files"]), ("superseded", staged["files"])]
