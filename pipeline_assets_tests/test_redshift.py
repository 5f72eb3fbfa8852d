"""The Redshift warehouse. No Redshift emulator exists: everything but COPY runs on the local PostgreSQL, and
COPY itself is performed by ``redshift_emulator`` after checking the statement and the manifest it reads from the
real S3 server. The generated COPY and manifest texts are asserted exactly."""

import json
import uuid

import pyarrow as pa
import pytest
import sqlglot
import yaml
from click.testing import CliRunner
from sqlglot import exp

from pipeline_assets.cli.main import cli
from pipeline_assets.config import parse_config
from pipeline_assets.errors import ConfigError
from pipeline_assets.resources import StageResource
from pipeline_assets.stage.lifecycle import DONE
from pipeline_assets.stage.manifest import StagedFile
from pipeline_assets.stage.tables import table_stage
from pipeline_assets.warehouses import WAREHOUSES
from pipeline_assets.warehouses.ledger import _DDL as LEDGER_DDL
from pipeline_assets.warehouses.redshift import bookkeeping_ddl, redshift_type
from pipeline_assets.warehouses.redshift_copy import copy_manifest, copy_statement
from pipeline_assets.warehouses.state import _DDL as STATE_DDL
from pipeline_assets_tests.conftest import (
    PG,
    pg_connection,
    project,
    s3_stage,
    write_config,
)
from pipeline_assets_tests.redshift_emulator import (
    ROLE,
    EmulatedRedshift,
    Emulation,
    install,
)
from pipeline_assets_tests.runs import failure, metadata, run_table
from pipeline_assets_tests.sshd import sshd

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


def _config(tmp_path, s3_server, s3_bucket, schema: str, wh_schema: str, stage_format: str = "parquet", **table):
    return project(tmp_path, {
        "connections": {"app": pg_connection(), "rs": redshift_connection()},
        "stage": s3_stage(s3_server, s3_bucket, target_file_mb=0.5, format=stage_format),
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


def test_bookkeeping_tables_get_long_varchars(pg, wh_schema):
    """Redshift reads TEXT as varchar(256): the ledger's and the watermarks' tables are created with varchar(65535)."""
    statements = [bookkeeping_ddl(sql) for sql in (LEDGER_DDL, *STATE_DDL)]
    assert all(" TEXT" not in sql and "VARCHAR(65535)" in sql for sql in statements)
    assert bookkeeping_ddl('CREATE TABLE IF NOT EXISTS "dw"."t" (a TEXT)') == 'CREATE TABLE IF NOT EXISTS "dw"."t" (a TEXT)'
    _query_none(pg, f'CREATE SCHEMA "{wh_schema}"; ' + "; ".join(s.replace('"_pipeline_assets"', f'"{wh_schema}"') for s in statements))
    types = _query(pg, "SELECT DISTINCT data_type, character_maximum_length FROM information_schema.columns WHERE table_schema = %s "
                       "AND data_type NOT LIKE 'timestamp%%' AND data_type <> 'bigint'", (wh_schema,))  # fmt: skip
    assert types == [("character varying", 65535)]


def test_type_mapping():
    expected = {
        pa.bool_(): "boolean", pa.int8(): "smallint", pa.int32(): "integer", pa.int64(): "bigint",
        pa.uint32(): "bigint", pa.uint64(): "numeric(20,0)", pa.decimal128(38, 9): "numeric(38,9)", pa.float32(): "real",
        pa.float64(): "double precision", pa.date32(): "date", pa.time64("us"): "time", pa.timestamp("us"): "timestamp",
        pa.timestamp("us", "UTC"): "timestamptz", pa.string(): "varchar(65535)", pa.json_(pa.string()): "varchar(65535)",
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


@pytest.mark.parametrize("stage_format", ["parquet", "csv"])
def test_append_run_again_skips_the_files_the_ledger_holds(stage_format, pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift,
                                                           instance, tmp_path):  # fmt: skip
    _events(pg, pg_schema, 20_000)
    config = _config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema, write_mode="append", stage_format=stage_format)
    first = run_table(config, instance, "events", DAY)
    assert first.success, failure(first)
    again = run_table(config, instance, "events", DAY, only="loaded")  # the same staged files, loaded again
    assert again.success, failure(again)
    loaded = metadata(again, ["rs", wh_schema, "events"])
    assert (loaded["rows_loaded"], loaded["files_skipped"]) == (0, metadata(first, ["stage", "app", "events"])["files"])
    assert len(redshift.copies) == 1, "nothing left to copy: no COPY at all"
    assert redshift.copies[0]["sql"].endswith("FORMAT AS PARQUET MANIFEST" if stage_format == "parquet" else "EMPTYASNULL MANIFEST")
    assert _query(pg, f'SELECT count(*), count(DISTINCT id) FROM "{wh_schema}".events') == [(20_000, 20_000)]


def test_incremental_merge_with_deletes(pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".items AS SELECT g AS id, 'n' || g AS name, g AS qty,
                        timestamptz '2026-01-01' + g * interval '1 second' AS updated_at FROM generate_series(1, 3000) g;
                        ALTER TABLE "{pg_schema}".items ADD PRIMARY KEY (id)""")
    config = project(tmp_path, {
        "connections": {"app": pg_connection(), "rs": redshift_connection()},
        "stage": s3_stage(s3_server, s3_bucket),
        "tables": [{"source": "app", "table": f"{pg_schema}.items", "target": "rs", "target_table": f"{wh_schema}.items",
                    "cursor": "updated_at", "partitioning": "incremental", "write_mode": "merge", "primary_key": ["id"],
                    "delete_missing": True}],
    })  # fmt: skip
    traffic = [
        "UPDATE {t} SET qty = qty + 1000, updated_at = now() WHERE id % 7 = 0",
        "INSERT INTO {t} SELECT id + 5000, 'new', 1, now() FROM {t} WHERE id <= 50",
        "DELETE FROM {t} WHERE id % 11 = 0",
    ]
    for statement in [None, *traffic]:
        if statement:
            _query_none(pg, statement.format(t=f'"{pg_schema}".items'))
        result = run_table(config, instance, "items")
        assert result.success, failure(result)
        source = _query(pg, f'SELECT id, name, qty FROM "{pg_schema}".items ORDER BY id')
        assert _query(pg, f'SELECT id, name, qty FROM "{wh_schema}".items ORDER BY id') == source, statement
    assert any("_pipeline_assets" in c["sql"] and "incoming_" in c["sql"] for c in redshift.copies), "merged via a staging table"
    assert any("keys" in url for c in redshift.copies for url in c["urls"]), "the source's keys were COPYed for delete_missing"


def _query_none(pg, sql: str) -> None:
    with pg.cursor() as cur:
        cur.execute(sql)


def test_a_failing_copy_is_one_line_from_stl_load_errors_and_changes_nothing(pg, pg_schema, wh_schema, s3_server, s3_bucket,
                                                                             redshift, instance, tmp_path):  # fmt: skip
    _events(pg, pg_schema, 60_000)
    config = _config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema)
    assert run_table(config, instance, "events", DAY).success
    before = _query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events')
    ledger_sql = "SELECT file_uri, status FROM _pipeline_assets.loaded_files WHERE status IN ('loaded', 'superseded') ORDER BY 1"
    ledger_before = _query(pg, ledger_sql)
    redshift.fail_on = "batch0001"
    result = run_table(config, instance, "events", DAY)
    assert not result.success
    message = failure(result)
    bad = next(url for url in redshift.copies[-1]["urls"] if "batch0001" in url)
    assert message == (f"warehouse 'rs': {wh_schema}.events: COPY failed on {bad} line 7, column amount: Invalid digit, "
                       "Value 'x', Pos 0, Type: Decimal")  # fmt: skip
    assert _query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events') == before
    assert _query(pg, ledger_sql) == ledger_before, "the failed load's files are not loaded, the earlier ones still are"
    failed = _query(pg, "SELECT count(*) FROM _pipeline_assets.loaded_files WHERE status = 'failed' AND error LIKE %s",
                    (f"%COPY failed on {bad}%",))  # fmt: skip
    assert failed[0][0] == len(redshift.copies[-1]["urls"]), "the reason is on each file of the failed load"


@pytest.mark.parametrize(
    "ddl, expected",
    [
        ('CREATE TABLE {t} (note varchar(65535), id integer, "at" timestamp, amount numeric(8,2))',
         ("{t}: columns (note, id, at, amount) differ from the staged files' (id, at, note, amount) in order or number; "
          "Redshift's COPY matches them by position: run a full refresh to rebuild the table")),
        ('CREATE TABLE {t} (id smallint, "at" timestamp, note varchar(65535), amount numeric(8,2))',
         ("{t}.id: the source widened it to integer, but Redshift changes a column's type in place only for VARCHAR lengths; "
          "run a full refresh to rebuild the table")),
    ],
)  # fmt: skip
def test_a_target_copy_cannot_fill_is_refused_in_one_line(ddl, expected, pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift,
                                                          instance, tmp_path):  # fmt: skip
    _events(pg, pg_schema, 1_000)
    _query_none(pg, f'CREATE SCHEMA "{wh_schema}"; ' + ddl.format(t=f'"{wh_schema}".events'))
    result = run_table(_config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema), instance, "events", DAY)
    assert failure(result) == "warehouse 'rs': " + expected.format(t=f"{wh_schema}.events")
    assert _query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(0,)] and not redshift.copies


BASE = {
    "connections": {"app": pg_connection(), "rs": redshift_connection()},
    "stage": {"url": "s3://bucket/stage"},
    "tables": [{"source": "app", "table": "public.events", "target": "rs"}],
}


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda b: b["connections"]["rs"].pop("redshift"),
         "connections.rs: a redshift connection needs redshift.iam_role (the IAM role COPY assumes to read the stage)"),
        (lambda b: b["connections"]["rs"]["redshift"].pop("iam_role"), "connections.rs.redshift.iam_role: Field required"),
        (lambda b: b["connections"]["rs"]["redshift"].update(iam_role="admin"),
         "connections.rs.redshift.iam_role: expected an IAM role ARN like arn:aws:iam::123456789012:role/redshift-copy (got 'admin')"),
        (lambda b: b.update(stage={"url": "stage"}),
         ("tables[0].target: 'rs' is a redshift warehouse, which loads from S3 only, but stage.url is a local folder (stage); "
          "stage to s3://bucket/prefix")),
        (lambda b: b["connections"]["rs"]["redshift"].update(ssh_tunnel={"host": "b", "user": "u", "private_key_path": "/k",
                                                                          "private_key_password": "hunter2"}),
         "connections.rs.redshift.ssh_tunnel.private_key_password: secrets are never written in the config file"),
        (lambda b: b["connections"]["app"].update(redshift={"iam_role": ROLE}),
         "connections.app: redshift: options are for redshift connections, not postgres"),
        (lambda b: b["connections"]["rs"]["redshift"].update(sslmode="sometimes"), "connections.rs.redshift.sslmode: got 'sometimes'"),
    ],
)  # fmt: skip
def test_bad_redshift_config_is_one_line(edit, expected):
    body = json.loads(json.dumps(BASE))
    edit(body)
    with pytest.raises(ConfigError) as error:
        parse_config(yaml.safe_dump(body), origin="pipeline.yaml")
    message = str(error.value)
    assert "\n" not in message and "hunter2" not in message
    assert message.startswith("pipeline.yaml: " + expected), message


def test_a_local_stage_for_redshift_stops_the_cli_before_anything_is_written(tmp_path):
    body = json.loads(json.dumps(BASE))
    body["stage"] = {"url": "stage"}
    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, body)), "sync", "--all"])
    assert result.exit_code == 2 and "loads from S3 only" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "stage").exists()


@pytest.fixture
def ssh_server(tmp_path):
    try:
        with sshd(tmp_path / "sshd") as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(f"the SSH test server did not start: {exc}", pytrace=False)


def test_loads_through_an_ssh_tunnel(pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, ssh_server, instance, tmp_path,
                                     monkeypatch):  # fmt: skip
    monkeypatch.setenv("PA_TEST_SSH_PASSPHRASE", ssh_server.passphrase)
    _events(pg, pg_schema, 2_000)
    tunnel = {"host": "127.0.0.1", "port": ssh_server.port, "user": ssh_server.user, "private_key_path": str(ssh_server.key_path),
              "private_key_password": "${PA_TEST_SSH_PASSPHRASE}"}  # fmt: skip
    body = {
        "connections": {"app": pg_connection(), "rs": redshift_connection(ssh_tunnel=tunnel)},
        "stage": s3_stage(s3_server, s3_bucket),
        "tables": [{"source": "app", "table": f"{pg_schema}.events", "target": "rs", "target_table": f"{wh_schema}.events",
                    "cursor": "at", "partitioning": "daily", "start_date": DAY}],
    }  # fmt: skip
    result = run_table(project(tmp_path, body), instance, "events", DAY)
    assert result.success, failure(result)
    assert _query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(2_000,)]

    monkeypatch.setenv("PA_TEST_SSH_PASSPHRASE", "wrong-passphrase")
    wrong = failure(run_table(project(tmp_path, body), instance, "events", DAY))
    assert wrong.startswith(f"warehouse 'rs': ssh tunnel {ssh_server.user}@127.0.0.1:{ssh_server.port}: cannot read the "
                            f"private key {ssh_server.key_path}: ") and "wrong-passphrase" not in wrong  # fmt: skip

    monkeypatch.setenv("PA_TEST_SSH_PASSPHRASE", ssh_server.passphrase)
    ssh_server.stop()  # the bastion is gone: the load cannot reach the warehouse, so the tunnel was on the path
    gone = failure(run_table(project(tmp_path, body), instance, "events", DAY))
    assert gone.startswith(f"warehouse 'rs': ssh tunnel {ssh_server.user}@127.0.0.1:{ssh_server.port}: cannot open: "), gone
    assert _query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(2_000,)]
