"""Target names a warehouse would take as one table, or cut short, are refused before anything runs; where quoting
keeps twins apart (PostgreSQL) they load as two tables, and ``target_table`` parts them everywhere else."""

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from pipeline_assets.cli.main import cli
from pipeline_assets.config import parse_config
from pipeline_assets.core.errors import ConfigError
from pipeline_assets_tests.conftest import pg_connection, project, write_config
from pipeline_assets_tests.redshift_emulator import redshift_connection
from pipeline_assets_tests.runs import run_table

CLOUD_STAGE = {"url": "s3://stage-bucket/staging"}
WAREHOUSES = {
    "duckdb": ({"kind": "duckdb", "path": "dw.duckdb"}, {"url": "stage"}),
    "snowflake": (
        {
            "kind": "snowflake",
            "user": "loader",
            "database": "ANALYTICS",
            "snowflake": {"account": "myorg-acct", "warehouse": "LOAD_WH", "storage_integration": "s3_int"},
        },
        CLOUD_STAGE,
    ),
    "redshift": (redshift_connection(), CLOUD_STAGE),
    "postgres": (pg_connection(), {"url": "stage"}),
}
TWIN_RULES = {
    "duckdb": "DuckDB compares names without case, even quoted ones",
    "snowflake": "Snowflake compares quoted names without case when QUOTED_IDENTIFIERS_IGNORE_CASE is set",
    "redshift": "Redshift folds names to lower case (unless enable_case_sensitive_identifier is on)",
}


def _body(kind: str, tables: list[dict], source: dict | None = None) -> dict:
    warehouse, stage = WAREHOUSES[kind]
    rows = [{"source": "app", "target": "dw", **t} for t in tables]
    return {"connections": {"app": source or pg_connection(), "dw": warehouse}, "stage": stage, "tables": rows}


def _refusal(body: dict) -> str:
    with pytest.raises(ConfigError) as error:
        parse_config(yaml.safe_dump(body), origin="pipeline.yaml")
    message = str(error.value)
    assert "\n" not in message and message.startswith("pipeline.yaml: "), message
    return message


TWINS = [{"table": "public.Customer"}, {"table": "public.orders"}, {"table": "public.customer"}]


@pytest.mark.parametrize("kind", sorted(TWIN_RULES))
def test_case_only_twins_are_refused_where_the_warehouse_takes_them_as_one(kind):
    message = _refusal(_body(kind, TWINS))
    assert message == (
        f"pipeline.yaml: tables[0] and tables[2] both load into {kind} 'dw' as one table "
        f"(app.Customer and app.customer): {TWIN_RULES[kind]}; set target_table on one of them"
    )


@pytest.mark.parametrize("kind", sorted(TWIN_RULES))
def test_twins_in_schemas_spelt_differently_are_refused_too(kind):
    tables = [
        {"table": "public.a", "target_table": "Sales.Order"},
        {"table": "public.b", "target_table": "sales.ORDER"},
    ]
    assert "(Sales.Order and sales.ORDER)" in _refusal(_body(kind, tables))


def test_case_only_twins_are_two_tables_in_postgresql():
    config = parse_config(yaml.safe_dump(_body("postgres", TWINS)))
    assert [(t.target_schema, t.target_name) for t in config.tables] == [
        ("app", "Customer"),
        ("app", "orders"),
        ("app", "customer"),
    ]


def test_one_target_twice_is_refused_for_every_warehouse():
    tables = [{"table": "public.a", "target_table": "x.t"}, {"table": "public.b", "target_table": "x.t"}]
    assert _refusal(_body("postgres", tables)) == (
        "pipeline.yaml: tables[0] and tables[1] both load into postgres 'dw' as x.t; set target_table on one of them"
    )


FULL_REFRESH = " ({}, less 8 for the __pa_new table of a full refresh)"


@pytest.mark.parametrize(
    "kind, part, size, expected",
    [
        ("postgres", "schema", 64, "64 bytes, over the 63 PostgreSQL takes"),
        ("postgres", "table", 64, "64 bytes, over the 55 PostgreSQL takes" + FULL_REFRESH.format(63)),
        ("postgres", "table", 56, "56 bytes, over the 55 PostgreSQL takes" + FULL_REFRESH.format(63)),
        ("redshift", "schema", 128, "128 bytes, over the 127 Redshift takes"),
        ("redshift", "table", 120, "120 bytes, over the 119 Redshift takes" + FULL_REFRESH.format(127)),
        ("snowflake", "table", 248, "248 characters, over the 247 Snowflake takes" + FULL_REFRESH.format(255)),
    ],
)
def test_a_target_name_too_long_for_the_warehouse_is_refused(kind, part, size, expected):
    long = "t" * size
    target = f"{long}.orders" if part == "schema" else f"sales.{long}"
    message = _refusal(_body(kind, [{"table": "public.orders", "target_table": target}]))
    assert message == (
        f"pipeline.yaml: tables[0]: target {part} {long!r} in {kind} 'dw' is {expected}, and the server would cut "
        "it short silently; set target_table to a shorter name"
    )


@pytest.mark.parametrize("kind, size", [("postgres", 55), ("redshift", 119), ("snowflake", 247), ("duckdb", 1000)])
def test_the_longest_name_a_warehouse_takes_is_accepted(kind, size):
    body = _body(kind, [{"table": "public.orders", "target_table": f"{'s' * 63}.{'t' * size}"}])
    assert parse_config(yaml.safe_dump(body)).tables[0].target_name == "t" * size


def test_a_64_character_mysql_table_into_postgresql_is_refused_and_target_table_fixes_it():
    long = "order_lines_with_their_discounts_and_taxes_by_region_and_quarter"
    assert len(long) == 64
    mysql = {"kind": "mysql", "host": "db", "user": "etl", "database": "shop"}
    message = _refusal(_body("postgres", [{"table": long}], source=mysql))
    assert f"target table {long!r} in postgres 'dw' is 64 bytes, over the 55 PostgreSQL takes" in message
    for fix in ({"target_table": "shop.order_lines"}, {"name": "order_lines"}):
        fixed = parse_config(yaml.safe_dump(_body("postgres", [{"table": long, **fix}], source=mysql)))
        assert fixed.tables[0].target_name == "order_lines"


def test_multibyte_names_are_counted_in_bytes():
    name = "ä" * 32  # 32 characters, 64 bytes
    message = _refusal(_body("postgres", [{"table": "public.orders", "target_table": f"{name}.orders"}]))
    assert message.endswith(
        "is 64 bytes, over the 63 PostgreSQL takes, and the server would cut it short silently; "
        "set target_table to a shorter name"
    )


def test_the_bookkeeping_schema_is_not_a_target():
    message = _refusal(_body("duckdb", [{"table": "public.orders", "target_table": "_Pipeline_Assets.orders"}]))
    assert "target schema '_Pipeline_Assets' in duckdb 'dw' holds this project's bookkeeping" in message


def _twins(pg, schema: str) -> None:
    """``"Customer"`` with 3 rows and ``customer`` with 5 in one PostgreSQL schema."""
    with pg.cursor() as cur:
        for table, rows in (("Customer", 3), ("customer", 5)):
            cur.execute(f'CREATE TABLE "{schema}"."{table}" (id INT PRIMARY KEY, name TEXT)')
            cur.execute(
                f'INSERT INTO "{schema}"."{table}" SELECT g, \'{table} \' || g FROM generate_series(1, {rows}) g'
            )


def _load(config, instance, names: list[str]) -> None:
    for name in names:
        result = run_table(config, instance, name)
        assert result.success, name
        checks = result.get_asset_check_evaluations()
        assert checks and all(e.passed for e in checks), checks


def test_twins_load_as_two_tables_into_postgresql(pg, pg_schema, wh_schema, instance, tmp_path):
    _twins(pg, pg_schema)
    tables = [
        {"table": f"{pg_schema}.Customer", "target_table": f"{wh_schema}.Customer"},
        {"table": f"{pg_schema}.customer", "target_table": f"{wh_schema}.customer"},
    ]
    config = project(tmp_path, _body("postgres", tables))
    _load(config, instance, ["Customer", "customer"])
    with pg.cursor() as cur:
        counts = {}
        for table in ("Customer", "customer"):
            cur.execute(f'SELECT count(*), min(name) FROM "{wh_schema}"."{table}"')
            counts[table] = cur.fetchone()
    assert counts == {"Customer": (3, "Customer 1"), "customer": (5, "customer 1")}


def test_target_table_parts_twins_in_duckdb(pg, pg_schema, instance, tmp_path):
    _twins(pg, pg_schema)
    tables = [
        {"table": f"{pg_schema}.Customer", "target_table": "crm.customer_upper"},
        {"table": f"{pg_schema}.customer"},
    ]
    config = project(tmp_path, _body("duckdb", tables))
    _load(config, instance, ["Customer", "customer"])
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        upper = conn.execute("SELECT count(*), min(name) FROM crm.customer_upper").fetchone()
        lower = conn.execute("SELECT count(*), min(name) FROM app.customer").fetchone()
    assert (upper, lower) == ((3, "Customer 1"), (5, "customer 1"))


def test_mixed_case_schema_and_table_load_into_duckdb(pg, pg_schema, instance, tmp_path):
    """``"Sales"."Order"`` creates the schema as ``Sales``; a table for ``sales.Items`` lands in it, and its checks
    find it there although the catalog spells the schema otherwise."""
    with pg.cursor() as cur:
        for table, rows in (("Order", 4), ("Items", 6)):
            cur.execute(f'CREATE TABLE "{pg_schema}"."{table}" (id INT PRIMARY KEY, "Amount" INT)')
            cur.execute(f'INSERT INTO "{pg_schema}"."{table}" SELECT g, g * 10 FROM generate_series(1, {rows}) g')
    tables = [
        {"table": f"{pg_schema}.Order", "target_table": "Sales.Order"},
        {"table": f"{pg_schema}.Items", "target_table": "sales.Items"},
    ]
    config = project(tmp_path, _body("duckdb", tables))
    _load(config, instance, ["Order", "Items", "Order", "Items"])
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        listed = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'Sales' ORDER BY 2"
        ).fetchall()
        sums = [
            conn.execute(f'SELECT count(*), sum("Amount") FROM "Sales"."{t}"').fetchone() for t in ("Order", "Items")
        ]
    assert listed == [("Sales", "Items"), ("Sales", "Order")]
    assert sums == [(4, 100), (6, 210)]


def test_the_longest_postgresql_name_survives_a_full_refresh(pg, pg_schema, wh_schema, tmp_path, monkeypatch):
    """55 bytes leave room for ``<name>__pa_new`` and ``__pa_old``: at 56 PostgreSQL would cut both to one name."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    name = "t" * 55
    with pg.cursor() as cur:
        cur.execute(f'CREATE TABLE "{pg_schema}".items (id INT PRIMARY KEY, updated_at TIMESTAMPTZ NOT NULL)')
        cur.execute(f'INSERT INTO "{pg_schema}".items SELECT g, now() FROM generate_series(1, 20) g')
    incremental = {"cursor": "updated_at", "partitioning": "incremental", "write_mode": "merge", "primary_key": ["id"]}
    table = {"table": f"{pg_schema}.items", "target_table": f"{wh_schema}.{name}", **incremental}
    path = write_config(tmp_path, _body("postgres", [table]))
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "sync", "-t", "items"]).exit_code == 0
    with pg.cursor() as cur:
        cur.execute(f'DELETE FROM "{pg_schema}".items WHERE id > 15')  # only a refresh sees deletes
    refreshed = runner.invoke(cli, ["--config", str(path), "sync", "-t", "items", "--full-refresh", "--yes"])
    assert refreshed.exit_code == 0, refreshed.output + refreshed.stderr
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{wh_schema}"."{name}"')
        assert cur.fetchone() == (15,)
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [wh_schema])
        assert cur.fetchone() == (1,), "no work table left behind"
