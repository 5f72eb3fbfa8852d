"""Stage housekeeping: a job that deletes staged files, and the sensors that decide when.

The sensors only decide (and report); deleting happens in ``stage_housekeeping`` runs, so every deletion is
a run with a log in the UI. Only files the ledger marks done (their rows loaded or replaced) are cleaned after
loads; orphans are files older than ``stage.orphan_grace`` that no successful or live run claims."""

import hashlib
import json
from datetime import UTC, datetime

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.config import ProjectConfig
from pipeline_assets.core import layout
from pipeline_assets.sensors import IN_PROGRESS
from pipeline_assets.sensors.table_stage import TableStage, run_status_lookup, table_stage
from pipeline_assets.stage.lifecycle import DONE, ORPHAN, Entry, delete, select

JOB_NAME = "stage_housekeeping"


class HousekeepingConfig(dg.Config):
    """Which files a housekeeping run deletes."""

    table: str
    partitions: list[str] = []  # noqa: RUF012 (a Dagster Config field: pydantic copies it) loaded files of these partitions (all partitions when empty)
    orphans: bool = False  # orphans instead of loaded files


def build_housekeeping(
    project: ProjectConfig, tables: list[TableAssets], job_of: dict[dg.AssetKey, str]
) -> tuple[dg.JobDefinition, list[dg.SensorDefinition]]:
    resource_keys = {"stage", *(t.table.target for t in tables)}

    def corner(context, name: str) -> TableStage:
        table = project.table(name)
        return table_stage(
            table, project, context.resources.stage.store(), getattr(context.resources, table.target).warehouse()
        )

    @dg.op(required_resource_keys=resource_keys)
    def clean_stage(context: dg.OpExecutionContext, config: HousekeepingConfig) -> dg.Output:
        """Delete a table's loaded staged files (of some partitions), or its orphans, and mark them in the ledger."""
        stage = corner(context, config.table)
        entries = stage.entries(run_status_lookup(context.instance))
        now = datetime.now(UTC)
        if config.orphans:
            chosen = select(entries, states={ORPHAN}, now=now)
        else:
            chosen = [
                e
                for e in select(entries, states={DONE}, now=now)
                if not config.partitions or stage.partition_of(e) in config.partitions
            ]
        freed = delete(stage.store, chosen)
        stage.forget(chosen)
        context.log.info(f"{config.table}: deleted {len(chosen)} objects, {freed:,} bytes")
        return dg.Output(None, metadata={"objects_deleted": len(chosen), "bytes_freed": freed})

    @dg.job(name=JOB_NAME, description="Delete staged files: loaded ones after loads, or orphans.")
    def job() -> None:
        clean_stage()

    cleaned = [t for t in tables if project.policy(t.table).cleanup_after_load != "never"]

    @dg.sensor(
        name="stage_cleanup_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING if cleaned else dg.DefaultSensorStatus.STOPPED,
        description="After a warehouse table is loaded, delete the staged files whose rows it now holds "
        "(per partition, or once no run of the table is in progress: stage.cleanup_after_load).",
    )
    def stage_cleanup_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        cursor = json.loads(context.cursor) if context.cursor else {}
        requests = []
        for table in cleaned:
            name, after = table.table.asset_name, cursor.get(table.table.asset_name, 0)
            records = _materializations_since(context.instance, table.loaded.key, after)
            if not records:
                continue
            if project.policy(table.table).cleanup_after_load == "after_all" and _busy(context.instance, table, job_of):
                continue  # wait until the backfill is over, then clean all its partitions at once
            newest = max(r.storage_id for r in records)
            partitions = sorted({r.partition_key or layout.UNPARTITIONED for r in records})
            requests.append(dg.RunRequest(run_key=f"cleanup:{name}:{newest}", run_config=_config(name, partitions)))
            cursor[name] = newest
        if not requests:
            return dg.SkipReason("no new loads to clean up after")
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))

    @dg.sensor(
        name="stage_orphan_sensor",
        job=job,
        minimum_interval_seconds=3600,
        required_resource_keys=resource_keys,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Report staged files no run claims (count, bytes, oldest) as observations of each stage asset, "
        "and delete them when stage.delete_orphans is set.",
    )
    def stage_orphan_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        events, requests = [], []
        status, now = run_status_lookup(context.instance), datetime.now(UTC)
        for table in tables:
            found = select(corner(context, table.table.asset_name).entries(status, now), states={ORPHAN}, now=now)
            events.append(dg.AssetObservation(asset_key=table.staged.key, metadata=_report(found)))
            if found and project.stage.delete_orphans:
                digest = hashlib.sha1("\n".join(sorted(e.key for e in found)).encode()).hexdigest()[:16]
                requests.append(
                    dg.RunRequest(
                        run_key=f"orphans:{table.table.asset_name}:{digest}",
                        run_config=_config(table.table.asset_name, [], orphans=True),
                    )
                )
        return dg.SensorResult(asset_events=events, run_requests=requests)

    return job, [stage_cleanup_sensor, stage_orphan_sensor]


def _config(table: str, partitions: list[str], orphans: bool = False) -> dict:
    return {"ops": {"clean_stage": {"config": {"table": table, "partitions": partitions, "orphans": orphans}}}}


def _materializations_since(instance: dg.DagsterInstance, key: dg.AssetKey, after: int) -> list:
    """Every materialization of ``key`` after storage id ``after``, oldest first, a page at a time."""
    records: list[dg.EventLogRecord] = []
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=1000, cursor=cursor, ascending=True
        )
        records += page.records
        if not page.has_more:
            return records
        cursor = page.cursor


def _busy(instance: dg.DagsterInstance, table: TableAssets, job_of: dict[dg.AssetKey, str]) -> bool:
    """Whether a run that may materialize the table is queued or going: one that selected its assets, or a run
    of its job that selected no subset (schedules and job backfills)."""
    keys = {table.staged.key, table.loaded.key}
    for record in instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        if keys & set(run.asset_selection or ()) or (
            run.job_name == job_of[table.loaded.key] and not run.asset_selection
        ):
            return True
    return False


def _report(orphans: list[Entry]) -> dict:
    files = [e for e in orphans if e.kind != "upload"]
    return {
        "orphans": len(files),
        "orphan_bytes": sum(e.size for e in files),
        "incomplete_uploads": sum(e.kind == "upload" for e in orphans),
        "oldest_orphan": min(e.modified for e in orphans).isoformat() if orphans else "none",
    }
