"""Running a table's assets (or its checks) for some days as a real Dagster run, in this process."""

import dagster as dg

from pipeline_assets.assets.factory import TableAssets

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def partition_args(days: list[str]) -> dict:
    """How a run covers ``days``: one partition key, or a key range as a backfill run carries it."""
    if not days:
        return {"partition_key": None, "tags": {}}
    if len(days) == 1:
        return {"partition_key": days[0], "tags": {}}
    return {"partition_key": None, "tags": {RANGE_START: days[0], RANGE_END: days[-1]}}


def launch_in_process(
    definitions: dg.Definitions,
    job_name: str,
    table: TableAssets,
    days: list[str],
    instance: dg.DagsterInstance,
    *,
    limit: int | None = None,
    log_level: str = "CRITICAL",
    tags: dict[str, str] | None = None,
    selection: list[dg.AssetKey] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize ``table``'s staged and warehouse assets (or just ``selection``) for ``days`` (consecutive; ``[]``
    for an unpartitioned table) in one run of the job that owns them, recorded in ``instance`` (so the UI shows the
    run). Failures are in the result, not raised."""
    job = definitions.resolve_job_def(job_name)
    run_config = {
        "ops": {table.staged.op.name: {"config": {"limit": limit}}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }
    partition = partition_args(days)
    return job.execute_in_process(
        run_config=run_config,
        instance=instance,
        partition_key=partition["partition_key"],
        raise_on_error=False,
        asset_selection=selection or [table.staged.key, table.loaded.key],
        tags={**partition["tags"], **(tags or {})},
    )


def check_in_process(
    definitions: dg.Definitions,
    job_name: str,
    table: TableAssets,
    days: list[str],
    instance: dg.DagsterInstance,
    *,
    log_level: str = "CRITICAL",
) -> dg.ExecuteInProcessResult:
    """Run ``table``'s asset checks alone for ``days`` (nothing is materialized), recorded in ``instance``."""
    job = definitions.resolve_job_def(job_name)
    checks = {key for key in job.asset_layer.asset_graph.asset_check_keys if key.asset_key == table.loaded.key}
    partition = partition_args(days)
    return job.get_subset(asset_selection=set(), asset_check_selection=checks).execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        instance=instance,
        partition_key=partition["partition_key"],
        raise_on_error=False,
        tags={**partition["tags"], "pipeline_assets/trigger": "cli"},
    )
