"""The asset factory: each configured table becomes a staged-files asset and a warehouse-table asset.

Both assets of a daily table share its partitions and backfill policy, so a backfill run covers up to
``days_per_run`` days; each asset does those days one at a time (see ``per_day``)."""

from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from pipeline_assets.assets.extract import Extraction, preflight, stage_day, stage_metadata, staged_by_run
from pipeline_assets.assets.failures import user_errors
from pipeline_assets.assets.incremental import is_full_refresh, recording_failure
from pipeline_assets.assets.io_manager import STAGE_PREFIX_KEY, Staged
from pipeline_assets.assets.load import Loading, load_day, load_metadata
from pipeline_assets.assets.null_cursor import null_cursor_metadata, null_cursor_rows, refuse_null_cursor
from pipeline_assets.assets.partitions import backfill_policy, daily_partitions, run_days
from pipeline_assets.assets.per_day import for_each_day
from pipeline_assets.config import ProjectConfig, TableConfig
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.target import TargetTable
from pipeline_assets.stage.staging import StageSettings

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
    partitions_def: dg.DailyPartitionsDefinition | None


def build_table_assets(table: TableConfig, project: ProjectConfig) -> TableAssets:
    source_conn = project.connections[table.source]
    target_conn = project.connections[table.target]
    partitions_def = daily_partitions(table.first_day) if table.partitioning == "daily" else None
    partitioned = partitions_def is not None
    prefix = project.stage_prefix(table)
    target = TargetTable(table.target_schema, table.target_name)
    policy = project.policy(table)
    window_note = f", one UTC day of `{table.cursor}` per partition" if partitioned else ""

    @dg.asset(
        key=["stage", table.source, table.asset_name],
        group_name=table.group_name,
        description=f"Rows of `{table.table}` in {source_conn.describe()}{window_note}, "
        f"staged as {project.stage.format} files in {project.stage.url}.",
        partitions_def=partitions_def,
        backfill_policy=backfill_policy(table.days_per_run) if partitioned else None,
        io_manager_key="stage_io_manager",
        required_resource_keys={table.source, table.target, "stage"},
        kinds={source_conn.kind, project.stage.format},
        metadata={STAGE_PREFIX_KEY: prefix, "source_table": table.table},
        pool=f"source_{table.source}",
        retry_policy=RETRY_POLICY,
    )
    def staged(context: dg.AssetExecutionContext, config: ExtractConfig) -> Staged:
        warehouse = getattr(context.resources, table.target).warehouse()
        with user_errors(), recording_failure(warehouse, table, target, "extract"):
            days = run_days(context, partitioned, table.asset_name)
            stage = context.resources.stage.config
            store = context.resources.stage.store()
            preflight(stage, store, context.log)
            source = getattr(context.resources, table.source).source()
            run = Extraction(
                table=table,
                target=target,
                prefix=prefix,
                source=source,
                warehouse=warehouse,
                store=store,
                settings=StageSettings(
                    file_format=stage.format,
                    compression=stage.compression,
                    target_bytes=stage.target_bytes,
                    path_strategy=policy.path_strategy,
                    overwrite=policy.overwrite,
                ),
                schema=source.discover(table.table),
                run_id=context.run.run_id,
                limit=config.limit,
                full_refresh=is_full_refresh(context),
                log=context.log.info,
            )

            nulls = null_cursor_rows(source, table, run.schema)  # one count per run, before anything is written
            refuse_null_cursor(table, nulls)

            def one_day(day: str):
                again = staged_by_run(run, day) if context.retry_number > 0 else None
                manifest, seconds, nulled = (again, 0.0, {}) if again else stage_day(run, day)
                metadata = stage_metadata(manifest, seconds, nulled)
                return manifest, {**metadata, **null_cursor_metadata(table, nulls, day)}

            return for_each_day(context, days, partitioned, one_day)

    @dg.asset(
        **warehouse_asset_args(
            table,
            project,
            staged,
            partitions_def,
            f"`{target}` in {target_conn.describe()}: {table.write_mode} of the staged `{table.table}` rows"
            + (
                ", each partition in a transaction of its own."
                if partitioned
                else ", reloaded whole in one transaction."
            ),
        )
    )
    def loaded(context: dg.AssetExecutionContext, manifest: Staged) -> dg.MaterializeResult:
        with user_errors():
            run = Loading(
                context=context,
                table=table,
                target=target,
                prefix=prefix,
                store=context.resources.stage.store(),
                warehouse=getattr(context.resources, table.target).warehouse(),
                full_refresh=is_full_refresh(context),
            )
            if run.full_refresh and partitioned:
                raise PipelineError(
                    f"{table.asset_name} is daily: refresh it by re-materializing partitions (--from/--to)"
                )
            days = run_days(context, partitioned, table.asset_name)

            def one_day(day: str):
                with recording_failure(run.warehouse, table, run.target, "load"):
                    loads = load_day(run, manifest[day])
                return loads, load_metadata(table, loads)

            for_each_day(context, days, partitioned, one_day)
        return dg.MaterializeResult()

    return TableAssets(table, staged, loaded, partitions_def)


def warehouse_asset_args(
    table: TableConfig,
    project: ProjectConfig,
    staged: dg.AssetsDefinition,
    partitions_def: dg.PartitionsDefinition | None,
    description: str,
) -> dict:
    """What every warehouse-table asset is, whatever feeds it: its key, input, partitions, pool and retries."""
    target = TargetTable(table.target_schema, table.target_name)
    return {
        "key": [table.target, target.schema, target.name],
        "group_name": table.group_name,
        "description": description,
        "ins": {"manifest": dg.AssetIn(key=staged.key)},
        "partitions_def": partitions_def,
        "backfill_policy": backfill_policy(table.days_per_run) if partitions_def else None,
        "required_resource_keys": {table.target, "stage"},
        "kinds": {project.connections[table.target].kind},
        "metadata": {"target_table": str(target), "write_mode": table.write_mode},
        "pool": f"warehouse_{table.target}",
        "retry_policy": RETRY_POLICY,
    }
