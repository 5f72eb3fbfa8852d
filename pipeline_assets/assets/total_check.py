"""The table-level check: the warehouse table's total row count against the source's, so rows that lie outside every
partition's window (a NULL cursor, a cursor before ``start_date``, a day deleted in the target) never pass unseen.

One ``count(*)`` on each side, whatever the table's size; evaluated on every run of the warehouse asset."""

from dataclasses import replace
from datetime import date

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.assets.failures import user_errors
from pipeline_assets.assets.incremental import EARLIEST, checked_window
from pipeline_assets.config import TableConfig
from pipeline_assets.core.schema import Window
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses import Warehouse

TOTAL = "total_rows_match_source"
DAILY = (
    "The warehouse table holds as many rows in all as the source holds over the span of days loaded so far (first to "
    "last materialized partition; from the beginning of time when the span starts at start_date), plus the "
    "NULL-cursor rows unless null_cursor is exclude: rows outside every day's window cannot pass unseen. While a "
    "backfill is in progress, a day inside the span that is not loaded yet counts as missing."
)
INCREMENTAL = (
    "The warehouse table holds as many rows in all as the source holds from the earliest cursor value loaded up to "
    "the watermark (a watermark set by hand skips older rows on purpose), plus the NULL-cursor rows unless "
    "null_cursor is exclude."
)


def build_total_check(assets: TableAssets) -> dg.AssetChecksDefinition:
    """The ``total_rows_match_source`` check of a daily or watermark-driven table's warehouse asset."""
    table = assets.table
    target = TargetTable(table.target_schema, table.target_name)

    @dg.asset_check(
        asset=assets.loaded.key,
        name=TOTAL,
        description=DAILY if table.partitioning == "daily" else INCREMENTAL,
        required_resource_keys={table.source, table.target},
        pool=f"warehouse_{table.target}",
    )
    def total(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with user_errors():
            source = getattr(context.resources, table.source).source()
            warehouse = getattr(context.resources, table.target).warehouse()
            if table.partitioning == "daily":
                window, span = _daily_span(table, context.instance.get_materialized_partitions(assets.loaded.key))
            else:
                window, span = _watermark_span(warehouse, table, target)
            if window is None:
                return dg.AssetCheckResult(passed=True, description="nothing loaded yet", metadata={"span": span})
            schema = source.discover(table.table)
            quoted = source.quote(table.cursor_column)
            in_span, nulls = source.aggregate(
                table.table, schema, ["count(*)", f"count(*) - count({quoted})"], cursor=table.cursor, window=window
            )
            target_row = warehouse.aggregate(target, ["count(*)"])
        nulls_due = table.partitioning == "incremental" or window.start == EARLIEST
        return _result(table, span, int(in_span), int(nulls), nulls_due, target_row)

    return total


def _daily_span(table: TableConfig, loaded: set[str]) -> tuple[Window | None, str]:
    """The window the source is counted over: the days from the first to the last loaded partition (open below
    when the first is ``start_date``, so rows dated before it count), NULL-cursor rows included (counted apart)."""
    if not loaded:
        return None, "nothing loaded"
    first, last = min(loaded), max(loaded)
    end = Window.for_day(date.fromisoformat(last)).end
    start = EARLIEST if first == table.first_day.isoformat() else Window.for_day(date.fromisoformat(first)).start
    return Window(start, end, nulls=True), f"{first}..{last}"


def _watermark_span(warehouse: Warehouse, table: TableConfig, target: TargetTable) -> tuple[Window | None, str]:
    """The window the source of a watermark-driven table is counted over: the partition checks' own (from the
    target's earliest cursor value up to and including the watermark), NULL-cursor rows included (counted apart)."""
    window = checked_window(warehouse, table, target)
    if window is None:
        return None, "nothing loaded"
    return replace(window, nulls=True), f"{window.start.isoformat()}..{window.end.isoformat()}"


def _result(
    table: TableConfig, span: str, in_span: int, nulls: int, nulls_due: bool, target_row: tuple | None
) -> dg.AssetCheckResult:
    """Compare the target's total with the source's rows in the span, NULL-cursor rows counted as the option says:
    ``include`` loads them with the first day (so they count once the span starts there), ``fail`` never lets them
    pass, ``exclude`` leaves them out."""
    expected_nulls = nulls if table.null_cursor == "fail" or (table.null_cursor == "include" and nulls_due) else 0
    expected = in_span - nulls + expected_nulls
    target_rows = int(target_row[0]) if target_row else 0
    difference = expected - target_rows
    metadata: dict[str, str | int] = {
        "span": span,
        "source_rows": expected,
        "target_rows": target_rows,
        "difference": difference,
        "null_cursor_rows": nulls,
        "null_cursor": table.null_cursor,
    }
    if target_row is None:
        description = "the warehouse table does not exist"
    elif difference > 0:
        description = f"the source holds {difference} more rows than the warehouse over {span}"
        if table.null_cursor == "fail" and nulls:
            description += f" ({nulls} have a NULL {table.cursor_column}: set null_cursor: include or exclude)"
    elif difference < 0:
        description = f"the warehouse holds {-difference} rows more than the source over {span}"
    else:
        description = None
    return dg.AssetCheckResult(
        passed=target_row is not None and difference == 0, metadata=metadata, description=description
    )
