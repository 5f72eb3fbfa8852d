"""Rows whose cursor is NULL are never lost without a word (issue 17): ``null_cursor: fail`` stops the staging run,
``include`` loads them with the first partition (every run of a watermark-driven table), ``exclude`` reports them;
and the table-level ``total_rows_match_source`` check sees rows that lie outside every partition's window.

30,000 rows over three days, 30 of them with a NULL cursor; PostgreSQL and MariaDB sources, DuckDB and PostgreSQL
targets, run through Dagster as the CLI and the UI run them."""

from datetime import datetime, timedelta

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from pipeline_assets.assembly import assemble
from pipeline_assets.assets.launch import launch_in_process
from pipeline_assets.cli.main import cli
from pipeline_assets.config import ProjectConfig
from pipeline_assets.core.errors import ConfigError
from pipeline_assets_tests.conftest import mysql_connection, pg_connection, project, write_config
from pipeline_assets_tests.runs import failure, metadata

DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]
ROWS, NULLS = 30_000, 30
PG_ROWS = f"""INSERT INTO {{table}} SELECT g, CASE WHEN g % 1000 = 0 THEN NULL
    ELSE timestamptz '2026-01-01 00:00+00' + (g - 1) * interval '8.64 seconds' END, g / 4.0
    FROM generate_series(1, {ROWS}) g"""
ONE_LINE = (
    f"orders: {NULLS} rows have a NULL created_at, which no partition reads; "
    "set null_cursor: include (load them with the first partition) or exclude"
)


def _table(source: str, table: str, target: str, **extra) -> dict:
    return {
        "source": source,
        "table": table,
        "target": target,
        "name": "orders",
        "cursor": "created_at",
        "partitioning": "daily",
        "start_date": DAYS[0],
        "primary_key": ["id"],
        **extra,
    }


def _run(config: ProjectConfig, instance: dg.DagsterInstance, days: list[str]) -> dg.ExecuteInProcessResult:
    """Stage and load ``orders`` for ``days`` in one run, its checks with it, as `sync --from/--to` does."""
    assembly = assemble(config)
    assets = next(t for t in assembly.tables if t.table.asset_name == "orders")
    return launch_in_process(assembly.definitions, assembly.job_of[assets.loaded.key], assets, days, instance)


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str | None], bool]:
    return {(e.check_name, e.partition): e.passed for e in result.get_asset_check_evaluations()}


def _total(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (total,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "total_rows_match_source"]
    return total


@pytest.fixture
def pg_orders(pg, pg_schema) -> str:
    """30,000 orders in PostgreSQL over three days, every thousandth with a NULL created_at."""
    table = f'"{pg_schema}".orders'
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, created_at timestamptz, amount numeric(10,2))")
        cur.execute(PG_ROWS.format(table=table))
    return table


def _duckdb_count(path, where: str = "") -> int:
    if not path.exists():
        return -1
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"SELECT count(*) FROM app.orders {where}").fetchone()[0]


def test_null_cursor_rows_stop_the_staging_run_by_default(pg_orders, pg_schema, instance, tmp_path):
    warehouse = tmp_path / "dw.duckdb"
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "dw": {"kind": "duckdb", "path": str(warehouse)}},
            "tables": [_table("app", f"{pg_schema}.orders", "dw")],
        },
    )
    result = _run(config, instance, DAYS)
    assert not result.success
    assert failure(result) == ONE_LINE
    assert not list((tmp_path / "stage").rglob("*.*")), "nothing is staged before the NULL rows are refused"
    assert not instance.get_materialized_partitions(dg.AssetKey(["stage", "app", "orders"]))


def test_the_cli_says_so_in_one_line(pg_orders, pg_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    body = {
        "connections": {"app": pg_connection(), "dw": {"kind": "duckdb", "path": str(tmp_path / "dw.duckdb")}},
        "tables": [_table("app", f"{pg_schema}.orders", "dw")],
    }
    args = ["--config", str(write_config(tmp_path, body)), "sync", "-t", "orders", "--from", DAYS[0], "--to", DAYS[-1]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert failed == [
        f"failed: orders {DAYS[0]}: {ONE_LINE}",
        *(f"failed: orders {day}: not run: an earlier day of its run failed" for day in DAYS[1:]),
    ], result.stderr
    assert not (tmp_path / "dw.duckdb").exists(), "nothing is loaded"


def test_include_loads_null_rows_with_the_first_partition(mysql, mysql_db, pg, wh_schema, instance, tmp_path):
    with mysql.cursor() as cur:
        cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, created_at DATETIME(6) NULL, amount DECIMAL(10,2))")
        start = datetime(2026, 1, 1)
        rows = [
            (g, None if g % 1000 == 0 else start + timedelta(seconds=(g - 1) * 8.64), g / 4) for g in range(1, ROWS + 1)
        ]
        cur.executemany("INSERT INTO orders VALUES (%s, %s, %s)", rows)
    config = project(
        tmp_path,
        {
            "connections": {"shop": mysql_connection(mysql_db), "dw": pg_connection()},
            "tables": [_table("shop", "orders", "dw", target_table=f"{wh_schema}.orders", null_cursor="include")],
        },
    )

    def target(where: str = "") -> int:
        with pg.cursor() as cur:
            cur.execute(f'SELECT count(*) FROM "{wh_schema}".orders {where}')
            return cur.fetchone()[0]

    result = _run(config, instance, DAYS)
    assert result.success and all(_checks(result).values()), _checks(result)
    assert ("total_rows_match_source", None) in _checks(result)
    assert target() == ROWS and target("WHERE created_at IS NULL") == NULLS
    again = _run(config, instance, DAYS[:1])
    assert again.success and all(_checks(again).values()), _checks(again)
    assert metadata(again, ["stage", "shop", "orders"])["null_cursor_rows_included"] == NULLS
    assert target() == ROWS and target("WHERE created_at IS NULL") == NULLS, "the first day replaces them once"
    with mysql.cursor() as cur:  # a NULL-cursor row added at the source belongs to the first day too
        cur.execute("INSERT INTO orders VALUES (%s, NULL, 1)", [ROWS + 1])
    behind = _run(config, instance, DAYS[2:])
    assert not _total(behind).passed and _total(behind).metadata["difference"].value == 1
    caught_up = _run(config, instance, DAYS[:1])
    assert caught_up.success and all(_checks(caught_up).values()) and target() == ROWS + 1


def test_exclude_leaves_null_rows_out_and_reports_them(pg_orders, pg_schema, instance, tmp_path):
    warehouse = tmp_path / "dw.duckdb"
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "dw": {"kind": "duckdb", "path": str(warehouse)}},
            "tables": [_table("app", f"{pg_schema}.orders", "dw", null_cursor="exclude")],
        },
    )
    result = _run(config, instance, DAYS)
    assert result.success and all(_checks(result).values()), _checks(result)
    assert metadata(result, ["stage", "app", "orders"])["null_cursor_rows_excluded"] == NULLS
    assert _duckdb_count(warehouse) == ROWS - NULLS
    assert _total(result).metadata["null_cursor_rows"].value == NULLS


def test_total_check_sees_rows_outside_every_window(pg, pg_orders, pg_schema, instance, tmp_path):
    warehouse = tmp_path / "dw.duckdb"
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "dw": {"kind": "duckdb", "path": str(warehouse)}},
            "tables": [_table("app", f"{pg_schema}.orders", "dw", null_cursor="exclude")],
        },
    )
    last = _run(config, instance, DAYS[2:])  # a backfill in progress: only some days are loaded
    assert last.success and all(_checks(last).values()), _checks(last)
    assert _total(last).metadata["span"].value == "2026-01-03..2026-01-03"
    first = _run(config, instance, DAYS[:1])
    assert first.success and all(_checks(first).values()), _checks(first)
    assert _total(first).metadata["span"].value == "beginning..2026-01-01, 2026-01-03..2026-01-03"
    with pg.cursor() as cur:  # dated before start_date: no partition will ever read them
        cur.execute(
            f"INSERT INTO {pg_orders} SELECT {ROWS} + g, timestamptz '2025-12-31 12:00+00', 1 FROM generate_series(1, 5) g"
        )
    early = _run(config, instance, DAYS[2:])
    assert all(passed for (name, _), passed in _checks(early).items() if name != "total_rows_match_source")
    assert not _total(early).passed and _total(early).metadata["difference"].value == 5
    with pg.cursor() as cur:
        cur.execute(f"DELETE FROM {pg_orders} WHERE created_at < '2026-01-01'")
    with duckdb.connect(str(warehouse)) as conn:  # rows lost in the target on a day this run does not load
        conn.execute("DELETE FROM app.orders WHERE id <= 10")
    lost = _run(config, instance, DAYS[2:])
    assert all(passed for (name, _), passed in _checks(lost).items() if name != "total_rows_match_source")
    assert not _total(lost).passed and _total(lost).metadata["difference"].value == 10
    reloaded = _run(config, instance, DAYS[:2])  # the first day again, and the missing one
    assert reloaded.success and all(_checks(reloaded).values()), _checks(reloaded)
    assert _total(reloaded).metadata["span"].value == "beginning..2026-01-03"
    assert _duckdb_count(warehouse) == ROWS - NULLS


def test_incremental_include_merges_null_rows_on_every_run(pg, pg_orders, pg_schema, wh_schema, instance, tmp_path):
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "dw": pg_connection()},
            "tables": [
                _table(
                    "app",
                    f"{pg_schema}.orders",
                    "dw",
                    target_table=f"{wh_schema}.orders",
                    partitioning="incremental",
                    start_date=None,
                    write_mode="merge",
                    null_cursor="include",
                )
            ],
        },
    )

    def target(where: str = "") -> int:
        with pg.cursor() as cur:
            cur.execute(f'SELECT count(*) FROM "{wh_schema}".orders {where}')
            return cur.fetchone()[0]

    first = _run(config, instance, [])
    assert first.success and all(_checks(first).values()), _checks(first)
    assert target() == ROWS and target("WHERE created_at IS NULL") == NULLS
    with pg.cursor() as cur:
        cur.execute(f"UPDATE {pg_orders} SET amount = 99 WHERE id = 1000")
    second = _run(config, instance, [])
    assert second.success and all(_checks(second).values()), _checks(second)
    assert target() == ROWS and target("WHERE id = 1000 AND amount = 99") == 1, "merged again by key"


@pytest.mark.parametrize(
    "table, message",
    [
        ({"null_cursor": "include"}, "null_cursor is for daily and incremental tables"),
        (
            {"partitioning": "incremental", "cursor": "c", "primary_key": ["id"], "null_cursor": "include"},
            "null_cursor: include on an incremental table needs write_mode: merge",
        ),
    ],
)
def test_null_cursor_is_refused_where_it_cannot_hold(tmp_path, table, message):
    body = {
        "connections": {"app": pg_connection(), "dw": pg_connection()},
        "tables": [{"source": "app", "table": "t", "target": "dw", "write_mode": "append", **table}],
    }
    with pytest.raises(ConfigError, match=message):
        project(tmp_path, body)
