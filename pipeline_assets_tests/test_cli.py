"""The CLI end to end: the demo from a fresh DAGSTER_HOME, and bad input answered in one line with nothing written."""

import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from decimal import Decimal

import duckdb
import pytest
from click.testing import CliRunner

from pipeline_assets.cli.main import cli
from pipeline_assets_tests.conftest import mysql_connection, pg_connection, write_config


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline_assets", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_demo_end_to_end_from_a_fresh_dagster_home(tmp_path):
    home = tmp_path / "demo"
    result = _run("sync", "--all", env={"PIPELINE_ASSETS_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert f"using the embedded demo in {home}" in result.stderr
    assert "sync summary" in result.stdout and "FAILED" not in result.stdout
    source = sqlite3.connect(home / "shop.sqlite")
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as warehouse:
        for table in ("orders", "order_items", "customers", "products"):
            expected = sorted(source.execute(f"SELECT * FROM {table}").fetchall())
            actual = sorted(warehouse.execute(f"SELECT * FROM shop.{table}").fetchall())
            assert len(expected) > 100
            assert [tuple(map(_comparable, r)) for r in actual] == [tuple(map(_comparable, r)) for r in expected], table
    assert list((home / "dagster_home").rglob("runs.db")), "runs are recorded under DAGSTER_HOME for the UI"

    again = _run("sync", "--all", env={"PIPELINE_ASSETS_HOME": str(home)})
    assert again.returncode == 0
    assert "orders" not in again.stdout, "a second sync loads only partitions not materialized yet"


def _comparable(value):
    """SQLite holds decimals as REAL, booleans as 0/1 and timestamps as ISO text; compare by value."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float | Decimal):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _sync(runner, config, *args):
    result = runner.invoke(cli, ["--config", str(config), "sync", *args])
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "failed:"))]
    return result, lines


@pytest.fixture
def mariadb_config(mysql, mysql_db, wh_schema, tmp_path):
    with mysql.cursor() as cur:
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, placed_at DATETIME NOT NULL, total DECIMAL(8,2))")
        cur.execute("INSERT INTO orders VALUES (1, '2026-01-01 10:00:00', 9.99)")

    def make(connection=None, **table):
        return write_config(
            tmp_path,
            {
                "connections": {"shop": connection or mysql_connection(mysql_db), "dw": pg_connection()},
                "stage": {"url": str(tmp_path / "stage")},
                "tables": [
                    {
                        "source": "shop",
                        "table": "orders",
                        "target": "dw",
                        "target_table": f"{wh_schema}.orders",
                        "cursor": "placed_at",
                        "partitioning": "daily",
                        "start_date": "2026-01-01",
                        **table,
                    }
                ],
            },
        )

    return make


def _nothing_written(tmp_path, pg, wh_schema):
    staged = [p for p in (tmp_path / "stage").rglob("*") if p.is_file()] if (tmp_path / "stage").exists() else []
    assert staged == []
    with pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (wh_schema,))
        assert cur.fetchone()[0] == 0


def test_a_good_config_syncs_one_partition(runner, mariadb_config, pg, wh_schema):
    result, _ = _sync(runner, mariadb_config(), "-t", "orders", "--partition", "2026-01-01")
    assert result.exit_code == 0, result.output
    with pg.cursor() as cur:
        cur.execute(f'SELECT id, total FROM "{wh_schema}".orders')
        assert cur.fetchall() == [(1, Decimal("9.99"))]


@pytest.mark.parametrize(
    "case, expected",
    [
        ({"args": ["-t", "nope"]}, "error: unknown table 'nope' (configured: orders)"),
        (
            {"table": {"cursor": "nope"}},
            "failed: orders 2026-01-01: orders: unknown column 'nope' (columns: id, placed_at, total)",
        ),
        ({"table": {"table": "missing", "name": "orders"}}, "table 'missing' does not exist"),
        ({"connection": {"port": 1}}, "failed: orders 2026-01-01: source 'shop' (mysql 127.0.0.1:1/"),
        (
            {"args": ["-t", "orders", "--partition", "2025-12-31"]},
            "error: partition 2025-12-31 is before the start date 2026-01-01 of table 'orders'",
        ),
        (
            {"args": ["-t", "orders", "--partition", "2026-13-01"]},
            "error: --partition 2026-13-01: expected a day as YYYY-MM-DD",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    case, expected, runner, mariadb_config, mysql_db, pg, wh_schema, tmp_path
):
    connection = {**mysql_connection(mysql_db), **case["connection"]} if "connection" in case else None
    config = mariadb_config(connection, **case.get("table", {}))
    result, lines = _sync(runner, config, *case.get("args", ["-t", "orders", "--partition", "2026-01-01"]))
    assert result.exit_code != 0
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.output
    _nothing_written(tmp_path, pg, wh_schema)


def test_wrong_password_is_named_but_never_printed(
    runner, mariadb_config, mysql_db, pg, wh_schema, tmp_path, monkeypatch
):
    monkeypatch.setenv("SHOP_PASSWORD", "s3cret-Pa55word")
    config = mariadb_config(mysql_connection(mysql_db, password="${SHOP_PASSWORD}"))
    result, lines = _sync(runner, config, "-t", "orders", "--partition", "2026-01-01")
    assert result.exit_code == 1
    assert len(lines) == 1 and "Access denied for user 'root'" in lines[0] and "source 'shop'" in lines[0]
    assert "s3cret-Pa55word" not in result.output + result.stderr
    _nothing_written(tmp_path, pg, wh_schema)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("connections: {a: [}", "malformed YAML"),
        (
            "connections: {}\nstage: {target_file_mb: -5}\ntables: []",
            "stage.target_file_mb: Input should be greater than 0 (got -5)",
        ),
        (
            "connections:\n  s: {kind: mysql, host: h, user: u, database: d, password: hunter2}\ntables: [{source: s, table: t, target: s}]",
            "connections.s.password: secrets are never written in the config file",
        ),
        (
            "connections:\n  s: {kind: oracle}\ntables: [{source: s, table: t, target: s}]",
            "connections.s.kind: got 'oracle'",
        ),
    ],
)
def test_bad_config_is_one_line(text, expected, runner, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result, lines = _sync(runner, config, "--all")
    assert result.exit_code == 2
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "hunter2" not in result.stderr


def test_limit_caps_rows_and_the_summary_says_so(runner, mariadb_config, mysql, pg, wh_schema):
    with mysql.cursor() as cur:
        cur.executemany("INSERT INTO orders VALUES (%s, '2026-01-01 11:00:00', 1.00)", [(i,) for i in range(2, 40)])
    result, _lines = _sync(runner, mariadb_config(), "-t", "orders", "--partition", "2026-01-01", "--limit", "5")
    assert "note: capped at 5 rows per query (--limit); the warehouse holds a sample" in result.output
    assert result.exit_code == 1, "a sample does not match its source, and the checks say so"
    assert any(
        "check failed: orders 2026-01-01: rows_match_source (source_rows=39, target_rows=5" in line
        for line in result.stderr.splitlines()
    )
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{wh_schema}".orders')
        assert cur.fetchone() == (5,)
