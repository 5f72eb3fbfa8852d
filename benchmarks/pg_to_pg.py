"""PostgreSQL → PostgreSQL: the raw binary COPY pipe against the staged path (Parquet stage, project engine).

    .venv/bin/python benchmarks/pg_to_pg.py --rows 1000000
    .venv/bin/python benchmarks/pg_to_pg.py --rows 5000000 --repeat 2 --no-dagster

Needs a PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth, database ``test``) and ``psql`` on the PATH.
The source is ``bench.events_<rows>`` (generated when missing or of the wrong size, cursor ``created_at`` over
five UTC days, indexed like any daily cursor). Each repeat runs the raw pipe and the staged path back to back
after a CHECKPOINT and keeps the best time of each; every target is checked against the source.

The staged path runs in a child process (its own peak RSS is reported) and calls the engine as the assets do:
``PostgresSource.read`` → ``RollingWriter`` + ``Manifest`` in a ``LocalStore`` (the stage asset) →
``PostgresWarehouse.load`` (the warehouse asset). ``daily``: the five partitions as a backfill runs them, one
extract and one load in flight at a time (a pool of 1 each); ``full``: the table unpartitioned, extract then load.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

PSQL = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "test"]
FIRST_DAY, DAYS = date(2024, 1, 1), 5
COLUMNS = """id bigint PRIMARY KEY, created_at timestamptz NOT NULL, updated_at timestamp, quantity integer,
    amount numeric(12,2), status smallint, score double precision, name text, email varchar(200), active boolean,
    birth_date date, payload jsonb"""
GENERATE = """
SELECT g, timestamptz '{day} 00:00:00+00' + (g - 1) * (interval '{days} days' / {rows}),
       timestamp '2020-01-01' + g * interval '37 seconds', ((g * 7919) % 100000)::int,
       ((g * 104729) % 100000000) / 100.0, (g % 7)::smallint, g * 0.001 + 0.5, 'customer name ' || g,
       CASE WHEN g % 10 <> 0 THEN 'user' || g || '@example.com' END, g % 3 = 0, date '1950-01-01' + (g % 20000)::int,
       CASE WHEN g % 50 <> 0 THEN jsonb_build_object('k', g, 'tag', 'tag' || (g % 100), 'ok', g % 2 = 0) END
FROM generate_series(1::bigint, {rows}) g"""
FINGERPRINT = "SELECT count(*), sum(amount), sum(hashtext(t::text)::bigint) FROM {table} t"


def psql(*commands: str) -> str:
    args = [a for c in commands for a in ("-c", c)]
    return subprocess.run([*PSQL, "-At", *args], check=True, capture_output=True, text=True).stdout.strip()


def ensure_source(rows: int) -> str:
    """``bench.events_<rows>`` with exactly ``rows`` rows, generated with ``generate_series`` when it is not."""
    table = f"bench.events_{rows}"
    if psql(f"SELECT to_regclass('{table}') IS NOT NULL") == "t" and psql(f"SELECT count(*) FROM {table}") == str(rows):
        return table
    print(f"generating {table} …", flush=True)
    started = time.monotonic()
    psql(
        "CREATE SCHEMA IF NOT EXISTS bench",
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} ({COLUMNS})",
        f"INSERT INTO {table} " + GENERATE.format(day=FIRST_DAY, days=DAYS, rows=rows),
        f"CREATE INDEX ON {table} (created_at)",
        f"VACUUM ANALYZE {table}",
    )
    print(f"generated in {time.monotonic() - started:.1f} s")
    return table


def verify(source: str, target: str, expected: str) -> None:
    actual = psql(FINGERPRINT.format(table=target))
    if actual != expected:
        raise SystemExit(f"FAILED: {target} differs from {source}: {actual} (count|sum|hash) != {expected}")


def raw_pipe(source: str, target: str) -> float:
    """Seconds for ``COPY … TO STDOUT (FORMAT binary) | COPY … FROM STDIN (FORMAT binary)`` into an empty copy."""
    psql(f"DROP TABLE IF EXISTS {target}", f"CREATE TABLE {target} (LIKE {source})", "CHECKPOINT")
    started = time.monotonic()
    out = subprocess.Popen(
        [*PSQL, "-c", f"COPY (SELECT * FROM {source}) TO STDOUT (FORMAT binary)"], stdout=subprocess.PIPE
    )
    load = subprocess.run([*PSQL, "-c", f"COPY {target} FROM STDIN (FORMAT binary)"], stdin=out.stdout, check=True)
    out.stdout.close()
    if out.wait() or load.returncode:
        raise SystemExit("FAILED: the raw pipe exited with an error")
    return time.monotonic() - started


def staged(mode: str, source: str, target: str, compression: str | None) -> tuple[float, float]:
    """Run the staged path in a child process; its seconds and its own peak RSS in MB."""
    psql(f"DROP TABLE IF EXISTS {target}", "CHECKPOINT")
    stage = tempfile.mkdtemp(prefix="pg_to_pg_stage_")
    try:
        args = [sys.executable, __file__, "--child", mode, source, target, stage, compression or ""]
        child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise SystemExit(f"FAILED: the staged path exited with {child.returncode}")
        return json.loads(output)["seconds"], usage.ru_maxrss / 1024
    finally:
        shutil.rmtree(stage)


def run_child(mode: str, table: str, target: str, stage: str, compression: str) -> None:
    """The staged path itself, as the stage asset (``extract``) and the warehouse asset (``load``) call the engine."""
    from pipeline_assets.config import PostgresConnection, StageConfig
    from pipeline_assets.core.schema import Window
    from pipeline_assets.core.target import TargetTable
    from pipeline_assets.sources.postgres import PostgresSource
    from pipeline_assets.stage.local import LocalStore
    from pipeline_assets.warehouses import LoadRequest
    from pipeline_assets.warehouses.postgres import PostgresWarehouse

    config = PostgresConnection(kind="postgres", host="127.0.0.1", port=5432, user="postgres", database="test")
    stage_config = StageConfig(url=stage, **({"compression": compression} if compression else {}))
    store, warehouse = LocalStore(stage), PostgresWarehouse("bench", config, None)
    windows = [Window.for_day(FIRST_DAY + timedelta(days=d)) for d in range(DAYS)] if mode == "daily" else [None]
    schema_name, _, name = target.partition(".")
    started = time.monotonic()
    source = PostgresSource("bench", config, None)
    schema = source.discover(table)
    with ThreadPoolExecutor(max_workers=1) as loader:  # one load in flight while the next partition is extracted
        loads = []
        for window in windows:
            manifest = extract(source, schema, store, stage_config, table, window)
            request = LoadRequest(
                TargetTable(schema_name, name),
                manifest,
                store,
                mode="replace",
                cursor="created_at",
                run_id=f"bench{os.getpid()}",
            )
            loads.append(loader.submit(warehouse.load, request))
        rows = sum(load.result().rows_loaded for load in loads)
    print(json.dumps({"seconds": time.monotonic() - started, "rows": rows}))


def extract(source, schema, store, stage_config, table: str, window):
    """What the stage asset and ``StageIOManager.handle_output`` do for one partition."""
    from pipeline_assets.core import layout
    from pipeline_assets.core.manifest import Extract
    from pipeline_assets.stage.staging import StageSettings, write_partition

    partition = window.start.date().isoformat() if window else layout.UNPARTITIONED
    batches = source.read(table, schema, cursor="created_at", window=window)
    settings = StageSettings(
        file_format="parquet",
        compression=stage_config.compression,
        path_strategy="unique",
        target_bytes=stage_config.target_bytes,
        overwrite=False,
    )
    manifest, _ = write_partition(
        store,
        settings,
        layout.table_prefix("bench", *table.split(".")),
        Extract(partition, schema.arrow_schema(), batches, window),
        f"bench{os.getpid()}",
    )
    return manifest


def dagster_sync(source: str, target: str) -> float:
    """Seconds for ``pipeline-assets sync`` of the five daily partitions (one Dagster run each, in sequence)."""
    psql(f"DROP TABLE IF EXISTS {target}", "CHECKPOINT")
    home = Path(tempfile.mkdtemp(prefix="pg_to_pg_dagster_"))
    try:
        (home / "bench.yaml").write_text(
            json.dumps(
                {
                    "connections": {
                        "bench_pg": {
                            "kind": "postgres",
                            "host": "127.0.0.1",
                            "port": 5432,
                            "user": "postgres",
                            "database": "test",
                        }
                    },
                    "stage": {"url": str(home / "stage")},
                    "tables": [
                        {
                            "source": "bench_pg",
                            "table": source,
                            "target": "bench_pg",
                            "target_table": target,
                            "name": "events",
                            "cursor": "created_at",
                            "partitioning": "daily",
                            "start_date": FIRST_DAY.isoformat(),
                        }
                    ],
                }
            )
        )
        last = FIRST_DAY + timedelta(days=DAYS - 1)
        command = [
            str(Path(sys.executable).with_name("pipeline-assets")),
            "--config",
            str(home / "bench.yaml"),
            "sync",
            "-t",
            "events",
            "--from",
            FIRST_DAY.isoformat(),
            "--to",
            last.isoformat(),
        ]
        started = time.monotonic()
        run = subprocess.run(
            command, env={**os.environ, "DAGSTER_HOME": str(home / "dagster")}, capture_output=True, text=True
        )
        if run.returncode:
            raise SystemExit(f"FAILED: pipeline-assets sync exited with {run.returncode}: {run.stderr.strip()[-500:]}")
        return time.monotonic() - started
    finally:
        shutil.rmtree(home)


def line(label: str, seconds: float, rows: int, extra: str = "") -> None:
    print(f"{label:44s} {seconds:6.2f} s {rows / seconds:>11,.0f} rows/s  {extra}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; the best is reported")
    parser.add_argument("--modes", default="full,daily", help="staged variants to time: full, daily or both")
    parser.add_argument("--compression", help="stage compression (default: the project default)")
    parser.add_argument("--no-dagster", action="store_true", help="skip the Dagster sync timing")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(*args.child)
    source = ensure_source(args.rows)
    expected = psql(FINGERPRINT.format(table=source))
    modes = args.modes.split(",")
    raw, best = [], {mode: (float("inf"), 0.0) for mode in modes}
    for attempt in range(1, args.repeat + 1):
        raw.append(raw_pipe(source, f"bench.raw_{args.rows}"))
        verify(source, f"bench.raw_{args.rows}", expected)
        report = [f"raw {raw[-1]:.2f} s"]
        for mode in modes:
            seconds, rss = staged(mode, source, f"bench.staged_{mode}_{args.rows}", args.compression)
            verify(source, f"bench.staged_{mode}_{args.rows}", expected)
            best[mode] = (min(best[mode][0], seconds), max(best[mode][1], rss))
            report.append(f"{mode} {seconds:.2f} s ({rss:.0f} MB)")
        print(f"run {attempt}: " + ", ".join(report), flush=True)
    print(f"\n{args.rows:,} rows, best of {args.repeat}; all targets verified (count, sum(amount), sum(hashtext(row)))")
    line("raw pipe (psql | psql, binary COPY)", min(raw), args.rows)
    labels = {"daily": "staged, 5 daily partitions, extract ‖ load", "full": "staged, whole table, extract then load"}
    for mode, (seconds, rss) in best.items():
        line(labels[mode], seconds, args.rows, f"{100 * min(raw) / seconds:5.1f} % of raw   peak RSS {rss:.0f} MB")
    if not args.no_dagster:
        seconds = dagster_sync(source, f"bench.dagster_{args.rows}")
        verify(source, f"bench.dagster_{args.rows}", expected)
        line("dagster: pipeline-assets sync (5 runs)", seconds, args.rows, "(process start, runs and steps included)")
    psql(
        *(
            f"DROP TABLE IF EXISTS bench.{kind}_{args.rows}"
            for kind in ["raw", "dagster", *(f"staged_{m}" for m in modes)]
        )
    )
    return None


if __name__ == "__main__":
    main()
