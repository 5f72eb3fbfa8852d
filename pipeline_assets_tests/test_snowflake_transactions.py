"""Snowflake's transaction rules on the stand-in (``SnowflakeRules``, snowflake_rules.py): a load whose DDL would
commit half-written rows, the guard that keeps it from doing so, and two loaders of one table serialized by the
per-target lock table."""

import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.warehouses import snowflake as snowflake_warehouse
from pipeline_assets.warehouses.ledger import Ledger
from pipeline_assets.warehouses.write_modes.replace import Replace
from pipeline_assets_tests.runs import failure, run_table
from pipeline_assets_tests.snowflake_server import SnowflakeServer
from pipeline_assets_tests.test_snowflake import DAYS, _config, _orders

CLI = [sys.executable, "-m", "pipeline_assets"]
WHAT_LOADED = 'SELECT count(*), sum("amount") FROM "{schema}"."orders" WHERE "created_at" < \'2026-02-02\''


def _state(snowflake: SnowflakeServer, wh_schema: str) -> tuple[list[tuple], dict[str, int]]:
    """Day 1's rows in the target, and the rows the ledger says the target holds per status."""
    rows = snowflake.query(WHAT_LOADED.format(schema=wh_schema))
    ledger = snowflake.query(
        "SELECT status, sum(rows_loaded) FROM _pipeline_assets.loaded_files WHERE target_table = %s "
        "AND status IN ('loaded', 'superseded') GROUP BY status",
        (f"{wh_schema}.orders",),
    )
    return rows, dict(ledger)


def _reload_failing_after_the_writes(pg, pg_schema, config, instance, monkeypatch) -> dg.ExecuteInProcessResult:
    """Change day 1 at the source and load it again; the load fails once its rows are written, before the commit."""
    with pg.cursor() as cur:
        cur.execute(f'UPDATE "{pg_schema}".orders SET amount = amount + 1000 WHERE created_at < %s', (DAYS[1],))

    def fail(*_args, **_kwargs) -> None:
        raise PipelineError("injected: the load fails after its writes")

    monkeypatch.setattr(Ledger, "mark_loaded", fail)
    result = run_table(config, instance, "orders", DAYS[0])
    assert not result.success and "injected" in failure(result), "the injected failure ends the load"
    return result


@pytest.fixture
def loaded_day(pg, pg_schema, wh_schema, snowflake, s3_server, s3_bucket, instance, tmp_path):
    """The orders table with its first day loaded into Snowflake; yields the config and what the warehouse holds."""
    _orders(pg, pg_schema)
    config = _config(tmp_path, snowflake, s3_server, s3_bucket, pg_schema, wh_schema)
    result = run_table(config, instance, "orders", DAYS[0])
    assert result.success, failure(result)
    before = _state(snowflake, wh_schema)
    assert before == ([(1440, sum(g % 97 for g in range(1440)))], {"loaded": 1440})
    return config, before


def test_a_failed_load_leaves_the_warehouse_as_it_was_though_ddl_commits(
    pg, pg_schema, wh_schema, snowflake, instance, loaded_day, monkeypatch
):
    """Every DDL of the load (ledger, lock table, schema, target) runs before its first write, so the rollback undoes
    all of it: the rows deleted and copied again are back as they were, and so is the ledger."""
    config, before = loaded_day
    _reload_failing_after_the_writes(pg, pg_schema, config, instance, monkeypatch)
    assert _state(snowflake, wh_schema) == before


def test_mutation_ddl_after_a_write_commits_it_half_done(
    pg, pg_schema, wh_schema, snowflake, instance, loaded_day, monkeypatch
):
    """The mutation the frame's order guards against: a CREATE run after the writes (and the product's guard that
    refuses DDL in an open Snowflake transaction switched off). The stand-in commits the transaction at the CREATE,
    as Snowflake does, and the statements after it autocommit, so the rollback finds nothing to undo: the failed
    load's rows are in the target and in the ledger, the earlier files superseded."""
    config, before = loaded_day
    write = Replace.write

    def write_then_create(self: Replace) -> object:
        written = write(self)
        self.frame.tx.execute(f"CREATE TABLE IF NOT EXISTS {self.frame.warehouse.quote(wh_schema)}.late (id INT)")
        return written

    monkeypatch.setattr(snowflake_warehouse, "_DDL", ())
    monkeypatch.setattr(Replace, "write", write_then_create)
    _reload_failing_after_the_writes(pg, pg_schema, config, instance, monkeypatch)
    rows, ledger = _state(snowflake, wh_schema)
    assert rows != before[0], "the CREATE committed the reload's rows before the failure"
    assert rows == [(1440, sum(g % 97 + 1000 for g in range(1440)))] and ledger == {"superseded": 1440, "loaded": 1440}


def test_the_product_guard_refuses_ddl_in_an_open_transaction(
    pg, pg_schema, wh_schema, snowflake, instance, loaded_day, monkeypatch
):
    """With the guard on, the same late CREATE fails the load before it reaches Snowflake: nothing is committed."""
    config, before = loaded_day
    write = Replace.write

    def write_then_create(self: Replace) -> object:
        written = write(self)
        self.frame.tx.execute(f"CREATE TABLE IF NOT EXISTS {self.frame.warehouse.quote(wh_schema)}.late (id INT)")
        return written

    monkeypatch.setattr(Replace, "write", write_then_create)
    with pg.cursor() as cur:
        cur.execute(f'UPDATE "{pg_schema}".orders SET amount = amount + 1000 WHERE created_at < %s', (DAYS[1],))
    result = run_table(config, instance, "orders", DAYS[0])
    assert not result.success and "would commit it half done" in failure(result), failure(result)
    assert _state(snowflake, wh_schema) == before


def test_two_loaders_of_one_table_are_serialized_by_its_lock_table(
    pg, pg_schema, wh_schema, snowflake, s3_server, s3_bucket, tmp_path
):
    """Two processes load two days of one table at once, each through the CLI in its own session. The test holds
        the target's lock table first: both loaders wait for it (the stand-in's lock, like Snowflake's, has one holder at
    a time, so once it is let go they take it in turn); both finish, every row once, each day in the ledger."""
    _orders(pg, pg_schema)
    _config(tmp_path, snowflake, s3_server, s3_bucket, pg_schema, wh_schema)
    lock = f"_pipeline_assets.lock_{wh_schema}_orders"
    snowflake.rules.locks.waited.clear()
    with snowflake.connect() as conn, conn.cursor() as cur:
        cur.execute('CREATE SCHEMA IF NOT EXISTS "_pipeline_assets"')
        cur.execute(f'CREATE TABLE IF NOT EXISTS "_pipeline_assets"."lock_{wh_schema}_orders" (held_by VARCHAR)')
        cur.execute("BEGIN")
        cur.execute(f'DELETE FROM "_pipeline_assets"."lock_{wh_schema}_orders"')
        loaders = [
            subprocess.Popen(
                [*CLI, "--config", str(tmp_path / "pipeline.yaml"), "sync", "-t", "orders", "--partition", day],
                env={**os.environ, "PIPELINE_ASSETS_HOME": str(tmp_path / day)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for day in DAYS[:2]
        ]
        deadline = time.monotonic() + 120
        while snowflake.rules.locks.waited.count(lock) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert snowflake.rules.locks.waited.count(lock) == 2, "both loaders wait for the held lock table"
        assert snowflake.query(f'SELECT count(*) FROM "{wh_schema}"."orders"') == [(0,)], "neither wrote a row"
        cur.execute("COMMIT")
    outputs = [loader.communicate(timeout=180)[0] for loader in loaders]
    assert [loader.returncode for loader in loaders] == [0, 0], outputs
    assert snowflake.query(f'SELECT count(*), count(DISTINCT "id"), sum("id") FROM "{wh_schema}"."orders"') == [
        (2880, 2880, sum(range(2880)))
    ]
    ledger = snowflake.query(
        "SELECT status, count(DISTINCT partition_key), sum(rows_loaded) FROM _pipeline_assets.loaded_files "
        "WHERE target_table = %s GROUP BY status",
        (f"{wh_schema}.orders",),
    )
    assert ledger == [("loaded", 2, 2880)]
