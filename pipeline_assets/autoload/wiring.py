"""Everything the files tables add to the definitions: their load jobs, discovery sensors, checks and recipe jobs."""

from dataclasses import dataclass

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.autoload.checks import build_files_checks
from pipeline_assets.autoload.jobs import build_load_job, build_recipe_jobs, build_snapshot_schedule
from pipeline_assets.autoload.sensor import build_autoload_sensor
from pipeline_assets.config import ProjectConfig


@dataclass(frozen=True)
class Autoloader:
    jobs: list
    schedules: list[dg.ScheduleDefinition]
    sensors: list[dg.SensorDefinition]
    checks: list[dg.AssetChecksDefinition]
    job_of: dict[dg.AssetKey, str]


def build_autoloader(project: ProjectConfig, tables: list[TableAssets]) -> Autoloader:
    if not tables:
        return Autoloader([], [], [], [], {})
    loads = {t.loaded.key: build_load_job(t) for t in tables}
    sensors = [build_autoload_sensor(t, loads[t.loaded.key]) for t in tables]
    checks = [c for t in tables for c in build_files_checks(t)]
    recipe_jobs = build_recipe_jobs(project, tables)
    full_reprocess = next(job for job in recipe_jobs if job.name == "files_full_reprocess")
    return Autoloader(
        [*loads.values(), *recipe_jobs],
        [build_snapshot_schedule(t, full_reprocess) for t in tables],
        sensors,
        checks,
        {key: job.name for key, job in loads.items()},
    )
