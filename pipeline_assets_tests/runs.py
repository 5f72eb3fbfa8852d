"""Test helpers: run a configured table through Dagster and read what happened."""

import dagster as dg

from pipeline_assets.assembly import assemble
from pipeline_assets.assets.launch import launch_in_process
from pipeline_assets.config import ProjectConfig


def run_table(
    project: ProjectConfig,
    instance: dg.DagsterInstance,
    table: str,
    partition: str | None = None,
    limit: int | None = None,
    only: str | None = None,
) -> dg.ExecuteInProcessResult:
    """Run ``table``'s two assets for ``partition``, or ``only`` one of them ("staged" or "loaded")."""
    assembly = assemble(project)
    assets = next(t for t in assembly.tables if t.table.asset_name == table)
    selection = [getattr(assets, only).key] if only else None
    days = [partition] if partition else []
    return launch_in_process(
        assembly.definitions,
        assembly.job_of[assets.loaded.key],
        assets,
        days,
        instance,
        limit=limit,
        selection=selection,
    )


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


def tick(assembly, sensor_name: str, instance: dg.DagsterInstance, cursor: str | None = None):
    """One evaluation of a sensor, with the definitions' resources, as the daemon would run it."""
    sensor = assembly.definitions.resolve_sensor_def(sensor_name)
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=assembly.definitions,
        sensor_name=sensor_name,
        resources=dict(assembly.definitions.resources),
    ) as context:
        return sensor.evaluate_tick(context)


def launch(assembly, sensor_name: str, instance: dg.DagsterInstance, requests) -> list[dg.ExecuteInProcessResult]:
    """Run ``requests`` as the sensor daemon launches them: a run key this sensor has launched before is skipped."""
    job = assembly.definitions.resolve_job_def(assembly.definitions.resolve_sensor_def(sensor_name).job_name)
    results = []
    for request in requests:
        keys = {"dagster/sensor_name": sensor_name, "dagster/run_key": request.run_key}
        if instance.get_runs(dg.RunsFilter(tags=keys)):
            continue
        tags = {**{k: v for k, v in request.tags.items() if not k.startswith("dagster/partition")}, **keys}
        results.append(
            job.execute_in_process(
                run_config=request.run_config,
                instance=instance,
                partition_key=request.partition_key,
                tags=tags,
                raise_on_error=False,
            )
        )
    return results
