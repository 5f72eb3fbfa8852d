"""The Dagster definitions: they load with Dagster's own validator, and their shape follows the config."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg

from pipeline_assets.assembly import build_definitions
from pipeline_assets.definitions import defs
from pipeline_assets_tests.conftest import pg_connection, project


def test_dagster_definitions_validate_on_the_demo(tmp_path):
    env = {**os.environ, "PIPELINE_ASSETS_HOME": str(tmp_path / "demo"), "DAGSTER_HOME": str(tmp_path / "dh")}
    (tmp_path / "dh").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipeline_assets.definitions"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_demo_definitions_shape():
    d = defs()
    dg.Definitions.validate_loadable(d)
    keys = {a.key.to_user_string() for a in d.assets}
    assert {"stage/shop/orders", "warehouse/shop/orders", "stage/shop/customers", "warehouse/shop/customers"} <= keys
    assert {j.name for j in d.jobs} == {"shop_daily", "shop_full", "stage_housekeeping"}
    assert {s.name for s in d.sensors} == {"stage_cleanup_sensor", "stage_orphan_sensor"}
    orders = d.resolve_assets_def(dg.AssetKey(["warehouse", "shop", "orders"]))
    assert orders.group_names_by_key[orders.key] == "shop"
    assert orders.partitions_def == dg.DailyPartitionsDefinition(
        start_date=orders.partitions_def.start.strftime("%Y-%m-%d"), timezone="UTC"
    )
    assert d.resolve_assets_def(dg.AssetKey(["stage", "shop", "orders"])).op.pools == {"source_shop"}


def test_schedule_targets_the_previous_day(tmp_path):
    config = project(
        tmp_path,
        {
            "connections": {"db": pg_connection()},
            "schedule": {"hour": 2, "minute": 15},
            "tables": [
                {
                    "source": "db",
                    "table": "t",
                    "target": "db",
                    "cursor": "ts",
                    "partitioning": "daily",
                    "start_date": "2026-01-01",
                },
                {"source": "db", "table": "u", "target": "db"},
            ],
        },
    )
    d = build_definitions(config)
    schedule = d.resolve_schedule_def("db_daily_schedule")
    assert schedule.cron_schedule == "15 2 * * *"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 2, 2, 15, tzinfo=UTC))
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-03-01"]
    assert d.resolve_job_def("db_full") is not None
