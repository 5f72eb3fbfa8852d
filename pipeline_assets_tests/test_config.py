"""The configuration file: defaults, ${VAR} expansion, relative paths, and one-line errors naming the YAML path."""

import pytest

from pipeline_assets.config import load_config, parse_config
from pipeline_assets.core.errors import ConfigError

BASE = """
connections:
  shop: {kind: mysql, host: "${SHOP_HOST}", user: root, database: shop, password: "${SHOP_PASSWORD}"}
  dw: {kind: duckdb, path: warehouse.duckdb}
stage: {url: stage}
tables:
  - {source: shop, table: sales.orders, target: dw, cursor: placed_at, partitioning: daily, start_date: 2026-01-01}
"""


def test_defaults_expansion_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_HOST", "db.internal")
    path = tmp_path / "cfg" / "pipeline.yaml"
    path.parent.mkdir()
    path.write_text(BASE)
    config = load_config(path)
    shop = config.connections["shop"]
    assert (shop.host, shop.resolved_port, shop.password) == ("db.internal", 3306, "${SHOP_PASSWORD}")
    assert config.connections["dw"].path == str(path.parent / "warehouse.duckdb")
    assert config.stage.url == str(path.parent / "stage") and config.stage.format == "parquet"
    table = config.tables[0]
    assert (table.asset_name, table.target_schema, table.target_name, table.write_mode) == (
        "orders",
        "shop",
        "orders",
        "replace",
    )
    assert config.table("shop.orders") is table


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            ('host: "${SHOP_HOST}"', 'host: "${NOT_SET_ANYWHERE}"'),
            "connections.shop.host: environment variable NOT_SET_ANYWHERE is not set",
        ),
        (("stage: {url: stage}", "stage: {url: stage, colour: red}"), "stage.colour: unknown option"),
        (("stage: {url: stage}", "stage: {url: 'gs://bucket'}"), "stage.url: use s3://bucket/prefix or a local folder"),
        (
            ("partitioning: daily, start_date: 2026-01-01", "partitioning: daily"),
            "tables[0]: daily partitioning needs a start_date",
        ),
        (("cursor: placed_at, ", ""), "tables[0]: daily partitioning needs a cursor column"),
        (("target: dw", "target: nowhere"), "tables[0].target: unknown connection 'nowhere' (defined: shop, dw)"),
        (
            ("target: dw", "target: shop"),
            "tables[0].target: a mysql connection cannot be a target (use postgres, duckdb, snowflake, redshift)",
        ),
        (
            ("partitioning: daily", "partitioning: hourly"),
            "tables[0].partitioning: got 'hourly'; input should be 'daily', 'incremental' or 'none'",
        ),
        (("table: sales.orders", "table: a.b.c"), "tables[0].table: expected table or schema.table"),
        (("start_date: 2026-01-01", "start_date: 2026-02-30"), "tables[0].start_date:"),
        (
            ("start_date: 2026-01-01", "start_date: 2026-01-01, days_per_run: 0"),
            "tables[0].days_per_run: expected a number of days (1 or more) or all, got 0",
        ),
        (
            ("start_date: 2026-01-01", "start_date: 2026-01-01, days_per_run: many"),
            "tables[0].days_per_run: expected a number of days (1 or more) or all, got 'many'",
        ),
        (
            ("{kind: duckdb, path: warehouse.duckdb}", "{kind: duckdb}"),
            "connections.dw: a duckdb connection needs path",
        ),
        (("user: root, database: shop,", "user: root,"), "connections.shop: a mysql connection needs database"),
        (
            ("{kind: duckdb, path: warehouse.duckdb}", "{kind: duckdb, path: w.duckdb, host: h}"),
            "connections.dw: a duckdb connection takes path, not host",
        ),
        (
            ("{kind: duckdb, path: warehouse.duckdb}", "{kind: duckdb, path: w.duckdb, colour: red}"),
            "connections.dw.colour: unknown option",
        ),
        (("{kind: duckdb, path: warehouse.duckdb}", "{path: w.duckdb}"), "connections.dw.kind: Field required"),
        (
            ("stage: {url: stage}", "stage: {url: stage, orphan_grace: 2x}"),
            "stage.orphan_grace: expected a number and a unit",
        ),
        (
            ("stage: {url: stage}", "stage: {url: stage, retention_days: 0}"),
            "stage.retention_days: Input should be greater than 0",
        ),
        (
            ("stage: {url: stage}", "stage: {url: stage, s3: {encryption: 'aws:kms'}}"),
            "stage.s3: aws:kms encryption needs kms_key_id",
        ),
        (("stage: {url: stage}", "stage: {url: stage, preflight: maybe}"), "stage.preflight: got 'maybe'"),
        (("stage: {url: stage}", "stage: {url: stage, path_strategy: random}"), "stage.path_strategy: got 'random'"),
        (
            ("stage: {url: stage}", "stage: {url: stage, cleanup_after_load: sometimes}"),
            "stage.cleanup_after_load: got 'sometimes'",
        ),
        (
            ("start_date: 2026-01-01}", "start_date: 2026-01-01, lookback: soon}"),
            "tables[0].lookback: expected a number and a unit",
        ),
        (
            ("cursor: placed_at, partitioning: daily, start_date: 2026-01-01", "write_mode: merge, primary_key: [id]"),
            "tables[0]: merge needs a cursor column",
        ),
        (
            ("target: dw,", "target: dw, group: 'my group',"),
            "tables[0].group: 'my group' must be letters, digits and _",
        ),
    ],
)
def test_bad_values_name_their_yaml_path(edit, expected, monkeypatch):
    monkeypatch.setenv("SHOP_HOST", "h")
    with pytest.raises(ConfigError) as error:
        parse_config(BASE.replace(*edit), origin="pipeline.yaml")
    message = str(error.value)
    assert "\n" not in message and message.startswith("pipeline.yaml: ")
    assert expected in message


def test_missing_file_and_malformed_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read the config file \(No such file or directory\)"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"line 2 column 1: malformed YAML"):
        parse_config("a: [1,\n", origin="x.yaml")


def test_duplicate_table_names_are_refused(monkeypatch):
    monkeypatch.setenv("SHOP_HOST", "h")
    text = BASE + "  - {source: shop, table: other.orders, target: dw}\n"
    with pytest.raises(
        ConfigError, match=r"tables\[1\]: table 'orders' of 'shop' is also tables\[0\]; set a distinct name"
    ):
        parse_config(text)


@pytest.mark.parametrize("old, new", [("true", "after_partition"), ("false", "never")])
def test_the_seeds_cleanup_after_load_booleans_still_work(old, new, monkeypatch):
    monkeypatch.setenv("SHOP_HOST", "db")
    text = BASE.replace("stage: {url: stage}", f"stage: {{url: stage, cleanup_after_load: {old}}}")
    with pytest.warns(UserWarning, match=f"cleanup_after_load: {old} is now spelled '{new}'"):
        config = parse_config(text)
    assert config.stage.cleanup_after_load == new
