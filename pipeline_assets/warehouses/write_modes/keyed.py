"""Loads matched by key (a merge, or an append of only the keys the target lacks): the staged rows go to a work
table first, the newest row of each key (by the cursor) is picked there, and only then is the target written."""

import uuid
from dataclasses import dataclass, replace

import pyarrow as pa

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.contract import CopyJob
from pipeline_assets.warehouses.ledger import SCHEMA
from pipeline_assets.warehouses.transaction import Tx
from pipeline_assets.warehouses.write_modes.frame import Frame, Written


@dataclass(frozen=True)
class WorkTables:
    staging: TargetTable  # the staged rows, before the newest of each key is picked
    listed: TargetTable | None  # every source key, for delete_missing


def create_work_tables(frame: Frame[Tx]) -> WorkTables:
    """Create the empty work tables a keyed load needs (a ``prepare``: before anything is written or locked)."""
    warehouse, manifest = frame.warehouse, frame.request.manifest
    if not frame.request.keys:
        raise PipelineError(f"{frame.request.target}: a {frame.request.mode} by key needs the key columns")
    staging = TargetTable(SCHEMA, f"incoming_{uuid.uuid4().hex[:12]}")
    frame.tx.execute(warehouse.create_table_sql(staging, manifest.arrow_schema))
    listed = None
    if manifest.keys_listed and manifest.key_files:
        listed = TargetTable(SCHEMA, f"keys_{uuid.uuid4().hex[:12]}")
        key_schema = pa.schema([manifest.arrow_schema.field(k) for k in frame.request.keys])
        frame.tx.execute(warehouse.create_table_sql(listed, key_schema))
    return WorkTables(staging, listed)


def upsert(frame: Frame[Tx], files: list[StagedFile], work: WorkTables, *, merge: bool) -> Written:
    """Copy ``files`` into the staging work table and keep the newest row (by the cursor) of each key; then
    ``merge`` (delete the target's rows with those keys that are not newer, insert) or not (insert only keys the
    target lacks). Then, where the manifest lists every source key, delete the target's keys the source lost."""
    warehouse, tx, request = frame.warehouse, frame.tx, frame.request
    target, manifest, keys, cursor = request.target, request.manifest, list(request.keys), request.cursor
    if cursor is None:
        raise PipelineError(f"{target}: matching rows by key needs a cursor column to pick the newest of each")
    q = warehouse.quote
    staging = warehouse.qualified(work.staging)
    outcomes = frame.copy(work.staging, files)
    columns = ", ".join(q(f.name) for f in manifest.arrow_schema)
    key_columns = ", ".join(q(k) for k in keys)
    null_keys = frame.count(work.staging, " WHERE " + " OR ".join(f"{q(k)} IS NULL" for k in keys))
    if null_keys:
        raise PipelineError(
            f"{target}: {null_keys} staged rows have a NULL in the primary key ({', '.join(keys)}); "
            "rows can only be matched by a complete key"
        )
    newest = (
        f"SELECT {columns} FROM (SELECT {columns}, row_number() OVER (PARTITION BY {key_columns} ORDER BY "
        f"{q(cursor)} DESC NULLS LAST) AS pa_rank FROM {staging}) ranked WHERE pa_rank = 1"
    )
    table = warehouse.qualified(target)
    match = " AND ".join(f"incoming.{q(k)} = {table}.{q(k)}" for k in keys)
    deleted = 0
    if merge:  # a staged row replaces the target's only if it is at least as new
        deleted = tx.execute_count(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {staging} incoming WHERE {match}"
            f" AND (incoming.{q(cursor)} >= {table}.{q(cursor)} OR {table}.{q(cursor)} IS NULL))"
        )
    inserted = tx.execute_count(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ({newest}) incoming "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match})"
    )
    if manifest.keys_listed:
        deleted += _delete_missing(frame, work.listed)
    for made in (work.staging, work.listed):
        if made is not None:
            warehouse.drop_work_table(tx, made)
    return Written(outcomes, len(files), deleted, inserted)


def _delete_missing(frame: Frame[Tx], listed: TargetTable | None) -> int:
    """Delete the target's rows whose key the source no longer has (the manifest lists every source key, and
    ``listed`` is the empty work table to copy them into)."""
    warehouse, request = frame.warehouse, frame.request
    target, manifest, keys = request.target, request.manifest, request.keys
    if listed is None:
        if frame.count(target):
            raise PipelineError(
                f"{target}: the source listed no keys, and delete_missing would empty the table; "
                "if the source really is empty, run a full refresh"
            )
        return 0
    keys_only = replace(manifest, arrow_schema=pa.schema([manifest.arrow_schema.field(k) for k in keys]))
    warehouse.copy_files(frame.tx, CopyJob(listed, keys_only, manifest.key_files, request.store))
    table = warehouse.qualified(target)
    match = " AND ".join(f"listed.{warehouse.quote(k)} = {table}.{warehouse.quote(k)}" for k in keys)
    return frame.tx.execute_count(
        f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM {warehouse.qualified(listed)} listed WHERE {match})"
    )
