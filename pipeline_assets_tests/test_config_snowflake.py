"""Snowflake's configuration and its bad inputs: each one line naming the YAML path, nothing run."""

import pytest

from pipeline_assets.config import parse_config
from pipeline_assets.core.errors import ConfigError

BASE = """
connections:
  app: {kind: postgres, host: db, user: etl, database: app}
  snow:
    kind: snowflake
    user: loader
    password: "${SNOWFLAKE_PASSWORD}"
    database: ANALYTICS
    snowflake: {account: myorg-acct, warehouse: LOAD_WH, role: LOADER, storage_integration: s3_int}
stage: {url: "s3://stage-bucket/staging"}
tables:
  - {source: app, table: public.orders, target: snow, cursor: created_at, partitioning: daily, start_date: 2026-01-01}
  - {source: snow, table: BI.DIMPAYER, target: app, name: dimpayer}
"""


def test_a_valid_snowflake_project():
    config = parse_config(BASE, origin="pipeline.yaml")
    snow = config.connections["snow"]
    assert (snow.snowflake.account, snow.snowflake.unload.include_query_id, snow.describe()) == (
        "myorg-acct",
        False,
        "snowflake myorg-acct/ANALYTICS",
    )
    assert config.tables[0].on_error == "abort"


@pytest.mark.parametrize(
    "edits, expected",
    [
        (
            [(", storage_integration: s3_int", "")],
            "connections.snow: Snowflake reaches the stage bucket through a storage "
            "integration or the stage's access keys: set snowflake.storage_integration (recommended) or stage.s3.access_key_id",
        ),
        (
            [('url: "s3://stage-bucket/staging"', "url: stage")],
            "tables[0].target: snowflake connection 'snow' reads the stage "
            "itself, so stage.url must be s3://bucket/prefix, not the local folder 'stage'",
        ),
        ([("{account: myorg-acct, ", "{")], "connections.snow.snowflake.account: Field required"),
        ([("    database: ANALYTICS\n", "")], "connections.snow: a snowflake connection needs database"),
        (
            [("name: dimpayer}", "name: dimpayer, on_error: continue}")],
            "tables[1].on_error: continue (drop bad rows, load the "
            "rest) needs a COPY that does that, which postgres lacks; use skip_file",
        ),
        (
            [("start_date: 2026-01-01}", "start_date: 2026-01-01, on_error: sometimes}")],
            "tables[0].on_error: got 'sometimes'",
        ),
        (
            [
                ("storage_integration: s3_int}", "storage_integration: s3_int, unload: {include_query_id: true}}"),
                ("name: dimpayer}", "name: dimpayer, path_strategy: fixed, overwrite: true}"),
            ],
            "tables[1]: Snowflake refuses INCLUDE_QUERY_ID = TRUE with OVERWRITE = TRUE; set "
            "connections.snow.snowflake.unload.include_query_id false, or overwrite false, or path_strategy unique",
        ),
        ([("kind: snowflake", "kind: snowflak")], "connections.snow.kind: got 'snowflak'"),
        (
            [("storage_integration: s3_int}", "storage_integration: s3_int, protocol: ftp}")],
            "connections.snow.snowflake.protocol: got 'ftp'",
        ),
        (
            [("storage_integration: s3_int}", "storage_integration: s3_int, unload: {max_file_mb: 0}}")],
            "connections.snow.snowflake.unload.max_file_mb: Input should be greater than 0",
        ),
        (
            [("storage_integration: s3_int}", "storage_integration: s3_int, unload: {include_query_id: maybe}}")],
            "connections.snow.snowflake.unload.include_query_id:",
        ),
        (
            [("storage_integration: s3_int", "storage_integration: 's3_int; DROP TABLE x'")],
            "connections.snow.snowflake.storage_integration: a storage integration name is letters, digits and _",
        ),
        (
            [
                (
                    "cursor: created_at, partitioning: daily, start_date: 2026-01-01}",
                    "cursor: created_at, partitioning: incremental, write_mode: merge, primary_key: [id], on_error: skip_file}",
                )
            ],
            "tables[0].on_error: skip_file would let the watermark pass the rows it left out",
        ),
        (
            [("target: snow,", "target: warehouse9,")],
            "tables[0].target: unknown connection 'warehouse9' (defined: app, snow)",
        ),
        (
            [
                (
                    "{kind: postgres, host: db, user: etl, database: app}",
                    "{kind: postgres, host: db, user: etl, database: app, snowflake: {account: a}}",
                )
            ],
            "connections.app: snowflake: options are for snowflake connections, not postgres",
        ),
    ],
)
def test_bad_snowflake_config_is_one_line(edits, expected):
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    with pytest.raises(ConfigError) as error:
        parse_config(text, origin="pipeline.yaml")
    message = str(error.value)
    assert "\n" not in message and message.startswith("pipeline.yaml: ")
    assert expected in message, message
