"""Running a table's two assets for one partition as a real Dagster run, in this process."""

import dagster as dg

from pipeline_assets.assets.factory import TableAssets


def launch_in_process(
    definitions: dg.Definitions,
    job_name: str,
    table: TableAssets,
    partition: str | None,
    instance: dg.DagsterInstance,
    *,
    limit: int | None = None,
    log_level: str = "CRITICAL",
    tags: dict[str, str] | None = None,
    selection: list[dg.AssetKey] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize ``table``'s staged and warehouse assets (or just ``selection``) for ``partition`` with the job
    that owns them, recorded in ``instance`` (so the UI shows the run). Failures are in the result, not raised."""
    job = definitions.resolve_job_def(job_name)
    run_config = {
        "ops": {table.staged.op.name: {"config": {"limit": limit}}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }
    return job.execute_in_process(
        run_config=run_config, instance=instance, partition_key=partition, raise_on_error=False,
        asset_selection=selection or [table.staged.key, table.loaded.key], tags=tags or {},
    )  # fmt: skip


def check_in_process(
    definitions: dg.Definitions,
    job_name: str,
    table: TableAssets,
    partition: str | None,
    instance: dg.DagsterInstance,
    *,
    log_level: str = "CRITICAL",
) -> dg.ExecuteInProcessResult:
    """Run ``table``'s asset checks alone for ``partition`` (nothing is materialized), recorded in ``instance``."""
    job = definitions.resolve_job_def(job_name)
    checks = {key for key in job.asset_layer.asset_graph.asset_check_keys if key.asset_key == table.loaded.key}
    return job.get_subset(asset_selection=set(), asset_check_selection=checks).execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}}, instance=instance,
        partition_key=partition, raise_on_error=False, tags={"pipeline_assets/trigger": "cli"},
    )  # fmt: skip
