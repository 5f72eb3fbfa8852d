"""The Warehouse interface: load a staging run's files into a table in one transaction.

The template here fixes the order every warehouse follows (create schema and table from the staged Arrow
schema, clear what is being replaced, copy each file, verify the count, commit); a warehouse module
supplies its SQL types, its connection and its bulk copy. State that must commit together with the
rows (watermarks, the loaded-files ledger) is written through ``Transaction.execute`` before the commit.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pyarrow as pa

from pipeline_assets.config import ConnectionConfig
from pipeline_assets.core.errors import PipelineError, driver_error, first_line, redact
from pipeline_assets.core.manifest import Manifest, StagedFile
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.schema import Window
from pipeline_assets.core.sql import quote_identifier
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.evolution import evolve
from pipeline_assets.warehouses.file_copy import copy_one_by_one
from pipeline_assets.warehouses.ledger import IN_TARGET, Ledger
from pipeline_assets.warehouses.state import Watermarks
from pipeline_assets.warehouses.transaction import FileOutcome, LoadResult, Transaction
from pipeline_assets.warehouses.write_modes import full_refresh, upsert, work_tables


class Warehouse(ABC):
    quote_char = '"'
    widening_ladders: tuple[tuple[str, ...], ...] = ()  # canonical type names, each wider than the one before
    savepoints = True  # False: a bad file is found by reading it through before the copy (the only undo there is)
    row_level_errors = False  # True: the COPY itself can drop bad rows and load the rest (``on_error: continue``)

    def __init__(self, name: str, config: ConnectionConfig, password: str | None):
        self.name, self.config, self._password = name, config, password
        self._redacted = [password]  # secrets scrubbed from every error (a COPY may also carry the stage's keys)

    def close(self) -> None:
        """Close what the warehouse keeps open between transactions (nothing, unless it keeps a connection)."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction that commits when the block ends and rolls back if it raises."""

    @abstractmethod
    def column_type(self, field: pa.Field) -> str:
        """This warehouse's SQL type for an Arrow field."""

    def quote(self, identifier: str) -> str:
        return quote_identifier(identifier, self.quote_char)

    def qualified(self, target: TargetTable) -> str:
        return f"{self.quote(target.schema)}.{self.quote(target.name)}"

    def create_table_sql(self, target: TargetTable, schema: pa.Schema) -> str:
        columns = ", ".join(f"{self.quote(f.name)} {self.column_type(f)}" for f in schema)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified(target)} ({columns})"

    def load(
        self,
        target: TargetTable,
        manifest: Manifest,
        store: StageStore,
        *,
        mode: str,
        cursor: str | None,
        run_id: str,
        keys: tuple[str, ...] = (),
        schema_policy: str = "evolve",
        on_error: str = "abort",
        progress: Progress | None = None,
        before_commit: Callable[[Transaction], None] | None = None,
    ) -> LoadResult:
        """Load ``manifest``'s files into ``target`` in one transaction, recording them in the ledger.

        ``replace`` deletes the manifest's window (the whole table when it has none) first, so loading a partition
        again leaves the table as it was. ``append`` inserts and skips every file the ledger says the target
        already holds (and, with ``keys``, every key it holds), so a retried load never duplicates rows. ``merge``
        upserts by ``keys``, the newest row (by ``cursor``) winning. ``full_refresh`` builds the table anew aside
        and swaps it in. Schema changes are applied first (or refused under ``freeze``). ``on_error`` says what a
        bad file does: ``abort`` the load, ``skip_file`` (the rest load; the file is ``skipped`` in the ledger, with its
        error) or ``continue`` (bad rows dropped where the warehouse can; the file is noted with its first error).
        """
        started = time.monotonic()
        if on_error == "continue" and not self.row_level_errors:
            raise PipelineError(
                f"on_error: continue needs a COPY that drops bad rows, which {self.config.kind} lacks; use skip_file"
            )
        try:
            return self._load(
                target,
                manifest,
                store,
                mode,
                cursor,
                run_id,
                keys,
                schema_policy,
                on_error,
                progress,
                before_commit,
                started,
            )
        except PipelineError as exc:
            self._record_failure(target, manifest, str(exc))
            raise

    def _load(
        self,
        target,
        manifest,
        store,
        mode,
        cursor,
        run_id,
        keys,
        schema_policy,
        on_error,
        progress,
        before_commit,
        started,
    ) -> LoadResult:
        with self._errors(f"load {target}"), self.transaction() as tx:
            self.lock(tx, target)
            ledger = Ledger(tx)
            ledger.ensure()
            Watermarks(tx).ensure()
            existed = self.table_exists(tx, target)
            tx.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(target.schema)}")
            files, deleted, changes, inserted = list(manifest.files), 0, [], None
            if mode == "full_refresh":
                outcomes = self.full_refresh(tx, target, existed, manifest, store, progress, on_error)
                ledger.supersede(target, manifest.partition)
            else:
                tx.execute(self.create_table_sql(target, manifest.arrow_schema))
                if existed:
                    changes = evolve(self, tx, target, manifest.arrow_schema, schema_policy, list(keys))
                keyed = bool(keys) and mode in ("merge", "append")
                work = work_tables(self, tx, manifest, list(keys)) if keyed else None
                self.lock_writes(tx, target)
                where, params = self._window_filter(target, manifest, cursor, tx.placeholder)
                if mode == "replace":
                    deleted = tx.execute_count(f"DELETE FROM {self.qualified(target)}{where}", params)
                    ledger.supersede(target, manifest.partition)
                else:
                    if not existed and ledger.records(target, statuses=IN_TARGET):
                        raise PipelineError(
                            f"{target} does not exist but the ledger lists files loaded into it; run `pipeline-assets "
                            f"ledger clear` for the table to load them again"
                        )
                    done = ledger.in_target(target, manifest.files)
                    files = [f for f in manifest.files if (f.uri, f.etag) not in done]
                if keyed:
                    outcomes, inserted, deleted = upsert(
                        self, tx, target, manifest, files, store, progress, list(keys), cursor, mode, work, on_error
                    )
                else:
                    outcomes = self.copy_files(tx, target, manifest, files, store, progress, on_error)
                if mode == "replace":
                    expected = sum(o.rows_loaded for o in outcomes)
                    (count,) = tx.execute(f"SELECT count(*) FROM {self.qualified(target)}{where}", params)[0]
                    if count != expected:
                        raise PipelineError(
                            f"{target}: {count} rows in the window after loading {expected}; rolled back"
                        )
            ledger.record_outcomes(target, manifest, outcomes, run_id)
            ledger.mark_loaded(target, manifest, manifest.key_files, run_id)
            if before_commit:
                before_commit(tx)
        skipped = len(manifest.files) - len(files)
        loaded = sum(o.rows_loaded for o in outcomes) if inserted is None else inserted
        return LoadResult(
            loaded, deleted, len(files), skipped, time.monotonic() - started, tuple(changes), tuple(outcomes)
        )

    def drop_work_table(self, tx: Transaction, table: TargetTable) -> None:
        """Drop a merge's work table (Snowflake defers this past the commit: a DROP there commits)."""
        tx.execute(f"DROP TABLE {self.qualified(table)}")

    def full_refresh(
        self,
        tx: Transaction,
        target: TargetTable,
        existed: bool,
        manifest: Manifest,
        store: StageStore,
        progress: Progress | None,
        on_error: str,
    ) -> list[FileOutcome]:
        """Build the table anew aside and swap it in (see ``write_modes.full_refresh``)."""
        return full_refresh(self, tx, target, existed, manifest, store, progress, on_error)

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
    def _bookkeeping(self, kind, action: str) -> Iterator:
        with self._errors(action), self.transaction() as tx:
            books = kind(tx)
            books.ensure()
            yield books

    def lock(self, tx: Transaction, target: TargetTable) -> None:
        """Serialize loads into ``target`` until the transaction ends (a DuckDB file has one writer anyway)."""

    def lock_writes(self, tx: Transaction, target: TargetTable) -> None:
        """Called after a load's last DDL, before it reads what the target holds or writes anything: where ``lock``
        cannot come first (Snowflake, whose DDL commits), the lock is taken here."""

    def table_exists(self, tx: Transaction, target: TargetTable) -> bool:
        sql = f"SELECT count(*) FROM information_schema.tables WHERE table_schema = {tx.placeholder} AND table_name = {tx.placeholder}"
        return tx.execute(sql, [target.schema, target.name])[0][0] > 0

    def copy_files(
        self,
        tx: Transaction,
        target: TargetTable,
        manifest: Manifest,
        files: list[StagedFile],
        store: StageStore,
        progress: Progress | None,
        on_error: str = "abort",
    ) -> list[FileOutcome]:
        """Copy ``files`` one at a time through a local copy of each (see ``file_copy``). A warehouse whose COPY reads
        the stage itself (Snowflake, Redshift) overrides this with one statement over the exact file list."""
        undo = tx.savepoint if self.savepoints else None
        return copy_one_by_one(tx, target, manifest, files, store, progress, on_error, undo, self._redacted)

    def _window_filter(
        self, target: TargetTable, manifest: Manifest, cursor: str | None, placeholder: str
    ) -> tuple[str, list]:
        kind = manifest.arrow_schema.field(cursor).type if manifest.window and cursor else None
        return self._filter(target, manifest.window, cursor, kind, placeholder)

    def _filter(
        self, target: TargetTable, window: Window | None, cursor: str | None, kind: pa.DataType | None, placeholder: str
    ) -> tuple[str, list]:
        if window is None or cursor is None:
            return "", []
        bounds = list(window.bounds_for(kind, f"{target}.{cursor}"))
        return f" WHERE {self.quote(cursor)} >= {placeholder} AND {self.quote(cursor)} < {placeholder}", bounds

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
        with self._errors(f"query {target}"), self.transaction() as tx:
            if not self.table_exists(tx, target):
                return None
            where, params = self._filter(target, window, cursor, cursor_type, tx.placeholder)
            return tx.execute(f"SELECT {', '.join(expressions)} FROM {self.qualified(target)}{where}", params)[0]

    def column_types(self, target: TargetTable) -> dict[str, str]:
        """``target``'s columns and their types, in the spelling ``column_type`` uses (empty if it is missing)."""
        with self._errors(f"describe {target}"), self.transaction() as tx:
            return {name: self.canonical_type(kind) for name, kind in self.describe(tx, target)}

    @abstractmethod
    def describe(self, tx: Transaction, target: TargetTable) -> list[tuple[str, str]]:
        """(column, type) as the catalog spells them."""

    def alter_type_sql(self, target: TargetTable, field: pa.Field) -> str:
        return (
            f"ALTER TABLE {self.qualified(target)} ALTER COLUMN {self.quote(field.name)} TYPE {self.column_type(field)}"
        )

    def canonical_type(self, spelling: str) -> str:
        """One spelling per type, so the catalog's and ``column_type``'s can be compared."""
        return spelling.lower()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into one line naming this warehouse, with the password scrubbed."""
        try:
            yield
        except PipelineError as exc:
            if str(exc).startswith("stage:"):  # the stage's own error names its culprit already
                raise
            raise type(exc)(f"warehouse {self.name!r}: {redact(str(exc), self._redacted)}") from None
        except Exception as exc:  # drivers raise their own hierarchies; all become one line
            message = redact(first_line(exc), self._redacted)
            raise driver_error(
                f"warehouse {self.name!r} ({self.config.describe()}): cannot {action}: {message}", exc
            ) from None
