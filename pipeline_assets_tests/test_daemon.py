"""Runs launched the way the UI and the daemon launch them, against a real `dagster dev`: each day on its own.

A backfill of a partition range (what the UI's partitions dialog sends, split into runs by the backfill daemon
under each asset's BackfillPolicy) must stage and load every day separately: one materialization per day and
asset whose `window` is that day, the target holding exactly the backfilled days, one run per `days_per_run`
days, staged files under each day's own folder, and the asset checks evaluated per day. The same holds for one
partition launched by the Materialize button, for a schedule tick and for the stage cleanup sensor's tick.

One PostgreSQL source table `events` (a few hundred rows on each of ten days from 2026-01-01) feeds three tables:
`events_pg` (PostgreSQL warehouse, three days a run), `events_duck` (DuckDB) and `events_append` (PostgreSQL,
append). One `dagster dev` serves the module; the tests run in order and each builds on what the last loaded."""

import math
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import psycopg2
import pytest

from pipeline_assets_tests.conftest import PG, pg_connection, write_config
from pipeline_assets_tests.daemon import Backfill, DagsterDev, dagster_dev

FIRST_DAY = date(2026, 1, 1)
DAYS = [FIRST_DAY + timedelta(days=n) for n in range(10)]
BACKFILLED = DAYS[1:6]  # 2026-01-02 .. 2026-01-06
PARTITION_CHECKS = ("rows_match_source", "checksum_matches_source", "no_duplicate_keys", "schema_matches_source")
TIMEOUT = 300.0
FINGERPRINT = "count(*), coalesce(sum(amount), 0), coalesce(sum(id), 0)"


@dataclass(frozen=True)
class Table:
    name: str
    staged: dg.AssetKey
    loaded: dg.AssetKey
    days_per_run: int
    warehouse: str  # "postgres" or "duckdb"
    target: str  # schema.table in the warehouse
    write_mode: str


@dataclass
class Stand:
    """The module's source, warehouses, stage, config and server; ``loaded`` is what each target should hold."""

    server: DagsterDev
    pg: psycopg2.extensions.connection
    root: Path
    config: dict
    source: str  # schema.table of the source
    stage: Path
    duckdb_path: Path
    tables: dict[str, Table]
    loaded: dict[str, set[date]] = field(default_factory=dict)


def _connect() -> psycopg2.extensions.connection:
    try:
        conn = psycopg2.connect(**PG)
    except psycopg2.Error as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({exc}); the tests need it running", pytrace=False)
    conn.autocommit = True
    return conn


def _source_rows(rng: random.Random) -> Iterator[tuple]:
    """A few hundred rows on each of ``DAYS``, at random moments of the day (deterministic)."""
    next_id = 1
    for day in DAYS:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for _ in range(rng.randrange(200, 400)):
            moment = start + timedelta(seconds=rng.randrange(86_400), microseconds=rng.randrange(1_000_000))
            yield next_id, moment, Decimal(rng.randrange(0, 10**7)) / 100, f"event {next_id} {'x' * rng.randrange(20)}"
            next_id += 1


def _tables_config(source: str, warehouse: str) -> list[dict]:
    common = {
        "source": "app",
        "table": source,
        "cursor": "created_at",
        "partitioning": "daily",
        "start_date": FIRST_DAY.isoformat(),
        "primary_key": ["id"],
    }
    return [
        {
            **common,
            "name": "events_pg",
            "target": "dw",
            "target_table": f"{warehouse}.events_pg",
            "write_mode": "replace",
            "days_per_run": 3,
            "cleanup_after_load": "after_partition",
        },
        {**common, "name": "events_duck", "target": "duck", "target_table": "dw.events_duck", "write_mode": "replace"},
        {
            **common,
            "name": "events_append",
            "target": "dw",
            "target_table": f"{warehouse}.events_append",
            "write_mode": "append",
        },
    ]


def _table(entry: dict, connections: dict) -> Table:
    schema, name = entry["target_table"].split(".")
    return Table(
        name=entry["name"],
        staged=dg.AssetKey(["stage", entry["source"], entry["name"]]),
        loaded=dg.AssetKey([entry["target"], schema, name]),
        days_per_run=entry.get("days_per_run", 31),
        warehouse=connections[entry["target"]]["kind"],
        target=entry["target_table"],
        write_mode=entry["write_mode"],
    )


@pytest.fixture(scope="module")
def stand(tmp_path_factory) -> Iterator[Stand]:
    """The source table, a config of the three tables with a local stage, and `dagster dev` serving them (with the
    stage cleanup sensor switched off until the sensor test switches it on)."""
    pg = _connect()
    source_schema, warehouse = f"pa_src_{uuid.uuid4().hex[:8]}", f"pa_wh_{uuid.uuid4().hex[:8]}"
    with pg.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{source_schema}"')
        cur.execute(
            f'CREATE TABLE "{source_schema}".events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, '
            "amount numeric(12,2), note text)"
        )
        cur.executemany(
            f'INSERT INTO "{source_schema}".events VALUES (%s, %s, %s, %s)', list(_source_rows(random.Random(7)))
        )
    root = tmp_path_factory.mktemp("daemon")
    connections = {
        "app": pg_connection(),
        "dw": pg_connection(),
        "duck": {"kind": "duckdb", "path": str(root / "warehouse.duckdb")},
    }
    config = {
        "connections": connections,
        "stage": {"url": str(root / "stage")},
        "tables": _tables_config(f"{source_schema}.events", warehouse),
    }
    path = write_config(root, config)
    tables = {entry["name"]: _table(entry, connections) for entry in config["tables"]}
    try:
        with dagster_dev(path, root) as server:
            server.stop_sensor("stage_cleanup_sensor")  # on by default when a table cleans up; its test switches it on
            yield Stand(
                server=server,
                pg=pg,
                root=root,
                config=config,
                source=f'"{source_schema}".events',
                stage=root / "stage",
                duckdb_path=root / "warehouse.duckdb",
                tables=tables,
                loaded={name: set() for name in tables},
            )
    finally:
        with pg.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{source_schema}" CASCADE')
            cur.execute(f'DROP SCHEMA IF EXISTS "{warehouse}" CASCADE')
        pg.close()


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _window(day: date) -> str:
    start, end = _bounds(day)
    return f"[{start.isoformat()}, {end.isoformat()})"


def _normal(row: tuple) -> tuple[int, Decimal, int]:
    count, amount, ids = row
    return int(count), Decimal(str(amount)).quantize(Decimal("0.01")), int(ids)


def _source(stand: Stand, day: date) -> tuple[int, Decimal, int]:
    with stand.pg.cursor() as cur:
        cur.execute(
            f"SELECT {FINGERPRINT} FROM {stand.source} WHERE created_at >= %s AND created_at < %s", _bounds(day)
        )
        return _normal(cur.fetchone())


def _target_query(stand: Stand, table: Table, sql: str, params: tuple = ()) -> tuple | None:
    """One row of ``sql`` on the table's target (``{table}`` in it), or None while the target does not exist."""
    schema, name = table.target.split(".")
    if table.warehouse == "postgres":
        with stand.pg.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (schema, name),
            )
            if not cur.fetchone()[0]:
                return None
            cur.execute(sql.format(table=f'"{schema}"."{name}"'), params)
            return cur.fetchone()
    deadline = time.monotonic() + 60
    while True:  # a run or a sensor may hold the file for a moment: DuckDB has one writer, and no reader beside it
        try:
            with duckdb.connect(str(stand.duckdb_path), read_only=True) as conn:
                (found,) = conn.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                    [schema, name],
                ).fetchone()
                if not found:
                    return None
                return conn.execute(
                    sql.format(table=f'"{schema}"."{name}"').replace("%s", "?"), list(params)
                ).fetchone()
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _target(stand: Stand, table: Table, day: date) -> tuple[int, Decimal, int]:
    row = _target_query(
        stand, table, f"SELECT {FINGERPRINT} FROM {{table}} WHERE created_at >= %s AND created_at < %s", _bounds(day)
    )
    return _normal(row) if row else (0, Decimal("0.00"), 0)


def _materializations(instance: dg.DagsterInstance, key: dg.AssetKey, run_ids: set[str]) -> list[dg.EventLogRecord]:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1000).records
    return [r for r in records if r.run_id in run_ids]


def _describe(records: list[dg.EventLogRecord]) -> list[str]:
    lines = []
    for record in records:
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        lines.append(
            f"run {record.run_id[:8]} partition={record.partition_key} window={metadata.get('window', '(none)')} "
            f"rows={metadata.get('dagster/row_count')} stage_path={metadata.get('stage_path')}"
        )
    return lines


def _assert_materialized_per_day(
    stand: Stand,
    table: Table,
    days: list[date],
    run_ids: set[str],
    outcome: str = "",
    held: frozenset[date] = frozenset(),
) -> None:
    """Each day has one materialization of each of the table's assets in ``run_ids``, with that day's window and
    that day's source rows: all of them staged, and loaded too, except that a keyed append loads none of a day the
    target ``held`` already (``outcome``: how the runs ended, for the messages)."""
    with stand.server.instance() as instance:
        for key, rows_key in ((table.staged, "rows_extracted"), (table.loaded, "rows_loaded")):
            records = _materializations(instance, key, run_ids)
            seen = "\n  ".join(_describe(records)) or "(none)"
            seen += f"\n{outcome}" if outcome else ""
            for day in days:
                mine = [r for r in records if r.partition_key == day.isoformat()]
                assert len(mine) == 1, (
                    f"{key.to_user_string()} {day}: {len(mine)} materializations; the runs recorded:\n  {seen}"
                )
                metadata = {k: v.value for k, v in mine[0].asset_materialization.metadata.items()}
                expected = _source(stand, day)[0]
                if key == table.loaded and table.write_mode == "append" and day in held:
                    expected = 0  # every key of the day is in the target already
                window = metadata.get("window", "(none: the whole table)")
                assert window == _window(day), (
                    f"{key.to_user_string()} {day}: window {window}, expected {_window(day)}; rows "
                    f"{metadata.get('dagster/row_count')} (the day has {expected}); the runs recorded:\n  {seen}"
                )
                assert metadata.get("dagster/row_count") == metadata.get(rows_key) == expected, (key, day, metadata)


def _assert_target_holds(stand: Stand, table: Table) -> None:
    """The target holds exactly the source rows of the days loaded so far, each once, and nothing of other days."""
    expected_days = stand.loaded[table.name]
    for day in DAYS:
        expected = _source(stand, day) if day in expected_days else (0, Decimal("0.00"), 0)
        actual, state = _target(stand, table, day), "loaded" if day in expected_days else "never loaded"
        assert actual == expected, (
            f"{table.target} on {day} ({state}): (rows, sum(amount), sum(id)) = {actual}, expected {expected}; "
            f"loaded days: {sorted(map(str, expected_days))}"
        )
    total, distinct = _target_query(stand, table, "SELECT count(*), count(DISTINCT id) FROM {table}") or (0, 0)
    assert total == distinct == sum(_source(stand, d)[0] for d in expected_days), (table.target, total, distinct)


def _assert_stage_per_day(stand: Stand, table: Table, days: list[date]) -> None:
    """Every staged file of the table sits under the folder of a day that was staged, never under `full/`."""
    (folder,) = (stand.stage / "app").glob(f"*_{table.name}")
    files = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]
    partitions = {f.parts[0] for f in files}
    assert partitions <= {d.isoformat() for d in DAYS}, f"{folder}: staged outside day folders: {sorted(partitions)}"
    for day in days:
        assert any(f.parts[0] == day.isoformat() and f.name == "_manifest.json" for f in files), (
            day,
            sorted(map(str, files)),
        )


def _assert_checks_per_day(stand: Stand, table: Table, days: list[date], run_ids: set[str]) -> None:
    """The partition-scoped checks were evaluated for each day in ``run_ids``, and every evaluation passed."""
    evaluations = []
    with stand.server.instance() as instance:
        for run_id in run_ids:
            records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
            evaluations += [r.event_log_entry.dagster_event.asset_check_evaluation_data for r in records]
    mine = [e for e in evaluations if e.asset_key == table.loaded]
    failed = [(e.check_name, e.partition, e.description) for e in mine if not e.passed]
    assert not failed, f"{table.name}: failed checks {failed}"
    for day in days:
        found = {e.check_name for e in mine if e.partition == day.isoformat()}
        everything = [(e.check_name, e.partition) for e in mine]
        assert found >= set(PARTITION_CHECKS), (
            f"{table.name} {day}: checks evaluated {sorted(found)}; all: {everything}"
        )


def _backfill(stand: Stand, table: Table, days: list[date]) -> Backfill:
    """Backfill ``days`` of both of the table's assets as the UI's partitions dialog does, and wait for it."""
    backfill_id = stand.server.launch_backfill([table.staged, table.loaded], [d.isoformat() for d in days])
    return stand.server.wait_backfill(backfill_id, TIMEOUT)


def _ranges(runs: list[dg.DagsterRun]) -> list[str]:
    """Each run's id and the partitions it carried (a range, or one key)."""
    start, end = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
    return [
        f"{r.run_id[:8]}: {r.tags[start]}..{r.tags[end]}"
        if start in r.tags
        else f"{r.run_id[:8]}: {r.tags.get('dagster/partition')}"
        for r in runs
    ]


def _assert_backfilled(stand: Stand, table: Table, days: list[date], backfill: Backfill) -> None:
    """Per day first (what a whole-table run gets wrong), then the backfill's outcome, target, runs, files, checks.
    The days count as loaded from here on."""
    held = frozenset(stand.loaded[table.name])
    stand.loaded[table.name] |= set(days)
    run_ids = {r.run_id for r in backfill.runs}
    failures = stand.server.failures(backfill.runs)
    outcome = f"backfill {backfill.status}" + "".join(f"\n  {line}" for line in failures)
    _assert_materialized_per_day(stand, table, days, run_ids, outcome, held)
    assert backfill.status == "COMPLETED_SUCCESS" and not failures, (outcome, backfill.error)
    _assert_target_holds(stand, table)
    assert len(backfill.runs) == math.ceil(len(days) / table.days_per_run), (
        f"{len(backfill.runs)} runs for {len(days)} days at {table.days_per_run} days a run: {_ranges(backfill.runs)}"
    )
    _assert_stage_per_day(stand, table, days)
    _assert_checks_per_day(stand, table, days, run_ids)


def test_range_backfill_loads_each_day_on_its_own_into_postgres(stand: Stand) -> None:
    """2026-01-02..06 of events_pg (three days a run): five materializations of each asset, two runs."""
    table = stand.tables["events_pg"]
    backfill = _backfill(stand, table, BACKFILLED)
    _assert_backfilled(stand, table, BACKFILLED, backfill)


def test_range_backfill_loads_each_day_on_its_own_into_duckdb(stand: Stand) -> None:
    """The same range into the DuckDB warehouse (31 days a run by default: one run)."""
    table = stand.tables["events_duck"]
    backfill = _backfill(stand, table, BACKFILLED)
    _assert_backfilled(stand, table, BACKFILLED, backfill)


def test_overlapping_append_backfills_hold_each_day_once(stand: Stand) -> None:
    """events_append: 2026-01-02..04, then 03..05 again; each day is in the target once (a whole-table append
    would bring in every day, and duplicate them without the key)."""
    table = stand.tables["events_append"]
    for days in (DAYS[1:4], DAYS[2:5]):
        backfill = _backfill(stand, table, days)
        _assert_backfilled(stand, table, days, backfill)


def test_materialize_button_loads_one_day(stand: Stand) -> None:
    """One partition, 2026-01-08, launched like the Materialize button: exactly that day is loaded, with its window."""
    table, day = stand.tables["events_pg"], DAYS[7]
    run = stand.server.wait_run(
        stand.server.launch_partition_run([table.staged, table.loaded], day.isoformat()), TIMEOUT
    )
    assert run.status == dg.DagsterRunStatus.SUCCESS, stand.server.failures([run])
    assert run.tags.get("dagster/partition") == day.isoformat() and run.tags.get("dagster/from_ui") == "true", run.tags
    assert run.asset_selection == {table.staged, table.loaded}, run.asset_selection
    stand.loaded[table.name].add(day)
    _assert_materialized_per_day(stand, table, [day], {run.run_id})
    _assert_target_holds(stand, table)
    _assert_stage_per_day(stand, table, [*BACKFILLED, day])
    _assert_checks_per_day(stand, table, [day], {run.run_id})


def _staged_files(stand: Stand, table: Table) -> dict[str, list[Path]]:
    """The table's staged files (data and manifests) by day folder."""
    (folder,) = (stand.stage / "app").glob(f"*_{table.name}")
    found: dict[str, list[Path]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            found.setdefault(path.relative_to(folder).parts[0], []).append(path)
    return found


def test_cleanup_sensor_deletes_the_loaded_days_staged_files(stand: Stand) -> None:
    """Switched on, `stage_cleanup_sensor` has the daemon launch a housekeeping run that deletes events_pg's staged
    files of the loaded days; a day only staged (2026-01-09) and tables that do not clean up keep theirs."""
    table, staged_only = stand.tables["events_pg"], DAYS[8]
    run = stand.server.wait_run(stand.server.launch_partition_run([table.staged], staged_only.isoformat()), TIMEOUT)
    assert run.status == dg.DagsterRunStatus.SUCCESS, stand.server.failures([run])
    duck_before = _staged_files(stand, stand.tables["events_duck"])
    assert _staged_files(stand, table).keys() == {d.isoformat() for d in stand.loaded[table.name] | {staged_only}}

    assert stand.server.start_sensor("stage_cleanup_sensor") == "RUNNING"
    runs = stand.server.wait_runs(dg.RunsFilter(tags={"dagster/sensor_name": "stage_cleanup_sensor"}), TIMEOUT)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), stand.server.failures(runs)
    assert {r.job_name for r in runs} == {"stage_housekeeping"}
    left = _staged_files(stand, table)
    assert left.keys() == {staged_only.isoformat()}, f"staged files left: { {k: len(v) for k, v in left.items()} }"
    assert _staged_files(stand, stand.tables["events_duck"]) == duck_before
    _assert_target_holds(stand, table)  # deleting staged files never touches the target


def _next_tick(margin: timedelta) -> datetime:
    """The first whole minute at least ``margin`` from now (UTC)."""
    moment = datetime.now(UTC) + margin
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def test_schedule_tick_loads_the_last_complete_day(stand: Stand) -> None:
    """The daily schedule, set to fire a couple of minutes from now and switched on, has the daemon launch one run
    for the last complete UTC day before its tick (yesterday; the day before a tick past midnight), a single
    partition, which loads that day's rows into every table of the group."""
    tick = _next_tick(timedelta(seconds=100))
    day = tick.date() - timedelta(days=1)
    with stand.pg.cursor() as cur:
        start, _ = _bounds(day)
        rows = [
            (10_000_000 + n, start + timedelta(hours=n * 2, minutes=n), Decimal(n * 101) / 100, f"late {n}")
            for n in range(1, 8)
        ]
        cur.executemany(f"INSERT INTO {stand.source} VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
    stand.config["schedule"] = {"hour": tick.hour, "minute": tick.minute}
    write_config(stand.root, stand.config)
    stand.server.reload_location()
    schedules = {n: s for n, s in stand.server.instigators().items() if s["kind"] == "schedule" and "daily" in n}
    assert len(schedules) == 1, schedules
    ((name, schedule),) = schedules.items()
    assert schedule["cron"] == f"{tick.minute} {tick.hour} * * *", schedule
    assert stand.server.start_schedule(name) == "RUNNING"
    if datetime.now(UTC) >= tick - timedelta(seconds=5):
        pytest.fail(
            f"reloading took until past the tick at {tick:%H:%M} UTC; the schedule could not fire", pytrace=False
        )

    wait = (tick - datetime.now(UTC)).total_seconds() + TIMEOUT
    (run,) = stand.server.wait_runs(dg.RunsFilter(tags={"dagster/schedule_name": name}), wait)
    assert run.status == dg.DagsterRunStatus.SUCCESS, stand.server.failures([run])
    assert run.tags.get("dagster/partition") == day.isoformat(), run.tags
    assert "dagster/asset_partition_range_start" not in run.tags, run.tags
    with stand.server.instance() as instance:
        for table in stand.tables.values():
            for key in (table.staged, table.loaded):
                (record,) = _materializations(instance, key, {run.run_id})
                metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
                described = _describe([record])
                assert record.partition_key == day.isoformat() and metadata.get("window") == _window(day), described
                assert metadata.get("dagster/row_count") == len(rows), described
    for table in stand.tables.values():
        assert _target(stand, table, day) == _source(stand, day), table.name
