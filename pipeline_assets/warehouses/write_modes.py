"""The write modes beyond a plain append or a window replace: merge (upsert by key), key-aware append, and an
explicit full refresh built aside and swapped in. Each runs inside the load's transaction."""

import uuid
from dataclasses import dataclass, replace

import pyarrow as pa

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import Manifest, StagedFile
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.ledger import SCHEMA
from pipeline_assets.warehouses.transaction import FileOutcome, Transaction


@dataclass(frozen=True)
class WorkTables:
    staging: TargetTable  # the staged rows, before the newest of each key is picked
    listed: TargetTable | None  # every source key, for delete_missing


def work_tables(warehouse, tx: Transaction, manifest: Manifest, keys: list[str]) -> WorkTables:
    """Create the empty work tables a keyed load needs. Done before anything is written or locked: on Snowflake a
    CREATE commits the open transaction."""
    staging = TargetTable(SCHEMA, f"incoming_{uuid.uuid4().hex[:12]}")
    tx.execute(warehouse.create_table_sql(staging, manifest.arrow_schema))
    listed = None
    if manifest.keys_listed and manifest.key_files:
        listed = TargetTable(SCHEMA, f"keys_{uuid.uuid4().hex[:12]}")
        tx.execute(warehouse.create_table_sql(listed, pa.schema([manifest.arrow_schema.field(k) for k in keys])))
    return WorkTables(staging, listed)


def upsert(
    warehouse,
    tx: Transaction,
    target: TargetTable,
    manifest: Manifest,
    files: list[StagedFile],
    store: StageStore,
    progress: Progress | None,
    keys: list[str],
    cursor: str,
    mode: str,
    work: WorkTables,
    on_error: str = "abort",
) -> tuple[list[FileOutcome], int, int]:
    """Copy ``files`` into the staging work table and keep the newest row (by ``cursor``) of each key; then ``merge``
    (delete the target's rows with those keys, insert) or ``append`` (insert only keys the target lacks).
    Returns what each file did, and how many target rows were inserted and deleted."""
    q = warehouse.quote
    staging, listed = work.staging, work.listed
    outcomes = warehouse.copy_files(tx, staging, manifest, files, store, progress, on_error)
    columns = ", ".join(q(f.name) for f in manifest.arrow_schema)
    key_columns = ", ".join(q(k) for k in keys)
    (null_keys,) = tx.execute(
        f"SELECT count(*) FROM {warehouse.qualified(staging)} WHERE " + " OR ".join(f"{q(k)} IS NULL" for k in keys)
    )[0]
    if null_keys:
        raise PipelineError(
            f"{target}: {null_keys} staged rows have a NULL in the primary key ({', '.join(keys)}); "
            "rows can only be matched by a complete key"
        )
    newest = (
        f"SELECT {columns} FROM (SELECT {columns}, row_number() OVER (PARTITION BY {key_columns} ORDER BY "
        f"{q(cursor)} DESC NULLS LAST) AS pa_rank FROM {warehouse.qualified(staging)}) ranked WHERE pa_rank = 1"
    )
    table = warehouse.qualified(target)
    match = " AND ".join(f"incoming.{q(k)} = {table}.{q(k)}" for k in keys)
    deleted = 0
    if mode == "merge":  # a staged row replaces the target's only if it is at least as new
        deleted = tx.execute_count(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {warehouse.qualified(staging)} incoming WHERE {match}"
            f" AND (incoming.{q(cursor)} >= {table}.{q(cursor)} OR {table}.{q(cursor)} IS NULL))"
        )
    inserted = tx.execute_count(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ({newest}) incoming "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match})"
    )
    if manifest.keys_listed:
        deleted += delete_missing(warehouse, tx, target, manifest, store, keys, listed)
    for work in (staging, listed):
        if work is not None:
            warehouse.drop_work_table(tx, work)
    return outcomes, inserted, deleted


def delete_missing(
    warehouse,
    tx: Transaction,
    target: TargetTable,
    manifest: Manifest,
    store: StageStore,
    keys: list[str],
    listed: TargetTable | None,
) -> int:
    """Delete the target's rows whose key the source no longer has (the manifest lists every source key, and
    ``listed`` is the empty work table to copy them into)."""
    q = warehouse.quote
    if listed is None:
        (held,) = tx.execute(f"SELECT count(*) FROM {warehouse.qualified(target)}")[0]
        if held:
            raise PipelineError(
                f"{target}: the source listed no keys, and delete_missing would empty the table; "
                "if the source really is empty, run a full refresh"
            )
        return 0
    keys_only = replace(manifest, arrow_schema=pa.schema([manifest.arrow_schema.field(k) for k in keys]))
    warehouse.copy_files(tx, listed, keys_only, list(manifest.key_files), store, None)
    table = warehouse.qualified(target)
    match = " AND ".join(f"listed.{q(k)} = {table}.{q(k)}" for k in keys)
    return tx.execute_count(
        f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM {warehouse.qualified(listed)} listed WHERE {match})"
    )


def build_aside(
    warehouse,
    tx: Transaction,
    target: TargetTable,
    manifest: Manifest,
    store: StageStore,
    progress: Progress | None,
    on_error: str,
) -> tuple[TargetTable, list[FileOutcome]]:
    """``<table>__pa_new`` built from every file of the manifest and its row count checked; the writes lock first."""
    building = TargetTable(target.schema, f"{target.name}__pa_new")
    tx.execute(f"DROP TABLE IF EXISTS {warehouse.qualified(building)}")
    tx.execute(warehouse.create_table_sql(building, manifest.arrow_schema))
    warehouse.lock_writes(tx, target)
    outcomes = warehouse.copy_files(tx, building, manifest, list(manifest.files), store, progress, on_error)
    expected = sum(o.rows_loaded for o in outcomes)
    (count,) = tx.execute(f"SELECT count(*) FROM {warehouse.qualified(building)}")[0]
    if count != expected:
        raise PipelineError(f"{target}: {count} rows built for the refresh from {expected} staged; rolled back")
    return building, outcomes


def full_refresh(
    warehouse,
    tx: Transaction,
    target: TargetTable,
    existed: bool,
    manifest: Manifest,
    store: StageStore,
    progress: Progress | None,
    on_error: str = "abort",
) -> list[FileOutcome]:
    """Build the whole table aside from every file, then swap it in by renames in the same transaction, so a
    reader sees the old table until the commit and the new one after: never an empty or half table."""
    building, outcomes = build_aside(warehouse, tx, target, manifest, store, progress, on_error)
    if existed:
        old = f"{target.name}__pa_old"
        tx.execute(f"ALTER TABLE {warehouse.qualified(target)} RENAME TO {warehouse.quote(old)}")
        tx.execute(f"ALTER TABLE {warehouse.qualified(building)} RENAME TO {warehouse.quote(target.name)}")
        tx.execute(f"DROP TABLE {warehouse.qualified(TargetTable(target.schema, old))}")
    else:
        tx.execute(f"ALTER TABLE {warehouse.qualified(building)} RENAME TO {warehouse.quote(target.name)}")
    return outcomes
