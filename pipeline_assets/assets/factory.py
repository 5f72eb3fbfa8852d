"""The asset factory: each configured table becomes a staged-files asset and a warehouse-table asset."""

from dataclasses import dataclass
from datetime import date

import dagster as dg
from pydantic import Field

from pipeline_assets.assets.incremental import (
    advance,
    check_loadable,
    extraction_window,
    is_full_refresh,
    pending_manifests,
    state_key,
)
from pipeline_assets.config import ProjectConfig, TableConfig
from pipeline_assets.errors import PipelineError, user_errors
from pipeline_assets.progress import Progress
from pipeline_assets.schema import SOURCE_TYPE_KEY, TableSchema, Window
from pipeline_assets.stage import layout
from pipeline_assets.stage.io_manager import (
    OVERWRITE_KEY,
    PATH_STRATEGY_KEY,
    STAGE_PREFIX_KEY,
)
from pipeline_assets.stage.manifest import Extract, Manifest
from pipeline_assets.stage.tables import stage_prefix
from pipeline_assets.warehouses import TargetTable

# Transient failures (a dropped connection, a throttled S3 call) are retried; PipelineErrors are not.
RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


class ExtractConfig(dg.Config):
    """Launch-time options for a staging run."""

    limit: int | None = Field(default=None, gt=0, description="cap the rows read per query (for testing)")


@dataclass(frozen=True)
class TableAssets:
    table: TableConfig
    staged: dg.AssetsDefinition
    loaded: dg.AssetsDefinition
    partitions_def: dg.PartitionsDefinition | None


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def partition_window(context: dg.AssetExecutionContext) -> tuple[str, Window | None]:
    if not context.has_partition_key:
        return layout.UNPARTITIONED, None
    key = context.partition_key
    return key, Window.for_day(date.fromisoformat(key))


def build_table_assets(table: TableConfig, project: ProjectConfig) -> TableAssets:
    source_conn = project.connections[table.source]
    target_conn = project.connections[table.target]
    partitions_def = daily_partitions(table.start_date) if table.partitioning == "daily" else None
    backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=1) if partitions_def else None
    prefix = stage_prefix(table, project)
    target = TargetTable(table.target_schema, table.target_name)
    policy = project.policy(table)
    incremental = table.partitioning == "incremental"
    window_note = f" for one UTC day of `{table.cursor}`" if partitions_def else ""

    @dg.asset(
        key=["stage", table.source, table.asset_name],
        group_name=table.group_name,
        description=f"Rows of `{table.table}` in {source_conn.describe()}{window_note}, staged as {project.stage.format} files "
        f"in {project.stage.url}.",
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        io_manager_key="stage_io_manager",
        required_resource_keys={table.source, table.target, "stage"},
        kinds={source_conn.kind, project.stage.format},
        metadata={STAGE_PREFIX_KEY: prefix, PATH_STRATEGY_KEY: policy.path_strategy, OVERWRITE_KEY: policy.overwrite,
                  "source_table": table.table},  # fmt: skip
        pool=f"source_{table.source}",
        retry_policy=RETRY_POLICY,
    )
    def staged(context: dg.AssetExecutionContext, config: ExtractConfig) -> Extract:
        with user_errors():
            source = getattr(context.resources, table.source).source()
            warehouse = getattr(context.resources, table.target).warehouse()
            schema = source.discover(table.table)
            partition, window = partition_window(context)
            if incremental:
                window = extraction_window(warehouse, table, target, is_full_refresh(context))
            batches, unload, highest = iter(()), None, None
            if source.unloads:  # the source writes the files; the asked-for maximum may lag the rows, never lead them
                store = context.resources.stage.store()
                if incremental:
                    (highest,) = source.aggregate(table.table, schema, [f"max({source.quote(table.cursor)})"],
                                                  cursor=table.cursor, window=window)  # fmt: skip

                def unload(folder: str, overwrite: bool) -> list[tuple[str, int, int]]:
                    return source.unload(table.table, schema, folder=folder, store=store, overwrite=overwrite,
                                         cursor=table.cursor, window=window, limit=config.limit)  # fmt: skip
            else:
                batches = source.read(
                    table.table, schema, cursor=table.cursor, window=window, batch_size=table.batch_size, limit=config.limit
                )

            def on_staged(manifest: Manifest) -> None:
                warehouse.record_staged(target, manifest)
                if incremental:
                    with warehouse.state() as state:
                        state.record_extraction(state_key(table), str(target), "success", window.end)

            keys = None
            if table.delete_missing:
                key_schema = TableSchema(table.table, tuple(schema.column(k) for k in table.primary_key))
                keys = source.read(table.table, key_schema, batch_size=table.batch_size)
            return Extract(partition, schema.arrow_schema(), batches, window, config.limit, on_staged=on_staged,
                           cursor=table.cursor if incremental else None, keys=keys, unload=unload,
                           cursor_max=highest.isoformat() if highest is not None else None)  # fmt: skip

    @dg.asset(**warehouse_asset_args(
        table, project, staged, partitions_def,
        f"`{target}` in {target_conn.describe()}: {table.write_mode} of the staged `{table.table}` rows"
        + (", one partition per transaction." if partitions_def else ", reloaded whole in one transaction."),
    ))  # fmt: skip
    def loaded(context: dg.AssetExecutionContext, manifest: Manifest) -> dg.MaterializeResult:
        with user_errors():
            warehouse = getattr(context.resources, table.target).warehouse()
            store = context.resources.stage.store()
            full_refresh = is_full_refresh(context)
            if full_refresh and partitions_def:
                raise PipelineError(f"{table.asset_name} is daily: refresh it by re-materializing partitions (--from/--to)")
            batch = [manifest]
            if incremental and not full_refresh and manifest.run_id != context.run.run_id:  # a load-only run
                batch = pending_manifests(store, warehouse, table, target, prefix) or [manifest]
            loads = [_load_one(context, warehouse, store, m, full_refresh) for m in batch]
        return dg.MaterializeResult(metadata=load_metadata(table, loads))

    def _load_one(context, warehouse, store, manifest: Manifest, full_refresh: bool) -> tuple:
        """Load one staging run; return it with the load's result and the watermark before and after."""
        before = check_loadable(warehouse, table, manifest, full_refresh) if incremental else None
        after: list = []
        result = warehouse.load(
            target, manifest, store, mode="full_refresh" if full_refresh else table.write_mode, cursor=table.cursor,
            run_id=context.run.run_id, schema_policy=table.schema_policy, on_error=table.on_error,
            progress=Progress(f"{target} {manifest.partition}", "loaded", context.log.info, total=manifest.rows),
            keys=tuple(table.primary_key) if incremental or table.write_mode == "merge" else (),
            before_commit=(lambda tx: after.append(advance(tx, table, target, manifest, context))) if incremental else None,
        )  # fmt: skip
        return manifest, result, before, after[0] if after else None

    return TableAssets(table, staged, loaded, partitions_def)


def warehouse_asset_args(table: TableConfig, project: ProjectConfig, staged: dg.AssetsDefinition,
                         partitions_def: dg.PartitionsDefinition | None, description: str) -> dict:  # fmt: skip
    """What every warehouse-table asset is, whatever feeds it: its key, input, partitions, pool and retries."""
    target = TargetTable(table.target_schema, table.target_name)
    return {
        "key": [table.target, target.schema, target.name], "group_name": table.group_name, "description": description,
        "ins": {"manifest": dg.AssetIn(key=staged.key)}, "partitions_def": partitions_def,
        "backfill_policy": dg.BackfillPolicy.multi_run(max_partitions_per_run=1) if partitions_def else None,
        "required_resource_keys": {table.target, "stage"}, "kinds": {project.connections[table.target].kind},
        "metadata": {"target_table": str(target), "write_mode": table.write_mode},
        "pool": f"warehouse_{table.target}", "retry_policy": RETRY_POLICY,
    }  # fmt: skip


def load_metadata(table: TableConfig, loads: list[tuple]) -> dict:
    """A warehouse materialization's metadata, summed over the staging runs it loaded (usually one)."""
    manifests = [m for m, *_ in loads]
    results = [r for _, r, *_ in loads]
    rows, seconds = sum(r.rows_loaded for r in results), sum(r.seconds for r in results)
    metadata = {
        "dagster/row_count": rows,
        "rows_loaded": rows,
        "rows_replaced": sum(r.rows_deleted for r in results),
        "files": sum(r.files for r in results),
        "files_skipped": sum(r.files_skipped for r in results),
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else 0.0,
        "write_mode": table.write_mode,
        "stage_path": dg.MetadataValue.path(manifests[-1].prefix),
        "staging_run": ", ".join(m.run_id for m in manifests),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(f.name, str(f.type), description=(f.metadata or {}).get(SOURCE_TYPE_KEY, b"").decode())
                     for f in manifests[-1].arrow_schema]
        ),  # fmt: skip
    }
    if manifests[-1].window:
        metadata["window"] = str(manifests[-1].window)
    if table.partitioning == "incremental":
        before, after = loads[0][2], loads[-1][3]
        metadata["watermark_before"] = before.isoformat() if before else "none"
        metadata["watermark_after"] = after.isoformat() if after else "none"
    rejected = [o for r in results for o in r.files_rejected]
    metadata["files_rejected"] = len(rejected)
    if rejected:
        metadata["rejected_files"] = dg.MetadataValue.md(
            "| file | outcome | rows loaded | of | first error |\n|---|---|---:|---:|---|\n"
            + "\n".join(f"| `{o.file.uri.rsplit('/', 1)[-1]}` | {o.status} | {o.rows_loaded:,} | {o.file.rows:,} | "
                        f"{(o.error or '').replace('|', '/')[:200]} |" for o in rejected)
        )  # fmt: skip
    changes = [c for r in results for c in r.schema_changes]
    if changes:
        metadata["schema_changes"] = "; ".join(changes)
    return metadata
