"""Doing a run's days one by one, each with its own materialization record.

Dagster records a range run's output as one materialization per partition; each day's own figures go on its
record through ``add_asset_metadata(partition_key=…)``. When a day fails, the days before it are committed
already: their materializations are logged before the failure is raised, so the UI shows them as done and a
retried backfill runs only the rest (Dagster subtracts what a failed range run did materialize)."""

from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg

T = TypeVar("T")
Metadata = dict[str, Any]


def for_each_day(
    context: dg.AssetExecutionContext, days: list[str], partitioned: bool, work: Callable[[str], tuple[T, Metadata]]
) -> dict[str, T]:
    """``work(day)`` for each day, oldest first, stopping at the first failure; returns each day's value."""
    done: dict[str, tuple[T, Metadata]] = {}
    for day in days:
        try:
            done[day] = work(day)
        except BaseException:
            if partitioned:
                for finished, (_, metadata) in done.items():
                    context.log_event(
                        dg.AssetMaterialization(
                            asset_key=context.asset_key,
                            partition=finished,
                            metadata=metadata,
                        )
                    )
            raise
        context.add_asset_metadata(done[day][1], partition_key=day if partitioned else None)
    return {day: value for day, (value, _) in done.items()}
