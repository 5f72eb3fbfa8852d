"""Which days a run covers: the one answer every partitioned asset, check and sensor of a table uses.

A run launched for one partition (the CLI, a schedule tick, a sensor, the UI's Materialize button) carries one
key; a run a backfill launches under the table's backfill policy carries a key *range* (``days_per_run`` days at
most). Both are read through Dagster's range API, so a range run is never mistaken for an unpartitioned one.
"""

from dataclasses import replace
from datetime import date

import dagster as dg

from pipeline_assets.config import TableConfig
from pipeline_assets.core import layout
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.schema import Window


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """UTC days from ``start``; the newest partition is the last complete day."""
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def backfill_policy(days_per_run: int | str) -> dg.BackfillPolicy:
    """How many days one backfill run covers: ``all`` is one run for the whole backfill."""
    if days_per_run == "all":
        return dg.BackfillPolicy.single_run()
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=int(days_per_run))


def run_days(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    partitioned: bool,
    table: str,
) -> list[str]:
    """The partition keys this run covers, oldest first (``[full]`` for an unpartitioned table).

    A partitioned asset launched without any partition is refused: reading the whole table under a daily
    asset would load days the UI still shows as missing."""
    if not partitioned:
        return [layout.UNPARTITIONED]
    if not (context.has_partition_key or context.has_partition_key_range):  # the range API holds ranges only
        raise PipelineError(
            f"{table} is partitioned by day: launch it for a partition or a range of partitions "
            "(a run without one would read the whole table)"
        )
    return list(context.partition_keys)


def day_window(day: str, table: TableConfig) -> Window | None:
    """The cursor window of a daily partition (None for ``full``, the unpartitioned table); the first partition of
    ``table`` also holds its NULL-cursor rows when the table includes them (``null_cursor: include``)."""
    if day == layout.UNPARTITIONED:
        return None
    window = Window.for_day(date.fromisoformat(day))
    if table.null_cursor == "include" and day == table.first_day.isoformat():
        return replace(window, nulls=True)
    return window
