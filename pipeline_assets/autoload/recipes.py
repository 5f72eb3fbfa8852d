"""The reprocessing recipes of a files table (the seed's comparison table, made safe): each drops and clears in
one warehouse transaction, under the table's load lock, and refuses while a run of the table is in progress.

| recipe | drops the table | clears the ledger | next runs load |
|---|---|---|---|
| fresh start | yes | no (processed files stay processed) | only files new since |
| full reprocess | yes | yes, every file | every file in the source |
| backfill missing data | no | a chosen subset | that subset (see below) |

A backfill of files whose rows are still in an append table is refused unless forced (it would duplicate them).
"""

import fnmatch
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from pipeline_assets.config import TableConfig
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.target import TargetTable
from pipeline_assets.sensors import IN_PROGRESS
from pipeline_assets.warehouses import Warehouse
from pipeline_assets.warehouses.source_ledger import SourceLedger, SourceRecord

RECIPES = ("fresh_start", "full_reprocess", "backfill")


@dataclass(frozen=True)
class RecipeResult:
    rows_dropped: int  # rows the dropped table held (0 when nothing was dropped)
    records_changed: int

    def describe(self, recipe: str, table: str) -> str:
        dropped = f"dropped {table} ({self.rows_dropped:,} rows), " if recipe != "backfill" else ""
        verb = {"fresh_start": "kept as processed", "full_reprocess": "cleared", "backfill": "cleared"}[recipe]
        return f"{recipe.replace('_', ' ')}: {dropped}{self.records_changed} ledger records {verb}"


@dataclass(frozen=True)
class Subset:
    """Which source files a backfill clears: all conditions hold."""

    pattern: str | None = None  # glob on the file's URI
    status: str | None = None
    partition: str | None = None
    since: datetime | None = None  # files last modified at or after this time

    def matches(self, record: SourceRecord) -> bool:
        uri = record.uri
        return (
            (
                self.pattern is None
                or fnmatch.fnmatchcase(uri, self.pattern)
                or fnmatch.fnmatchcase(uri.split("/", 3)[-1], self.pattern)
            )
            and (self.status is None or record.status == self.status)
            and (self.partition is None or record.partition == self.partition)
            and (self.since is None or (record.modified is not None and record.modified >= self.since))
        )


def utc(text: str | None) -> datetime | None:
    """An ISO time from run config, naive read as UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise PipelineError(f"since: {text!r} is not an ISO time like 2026-11-23T08:00:00") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def ensure_idle(instance: dg.DagsterInstance, job_name: str, table: str, current_run: str | None = None) -> None:
    """Refuse while a run of the table's job is queued or going: it would load into what is being dropped or cleared."""
    for run in instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=IN_PROGRESS)):
        if run.run_id != current_run:
            raise PipelineError(
                f"{table}: run {run.run_id} ({run.status.value}) is loading it; wait for it or cancel it first"
            )


def fresh_start(warehouse: Warehouse, target: TargetTable) -> RecipeResult:
    """Drop the table; every processed file stays processed, so only new files are loaded (into a new table)."""
    with warehouse.errors(f"drop {target}"), warehouse.transaction() as tx:
        warehouse.lock(tx, target)
        rows = _drop(warehouse, tx, target)
        books = SourceLedger(tx)
        books.ensure()
        return RecipeResult(rows, books.supersede_all(target))


def full_reprocess(warehouse: Warehouse, target: TargetTable) -> RecipeResult:
    """Drop the table and clear every source file's record, so every file is loaded again (into a new table)."""
    with warehouse.errors(f"drop {target}"), warehouse.transaction() as tx:
        warehouse.lock(tx, target)
        rows = _drop(warehouse, tx, target)
        books = SourceLedger(tx)
        books.ensure()
        books.supersede_all(target)  # the staged files' records: their rows went with the table
        return RecipeResult(rows, books.clear(target))


def backfill(
    warehouse: Warehouse, table: TableConfig, target: TargetTable, subset: Subset, force: bool
) -> RecipeResult:
    """Clear the chosen files' records without dropping the table. Appending, files whose rows the table holds would
    be loaded twice: refused unless ``force`` (merging, a reload replaces rows by key)."""
    with warehouse.errors(f"clear the ledger of {target}"), warehouse.transaction() as tx:
        warehouse.lock(tx, target)
        books = SourceLedger(tx)
        books.ensure()
        chosen = [r for r in books.records(target) if r.status != "cleared" and subset.matches(r)]
        holding = [r for r in chosen if r.status == "loaded"]
        refused = holding and table.write_mode == "append" and not force and warehouse.table_exists(tx, target)
        cleared = 0 if refused else books.clear(target, [(r.uri, r.etag) for r in chosen])
    if refused:
        raise PipelineError(
            f"refusing: {target} holds the rows of {len(holding)} of these {len(chosen)} files and {table.asset_name} "
            "appends, so loading them again would duplicate them; use `files reprocess` (drop and reload everything), "
            "narrow the choice (e.g. --status failed), or pass --force to append them again anyway"
        )
    return RecipeResult(0, cleared)


def _drop(warehouse: Warehouse, tx, target: TargetTable) -> int:
    if not warehouse.table_exists(tx, target):
        return 0
    (rows,) = tx.execute(f"SELECT count(*) FROM {warehouse.qualified(target)}")[0]
    tx.execute(f"DROP TABLE {warehouse.qualified(target)}")
    return int(rows)
