"""Which partitions a command acts on: --partition, --from/--to, or a default, validated against the table."""

from dataclasses import dataclass, field
from datetime import date

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.cli.report import RunOutcome
from pipeline_assets.errors import PipelineError


@dataclass
class Unit:
    """One run: a table, and its partition (None for an unpartitioned table)."""

    table: TableAssets
    partition: str | None
    outcome: RunOutcome | None = field(default=None)


def plan(table: TableAssets, instance: dg.DagsterInstance, partition: str | None, from_day: str | None,
         to_day: str | None, default: str) -> list[Unit]:  # fmt: skip
    """The runs for ``table``: the named partition or range, else (``default``) the partitions not yet
    materialized (``missing``) or those already materialized (``materialized``)."""
    partitions_def = table.partitions_def
    if partitions_def is None:
        return [Unit(table, None)]
    name = table.table.asset_name
    keys = partitions_def.get_partition_keys()
    if partition or from_day or to_day:
        first = _day(partition or from_day, "--partition" if partition else "--from") if (partition or from_day) else None
        last = _day(partition or to_day, "--partition" if partition else "--to") if (partition or to_day) else None
        for day in {first, last} - {None}:
            _check_in_range(name, day, table.table.start_date, keys)
        first, last = first or keys[0], last or keys[-1]
        if first > last:
            raise PipelineError(f"--from {first} is after --to {last}")
        return [Unit(table, k) for k in keys if first <= k <= last]
    done = instance.get_materialized_partitions(table.loaded.key)
    return [Unit(table, k) for k in keys if (k in done) == (default == "materialized")]


def _day(value: str, option: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise PipelineError(f"{option} {value}: expected a day as YYYY-MM-DD") from None


def _check_in_range(table: str, day: str, start: date, keys: list[str]) -> None:
    if day < start.isoformat():
        raise PipelineError(f"partition {day} is before the start date {start.isoformat()} of table {table!r}")
    if not keys or day > keys[-1]:
        raise PipelineError(f"partition {day} of table {table!r} is not complete yet (last complete day: {keys[-1] if keys else 'none'})")
