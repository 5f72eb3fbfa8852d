"""The table-level check: the warehouse table's rows against the source's over everything loaded so far, so rows that
lie outside every partition's window (a NULL cursor, a cursor before ``start_date``, a day's rows lost in the
target while another day is loaded) never pass unseen.

One ``count(*)`` on each side per stretch of consecutive loaded days (one, unless days are missing in between),
whatever the table's size; evaluated on every run of the warehouse asset."""

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.assets.failures import user_errors
from pipeline_assets.assets.incremental import EARLIEST, checked_window
from pipeline_assets.config import TableConfig
from pipeline_assets.core.schema import TableSchema, Window
from pipeline_assets.core.target import TargetTable
from pipeline_assets.sources import Source
from pipeline_assets.warehouses import Warehouse

TOTAL = "total_rows_match_source"
DAILY = (
    "The warehouse table holds as many rows as the source over every day loaded so far (each stretch of consecutive "
    "materialized partitions; from the beginning of time when a stretch starts at start_date, so rows dated before "
    "it count), plus the NULL-cursor rows unless null_cursor is exclude (with include, once the first day is "
    "loaded): rows outside every day's window cannot pass unseen. While a backfill is in progress only the days "
    "already loaded are compared, on both sides."
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
                windows = _daily_spans(table, context.instance.get_materialized_partitions(assets.loaded.key))
            else:
                loaded = checked_window(warehouse, table, target)
                windows = [replace(loaded, nulls=True)] if loaded else []
            if not windows:
                return dg.AssetCheckResult(passed=True, description="nothing loaded yet")
            span = ", ".join(_label(w) for w in windows)
            nulls_due = table.null_cursor == "fail" or (
                table.null_cursor == "include" and (table.partitioning == "incremental" or windows[0].start == EARLIEST)
            )
            schema = source.discover(table.table)
            in_span, nulls = _source_counts(source, table, schema, windows)
            target_rows = _target_count(warehouse, table, target, schema, windows, nulls_due)
        return _result(table, span, in_span, nulls, nulls_due, target_rows)

    return total


def _daily_spans(table: TableConfig, loaded: set[str]) -> list[Window]:
    """The windows the rows are counted over: one per stretch of consecutive loaded days, the first open below when
    it starts at ``start_date`` and holding the NULL-cursor rows (counted apart)."""
    days = sorted(date.fromisoformat(d) for d in loaded)
    spans: list[list[date]] = []
    for day in days:
        if spans and spans[-1][1] + timedelta(days=1) == day:
            spans[-1][1] = day
        else:
            spans.append([day, day])
    windows = [Window(Window.for_day(first).start, Window.for_day(last).end) for first, last in spans]
    if windows and days[0] == table.first_day:
        windows[0] = replace(windows[0], start=EARLIEST)
    return [replace(windows[0], nulls=True), *windows[1:]] if windows else []


def _label(window: Window) -> str:
    """A counted window as its first and last day (``beginning`` when open below)."""
    first = "beginning" if window.start == EARLIEST else window.start.date().isoformat()
    return f"{first}..{(window.end - timedelta(microseconds=1)).date().isoformat()}"


def _source_counts(source: Source, table: TableConfig, schema: TableSchema, windows: list[Window]) -> tuple[int, int]:
    """The source's rows in ``windows`` (NULL-cursor rows included) and, of them, those with a NULL cursor."""
    quoted = source.quote(table.cursor_column)
    rows = [
        source.aggregate(
            table.table, schema, ["count(*)", f"count(*) - count({quoted})"], cursor=table.cursor, window=w
        )
        for w in windows
    ]
    return sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows)


def _target_count(
    warehouse: Warehouse,
    table: TableConfig,
    target: TargetTable,
    schema: TableSchema,
    windows: list[Window],
    nulls_due: bool,
) -> int | None:
    """The target's rows: all of them for a watermark-driven table; for a daily one those in the loaded days (a day
    another run has committed but not yet recorded is left out) and the NULL-cursor rows; None if it is missing."""
    if table.partitioning == "incremental":
        row = warehouse.aggregate(target, ["count(*)"])
        return int(row[0]) if row else None
    kind = schema.column(table.cursor_column).arrow_type
    total = 0
    for i, window in enumerate(windows):
        counted = replace(window, nulls=nulls_due and i == 0)
        row = warehouse.aggregate(target, ["count(*)"], cursor=table.cursor, window=counted, cursor_type=kind)
        if row is None:
            return None
        total += int(row[0])
    return total


def _result(
    table: TableConfig, span: str, in_span: int, nulls: int, nulls_due: bool, counted: int | None
) -> dg.AssetCheckResult:
    """Compare the target's rows with the source's in the span, NULL-cursor rows expected when ``nulls_due``:
    ``include`` loads them with the first day (so they count once it is loaded), ``fail`` never lets them pass,
    ``exclude`` leaves them out."""
    expected = in_span - nulls + (nulls if nulls_due else 0)
    target_rows = counted or 0
    difference = expected - target_rows
    metadata: dict[str, str | int] = {
        "span": span,
        "source_rows": expected,
        "target_rows": target_rows,
        "difference": difference,
        "null_cursor_rows": nulls,
        "null_cursor": table.null_cursor,
    }
    if counted is None:
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
        passed=counted is not None and difference == 0, metadata=metadata, description=description
    )
