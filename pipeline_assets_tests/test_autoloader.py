"""The files autoloader: files dropped into a real S3 server (SeaweedFS), discovered by real sensor evaluations,
loaded into PostgreSQL and DuckDB warehouses by real Dagster runs, each file version exactly once."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline_assets.assembly import assemble
from pipeline_assets_tests.conftest import project, s3_stage, write_config
from pipeline_assets_tests.drops import (
    SENSOR,
    csv_file,
    files_body,
    parquet_file,
    pg_value,
    source_records,
    tick_until_quiet,
)
from pipeline_assets_tests.runs import failure, launch, metadata, run_table, tick


def test_two_thousand_files_in_bursts_load_exactly_once(s3_server, s3_bucket, pg, wh_schema, instance, tmp_path):
    body = files_body(s3_server, s3_bucket, tmp_path, max_files_per_run=500)
    body["tables"][0]["target_table"] = f"{wh_schema}.events"
    assembly = assemble(project(tmp_path, body))
    client = s3_server.client()
    rows_per_file, bursts, per_burst = 5, 4, 500

    def upload_bursts():
        with ThreadPoolExecutor(16) as pool:
            for burst in range(bursts):
                names = [(burst * per_burst + i) for i in range(per_burst)]
                list(
                    pool.map(
                        lambda n: client.put_object(
                            Bucket=s3_bucket,
                            Key=f"landing/events/b{n // per_burst}/f{n:05d}.csv",
                            Body=csv_file(n * rows_per_file, rows_per_file),
                        ),
                        names,
                    )
                )
                time.sleep(0.5)

    uploader = threading.Thread(target=upload_bursts)
    uploader.start()
    _, results = tick_until_quiet(assembly, instance, busy=uploader.is_alive)
    uploader.join()
    total = bursts * per_burst
    assert all(r.success for r in results)
    assert 4 <= len(results) <= 12, (
        f"{len(results)} runs: bounded by 500 files each, a few more as bursts land mid-tick"
    )
    assert pg_value(pg, wh_schema) == total * rows_per_file
    assert pg_value(pg, wh_schema, "count(DISTINCT id)") == total * rows_per_file, "every row once"
    assert pg_value(pg, wh_schema, "count(DISTINCT _source_file)") == total
    records = source_records(pg, wh_schema)
    assert len(records) == total and {r[1] for r in records} == {"loaded"}, "one ledger record per file, each loaded"
    assert sum(r[3] for r in records) == total * rows_per_file
    assert not tick(assembly, SENSOR, instance).run_requests, "a tick without a cursor finds nothing left to load"
    checks = {e.check_name: e.passed for r in results for e in r.get_asset_check_evaluations()}
    assert checks == {"no_failed_files": True, "rows_match_files": True}


_KILLED_TICK = """
import sys, time
import dagster as dg
from pipeline_assets.config import load_config
from pipeline_assets.assembly import assemble
from pipeline_assets_tests.runs import launch, tick
assembly = assemble(load_config(sys.argv[1]))
with dg.DagsterInstance.get() as instance:
    evaluation = tick(assembly, "autoload_events", instance, None)
    print(" ".join(r.run_key for r in evaluation.run_requests), flush=True)
    launch(assembly, "autoload_events", instance, evaluation.run_requests[:1])
    print("launched", flush=True)
    time.sleep(600)  # the daemon would save the cursor now: the process is killed first
"""


def test_sensor_killed_between_launching_and_saving_its_cursor_launches_nothing_twice(
    s3_server, s3_bucket, pg, wh_schema, tmp_path, monkeypatch
):
    body = files_body(s3_server, s3_bucket, tmp_path, max_files_per_run=4)
    body["tables"][0]["target_table"] = f"{wh_schema}.events"
    config_path = write_config(tmp_path, body)
    client = s3_server.client()
    for n in range(10):
        client.put_object(Bucket=s3_bucket, Key=f"landing/events/f{n:02d}.csv", Body=csv_file(n * 10, 10))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_TICK, str(config_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    first_keys = child.stdout.readline().split()
    assert child.stdout.readline().strip() == "launched"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(first_keys) == 3 and pg_value(pg, wh_schema) == 40, "the killed tick launched its first run of 4 files"

    assembly = assemble(project(tmp_path, body))
    with dg.DagsterInstance.get() as instance:
        again = tick(assembly, SENSOR, instance, None)  # the cursor was never saved
        assert [r.run_key for r in again.run_requests] == first_keys[1:], "the same batches, the launched one left out"
        replay = launch(assembly, SENSOR, instance, [*again.run_requests])
        assert len(replay) == 2 and all(r.success for r in replay)
        assert launch(assembly, SENSOR, instance, again.run_requests) == [], (
            "run keys: a repeated tick launches nothing"
        )
        # even a run launched twice by hand loads nothing twice: the ledger says those files are in the table
        job = assembly.definitions.resolve_job_def(assembly.job_of[assembly.tables[0].loaded.key])
        twice = job.execute_in_process(run_config=again.run_requests[0].run_config, instance=instance)
        assert metadata(twice, ["dw", wh_schema, "events"])["files_already_loaded"] == 4
    assert pg_value(pg, wh_schema) == 100 and pg_value(pg, wh_schema, "count(DISTINCT id)") == 100


@pytest.mark.parametrize("kind", ["truncated_parquet", "bad_csv_row"])
def test_a_corrupt_file_fails_alone_is_retried_then_left_failed(kind, s3_server, s3_bucket, tmp_path, instance):
    fmt = "parquet" if kind == "truncated_parquet" else "csv"
    body = files_body(
        s3_server, s3_bucket, tmp_path, target="duck", max_retries=2, format=fmt, pattern=f"events/*.{fmt}"
    )
    body["stage"] = s3_stage(s3_server, s3_bucket)  # the staged files go to the S3 server too
    assembly = assemble(project(tmp_path, body))
    client = s3_server.client()
    make = parquet_file if fmt == "parquet" else csv_file
    for n in range(4):
        client.put_object(Bucket=s3_bucket, Key=f"landing/events/good{n}.{fmt}", Body=make(n * 100, 25))
    client.put_object(Bucket=s3_bucket, Key=f"landing/events/empty.{fmt}", Body=make(0, 0))  # no rows: loads as nothing
    bad = parquet_file(1000, 50)[:-40] if fmt == "parquet" else b"id,name,amount\n1,a,1.5\n2,b\n3,c,2.5\n"
    client.put_object(Bucket=s3_bucket, Key=f"landing/events/bad.{fmt}", Body=bad)

    evaluation = tick(assembly, SENSOR, instance)
    (first,) = launch(assembly, SENSOR, instance, evaluation.run_requests)
    assert first.success, "the good files load: the run is not failed"
    assert instance.get_run_by_id(first.run_id).tags["pipeline_assets/outcome"] == "partial_success"
    loaded = metadata(first, ["duck", "drops", "events"])
    assert (loaded["files_loaded"], loaded["files_failed"], loaded["rows_loaded"]) == (5, 1, 100)
    assert f"`events/bad.{fmt}` | failed" in loaded["file_outcomes"]
    (warning,) = [e for e in first.get_asset_check_evaluations() if e.check_name == "no_failed_files"]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN

    cursor, attempts = evaluation.cursor, []
    for _ in range(3):
        evaluation = tick(assembly, SENSOR, instance, cursor)
        cursor = evaluation.cursor
        if not evaluation.run_requests:
            break
        (retry,) = launch(assembly, SENSOR, instance, evaluation.run_requests)
        attempts.append(failure(retry))
    assert len(attempts) == 2, "retried max_retries (2) times by later runs, then left alone"
    expected = "magic bytes not found" if fmt == "parquet" else "Expected 3 columns, got 2"
    assert all(
        f"s3://{s3_bucket}/landing/events/bad.{fmt}: not a readable {fmt} file" in a and expected in a for a in attempts
    ), attempts
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM drops.events").fetchone()[0] == 100
        status = conn.execute(
            "SELECT status, attempts, error FROM _pipeline_assets.loaded_files "
            "WHERE file_uri LIKE '%bad%' AND origin = 'source'"
        ).fetchall()
    assert [(s, a) for s, a, _ in status] == [("failed", 3)] and expected in status[0][2], "failed and visible"

    client.put_object(Bucket=s3_bucket, Key=f"landing/events/bad.{fmt}", Body=make(1000, 50))  # fixed: a new version
    _, fixed = tick_until_quiet(assembly, instance, cursor)
    assert [r.success for r in fixed] == [True]
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM drops.events").fetchone()[0] == 150


@pytest.mark.parametrize("mode", ["append_no_overwrites", "append_overwrites", "merge_overwrites"])
def test_an_overwritten_file(mode, s3_server, s3_bucket, pg, wh_schema, instance, tmp_path):
    files = {"allow_overwrites": mode != "append_no_overwrites"}
    body = files_body(s3_server, s3_bucket, tmp_path, **files)
    body["tables"][0].update(
        {"target_table": f"{wh_schema}.events"},
        **({"write_mode": "merge", "primary_key": ["id"]} if mode.startswith("merge") else {}),
    )
    assembly = assemble(project(tmp_path, body))
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="landing/events/a.csv", Body=csv_file(1, 3))
    client.put_object(Bucket=s3_bucket, Key="landing/events/b.csv", Body=csv_file(100, 2))
    cursor, _ = tick_until_quiet(assembly, instance)
    assert pg_value(pg, wh_schema) == 5
    time.sleep(1.1)  # S3 keeps last-modified to the second: the new version is newer
    client.put_object(
        Bucket=s3_bucket,
        Key="landing/events/a.csv",
        Body=b"id,name,amount\n1,changed,9.5\n2,changed,9.5\n3,changed,9.5\n4,new,1\n",
    )
    _, (run,) = tick_until_quiet(assembly, instance, cursor)
    outcomes = metadata(run, ["dw", wh_schema, "events"])["file_outcomes"]
    statuses = [r[1] for r in source_records(pg, wh_schema) if r[0].endswith("/a.csv")]
    if mode == "append_no_overwrites":
        assert "`events/a.csv` | skipped" in outcomes and "allow_overwrites is false" in outcomes
        assert sorted(statuses) == ["loaded", "skipped"] and pg_value(pg, wh_schema) == 5, (
            "the new version is reported, not loaded"
        )
    elif mode == "append_overwrites":
        assert sorted(statuses) == ["loaded", "loaded"], "a new version is a new file"
        assert pg_value(pg, wh_schema) == 9 and pg_value(pg, wh_schema, "count(*) FILTER (WHERE name = 'changed')") == 3
    else:
        assert pg_value(pg, wh_schema) == 6, "merged by key: the newest file's rows win"
        assert (
            pg_value(pg, wh_schema, "string_agg(name, ',' ORDER BY id)")
            == "changed,changed,changed,new,name 100,name 101"
        )
    assert not tick(assembly, SENSOR, instance).run_requests, "nothing is pending once the new version is decided"


def test_partitioned_by_a_date_in_the_key_and_backfilled_by_partition(s3_server, s3_bucket, tmp_path, instance):
    body = files_body(
        s3_server,
        s3_bucket,
        tmp_path,
        target="duck",
        format="jsonl",
        pattern="events/dt=*/*.jsonl",
        partition_key_pattern=r"dt=(\d{4}-\d{2}-\d{2})/",
        start_date="2026-11-01",
        columns={"id": "int64", "at": "timestamptz", "price": "decimal(10,2)", "tags": "json"},
    )
    assembly = assemble(project(tmp_path, body))
    client = s3_server.client()

    def drop(day: str, name: str, first: int, rows: int) -> None:
        lines = "".join(
            f'{{"id": {i}, "at": "{day}T10:00:00Z", "price": "{i}.50", "tags": ["a"], "extra": 1}}\n'
            for i in range(first, first + rows)
        )
        client.put_object(Bucket=s3_bucket, Key=f"landing/events/dt={day}/{name}.jsonl", Body=lines.encode())

    drop("2026-11-20", "a", 0, 3)
    drop("2026-11-21", "a", 10, 4)
    drop("2026-11-21", "b", 20, 1)
    client.put_object(
        Bucket=s3_bucket, Key="landing/events/dt=2026-10-01/old.jsonl", Body=b'{"id": 99}\n'
    )  # before start_date
    evaluation = tick(assembly, SENSOR, instance)
    assert sorted(r.partition_key for r in evaluation.run_requests) == ["2026-11-20", "2026-11-21"]
    assert all(r.success for r in launch(assembly, SENSOR, instance, evaluation.run_requests))
    events = assembly.tables[0]
    assert instance.get_materialized_partitions(events.loaded.key) == {"2026-11-20", "2026-11-21"}

    drop("2026-11-20", "late", 30, 2)  # a late file of an old day: a backfill of that partition, without the sensor
    result = run_table(project(tmp_path, body), instance, "events", "2026-11-20")
    assert result.success and metadata(result, ["duck", "drops", "events"])["files_loaded"] == 1
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            'SELECT count(*), sum(price), min(typeof(tags)), min(typeof("at")), min(tags) FROM drops.events'
        ).fetchone()
        columns = [c[0] for c in conn.execute("DESCRIBE drops.events").fetchall()]
    assert rows[0] == 10 and rows[1] == Decimal("135.00")  # exact decimals: 0.50 + 1.50 + … + 31.50
    assert rows[2:] == ("JSON", "TIMESTAMP WITH TIME ZONE", '["a"]')
    assert columns == ["id", "at", "price", "tags", "_source_file", "_source_modified"], (
        "declared columns; extras ignored"
    )


def test_definitions_of_a_files_table_validate_in_dagster(tmp_path):
    body = {
        "connections": {"drops": {"kind": "files", "url": "landing"}, "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
        "tables": [
            {
                "source": "drops",
                "table": "events",
                "target": "duck",
                "files": {
                    "pattern": "dt=*/*.parquet",
                    "format": "parquet",
                    "partition_key_pattern": r"dt=(\d{4}-\d{2}-\d{2})/",
                    "start_date": "2026-11-01",
                    "discovery_interval_seconds": 15,
                },
            }
        ],
    }
    path = write_config(tmp_path, body)
    env = {
        **os.environ,
        "PIPELINE_ASSETS_CONFIG": str(path),
        "DAGSTER_HOME": str(tmp_path / "dh"),
        "PYTHONPATH": os.getcwd(),
    }
    (tmp_path / "dh").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipeline_assets.definitions"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0 and "Validation successful" in result.stdout + result.stderr, (
        result.stdout + result.stderr
    )
    d = assemble(project(tmp_path, body)).definitions
    assert {j.name for j in d.jobs} == {
        "autoload_events_job",
        "files_fresh_start",
        "files_full_reprocess",
        "files_backfill",
        "stage_housekeeping",
    }, "no schedule job: the sensor drives a files table"
    sensor = d.resolve_sensor_def(SENSOR)
    assert (sensor.job_name, sensor.minimum_interval_seconds, sensor.default_status) == (
        "autoload_events_job",
        15,
        dg.DefaultSensorStatus.RUNNING,
    )
    loaded = d.resolve_assets_def(dg.AssetKey(["duck", "drops", "events"]))
    assert isinstance(loaded.partitions_def, dg.DailyPartitionsDefinition)
    assert {k.name for k in d.resolve_asset_graph().asset_check_keys} == {"no_failed_files", "rows_match_files"}


def test_files_of_running_runs_are_not_asked_for_and_the_hourly_reconciliation_finds_missed_ones(
    s3_server, s3_bucket, tmp_path, instance
):
    assembly = assemble(project(tmp_path, files_body(s3_server, s3_bucket, tmp_path, target="duck")))
    client = s3_server.client()
    for n in range(3):
        client.put_object(Bucket=s3_bucket, Key=f"landing/events/f{n}.csv", Body=csv_file(n * 10, 10))
    (request,) = tick(assembly, SENSOR, instance).run_requests
    job = assembly.definitions.resolve_job_def(assembly.job_of[assembly.tables[0].loaded.key])
    running = instance.create_run_for_job(job, run_config=request.run_config, status=dg.DagsterRunStatus.STARTED)
    assert tick(assembly, SENSOR, instance).skip_message, "a run already carries every file: nothing is asked for again"
    instance.report_run_failed(running)  # died before converting anything: no trace in the ledger
    (again,) = tick(assembly, SENSOR, instance).run_requests
    assert [tuple(f) for f in again.run_config["ops"]["stage__drops__events"]["config"]["files"]] == [
        tuple(f) for f in request.run_config["ops"]["stage__drops__events"]["config"]["files"]
    ]

    # a cursor that has moved past a file (listed late, or lost) skips it, until the hourly reconciliation
    evaluation = tick(assembly, SENSOR, instance)
    launch(assembly, SENSOR, instance, evaluation.run_requests)
    client.put_object(Bucket=s3_bucket, Key="landing/events/missed.csv", Body=csv_file(100, 10))
    cursor = json.loads(evaluation.cursor)
    cursor["after"] = ["2999-01-01T00:00:00+00:00", "zzz"]  # the fast path sees nothing new
    assert tick(assembly, SENSOR, instance, json.dumps(cursor)).skip_message
    cursor["reconciled_at"] = "2000-01-01T00:00:00+00:00"  # an hour (and more) since the last reconciliation
    (found,) = tick(assembly, SENSOR, instance, json.dumps(cursor)).run_requests
    assert found.run_config["ops"]["stage__drops__events"]["config"]["files"][0][0] == "events/missed.csv"


def test_a_local_folder_with_schemas_inferred_united_and_evolved(tmp_path, instance):
    landing = tmp_path / "landing" / "in"
    landing.mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32()), "v": ["a", "b"]}), landing / "one.parquet")
    pq.write_table(pa.table({"id": pa.array([3], pa.int64()), "w": [1.5]}), landing / "two.parquet")
    body = {
        "connections": {"drops": {"kind": "files", "url": "landing"}, "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
        "stage": {"url": "stage"},
        "tables": [
            {
                "source": "drops",
                "table": "events",
                "target": "duck",
                "files": {"pattern": "in/*.parquet", "format": "parquet"},
            }
        ],
    }
    config = project(tmp_path, body)
    assert run_table(config, instance, "events").success
    pq.write_table(pa.table({"id": pa.array([4], pa.int64()), "x": [True]}), landing / "three.parquet")
    later = run_table(config, instance, "events")
    assert metadata(later, ["duck", "drops", "events"])["schema_changes"] == "x: added BOOLEAN"
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT id, v, w, x, _source_file LIKE '%/landing/in/%' FROM drops.events ORDER BY id"
        ).fetchall()
        kinds = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'events'"
            ).fetchall()
        )
    assert rows == [
        (1, "a", None, None, True),
        (2, "b", None, None, True),
        (3, None, 1.5, None, True),
        (4, None, None, True, True),
    ]
    assert (kinds["id"], kinds["w"]) == ("BIGINT", "DOUBLE"), "int32 and int64 files: the wider type"
