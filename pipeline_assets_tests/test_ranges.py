"""Runs that cover a range of days, as a backfill under the table's backfill policy launches them (the partition
range tags the daemon sets), and the CLI's range runs: each day is its own unit of work and record.

The daemon-driven launches of the same paths are in test_daemon.py; these run in-process to test the edges
(a failing day in the middle, a retried step, a run without a partition) quickly."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from pipeline_assets.assembly import assemble
from pipeline_assets.assets.launch import launch_in_process
from pipeline_assets.cli.main import cli
from pipeline_assets.project import default_dagster_home
from pipeline_assets_tests.conftest import pg_connection, project, write_config
from pipeline_assets_tests.runs import failure

FIRST = datetime.now(UTC).date() - timedelta(days=8)  # the last of the 8 days is yesterday: complete
DAYS = [(FIRST + timedelta(days=n)).isoformat() for n in range(8)]


@pytest.fixture
def events(pg, pg_schema) -> str:
    """``events``: 50 rows on each of the 8 days up to yesterday, day n's ids n*1000+1…n*1000+50."""
    with pg.cursor() as cur:
        cur.execute(
            f'''CREATE TABLE "{pg_schema}".events AS
            SELECT d * 1000 + r AS id, %s::timestamptz + d * interval '1 day' + r * interval '17 minutes' AS created_at,
                   (d * 1000 + r) / 100.0::numeric(12,2) AS amount
            FROM generate_series(0, 7) d, generate_series(1, 50) r''',
            [f"{DAYS[0]} 00:00:00+00"],
        )
        cur.execute(f'ALTER TABLE "{pg_schema}".events ADD PRIMARY KEY (id)')
    return f"{pg_schema}.events"


def _body(tmp_path, table: str, **extra) -> dict:
    return {
        "connections": {"app": pg_connection(), "dw": {"kind": "duckdb", "path": str(tmp_path / "dw.duckdb")}},
        "stage": {"url": "stage"},
        "tables": [
            {
                "source": "app",
                "table": table,
                "target": "dw",
                "cursor": "created_at",
                "partitioning": "daily",
                "start_date": DAYS[0],
                "primary_key": ["id"],
                **extra,
            }
        ],
    }


def _per_day(tmp_path) -> dict[str, int]:
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT CAST(created_at AT TIME ZONE 'UTC' AS DATE)::VARCHAR, count(*) FROM app.events GROUP BY 1"
        )
        return dict(rows.fetchall())


def _materialized(result: dg.ExecuteInProcessResult, key: list[str]) -> dict[str, dict]:
    return {
        e.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(key)
    }


def test_a_range_run_loads_each_day_as_its_own_unit(events, instance, tmp_path):
    assembly = assemble(project(tmp_path, _body(tmp_path, events, write_mode="append")))
    (table,) = assembly.tables
    result = _run(assembly, DAYS[1:4], instance)
    assert result.success, failure(result)
    assert result.dagster_run.tags["dagster/asset_partition_range_start"] == DAYS[1]

    staged, loaded = (
        _materialized(result, ["stage", "app", "events"]),
        _materialized(result, ["dw", "app", "events"]),
    )
    assert sorted(staged) == sorted(loaded) == DAYS[1:4]
    for day in DAYS[1:4]:
        assert loaded[day]["window"] == staged[day]["window"]
        assert loaded[day]["window"].startswith(f"[{day}T00:00:00+00:00, ")
        assert staged[day]["rows_extracted"] == loaded[day]["rows_loaded"] == loaded[day]["dagster/row_count"] == 50
        assert f"/{day}/run_" in staged[day]["stage_path"]
    assert _per_day(tmp_path) == dict.fromkeys(DAYS[1:4], 50), "only the run's days, each once"
    assert not list((tmp_path / "stage" / "app").glob("*/full")), "nothing staged as the whole table"

    checks = [
        e for e in result.get_asset_check_evaluations() if e.check_name not in ("fresh", "total_rows_match_source")
    ]
    names = ("rows_match_source", "checksum_matches_source", "no_duplicate_keys", "schema_matches_source")
    assert {(e.partition, e.check_name) for e in checks} == {(day, name) for day in DAYS[1:4] for name in names}
    assert all(e.passed for e in checks)
    assert instance.get_materialized_partitions(table.loaded.key) == set(DAYS[1:4])

    again = _run(assembly, DAYS[2:5], instance)
    assert again.success, failure(again)
    assert _per_day(tmp_path) == dict.fromkeys(DAYS[1:5], 50), "an append table re-run over loaded days gains nothing"


def test_a_failing_day_keeps_the_days_before_it_and_the_rerun_does_the_rest(pg, events, instance, tmp_path):
    with pg.cursor() as cur:  # a NULL key stops a merge: day 4 cannot load
        cur.execute(f"ALTER TABLE {_quoted(events)} DROP CONSTRAINT events_pkey, ALTER COLUMN id DROP NOT NULL")
        cur.execute(f"UPDATE {_quoted(events)} SET id = NULL WHERE id = 3007")
    config = project(tmp_path, _body(tmp_path, events, write_mode="merge"))
    assembly = assemble(config)
    (table,) = assembly.tables
    result = _run(assembly, DAYS[1:6], instance)
    assert not result.success
    assert "NULL" in failure(result) and "id" in failure(result)
    assert instance.get_materialized_partitions(table.loaded.key) == set(DAYS[1:3]), "days 2 and 3 committed and shown"
    assert instance.get_materialized_partitions(table.staged.key) == set(DAYS[1:6])
    assert _per_day(tmp_path) == {DAYS[1]: 50, DAYS[2]: 50}

    with pg.cursor() as cur:
        cur.execute(f"DELETE FROM {_quoted(events)} WHERE id IS NULL")
    runner = CliRunner()
    path = write_config(tmp_path, _body(tmp_path, events, write_mode="merge"))
    out = runner.invoke(
        cli,
        ["--config", str(path), "sync", "--all"],
        env={"DAGSTER_HOME": str(instance.root_directory)},
    )
    assert out.exit_code == 0, out.output
    ran = {line.split()[2].rstrip(":") for line in out.output.splitlines() if line.startswith("ok ")}
    assert ran == {DAYS[0], *DAYS[3:]}, "only the days not loaded yet"
    assert _per_day(tmp_path) == {
        **{day: 50 for day in DAYS if day != DAYS[3]},
        DAYS[3]: 49,
    }


def test_sync_from_to_launches_range_runs_of_days_per_run(events, tmp_path):
    path = write_config(tmp_path, _body(tmp_path, events, days_per_run=3))
    home = tmp_path / "dagster_home"
    out = CliRunner().invoke(
        cli,
        ["--config", str(path), "sync", "-t", "events", "--from", DAYS[0], "--to", DAYS[6]],
        env={"DAGSTER_HOME": str(home)},
    )
    assert out.exit_code == 0, out.output
    assert sum(line.startswith("ok ") for line in out.output.splitlines()) == 7, "one summary line per day"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 3, "7 days in runs of at most 3"
        ranges = sorted(
            (
                r.tags.get("dagster/asset_partition_range_start") or r.tags["dagster/partition"],
                r.tags.get("dagster/asset_partition_range_end") or r.tags["dagster/partition"],
            )
            for r in runs
        )
        assert ranges == [(DAYS[0], DAYS[2]), (DAYS[3], DAYS[5]), (DAYS[6], DAYS[6])]
    assert _per_day(tmp_path) == dict.fromkeys(DAYS[:7], 50)


def test_a_daily_asset_launched_without_a_partition_is_refused(events, instance, tmp_path):
    assembly = assemble(project(tmp_path, _body(tmp_path, events)))
    (table,) = assembly.tables
    job = assembly.definitions.resolve_job_def(assembly.job_of[table.loaded.key])
    result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=[table.staged.key])
    assert not result.success
    assert failure(result) == (
        "events is partitioned by day: launch it for a partition or a range of partitions (a run without one would "
        "read the whole table)"
    )
    assert not (tmp_path / "stage").exists() or not any((tmp_path / "stage").rglob("*.parquet"))


def test_the_schedule_asks_for_the_last_complete_utc_day(events, tmp_path):
    assembly = assemble(project(tmp_path, {**_body(tmp_path, events), "schedule": {"hour": 0, "minute": 30}}))
    schedule = assembly.definitions.resolve_schedule_def("app_daily_schedule")
    today = datetime.now(UTC).date()
    tick = datetime(today.year, today.month, today.day, 0, 30, tzinfo=UTC)
    (request,) = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests
    assert request.partition_key == DAYS[-1] == (today - timedelta(days=1)).isoformat()


def _run(assembly, days: list[str], instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    (table,) = assembly.tables
    return launch_in_process(assembly.definitions, assembly.job_of[table.loaded.key], table, days, instance)


def _quoted(table: str) -> str:
    schema, name = table.split(".")
    return f'"{schema}"."{name}"'


def test_the_demo_and_each_config_record_in_instances_of_their_own(events, tmp_path):
    """Unless DAGSTER_HOME is set, a config's runs never land in the demo's instance (or another config's)."""
    path = write_config(tmp_path, _body(tmp_path, events))
    other = tmp_path / "other" / "pipeline.yaml"
    other.parent.mkdir()
    other.write_text(path.read_text())
    demo, mine = default_dagster_home(None), default_dagster_home(str(path))
    assert len({demo, mine, default_dagster_home(str(other))}) == 3
    out = CliRunner().invoke(cli, ["--config", str(path), "sync", "-t", "events", "--partition", DAYS[0]])
    assert out.exit_code == 0, out.output
    assert f"recording runs in {mine}" in out.output
    with dg.DagsterInstance.from_config(str(mine)) as instance:
        assert len(instance.get_runs()) == 1
    assert not demo.exists(), "the demo's instance was not touched"
