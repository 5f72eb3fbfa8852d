"""Dagster's own overhead on the demo's ``shop_daily`` job (orders + order_items, 7 daily partitions).

    .venv/bin/python benchmarks/dagster_overhead.py                  # every case, 3 repeats, median
    .venv/bin/python benchmarks/dagster_overhead.py --repeat 1 --case cli --case inproc-mc2

Cases (each repeat starts from a fresh PIPELINE_ASSETS_HOME and DAGSTER_HOME under --root, default /tmp/ovh;
the demo source is generated before the clock starts):

* ``cli``: ``pipeline-assets sync -t orders -t order_items``: one ``execute_in_process`` run per table and
  partition (14 runs of 2 steps), sequential, in one process.
* ``<executor>-mc<N>``: ``dagster job backfill -j shop_daily --all --noprompt`` (7 runs of 4 steps) against a
  ``dagster-daemon run`` already up in the same DAGSTER_HOME (queued run coordinator, default run launcher: one
  subprocess per run), with ``concurrency: runs: max_concurrent_runs: N``. ``inproc`` is the project as shipped;
  ``mp`` rebuilds the same definitions with ``dg.multiprocess_executor`` (a module written to --root, outside the
  repository). The clock runs from launching the backfill command until the last run's end time.
* ``...-dq1``: as above with the queued run coordinator's ``dequeue_interval_seconds: 1`` (Dagster's default is 5);
  ``...-thr``: with ``dequeue_use_threads: true`` (launch the dequeued runs in parallel, not one after the other:
  a launch waits until the run's subprocess has imported the code, seconds each).

Columns: the median total, that divided by the 7 partitions, the backfill command's own share (it loads the code
location to create the runs), and the mean seconds a run spends between its RUN_START and its end (the steps).

Every case checks that all runs succeeded and that the warehouse holds every source row.
"""

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

BIN = Path(sys.executable).parent
PARTITIONS = 7
MP_DEFS = '''"""pipeline_assets' definitions with the multiprocess executor (benchmark only)."""
import dagster as dg
from pipeline_assets.assembly import assemble
from pipeline_assets.project import load_project


def _with_multiprocess_executor(base: dg.Definitions) -> dg.Definitions:
    return dg.Definitions(assets=base.assets, jobs=base.jobs, schedules=base.schedules,
                          resources=base.resources, executor=dg.multiprocess_executor)


defs = _with_multiprocess_executor(assemble(load_project()).definitions)
'''
CASES = [
    "cli",
    "inproc-mc1",
    "inproc-mc2",
    "mp-mc1",
    "mp-mc2",
    "inproc-mc1-dq1",
    "inproc-mc2-dq1",
    "inproc-mc2-dq1-thr",
]


def fresh_homes(root: Path, name: str) -> dict[str, str]:
    """Empty homes for one repeat, the demo generated, and the environment that points at them."""
    from pipeline_assets.demo.shop import ensure_demo

    case = root / name
    shutil.rmtree(case, ignore_errors=True)
    (case / "dh").mkdir(parents=True)
    ensure_demo(case / "pa")
    return {**os.environ, "PIPELINE_ASSETS_HOME": str(case / "pa"), "DAGSTER_HOME": str(case / "dh")}


def instance_yaml(max_concurrent_runs: int | None, dequeue_interval: int | None = None, threads: bool = False) -> str:
    text = "telemetry:\n  enabled: false\n"
    if max_concurrent_runs is not None:
        text += f"concurrency:\n  runs:\n    max_concurrent_runs: {max_concurrent_runs}\n"
    if dequeue_interval is not None or threads:
        text += "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: QueuedRunCoordinator\n  config:\n"
        text += f"    dequeue_interval_seconds: {dequeue_interval}\n" if dequeue_interval else ""
        text += "    dequeue_use_threads: true\n" if threads else ""
    return text


def check_warehouse(home: str) -> None:
    """Every source row of the two tables is in the DuckDB warehouse."""
    with sqlite3.connect(Path(home) / "shop.sqlite") as source:
        expected = {t: source.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("orders", "order_items")}
    with duckdb.connect(str(Path(home) / "warehouse.duckdb"), read_only=True) as wh:
        tables = {
            name: schema
            for schema, name in wh.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        }
        loaded = {t: wh.execute(f'SELECT count(*) FROM "{tables[t]}"."{t}"').fetchone()[0] for t in expected}
    if loaded != expected:
        raise SystemExit(f"warehouse mismatch: loaded {loaded}, source {expected}")


def in_run_seconds(records) -> float:
    return statistics.mean(r.end_time - r.start_time for r in records)


def time_cli(env: dict[str, str]) -> tuple[float, None, float]:
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text(instance_yaml(None))
    started = time.time()
    subprocess.run(
        [BIN / "pipeline-assets", "sync", "-t", "orders", "-t", "order_items"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    elapsed = time.time() - started
    records = dg.DagsterInstance.from_config(env["DAGSTER_HOME"]).get_run_records()
    assert len(records) == 2 * PARTITIONS and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    return elapsed, None, in_run_seconds(records)


def start_daemon(env: dict[str, str], target: list[str], log: Path) -> subprocess.Popen:
    # Create the instance's SQLite storages first: created by two processes at once, they can end up with two
    # alembic heads ("Version table 'alembic_version' has more than one head present").
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    daemon = subprocess.Popen(
        [BIN / "dagster-daemon", "run", *target],
        env=env,
        cwd=log.parent,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while "QUEUED_RUN_COORDINATOR" not in (instance.get_daemon_heartbeats() or {}):
        if time.time() > deadline or daemon.poll() is not None:
            stop_daemon(daemon)
            raise SystemExit(f"the daemon did not start; see {log}")
        time.sleep(0.5)
    time.sleep(3)  # let its first loops (and the code server) settle before the clock starts
    return daemon


def stop_daemon(daemon: subprocess.Popen) -> None:
    """SIGTERM the daemon (it stops its code server), then its own process group if anything is left."""
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    try:
        os.killpg(daemon.pid, signal.SIGKILL)  # the group was created for this daemon (start_new_session)
    except ProcessLookupError:
        pass


def time_backfill(env: dict[str, str], case: str) -> tuple[float, float, float]:
    """Seconds from launching the backfill command until the last run ended, the command's own, and in-run."""
    parts = case.split("-")
    dh = Path(env["DAGSTER_HOME"])
    dh.joinpath("dagster.yaml").write_text(
        instance_yaml(int(parts[1][2:]), 1 if "dq1" in parts else None, "thr" in parts)
    )
    if parts[0] == "mp":
        (dh.parent / "mp_defs.py").write_text(MP_DEFS)
        target = ["-f", str(dh.parent / "mp_defs.py")]
    else:
        target = ["-m", "pipeline_assets.definitions"]
    daemon = start_daemon(env, target, dh.parent / "daemon.log")
    try:
        started = time.time()
        subprocess.run(
            [BIN / "dagster", "job", "backfill", *target, "-j", "shop_daily", "--all", "--noprompt"],
            env=env,
            cwd=dh.parent,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        submitted = time.time() - started
        instance = dg.DagsterInstance.from_config(str(dh))
        deadline = time.time() + 600
        while True:
            records = instance.get_run_records()
            if len(records) == PARTITIONS and all(r.dagster_run.is_finished for r in records):
                break
            if time.time() > deadline:
                raise SystemExit(f"{case}: runs did not finish in 10 minutes")
            time.sleep(0.2)
    finally:
        stop_daemon(daemon)
    failed = [r.dagster_run.run_id for r in records if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS]
    if failed:
        raise SystemExit(f"{case}: runs failed: {failed}")
    return max(r.end_time for r in records) - started, submitted, in_run_seconds(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=CASES, help="a case to run (repeatable; default all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", type=Path, default=Path("/tmp/ovh"))
    args = parser.parse_args()
    print(f"{'case':<20} {'runs':>4} {'median s':>9} {'s/partition':>11} {'submit s':>8} {'in-run s':>8}  repeats (s)")
    for case in args.case or CASES:
        results = []  # (total, submit or None, in-run) per repeat
        for i in range(args.repeat):
            env = fresh_homes(args.root, f"{case}-{i}")
            results.append(time_cli(env) if case == "cli" else time_backfill(env, case))
            check_warehouse(env["PIPELINE_ASSETS_HOME"])
        totals = [r[0] for r in results]
        median = statistics.median(totals)
        submit = f"{statistics.median(r[1] for r in results):8.1f}" if case != "cli" else f"{'-':>8}"
        in_run = statistics.median(r[2] for r in results)
        runs = 2 * PARTITIONS if case == "cli" else PARTITIONS
        print(
            f"{case:<20} {runs:>4} {median:9.1f} {median / PARTITIONS:11.2f} {submit} {in_run:8.2f}  "
            + " ".join(f"{t:.1f}" for t in totals),
            flush=True,
        )


if __name__ == "__main__":
    main()
