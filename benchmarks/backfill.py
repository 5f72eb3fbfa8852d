"""A year of daily partitions backfilled as users launch it: from the UI through the daemon, and by the CLI.

    .venv/bin/python benchmarks/backfill.py                        # every case
    .venv/bin/python benchmarks/backfill.py --case range31 --case cli31

The source is a PostgreSQL table of 365 days × --rows-per-day rows (``bench_backfill.events``, made when missing);
the target is PostgreSQL, the stage a local folder. Each case starts from a fresh target schema, stage and Dagster
instance, and ends by comparing every day's count and sum with the source.

* ``one-per-run``: ``days_per_run: 1`` (one run per partition, what the project shipped before), backfilled through
  ``launchPartitionBackfill`` on a real ``dagster dev``; over the first --one-per-run-days days only (a full year
  takes over half an hour), reported per partition.
* ``range31`` / ``range-all``: ``days_per_run: 31`` (the default) / ``all``, the whole year through the daemon.
* ``cli31``: ``pipeline-assets --config … sync -t events --from … --to …`` in a fresh process (range runs of 31 days).

The clock runs from launching the backfill (the server already up, as it is for a user) until its last run ends;
the CLI's from process start to exit. "work" is the seconds the staging and load steps report for their days
(extract, write, COPY); what is left is orchestration: Dagster, the checks, the bookkeeping.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg2
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline_assets_tests.daemon import dagster_dev

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
FIRST = date(2025, 1, 1)
DAYS = [(FIRST + timedelta(days=n)).isoformat() for n in range(365)]
SOURCE = "bench_backfill"
CASES = {"one-per-run": 1, "range31": 31, "range-all": "all", "cli31": 31}


def ensure_source(pg, rows_per_day: int) -> None:
    with pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = 'events'", [SOURCE])
        if cur.fetchone()[0]:
            cur.execute(f"SELECT count(*) FROM {SOURCE}.events")
            if cur.fetchone()[0] == 365 * rows_per_day:
                return
        cur.execute(f"DROP SCHEMA IF EXISTS {SOURCE} CASCADE")
        cur.execute(f"CREATE SCHEMA {SOURCE}")
        cur.execute(
            f"""CREATE TABLE {SOURCE}.events AS
            SELECT d * 100000 + r AS id, %s::timestamptz + d * interval '1 day' + r * (86399 / %s) * interval '1 second'
                   AS created_at, (r %% 97) AS customer_id, ((d * 7919 + r) %% 100000) / 100.0::numeric(12,2) AS amount,
                   'note ' || r AS note
            FROM generate_series(0, 364) d, generate_series(1, %s) r""",
            [f"{DAYS[0]} 00:00:00+00", rows_per_day, rows_per_day],
        )
        cur.execute(f"ALTER TABLE {SOURCE}.events ADD PRIMARY KEY (id)")


def config(root: Path, days_per_run) -> Path:
    body = {
        "connections": {
            "app": {
                "kind": "postgres",
                "host": PG["host"],
                "port": PG["port"],
                "user": PG["user"],
                "database": PG["dbname"],
            },
            "dw": {
                "kind": "postgres",
                "host": PG["host"],
                "port": PG["port"],
                "user": PG["user"],
                "database": PG["dbname"],
            },
        },
        "stage": {"url": str(root / "stage")},
        "tables": [
            {
                "source": "app",
                "table": f"{SOURCE}.events",
                "target": "dw",
                "target_table": f"{SOURCE}_wh.events",
                "cursor": "created_at",
                "partitioning": "daily",
                "start_date": DAYS[0],
                "primary_key": ["id"],
                "days_per_run": days_per_run,
            }
        ],
    }
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def verify(pg, days: list[str]) -> None:
    query = (
        "SELECT created_at::date::text, count(*), sum(amount) FROM {} "
        "WHERE created_at >= %s AND created_at < %s GROUP BY 1"
    )
    bounds = [f"{days[0]} 00:00:00+00", f"{(date.fromisoformat(days[-1]) + timedelta(days=1)).isoformat()} 00:00:00+00"]
    with pg.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute(query.format(f"{SOURCE}.events"), bounds)
        expected = {d: (n, s) for d, n, s in cur.fetchall()}
        cur.execute(query.format(f"{SOURCE}_wh.events"), bounds)
        actual = {d: (n, s) for d, n, s in cur.fetchall()}
        cur.execute(f"SELECT count(*) FROM {SOURCE}_wh.events")
        total = cur.fetchone()[0]
    if actual != expected or total != sum(n for n, _ in expected.values()):
        raise SystemExit(f"FAILED: the target differs from the source ({len(actual)} of {len(expected)} days equal)")


def work_seconds(dagster_home: Path) -> float:
    """The seconds the staging and load steps report for their days."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        total = 0.0
        for key in (dg.AssetKey(["stage", "app", "events"]), dg.AssetKey(["dw", f"{SOURCE}_wh", "events"])):
            for record in instance.fetch_materializations(key, limit=10_000).records:
                seconds = record.asset_materialization.metadata.get("seconds")
                total += seconds.value if seconds else 0.0
        runs = len(instance.get_runs())
    return total, runs


def run_case(name: str, root: Path, days: list[str], pg) -> dict:
    with pg.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SOURCE}_wh CASCADE")
        cur.execute("DROP SCHEMA IF EXISTS _pipeline_assets CASCADE")
    path = config(root, CASES[name])
    if name.startswith("cli"):
        env = {**os.environ, "DAGSTER_HOME": str(root / "dagster_home"), "PIPELINE_ASSETS_HOME": str(root / "home")}
        (root / "dagster_home").mkdir()
        started = time.monotonic()
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("pipeline-assets")),
                "--config",
                str(path),
                "sync",
                "-t",
                "events",
                "--from",
                days[0],
                "--to",
                days[-1],
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        if done.returncode:
            raise SystemExit(f"FAILED: {name}: {done.stderr[-2000:]}")
    else:
        with dagster_dev(path, root) as server:
            started = time.time()
            backfill = server.launch_backfill(
                [dg.AssetKey(["stage", "app", "events"]), dg.AssetKey(["dw", f"{SOURCE}_wh", "events"])], days
            )
            result = server.wait_backfill(backfill, timeout=7200)
            seconds = max(r.end_time for r in server_runs(server, backfill)) - started  # the last run's end
            if result.status != "COMPLETED_SUCCESS" or server.failures(result.runs):
                raise SystemExit(f"FAILED: {name}: {result.status} {server.failures(result.runs)}")
    verify(pg, days)
    work, runs = work_seconds(root / "dagster_home")
    return {"case": name, "days": len(days), "runs": runs, "seconds": seconds, "work": work}


def server_runs(server, backfill_id: str) -> list:
    with server.instance() as instance:
        return [
            instance.get_run_record_by_id(r.run_id)
            for r in instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=list(CASES), help="cases to run (default: all)")
    parser.add_argument("--rows-per-day", type=int, default=300)
    parser.add_argument("--one-per-run-days", type=int, default=31, help="days of the one-run-per-day case")
    args = parser.parse_args()
    pg = psycopg2.connect(**PG)
    pg.autocommit = True
    ensure_source(pg, args.rows_per_day)
    results = []
    for name in args.case or list(CASES):
        days = DAYS[: args.one_per_run_days] if name == "one-per-run" else DAYS
        with tempfile.TemporaryDirectory(prefix=f"bench_{name}_") as tmp:
            results.append(run_case(name, Path(tmp), days, pg))
        r = results[-1]
        print(f"{r['case']}: {r['days']} days in {r['runs']} runs, {r['seconds']:.1f} s", flush=True)
    print("\n| case | days | runs | wall s | wall s / day | work s / day | orchestration s / day |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        per_day = r["seconds"] / r["days"]
        work = r["work"] / r["days"]
        print(
            f"| {r['case']} | {r['days']} | {r['runs']} | {r['seconds']:.1f} | {per_day:.2f} | {work:.2f} "
            f"| {per_day - work:.2f} |"
        )


if __name__ == "__main__":
    main()
