"""The files tables' Dagster jobs: one per table for its loads (what the discovery sensor launches), and the three
reprocessing recipes, launchable from the UI with run config (the table's name typed twice stands for the CLI's
confirmation)."""

import dagster as dg
from pydantic import Field

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.assets.failures import user_errors
from pipeline_assets.autoload import recipes
from pipeline_assets.config import ProjectConfig
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.target import TargetTable


class RecipeConfig(dg.Config):
    """Which files table to act on; ``confirm`` must repeat its name."""

    table: str = Field(description="the files table (its asset name)")
    confirm: str = Field(description="the table's name again: this drops or clears data")


class BackfillConfig(RecipeConfig):
    pattern: str | None = Field(default=None, description="glob on the file URI (or its key)")
    status: str | None = Field(default=None, description="only files in this ledger status, e.g. failed")
    partition: str | None = Field(default=None, description="only files of this partition (YYYY-MM-DD)")
    since: str | None = Field(
        default=None, description="only files last modified at or after this ISO time (UTC if naive)"
    )
    force: bool = Field(default=False, description="append files whose rows the table holds again (duplicates)")


def load_job_name(assets: TableAssets) -> str:
    return f"autoload_{assets.table.asset_name}_job"


def build_load_job(assets: TableAssets):
    return dg.define_asset_job(
        load_job_name(assets),
        selection=dg.AssetSelection.assets(assets.staged.key, assets.loaded.key),
        description=f"Load a batch of the files dropped for {assets.table.asset_name} "
        "(the discovery sensor launches it).",
    )


def build_recipe_jobs(project: ProjectConfig, tables: list[TableAssets]) -> list[dg.JobDefinition]:
    by_name = {t.table.asset_name: t for t in tables}
    resource_keys = {t.table.target for t in tables}

    def chosen(context, config: RecipeConfig) -> tuple:
        if config.table not in by_name:
            raise PipelineError(f"unknown files table {config.table!r} (files tables: {', '.join(by_name)})")
        if config.confirm != config.table:
            raise PipelineError(f"confirm must repeat the table's name ({config.table!r}); nothing was changed")
        assets = by_name[config.table]
        recipes.ensure_idle(context.instance, load_job_name(assets), config.table, context.run_id)
        warehouse = getattr(context.resources, assets.table.target).warehouse()
        return assets.table, warehouse, TargetTable(assets.table.target_schema, assets.table.target_name)

    def finish(context, recipe: str, table: str, result: recipes.RecipeResult) -> dg.Output:
        context.log.info(result.describe(recipe, table))
        return dg.Output(
            None,
            metadata={"table": table, "rows_dropped": result.rows_dropped, "records_changed": result.records_changed},
        )

    @dg.op(required_resource_keys=resource_keys)
    def drop_table_keep_ledger(context: dg.OpExecutionContext, config: RecipeConfig) -> dg.Output:
        """Drop the table; processed files stay processed, so only new files load."""
        with user_errors():
            _table, warehouse, target = chosen(context, config)
            return finish(context, "fresh_start", config.table, recipes.fresh_start(warehouse, target))

    @dg.op(required_resource_keys=resource_keys)
    def drop_table_clear_ledger(context: dg.OpExecutionContext, config: RecipeConfig) -> dg.Output:
        """Drop the table and clear the ledger: every file loads again."""
        with user_errors():
            _table, warehouse, target = chosen(context, config)
            return finish(context, "full_reprocess", config.table, recipes.full_reprocess(warehouse, target))

    @dg.op(required_resource_keys=resource_keys)
    def clear_ledger_subset(context: dg.OpExecutionContext, config: BackfillConfig) -> dg.Output:
        """Clear the chosen files' records without dropping the table (refused in append mode unless forced)."""
        with user_errors():
            table, warehouse, target = chosen(context, config)
            subset = recipes.Subset(config.pattern, config.status, config.partition, recipes.utc(config.since))
            return finish(
                context, "backfill", config.table, recipes.backfill(warehouse, table, target, subset, config.force)
            )

    @dg.job(name="files_fresh_start", description="Fresh start, new files only: drop a files table, keep its ledger.")
    def fresh_start_job() -> None:
        drop_table_keep_ledger()

    @dg.job(name="files_full_reprocess", description="Full reprocess: drop a files table and clear its ledger.")
    def full_reprocess_job() -> None:
        drop_table_clear_ledger()

    @dg.job(
        name="files_backfill", description="Backfill missing data: clear a chosen subset of a files table's ledger."
    )
    def backfill_job() -> None:
        clear_ledger_subset()

    return [fresh_start_job, full_reprocess_job, backfill_job]


def build_snapshot_schedule(assets: TableAssets, full_reprocess: dg.JobDefinition) -> dg.ScheduleDefinition:
    """Seed 004's snapshot refresh: a schedule (off until a user switches it on) that runs the full reprocess recipe
    on the table, after which the discovery sensor loads every file again: the table becomes the source's latest
    snapshot."""
    name = assets.table.asset_name

    @dg.schedule(
        name=f"snapshot_refresh_{name}",
        job=full_reprocess,
        cron_schedule=assets.table.dropped.snapshot_refresh,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Drop {name} and clear its ledger, so every file in the source is loaded again.",
    )
    def refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        config = {"ops": {"drop_table_clear_ledger": {"config": {"table": name, "confirm": name}}}}
        return dg.RunRequest(run_config=config, tags={"pipeline_assets/trigger": "snapshot_refresh"})

    return refresh
