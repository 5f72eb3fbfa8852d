"""Jobs and schedules: one job per table group and partitioning, each with a schedule."""

from collections import defaultdict

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.config.models import ScheduleConfig


def build_jobs(tables: list[TableAssets], schedule: ScheduleConfig) -> tuple[list, list, dict[dg.AssetKey, str]]:
    """Daily-partitioned tables of a group that share a start date run as ``<group>_daily`` (one partition
    a run, the previous day once it is complete); unpartitioned tables as ``<group>_full`` once a day.
    Also returns, for each warehouse asset, the name of the job that runs it."""
    buckets: dict[tuple[str, dg.DailyPartitionsDefinition | None], list[TableAssets]] = defaultdict(list)
    for table in tables:
        buckets[(table.table.group_name, table.partitions_def)].append(table)
    daily_counts: dict[str, int] = defaultdict(int)
    for group, partitions_def in buckets:
        daily_counts[group] += partitions_def is not None

    jobs: list = []  # asset jobs, resolved by Dagster against the assets
    schedules: list = []  # schedules, and the partitioned ones Dagster resolves with the job
    job_of: dict[dg.AssetKey, str] = {}
    for (group, partitions_def), members in buckets.items():
        keys = [key for t in members for key in (t.staged.key, t.loaded.key)]
        if partitions_def is None:
            job = dg.define_asset_job(
                f"{group}_full",
                selection=dg.AssetSelection.assets(*keys),
                description=f"Reload the unpartitioned tables of {group}.",
            )
            schedules.append(
                dg.ScheduleDefinition(
                    job=job, cron_schedule=f"{schedule.minute} {schedule.hour} * * *", execution_timezone="UTC"
                )
            )
        else:
            name = f"{group}_daily"
            if daily_counts[group] > 1:
                name += f"_from_{partitions_def.start.strftime('%Y%m%d')}"
            job = dg.define_asset_job(
                name,
                selection=dg.AssetSelection.assets(*keys),
                description=f"Replicate one day of the daily tables of {group}.",
            )
            schedules.append(
                dg.build_schedule_from_partitioned_job(job, hour_of_day=schedule.hour, minute_of_hour=schedule.minute)
            )
        jobs.append(job)
        job_of.update({t.loaded.key: job.name for t in members})
    return jobs, schedules, job_of
