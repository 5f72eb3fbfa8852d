"""What Redshift is sent, as text: the COPY statement and its manifest (golden strings, parsed back with sqlglot),
the type mapping, the bookkeeping tables' DDL, and bad configuration refused in one line before anything runs."""

import json

import pyarrow as pa
import pytest
import sqlglot
import yaml
from click.testing import CliRunner
from sqlglot import exp

from pipeline_assets.cli.main import cli
from pipeline_assets.config import parse_config
from pipeline_assets.core.errors import ConfigError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.warehouses.ledger import _DDL as LEDGER_DDL
from pipeline_assets.warehouses.redshift import bookkeeping_ddl, redshift_type
from pipeline_assets.warehouses.redshift_copy import copy_manifest, copy_statement
from pipeline_assets.warehouses.state import _DDL as STATE_DDL
from pipeline_assets_tests.conftest import pg_connection, write_config
from pipeline_assets_tests.redshift_emulator import ROLE, execute, query, redshift_connection

pytestmark = pytest.mark.stand_in


def test_copy_statement_and_manifest_text():
    files = [
        StagedFile(
            "t/2026-01-01/run_x/a_batch0000.parquet",
            "s3://bkt/stage/t/2026-01-01/run_x/a_batch0000.parquet",
            10,
            1234,
            "e1",
        ),
        StagedFile(
            "t/2026-01-01/run_x/a_batch0001.parquet",
            "s3://bkt/stage/t/2026-01-01/run_x/a_batch0001.parquet",
            3,
            99,
            "e2",
        ),
    ]
    assert (
        copy_manifest(files).decode()
        == """{
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
    )
    parquet = copy_statement('"dw"."orders"', "s3://bkt/stage/run_x/_redshift_ab12.manifest", ROLE, "parquet")
    assert parquet == (
        'COPY "dw"."orders" FROM \'s3://bkt/stage/run_x/_redshift_ab12.manifest\' '
        "IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS PARQUET MANIFEST"
    )
    csv = copy_statement('"dw"."o""dd"', "s3://bkt/it's/_redshift_ab12.manifest", ROLE, "csv")
    assert csv == (
        'COPY "dw"."o""dd" FROM \'s3://bkt/it\'\'s/_redshift_ab12.manifest\' IAM_ROLE '
        "'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' "
        "TIMEFORMAT 'auto' EMPTYASNULL MANIFEST"
    )
    node = sqlglot.parse_one(csv, read="redshift")
    assert (
        isinstance(node, exp.Copy)
        and node.this.name == 'o"dd'
        and node.args["files"][0].name == "s3://bkt/it's/_redshift_ab12.manifest"
    )
    assert node.args["credentials"].args["iam_role"].name == ROLE


def test_bookkeeping_tables_get_long_varchars(pg, wh_schema):
    """Redshift reads TEXT as varchar(256): the ledger's and the watermarks' tables are created with varchar(65535)."""
    statements = [bookkeeping_ddl(sql) for sql in (LEDGER_DDL, *STATE_DDL)]
    assert all(" TEXT" not in sql and "VARCHAR(65535)" in sql for sql in statements)
    assert (
        bookkeeping_ddl('CREATE TABLE IF NOT EXISTS "dw"."t" (a TEXT)')
        == 'CREATE TABLE IF NOT EXISTS "dw"."t" (a TEXT)'
    )
    execute(
        pg,
        f'CREATE SCHEMA "{wh_schema}"; '
        + "; ".join(s.replace('"_pipeline_assets"', f'"{wh_schema}"') for s in statements),
    )
    types = query(
        pg,
        "SELECT DISTINCT data_type, character_maximum_length FROM information_schema.columns WHERE table_schema = %s "
        "AND data_type NOT LIKE 'timestamp%%' AND data_type <> 'bigint'",
        (wh_schema,),
    )
    assert types == [("character varying", 65535)]


def test_type_mapping():
    expected = {
        pa.bool_(): "boolean",
        pa.int8(): "smallint",
        pa.int32(): "integer",
        pa.int64(): "bigint",
        pa.uint32(): "bigint",
        pa.uint64(): "numeric(20,0)",
        pa.decimal128(38, 9): "numeric(38,9)",
        pa.float32(): "real",
        pa.float64(): "double precision",
        pa.date32(): "date",
        pa.time64("us"): "time",
        pa.timestamp("us"): "timestamp",
        pa.timestamp("us", "UTC"): "timestamptz",
        pa.string(): "varchar(65535)",
        pa.json_(pa.string()): "varchar(65535)",
        pa.binary(): "varbyte(1024000)",
        pa.large_string(): "varchar(65535)",
    }
    assert {kind: redshift_type(kind) for kind in expected} == expected


BASE = {
    "connections": {"app": pg_connection(), "rs": redshift_connection()},
    "stage": {"url": "s3://bucket/stage"},
    "tables": [{"source": "app", "table": "public.events", "target": "rs"}],
}


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda b: b["connections"]["rs"].pop("redshift"),
            "connections.rs: a redshift connection needs redshift.iam_role (the IAM role COPY assumes to read the stage)",
        ),
        (
            lambda b: b["connections"]["rs"]["redshift"].pop("iam_role"),
            "connections.rs.redshift.iam_role: Field required",
        ),
        (
            lambda b: b["connections"]["rs"]["redshift"].update(iam_role="admin"),
            "connections.rs.redshift.iam_role: expected an IAM role ARN like arn:aws:iam::123456789012:role/redshift-copy (got 'admin')",
        ),
        (
            lambda b: b.update(stage={"url": "stage"}),
            "tables[0].target: redshift connection 'rs' reads the stage itself, so stage.url must be s3://bucket/prefix, not "
            "the local folder ",
        ),
        (
            lambda b: b["connections"]["rs"]["redshift"].update(
                ssh_tunnel={"host": "b", "user": "u", "private_key_path": "/k", "private_key_password": "hunter2"}
            ),
            "connections.rs.redshift.ssh_tunnel.private_key_password: secrets are never written in the config file",
        ),
        (
            lambda b: b["connections"]["app"].update(redshift={"iam_role": ROLE}),
            "connections.app: redshift: options are for redshift connections, not postgres",
        ),
        (
            lambda b: b["connections"]["rs"]["redshift"].update(sslmode="sometimes"),
            "connections.rs.redshift.sslmode: got 'sometimes'",
        ),
        (
            lambda b: b["connections"]["rs"].update(kind="redshfit"),
            "connections.rs.kind: got 'redshfit'; input should be 'postgres', 'mysql', 'sqlite', 'duckdb', 'snowflake', 'redshift' or 'files'",
        ),
    ],
)
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
    assert result.exit_code == 2 and "reads the stage itself, so stage.url must be s3://bucket/prefix" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "stage").exists()
