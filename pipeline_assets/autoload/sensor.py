"""The discovery sensor of a files table: lists the drop zone, asks the ledger which file versions still need a
load, and requests one run per bounded batch, with a run key derived from the batch so a repeated tick (after a
crash between launching runs and saving the cursor) launches nothing twice.

The cursor, the newest (last-modified, key) seen, is only the fast path: listing is by key order, so every tick
lists the pattern's prefix page by page and looks at files newer than the cursor minus ``late_arrival_seconds``,
files the ledger wants again (cleared, failed with retries left, left behind by a dead run), and, once an hour,
every file (a reconciliation with the ledger, which is the truth). Files that queued or running runs of the table
already carry are never requested again."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.autoload.selection import LOAD, SKIP, batches, decide, run_key
from pipeline_assets.core.target import TargetTable
from pipeline_assets.sensors import IN_PROGRESS
from pipeline_assets.sources.files import list_files
from pipeline_assets.warehouses.source_ledger import SourceLedger

RECONCILE_EVERY = timedelta(hours=1)
_PRUNE_AT = 10_000
TRIGGER_TAG = "pipeline_assets/trigger"


def build_autoload_sensor(assets: TableAssets, job: dg.JobDefinition) -> dg.SensorDefinition:
    table, files = assets.table, assets.table.dropped
    target = TargetTable(table.target_schema, table.target_name)
    op_name = assets.staged.op.name

    @dg.sensor(
        name=f"autoload_{table.asset_name}",
        job=job,
        minimum_interval_seconds=files.discovery_interval_seconds,
        required_resource_keys={table.source, table.target},
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Find new files matching `{files.pattern}` and request runs of {files.max_files_per_run} files "
        "at most each, every file version loaded once (the ledger decides).",
    )
    def autoload(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        now = datetime.now(UTC)
        after = (datetime.fromisoformat(cursor["after"][0]), cursor["after"][1]) if cursor.get("after") else None
        floor = (after[0] - timedelta(seconds=files.late_arrival_seconds), "") if after else None
        reconciled = datetime.fromisoformat(cursor["reconciled_at"]) if cursor.get("reconciled_at") else None
        reconcile = reconciled is None or now - reconciled >= RECONCILE_EVERY
        recent: dict[str, str] = cursor.get("recent", {})
        warehouse = getattr(context.resources, table.target).warehouse()
        with warehouse.ledger() as ledger:
            books = SourceLedger(ledger.tx)
            books.ensure()
            wanted_again = {r.uri for r in books.records(target, statuses=["cleared", "failed", "staged", "skipped"])}
        flying = _in_flight(context.instance, job.name, op_name)
        candidates, fresh, newest, seen = [], [], after, 0
        for file in list_files(getattr(context.resources, table.source).store(), files):
            seen += 1
            if files.partition_key_pattern and files.partition_of(file.key) is None:
                continue  # no date in the key (or one before start_date): not part of any partition
            is_new = floor is None or (file.modified, file.key) > floor
            if is_new:
                fresh.append(file)
                newest = max(newest, (file.modified, file.key)) if newest else (file.modified, file.key)
                if len(fresh) >= _PRUNE_AT:  # only the late-arrival window behind the newest is remembered
                    fresh = [
                        f for f in fresh if f.modified >= newest[0] - timedelta(seconds=files.late_arrival_seconds)
                    ]
            if (file.key, file.etag) in flying:
                continue
            if (is_new and recent.get(file.key) != file.etag) or file.uri in wanted_again or reconcile:
                candidates.append(file)
        with warehouse.ledger() as ledger:
            records = SourceLedger(ledger.tx).records(target, uris=[f.uri for f in candidates])
        decisions = decide(candidates, records, files, run_finished=lambda run_id: _finished(context.instance, run_id))
        tick = cursor.get("tick", 0) + 1
        requests = _requests(assets, op_name, [d for d in decisions if d.action in (LOAD, SKIP)], tick)
        # every file inside the late-arrival window has now been decided on; the next tick looks only at others there
        recent = {}
        if newest:
            keep_from = newest[0] - timedelta(seconds=files.late_arrival_seconds)
            recent = {f.key: f.etag for f in fresh if f.modified >= keep_from}
        new_cursor = {
            "tick": tick,
            "after": [newest[0].isoformat(), newest[1]] if newest else None,
            "recent": recent,
            "reconciled_at": now.isoformat() if reconcile else cursor.get("reconciled_at"),
        }
        context.log.info(
            f"{table.asset_name}: {seen} files listed, {len(candidates)} looked up, {len(requests)} runs requested"
        )
        if not requests:
            return dg.SensorResult(
                skip_reason=f"no new files for {table.asset_name} ({seen} listed)", cursor=json.dumps(new_cursor)
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor))

    return autoload


def _requests(assets: TableAssets, op_name: str, decisions: list, tick: int) -> list[dg.RunRequest]:
    files, name = assets.table.dropped, assets.table.asset_name
    by_partition: dict[str | None, list] = {}
    for decision in sorted(decisions, key=lambda d: (d.file.modified, d.file.key)):
        partition = files.partition_of(decision.file.key) if files.partition_key_pattern else None
        by_partition.setdefault(partition, []).append(decision)
    requests = []
    for partition, chosen in by_partition.items():
        for batch in batches(chosen, files.max_files_per_run, files.max_bytes_per_run):
            config = {"ops": {op_name: {"config": {"files": [[d.file.key, d.file.etag] for d in batch]}}}}
            requests.append(
                dg.RunRequest(
                    run_key=run_key(name, partition, batch, tick),
                    run_config=config,
                    partition_key=partition,
                    tags={TRIGGER_TAG: "autoloader"},
                )
            )
    return requests


def _in_flight(instance: dg.DagsterInstance, job_name: str, op_name: str) -> set[tuple[str, str]]:
    """(key, etag) of the files that queued or running runs of the table's job carry."""
    flying: set[tuple[str, str]] = set()
    for run in instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=IN_PROGRESS)):
        run_config: dict[str, Any] = dict(run.run_config or {})
        config = run_config.get("ops", {}).get(op_name, {}).get("config", {})
        flying |= {(k, e) for k, e in config.get("files", [])}
    return flying


def _finished(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is None or run.is_finished
