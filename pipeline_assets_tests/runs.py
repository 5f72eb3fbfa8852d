"""Test helpers: run a configured table through Dagster and read what happened."""

import dagster as dg

from pipeline_assets.assets.launch import launch_in_process
from pipeline_assets.config import ProjectConfig
from pipeline_assets.definitions import assemble


def run_table(project: ProjectConfig, instance: dg.DagsterInstance, table: str, partition: str | None = None,
              limit: int | None = None, only: str | None = None) -> dg.ExecuteInProcessResult:  # fmt: skip
    """Run ``table``'s two assets for ``partition``, or ``only`` one of them ("staged" or "loaded")."""
    assembly = assemble(project)
    assets = next(t for t in assembly.tables if t.table.asset_name == table)
    selection = [getattr(assets, only).key] if only else None
    return launch_in_process(assembly.definitions, assembly.job_of[assets.loaded.key], assets, partition, instance,
                             limit=limit, selection=selection)  # fmt: skip


def failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data:
                return data.user_failure_data.description
            error, messages = data.error, []
            while error is not None:  # the user code's own exception sits at the end of the cause chain
                messages.append(error.message.strip())
                error = error.cause
            return " <- ".join(messages)
    raise AssertionError("the run did not fail")


def metadata(result: dg.ExecuteInProcessResult, asset_key: list[str]) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset_key)]
    assert events, f"no materialization of {asset_key}"
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}
