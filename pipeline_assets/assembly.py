"""Assembly: a replication configuration turned into Dagster definitions (assets, checks, jobs, schedules,
sensors, resources). The component and the CLI build through it."""

import warnings
from dataclasses import dataclass

import dagster as dg

from pipeline_assets.assets.checks import build_table_checks
from pipeline_assets.assets.factory import TableAssets, build_table_assets
from pipeline_assets.assets.io_manager import StageIOManager
from pipeline_assets.assets.jobs import build_jobs
from pipeline_assets.autoload.assets import build_files_assets
from pipeline_assets.autoload.wiring import build_autoloader
from pipeline_assets.config import FilesConnection, ProjectConfig
from pipeline_assets.resources import DatabaseResource, FilesResource, StageResource
from pipeline_assets.sensors.housekeeping import build_housekeeping

# backfill_policy is "beta" in Dagster 1.13; it is the supported way to choose runs per partition. Partitioned
# check specs are "preview"; they are what makes a check's result belong to one partition.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


def build_resources(project: ProjectConfig) -> dict[str, object]:
    stage = StageResource.from_config(project.stage)
    used = {t.source for t in project.tables} | {t.target for t in project.tables}
    databases = {
        name: FilesResource.from_config(name, conn)
        if isinstance(conn, FilesConnection)
        else DatabaseResource.from_config(name, conn)
        for name, conn in project.connections.items()
        if name in used
    }
    return {**databases, "stage": stage, "stage_io_manager": StageIOManager(stage=stage)}


@dataclass(frozen=True)
class Assembly:
    definitions: dg.Definitions
    tables: list[TableAssets]
    job_of: dict[dg.AssetKey, str]  # warehouse asset key -> the job that runs it


def assemble(project: ProjectConfig) -> Assembly:
    """Assets, jobs, schedules and resources for every table of ``project``.

    Runs use the in-process executor: a run holds one table's two steps for one partition, and a
    process per step (the default) costs more than the work; runs themselves go in parallel.
    """
    tables = [(build_files_assets if table.files else build_table_assets)(table, project) for table in project.tables]
    databases = [t for t in tables if not t.table.files]
    jobs, schedules, job_of = build_jobs(databases, project.schedule)
    autoloader = build_autoloader(project, [t for t in tables if t.table.files])  # files tables: sensors, not schedules
    job_of = {**job_of, **autoloader.job_of}
    housekeeping, sensors = build_housekeeping(project, tables, job_of)
    definitions = dg.Definitions(
        assets=[a for t in tables for a in (t.staged, t.loaded)],
        asset_checks=[c for t in databases for c in build_table_checks(t, project)] + autoloader.checks,
        jobs=[*jobs, *autoloader.jobs, housekeeping],
        schedules=[*schedules, *autoloader.schedules],
        sensors=[*sensors, *autoloader.sensors],
        resources=build_resources(project),
        executor=dg.in_process_executor,
    )
    return Assembly(definitions, tables, job_of)


def build_definitions(project: ProjectConfig) -> dg.Definitions:
    return assemble(project).definitions
