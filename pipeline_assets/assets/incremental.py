"""Watermark-driven tables: which rows a run extracts, and how the watermark moves with the load.

A run reads the rows with a cursor in [watermark − lookback, start of the run): the start is closed, so rows that
share the watermark's value are read again and matched by primary key (never lost, never doubled). The watermark
advances only inside the load's transaction, to the highest cursor value loaded."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Literal, overload

from pipeline_assets.config import TableConfig
from pipeline_assets.config.durations import parse_duration
from pipeline_assets.core import layout
from pipeline_assets.core.errors import PipelineError, first_line
from pipeline_assets.core.manifest import Manifest
from pipeline_assets.core.schema import Window
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.stage.staging import all_manifests
from pipeline_assets.warehouses import Transaction, Warehouse
from pipeline_assets.warehouses.state import Watermarks

FULL_REFRESH_TAG = "pipeline_assets/full_refresh"
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


def state_key(table: TableConfig) -> str:
    """A watermark belongs to its target table (unique within a warehouse), like the rows it describes."""
    return f"{table.target_schema}.{table.target_name}"


def is_full_refresh(context) -> bool:
    return context.run.tags.get(FULL_REFRESH_TAG) == "true"


def strategy(context) -> str:
    tags = context.run.tags
    if is_full_refresh(context):
        return "full_refresh"
    return "scheduled" if "dagster/schedule_name" in tags else "backfill" if "dagster/backfill" in tags else "manual"


def extraction_window(warehouse: Warehouse, table: TableConfig, target: TargetTable, full_refresh: bool) -> Window:
    """[watermark − lookback, now), or everything up to now on the first run and for a full refresh."""
    with warehouse.state() as state:
        mark = state.get(state_key(table))
        exists = warehouse.table_exists(state.tx, target)
    now = datetime.now(UTC)
    if full_refresh or mark is None or mark.cursor_value is None:
        return Window(EARLIEST, now, includes_nulls(table))
    if not exists and not json.loads(mark.metadata or "{}").get(
        "set_by_hand"
    ):  # a hand-set watermark is an instruction
        raise PipelineError(
            f"{target} is gone but the watermark of {table.asset_name} is still {mark.cursor_value.isoformat()}: "
            f"reset it and clear the ledger (`pipeline-assets watermark reset -t {table.asset_name}`, "
            f"`pipeline-assets ledger clear -t {table.asset_name}`) to load every row again, or run "
            f"`pipeline-assets sync -t {table.asset_name} --full-refresh`"
        )
    return Window(mark.cursor_value - parse_duration(table.lookback, "lookback"), now, includes_nulls(table))


def includes_nulls(table: TableConfig) -> bool:
    """Whether every run of a watermark-driven table reads (and merges by key) its NULL-cursor rows."""
    return table.null_cursor == "include"


@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | date | str) -> datetime: ...
def as_utc(value: datetime | date | str | None) -> datetime | None:
    """A cursor value as an aware UTC timestamp (naive timestamps are UTC; a date is its midnight)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def advance(tx: Transaction, table: TableConfig, target: TargetTable, manifest: Manifest, context) -> datetime | None:
    """Move the watermark to the highest cursor value loaded (never backwards, except by a full refresh)."""
    state = Watermarks(tx)  # created with the ledger when the load began (a CREATE here would commit on Snowflake)
    current = state.get(state_key(table))
    old = current.cursor_value if current else None
    new = as_utc(manifest.cursor_max)
    full = is_full_refresh(context)
    if manifest.limit is not None or (not full and old is not None and (new is None or new < old)):
        new = old  # a sample read with --limit says nothing about the rows it skipped
    extracted_until = manifest.window.end.isoformat() if manifest.window else None
    state.move(
        state_key(table),
        str(target),
        new,
        by=context.run.run_id,
        reason="full refresh" if full else "load",
        strategy=strategy(context),
        load_status="success",
        metadata={"rows_staged": manifest.rows, "extracted_until": extracted_until, "limit": manifest.limit},
    )
    return new


def check_loadable(warehouse: Warehouse, table: TableConfig, manifest: Manifest, full_refresh: bool) -> datetime | None:
    """Refuse a staging run that would move the table backwards; return the watermark before the load."""
    with warehouse.state() as state:
        mark = state.get(state_key(table))
    if full_refresh:
        if manifest.limit is not None or (manifest.window and manifest.window.start != EARLIEST):
            raise PipelineError(
                f"{table.asset_name}: a full refresh needs a full extraction without --limit; "
                "stage and load together with `sync --full-refresh`"
            )
        return mark.cursor_value if mark else None
    if mark is None:
        return None
    until = json.loads(mark.metadata or "{}").get("extracted_until")
    if until and manifest.window and manifest.window.end < datetime.fromisoformat(until):
        raise PipelineError(
            f"{table.asset_name}: staging run {manifest.run_id} read the source until "
            f"{manifest.window.end.isoformat()}, before the rows the target already holds (until {until}); "
            "stage again instead of loading it"
        )
    return mark.cursor_value


def checked_window(warehouse: Warehouse, table: TableConfig, target: TargetTable) -> Window | None:
    """What the checks of a watermark-driven table compare: the rows from the target's earliest cursor value (a
    watermark set by hand may have skipped older ones on purpose) up to and including the watermark."""
    with warehouse.state() as state:
        mark = state.get(state_key(table))
    if mark is None or mark.cursor_value is None:
        return None
    row = warehouse.aggregate(target, [f"min({warehouse.quote(table.cursor_column)})"])
    earliest = as_utc(row[0]) if row and row[0] is not None else None
    return Window(earliest or EARLIEST, mark.cursor_value + timedelta(microseconds=1), includes_nulls(table))


def pending_manifests(
    store: StageStore, warehouse: Warehouse, table: TableConfig, target: TargetTable, table_prefix: str
) -> list[Manifest]:
    """The staging runs whose rows the target does not hold yet and that are not older than what it holds, oldest
    first: what a load-only run of a watermark-driven table loads. After `watermark set --timestamp T` (the seeds'
    "load what is staged from a date"), the runs holding rows from T on: those whose highest cursor value is T or
    later; after `watermark reset`, every staged run."""
    with warehouse.state() as state:
        mark = state.get(state_key(table))
    details = json.loads(mark.metadata or "{}") if mark else {}
    until = details.get("extracted_until")
    set_at = mark.cursor_value if mark and details.get("set_by_hand") else None
    manifests = [
        m
        for m in all_manifests(store, table_prefix, layout.UNPARTITIONED)
        if m.files
        and (not until or (m.window and m.window.end >= datetime.fromisoformat(until)))
        and (set_at is None or (m.cursor_max is not None and as_utc(m.cursor_max) >= set_at))
    ]
    with warehouse.ledger() as ledger:
        return [m for m in manifests if len(ledger.in_target(target, m.files)) < len(m.files)]


@contextmanager
def recording_failure(
    warehouse: Warehouse, table: TableConfig, target: TargetTable, stage: Literal["extract", "load"]
) -> Iterator[None]:
    """For a watermark-driven table, a failed extraction or load is written to its watermark record as ``failed``
    with the error and the time, until that stage next succeeds. Best effort: the failure itself is raised whatever
    happens to the record (the warehouse may be what failed)."""
    if table.partitioning != "incremental":
        yield
        return
    try:
        yield
    except Exception as exc:
        try:
            with warehouse.state() as state:
                state.record_failure(state_key(table), str(target), stage, first_line(exc))
        except PipelineError:
            pass
        raise
