"""The staged-file lifecycle: path strategies, the ledger's exactly-once loads, orphans, cleanup, and the
``stage``/``ledger`` commands (real S3 server, PostgreSQL and DuckDB warehouses, real Dagster runs)."""

import os
import signal
import subprocess
import sys
import threading
import time

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from pipeline_assets.assembly import assemble
from pipeline_assets.cli.main import cli
from pipeline_assets_tests.conftest import pg_connection, project, s3_stage, write_config
from pipeline_assets_tests.runs import failure, metadata, run_table

DAY = "2026-01-01"


def _events(pg, schema: str, rows: int, table: str = "events") -> None:
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{schema}".{table} AS SELECT g AS id, timestamp '{DAY}' + (g % 86400) * interval '1 second' AS at,
                        md5(g::text) AS note FROM generate_series(1, {rows}) g""")


def _body(schema: str, stage: dict, target="duck", **table) -> dict:
    return {
        "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}, "dw": pg_connection()},
        "stage": stage,
        "tables": [
            {
                "source": "app",
                "table": f"{schema}.events",
                "target": target,
                "cursor": "at",
                "partitioning": "daily",
                "start_date": DAY,
                **table,
            }
        ],
    }


def _duck_count(tmp_path, table="app.events") -> int:
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("strategy", ["unique", "fixed_overwrite", "fixed_no_overwrite"])
def test_path_strategies_run_twice(strategy, pg, pg_schema, instance, tmp_path):
    _events(pg, pg_schema, 2_000)
    stage = {
        "url": "stage",
        "path_strategy": "unique" if strategy == "unique" else "fixed",
        "overwrite": strategy == "fixed_overwrite",
    }
    config = project(tmp_path, _body(pg_schema, stage))
    partition_folder = tmp_path / "stage" / "app" / f"{pg_schema}_events" / DAY
    assert run_table(config, instance, "events", DAY).success
    first = _files(partition_folder)
    second_run = run_table(config, instance, "events", DAY)
    second = _files(partition_folder)
    if strategy == "unique":
        assert second_run.success
        assert len({f.split("/")[0] for f in second}) == 2 and set(first) < set(second), "each run has its own folder"
    elif strategy == "fixed_overwrite":
        assert second_run.success
        assert first == second == ["fixed/_manifest.json", f"fixed/{pg_schema}_events_{DAY}_batch0000.parquet"]
        assert not any("incoming" in f for f in second)
    else:
        assert not second_run.success
        assert (
            failure(second_run) == f"stage: files already exist in {partition_folder / 'fixed'}/ and overwrite is false"
        )
        assert first == second
    assert _duck_count(tmp_path) == 2_000


def test_killed_run_leaves_orphans_that_the_sensor_reports_and_removes(pg, pg_schema, wh_schema, tmp_path, monkeypatch):
    _events(pg, pg_schema, 400_000)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    body = _body(pg_schema, {"url": "stage", "orphan_grace": "1s"}, target="dw", target_table=f"{wh_schema}.events")
    config_path = write_config(tmp_path, body)
    stage_root = tmp_path / "stage"

    command = [
        sys.executable,
        "-m",
        "pipeline_assets",
        "--config",
        str(config_path),
        "sync",
        "-t",
        "events",
        "--partition",
        DAY,
    ]
    process = subprocess.Popen(command, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(stage_root.rglob("_manifest.json")):
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its files were staged"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_files = _files(stage_root)
    with pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (wh_schema,))
        assert cur.fetchone()[0] == 0 or _pg_count(pg, wh_schema) == 0, "the kill came before the load committed"

    with dg.DagsterInstance.get() as instance:
        config = project(tmp_path, body)
        assert run_table(config, instance, "events", DAY).success
        assert _pg_count(pg, wh_schema) == 400_000
        with pg.cursor() as cur:
            cur.execute(f'SELECT count(DISTINCT id) FROM "{wh_schema}".events')
            assert cur.fetchone()[0] == 400_000, "each row once"

        time.sleep(1.5)
        assembly = assemble(config)
        sensor = assembly.definitions.resolve_sensor_def("stage_orphan_sensor")
        result = _tick(sensor, instance, assembly)
        (observation,) = result.asset_events
        assert observation.metadata["orphans"].value == len(killed_files) and not result.run_requests

        body["stage"]["delete_orphans"] = True
        config = project(tmp_path, body)
        assembly = assemble(config)
        sensor = assembly.definitions.resolve_sensor_def("stage_orphan_sensor")
        (request,) = _tick(sensor, instance, assembly).run_requests
        job = assembly.definitions.resolve_job_def("stage_housekeeping")
        assert job.execute_in_process(run_config=request.run_config, instance=instance).success
    remaining = _files(stage_root)
    assert not set(killed_files) & set(remaining), "the killed run's files are gone"
    assert len(remaining) == 2 and all(f not in killed_files for f in remaining), "the good run's files stay"


def _tick(sensor, instance, assembly):
    with dg.build_sensor_context(instance=instance, resources=dict(assembly.definitions.resources)) as context:
        return sensor.evaluate_tick(context)


def _pg_count(pg, schema: str) -> int:
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{schema}".events')
        return cur.fetchone()[0]


def test_load_retried_after_the_connection_dropped_mid_copy_loads_each_file_once(
    pg, pg_schema, wh_schema, instance, tmp_path
):
    _events(pg, pg_schema, 400_000)
    config = project(
        tmp_path,
        _body(
            pg_schema,
            {"url": "stage", "target_file_mb": 4},
            target="dw",
            target_table=f"{wh_schema}.events",
            write_mode="append",
        ),
    )
    assert run_table(config, instance, "events", DAY, only="staged").success
    killed = []

    def kill_the_copy():
        watcher = __import__("psycopg2").connect(host="127.0.0.1", user="postgres", dbname="test")
        watcher.autocommit = True
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            with watcher.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                    "'pipeline_assets' AND query ILIKE 'COPY%' AND state = 'active'"
                )
                killed.extend(r for r in cur.fetchall() if r[0])
            time.sleep(0.01)
        watcher.close()

    thread = threading.Thread(target=kill_the_copy)
    thread.start()
    result = run_table(config, instance, "events", DAY, only="loaded")
    thread.join()
    assert killed, "the COPY was interrupted"
    assert result.success, failure(result)
    assert any(e.event_type_value == "STEP_RESTARTED" for e in result.all_events)
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*), count(DISTINCT id) FROM "{wh_schema}".events')
        assert cur.fetchone() == (400_000, 400_000)
        cur.execute(
            'SELECT count(*), count(DISTINCT file_uri) FROM "_pipeline_assets".loaded_files '
            "WHERE target_table = %s AND status = 'loaded'",
            (f"{wh_schema}.events",),
        )
        files, distinct = cur.fetchone()
    assert files == distinct == metadata(result, ["dw", wh_schema, "events"])["files"] > 1


def test_ledger_clear_refuses_on_append_until_the_table_is_dropped(pg, pg_schema, instance, tmp_path, monkeypatch):
    _events(pg, pg_schema, 3_000)
    config_path = write_config(tmp_path, _body(pg_schema, {"url": "stage"}, write_mode="append"))
    config = project(tmp_path, _body(pg_schema, {"url": "stage"}, write_mode="append"))
    assert run_table(config, instance, "events", DAY).success
    again = run_table(config, instance, "events", DAY, only="loaded")
    assert again.success and metadata(again, ["duck", "app", "events"])["files_skipped"] == 1
    assert _duck_count(tmp_path) == 3_000, "a file already loaded is not loaded again"

    runner = CliRunner()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    refused = runner.invoke(cli, ["--config", str(config_path), "ledger", "clear", "-t", "events"])
    assert refused.exit_code == 2
    assert refused.stderr.strip().endswith("delete those rows (or drop the table) first, or pass --force")
    assert "refusing: app.events still holds the rows of 1 of these files" in refused.stderr

    with duckdb.connect(str(tmp_path / "dw.duckdb")) as conn:
        conn.execute("DROP TABLE app.events")
    stuck = run_table(config, instance, "events", DAY, only="loaded")
    assert "app.events does not exist but the ledger lists files loaded into it" in failure(stuck)
    cleared = runner.invoke(cli, ["--config", str(config_path), "ledger", "clear", "-t", "events"])
    assert cleared.exit_code == 0 and "cleared 1 records of events" in cleared.output
    assert (
        "cleared 0 records"
        in runner.invoke(cli, ["--config", str(config_path), "ledger", "clear", "-t", "events"]).output
    )
    assert run_table(config, instance, "events", DAY, only="loaded").success
    assert _duck_count(tmp_path) == 3_000, "reprocessed once"
    listed = runner.invoke(cli, ["--config", str(config_path), "ledger", "list", "-t", "events", "--status", "loaded"])
    assert listed.exit_code == 0 and "1 records" in listed.output


def test_orphan_sensor_reports_exactly_the_old_strays_and_unfinished_uploads(
    pg, pg_schema, s3_server, s3_bucket, instance, tmp_path
):
    _events(pg, pg_schema, 10)
    config = project(tmp_path, _body(pg_schema, s3_stage(s3_server, s3_bucket, orphan_grace="3s")))
    client = s3_server.client()
    prefix = f"staging/app/{pg_schema}_events/"
    for i in range(50):
        client.put_object(Bucket=s3_bucket, Key=f"{prefix}stray/old_{i:03d}.parquet", Body=b"x" * 10)
    uploads = [
        client.create_multipart_upload(Bucket=s3_bucket, Key=f"{prefix}2026-01-01/big_{i}.parquet")["UploadId"]
        for i in range(2)
    ]
    time.sleep(3.5)
    for i in range(50):
        client.put_object(Bucket=s3_bucket, Key=f"{prefix}stray/new_{i:03d}.parquet", Body=b"x" * 10)
    client.put_object(Bucket=s3_bucket, Key="staging/app/other_table/old.parquet", Body=b"not ours")
    assembly = assemble(config)
    sensor = assembly.definitions.resolve_sensor_def("stage_orphan_sensor")
    result = _tick(sensor, instance, assembly)
    (observation,) = result.asset_events
    assert {k: v.value for k, v in observation.metadata.items() if k != "oldest_orphan"} == {
        "orphans": 50,
        "orphan_bytes": 500,
        "incomplete_uploads": 2,
    }
    assert not result.run_requests, "deleting orphans is off unless stage.delete_orphans is set"
    for upload_id, i in zip(uploads, range(2), strict=True):
        client.abort_multipart_upload(Bucket=s3_bucket, Key=f"{prefix}2026-01-01/big_{i}.parquet", UploadId=upload_id)


def test_cleanup_sensor_deletes_loaded_files_after_each_partition(pg, pg_schema, instance, tmp_path):
    _events(pg, pg_schema, 1_000)
    config = project(tmp_path, _body(pg_schema, {"url": "stage", "cleanup_after_load": "after_partition"}))
    assert run_table(config, instance, "events", DAY).success
    assembly = assemble(config)
    sensor = assembly.definitions.resolve_sensor_def("stage_cleanup_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    (request,) = result.run_requests
    assert request.run_config["ops"]["clean_stage"]["config"]["partitions"] == [DAY]
    assert sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=result.cursor)).skip_message
    job = assembly.definitions.resolve_job_def("stage_housekeeping")
    assert job.execute_in_process(run_config=request.run_config, instance=instance).success
    assert _files(tmp_path / "stage") == []
    assert _duck_count(tmp_path) == 1_000
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        assert conn.execute('SELECT status FROM "_pipeline_assets".loaded_files').fetchall() == [("deleted",)]


def test_cleanup_after_all_waits_for_the_table_then_cleans_every_partition(pg, pg_schema, instance, tmp_path):
    _events(pg, pg_schema, 1_000)
    with pg.cursor() as cur:
        cur.execute(f"""INSERT INTO "{pg_schema}".events SELECT g, timestamp '2026-01-02' + g * interval '1 second', 'x'
                        FROM generate_series(2000, 2100) g""")
    config = project(tmp_path, _body(pg_schema, {"url": "stage", "cleanup_after_load": "after_all"}))
    for day in (DAY, "2026-01-02"):
        assert run_table(config, instance, "events", day).success
    assembly = assemble(config)
    sensor = assembly.definitions.resolve_sensor_def("stage_cleanup_sensor")
    events = next(t for t in assembly.tables if t.table.asset_name == "events")
    busy = instance.create_run_for_job(
        assembly.definitions.resolve_job_def("app_daily"),
        asset_selection=frozenset({events.staged.key, events.loaded.key}),
        status=dg.DagsterRunStatus.STARTED,
    )
    assert sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).skip_message, (
        "a run of the table is in progress"
    )
    instance.report_run_failed(busy)
    (request,) = sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).run_requests
    assert request.run_config["ops"]["clean_stage"]["config"]["partitions"] == [DAY, "2026-01-02"]
    assert (
        assembly.definitions.resolve_job_def("stage_housekeeping")
        .execute_in_process(run_config=request.run_config, instance=instance)
        .success
    )
    assert _files(tmp_path / "stage") == [] and _duck_count(tmp_path) == 1_101
