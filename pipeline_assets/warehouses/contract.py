"""What a caller and a warehouse agree on: what the warehouse can do (``Capabilities``), what one load asks for
(``LoadRequest``) and what one copy of staged files is (``CopyJob``)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pipeline_assets.core.manifest import Manifest, StagedFile
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.transaction import Transaction

WriteModeName = Literal["append", "replace", "merge", "full_refresh"]
OnError = Literal["abort", "skip_file", "continue"]
SchemaPolicy = Literal["evolve", "freeze"]
# When a load takes the lock that serializes loads into one target: ``before_ddl`` as the transaction's first
# statement, held through its DDL; ``after_ddl`` after the load's last DDL (where DDL commits, a lock taken before it
# would be let go), by its first write; ``none``: the warehouse admits one writer at a time anyway.
LockTiming = Literal["before_ddl", "after_ddl", "none"]


@dataclass(frozen=True)
class Capabilities:
    """What a warehouse can do, declared once by each kind; the load and the write modes decide from it."""

    savepoints: bool  # one file's COPY can be undone alone; without, skip_file reads a file through before copying it
    server_side_copy: bool  # the COPY reads the stage itself, by URI (else the files are sent through this process)
    transactional_ddl: bool  # CREATE, ALTER and DROP join the transaction (False: each commits it, as on Snowflake)
    row_level_errors: bool  # the COPY can drop bad rows (or files) and load the rest: ``on_error: continue``
    lock: LockTiming  # when a load locks its target (see ``LockTiming``)
    widening: tuple[tuple[str, ...], ...] = ()  # canonical type names, each one ALTER … TYPE widens into the next


@dataclass(frozen=True)
class LoadRequest:
    """One load of ``manifest``'s files into ``target`` (see ``Warehouse.load``).

    ``mode`` picks the write mode; ``cursor`` places rows in the manifest's window and picks the newest row of a key;
    ``keys`` (a merge, or an append that adds only keys the target lacks) match rows; ``schema_policy`` says whether
    schema changes are applied; ``on_error`` what a bad file does; ``before_commit`` writes what must commit with the
    rows (a watermark) through the load's transaction."""

    target: TargetTable
    manifest: Manifest
    store: StageStore
    mode: WriteModeName
    cursor: str | None
    run_id: str
    keys: tuple[str, ...] = ()
    schema_policy: SchemaPolicy = "evolve"
    on_error: OnError = "abort"
    progress: Progress | None = None
    before_commit: Callable[[Transaction], None] | None = None

    def copy(self, table: TargetTable, files: list[StagedFile]) -> "CopyJob":
        """``files`` of this load's manifest, to be copied into ``table`` (the target or a work table)."""
        return CopyJob(table, self.manifest, tuple(files), self.store, self.progress, self.on_error)


@dataclass(frozen=True)
class CopyJob:
    """Staged files to copy into one table; ``manifest`` gives their format and Arrow schema."""

    table: TargetTable
    manifest: Manifest
    files: tuple[StagedFile, ...]
    store: StageStore
    progress: Progress | None = None
    on_error: OnError = "abort"
