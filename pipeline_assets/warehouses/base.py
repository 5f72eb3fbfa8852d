"""The Warehouse contract: load a staging run's files into a table in one transaction.

A warehouse module declares what it can do (``Capabilities``) and supplies its transaction, its SQL types and its
bulk copy. ``load`` runs the frame every load follows (lock, ledger, create and evolve the table, the write mode's
writes, the files recorded, commit) around the request's write mode (``write_modes``). State that must commit with
the rows (watermarks, the loaded-files ledger) is written through the transaction before the commit.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import pyarrow as pa

from pipeline_assets.config import ConnectionConfig
from pipeline_assets.core.errors import PipelineError, driver_error, first_line, redact
from pipeline_assets.core.manifest import Manifest, StagedFile
from pipeline_assets.core.schema import Window
from pipeline_assets.core.sql import quote_identifier
from pipeline_assets.core.target import RETIRED_SUFFIX, TargetTable
from pipeline_assets.core.transience import Phase
from pipeline_assets.warehouses.contract import Capabilities, CopyJob, LoadRequest
from pipeline_assets.warehouses.evolution import evolve
from pipeline_assets.warehouses.file_copy import copy_one_by_one, unreadable
from pipeline_assets.warehouses.ledger import Ledger
from pipeline_assets.warehouses.state import Watermarks
from pipeline_assets.warehouses.transaction import FileOutcome, LoadResult, Transaction, Tx
from pipeline_assets.warehouses.write_modes import Frame, Written, write_mode

Books = TypeVar("Books", Ledger, Watermarks)


class Warehouse(ABC, Generic[Tx]):
    """A warehouse whose transactions are ``Tx``; each kind declares its ``capabilities``."""

    capabilities: ClassVar[Capabilities]
    # names resolved without case even when quoted, so the catalog may spell a target otherwise than the config
    caseless_names: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A kind that declares its capabilities brings the hooks they need (its COPY, its lock statement): a missing
        one is found when the class is defined, never in the middle of a load."""
        super().__init_subclass__(**kwargs)
        capabilities = cls.__dict__.get("capabilities")
        if capabilities is None:
            return
        needed = ["copy_from_stage" if capabilities.server_side_copy else "copy_file"]
        needed += ["hold_lock"] if capabilities.lock != "none" else []
        missing = [name for name in needed if getattr(cls, name) is getattr(Warehouse, name)]
        if missing:
            raise TypeError(f"{cls.__name__}: its capabilities need {', '.join(missing)}")

    def __init__(self, name: str, config: ConnectionConfig, password: str | None):
        self.name, self.config, self._password = name, config, password
        self._redacted = [password]  # secrets scrubbed from every error (a COPY may also carry the stage's keys)

    def close(self) -> None:
        """Close what the warehouse keeps open between transactions (nothing, unless it keeps a connection)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """A transaction that commits when the block ends and rolls back if it raises."""

    @abstractmethod
    def column_type(self, field: pa.Field) -> str:
        """This warehouse's SQL type for an Arrow field."""

    @abstractmethod
    def describe(self, tx: Tx, target: TargetTable) -> list[tuple[str, str]]:
        """(column, type) as the catalog spells them."""

    def quote(self, identifier: str) -> str:
        return quote_identifier(identifier)

    def qualified(self, target: TargetTable) -> str:
        return f"{self.quote(target.schema)}.{self.quote(target.name)}"

    def create_table_sql(self, target: TargetTable, schema: pa.Schema) -> str:
        columns = ", ".join(f"{self.quote(f.name)} {self.column_type(f)}" for f in schema)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified(target)} ({columns})"

    def load(self, request: LoadRequest) -> LoadResult:
        """Load the request's files into its target in one transaction, recording them in the ledger.

        The request's write mode says what is written and what a second run does (see ``write_modes``). Schema
        changes are applied first (or refused under ``freeze``). ``on_error`` says what a bad file does: ``abort``
        the load, ``skip_file`` (the rest load; the file is ``skipped`` in the ledger, with its error) or
        ``continue`` (bad rows dropped where the warehouse can; the file is noted with its first error). A failed
        load marks its files ``failed`` in the ledger, with the reason.
        """
        started = time.monotonic()
        if request.on_error == "continue" and not self.capabilities.row_level_errors:
            raise PipelineError(
                f"on_error: continue needs a COPY that drops bad rows, which {self.config.kind} lacks; use skip_file"
            )
        try:
            with self.errors(f"load {request.target}"), self.transaction() as tx:
                written, changes = self._write(tx, request)
        except PipelineError as exc:
            self._record_failure(request.target, request.manifest, str(exc))
            raise
        files, outcomes = request.manifest.files, written.outcomes
        loaded = sum(o.rows_loaded for o in outcomes) if written.inserted is None else written.inserted
        seconds = time.monotonic() - started
        skipped = len(files) - written.files
        return LoadResult(loaded, written.deleted, written.files, skipped, seconds, tuple(changes), tuple(outcomes))

    def _write(self, tx: Tx, request: LoadRequest) -> tuple[Written, list[str]]:
        """The frame around the write mode: lock, bookkeeping, the table created and evolved (unless the mode
        rebuilds it), the mode's DDL, the writes' lock, the mode's writes, every file's outcome recorded."""
        target, manifest = request.target, request.manifest
        self.lock(tx, target)
        ledger = Ledger(tx)
        ledger.ensure()
        Watermarks(tx).ensure()
        existed = self.table_exists(tx, target)
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(target.schema)}")
        mode = write_mode(Frame(self, tx, request, ledger, existed))
        changes: list[str] = []
        if not mode.rebuilds:
            tx.execute(self.create_table_sql(target, manifest.arrow_schema))
            if existed:
                changes = evolve(self, tx, target, manifest.arrow_schema, request.schema_policy, list(request.keys))
        mode.prepare()
        self.lock_writes(tx, target)
        written = mode.write()
        ledger.record_outcomes(target, manifest, written.outcomes, request.run_id)
        ledger.mark_loaded(target, manifest, manifest.key_files, request.run_id)
        if request.before_commit:
            request.before_commit(tx)
        return written, changes

    def _record_failure(self, target: TargetTable, manifest: Manifest, error: str) -> None:
        """Best effort, after the rollback: mark the files ``failed`` with the reason (the warehouse may be gone)."""
        try:
            with self.ledger() as ledger:
                ledger.mark_failed(target, manifest.files, error)
        except PipelineError:
            pass

    def record_staged(self, target: TargetTable, manifest: Manifest) -> None:
        """Enter a staging run's files in the ledger as ``staged`` (their own small transaction)."""
        with self.ledger() as ledger:
            ledger.record_staged(target, manifest)

    def state(self) -> AbstractContextManager[Watermarks]:
        """The watermarks in a transaction of their own (loads move them inside the load's transaction)."""
        return self._bookkeeping(Watermarks, "use the watermarks")

    def ledger(self) -> AbstractContextManager[Ledger]:
        """The ledger in a transaction of its own, for commands and sensors (loads use the load's transaction)."""
        return self._bookkeeping(Ledger, "use the ledger")

    @contextmanager
    def _bookkeeping(self, kind: Callable[[Transaction], Books], action: str) -> Iterator[Books]:
        with self.errors(action), self.transaction() as tx:
            books = kind(tx)
            books.ensure()
            yield books

    def lock(self, tx: Tx, target: TargetTable) -> None:
        """At a transaction's start: serialize loads into ``target`` until it ends, where the lock can come first."""
        if self.capabilities.lock == "before_ddl":
            self.hold_lock(tx, target)

    def lock_writes(self, tx: Tx, target: TargetTable) -> None:
        """After a transaction's last DDL, before it reads what the target holds or writes anything: where the lock
        cannot come first (``after_ddl``: Snowflake, whose DDL commits), it is taken here."""
        if self.capabilities.lock == "after_ddl":
            self.hold_lock(tx, target)

    def hold_lock(self, tx: Tx, target: TargetTable) -> None:
        """The statements that lock ``target`` until the transaction ends (unless ``capabilities.lock`` is none)."""
        raise NotImplementedError(f"{type(self).__name__} locks {self.capabilities.lock} but has no lock statement")

    def catalog_match(self, placeholder: str) -> str:
        """The ``information_schema`` condition that finds a table by its schema and name (two parameters), compared
        as the warehouse compares names: exactly (every name is quoted), or without case (``caseless_names``)."""
        p = placeholder
        if self.caseless_names:
            return f"lower(table_schema) = lower({p}) AND lower(table_name) = lower({p})"
        return f"table_schema = {p} AND table_name = {p}"

    def table_exists(self, tx: Tx, target: TargetTable) -> bool:
        sql = f"SELECT count(*) FROM information_schema.tables WHERE {self.catalog_match(tx.placeholder)}"
        return tx.execute(sql, [target.schema, target.name])[0][0] > 0

    def copy_files(self, tx: Tx, job: CopyJob) -> list[FileOutcome]:
        """Copy the job's files, each checked against the rows the manifest lists; return what each did.

        Sent through this process one at a time (``copy_file``, each undone alone under ``skip_file`` where there
        are savepoints), or, where the COPY reads the stage itself, by one COPY over the exact file list
        (``copy_from_stage``); such a COPY without row-level errors loads all or nothing, so ``skip_file`` leaves out
        the files that do not read through first."""
        if not self.capabilities.server_side_copy:
            savepoint = tx.savepoint if self.capabilities.savepoints else None
            return copy_one_by_one(job, partial(self.copy_file, tx, job), savepoint, self._redacted)
        rejected: list[FileOutcome] = []
        if job.on_error == "skip_file" and not self.capabilities.row_level_errors:
            rejected = unreadable(job, self._redacted)
            left_out = {o.file for o in rejected}
            job = replace(job, files=tuple(f for f in job.files if f not in left_out))
        return (self.copy_from_stage(tx, job) if job.files else []) + rejected

    def copy_file(self, tx: Tx, job: CopyJob, staged: StagedFile, path: Path) -> int:
        """Bulk-copy one staged file (a local ``path``) into the job's table; return the rows (no server-side copy)."""
        raise NotImplementedError(f"{type(self).__name__} copies through the client but has no copy_file")

    def copy_from_stage(self, tx: Tx, job: CopyJob) -> list[FileOutcome]:
        """One COPY the warehouse runs over exactly the job's files in the stage (``server_side_copy``)."""
        raise NotImplementedError(f"{type(self).__name__} copies from the stage but has no copy_from_stage")

    def swap_in(self, tx: Tx, built: TargetTable, target: TargetTable, existed: bool) -> None:
        """Put the table built aside in ``target``'s place by renames in the load's transaction, the old one dropped:
        a reader sees the old table until the commit and the new one after, never an empty or half table."""
        if existed:
            old = target.name + RETIRED_SUFFIX
            tx.execute(f"ALTER TABLE {self.qualified(target)} RENAME TO {self.quote(old)}")
            tx.execute(f"ALTER TABLE {self.qualified(built)} RENAME TO {self.quote(target.name)}")
            tx.execute(f"DROP TABLE {self.qualified(TargetTable(target.schema, old))}")
        else:
            tx.execute(f"ALTER TABLE {self.qualified(built)} RENAME TO {self.quote(target.name)}")

    def drop_work_table(self, tx: Tx, table: TargetTable) -> None:
        """Drop a keyed load's work table."""
        tx.execute(f"DROP TABLE {self.qualified(table)}")

    def window_where(
        self, target: TargetTable, window: Window | None, cursor: str | None, kind: pa.DataType | None, placeholder: str
    ) -> tuple[str, list]:
        """`` WHERE`` clause and its parameters for ``target``'s rows in ``window`` by ``cursor`` (empty without),
        the NULL-cursor rows too when the window takes them."""
        if window is None or cursor is None:
            return "", []
        bounds = list(window.bounds_for(kind, f"{target}.{cursor}"))
        within = f"{self.quote(cursor)} >= {placeholder} AND {self.quote(cursor)} < {placeholder}"
        if window.nulls:  # the first partition of a table that includes its NULL-cursor rows
            return f" WHERE ({within} OR {self.quote(cursor)} IS NULL)", bounds
        return f" WHERE {within}", bounds

    def count_distinct(self, columns: list[str]) -> str:
        """The aggregate counting the distinct values of ``columns`` (quoted), one column or a row of several."""
        return f"count(DISTINCT ({', '.join(columns)}))" if len(columns) > 1 else f"count(DISTINCT {columns[0]})"

    def aggregate(
        self,
        target: TargetTable,
        expressions: list[str],
        *,
        cursor: str | None = None,
        window: Window | None = None,
        cursor_type: pa.DataType | None = None,
    ) -> tuple | None:
        """One row of aggregate ``expressions`` over ``target``'s rows in ``window``; None if the table is missing."""
        with self.errors(f"query {target}"), self.transaction() as tx:
            if not self.table_exists(tx, target):
                return None
            where, params = self.window_where(target, window, cursor, cursor_type, tx.placeholder)
            return tx.execute(f"SELECT {', '.join(expressions)} FROM {self.qualified(target)}{where}", params)[0]

    def column_types(self, target: TargetTable) -> dict[str, str]:
        """``target``'s columns and their types, in the spelling ``column_type`` uses (empty if it is missing)."""
        with self.errors(f"describe {target}"), self.transaction() as tx:
            return {name: self.canonical_type(kind) for name, kind in self.describe(tx, target)}

    def alter_type_sql(self, target: TargetTable, field: pa.Field) -> str:
        return (
            f"ALTER TABLE {self.qualified(target)} ALTER COLUMN {self.quote(field.name)} TYPE {self.column_type(field)}"
        )

    def canonical_type(self, spelling: str) -> str:
        """One spelling per type, so the catalog's and ``column_type``'s can be compared."""
        return spelling.lower()

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Run the block as this warehouse's ``action``: a driver's error becomes one line naming the warehouse and
        the action (a ``TransientError`` where trying again may help), every error scrubbed of its secrets."""
        try:
            yield
        except PipelineError as exc:
            if str(exc).startswith("stage:"):  # the stage's own error names its culprit already
                raise
            raise type(exc)(f"warehouse {self.name!r}: {redact(str(exc), self._redacted)}") from None
        except Exception as exc:  # drivers raise their own hierarchies; all become one line
            message = redact(first_line(exc), self._redacted)
            raise driver_error(
                f"warehouse {self.name!r} ({self.config.describe()}): cannot {action}: {message}", exc, Phase.WORK
            ) from None

    def connect_failed(self, exc: BaseException) -> PipelineError:
        """A failure to open a connection, as one line (``errors`` adds the warehouse's name): transient only where
        the server answered "not now", never for a refused connection, a wrong host or a failed login."""
        message = redact(first_line(exc), self._redacted)
        return driver_error(f"cannot connect to {self.config.describe()}: {message}", exc, Phase.CONNECT)
