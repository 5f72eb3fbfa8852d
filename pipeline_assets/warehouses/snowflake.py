"""Snowflake as a warehouse: ``COPY INTO`` reads the staged files from S3 itself, by their exact names.

Snowflake commits the open transaction on every DDL statement, so a load creates every table it needs before
its first write (a per-target lock, held to the commit), and drops work tables after the transaction ends. Its own
load history would skip a file loaded before (a partition loaded again), so each COPY says ``FORCE = TRUE``: our
ledger decides what is loaded.
"""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline_assets.config import SnowflakeConnection
from pipeline_assets.connect.snowflake import snowflake_resource, stage_access
from pipeline_assets.connect.snowflake_sql import copy_into_sql
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.base import Warehouse
from pipeline_assets.warehouses.contract import Capabilities, CopyJob, OnError
from pipeline_assets.warehouses.ledger import SCHEMA
from pipeline_assets.warehouses.transaction import FileOutcome, Transaction
from pipeline_assets.warehouses.types import sql_type

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection as Session

MAX_FILES_PER_COPY = 1000  # Snowflake's limit on a FILES list
_DDL = ("CREATE", "ALTER", "DROP")
_ON_ERROR_STATUS = {"LOADED": "loaded", "PARTIALLY_LOADED": "partially_loaded", "LOAD_FAILED": "skipped"}


class SnowflakeTransaction(Transaction):
    """Statements run in autocommit until the first write, which opens the transaction the load commits."""

    placeholder = "%s"

    def __init__(self, conn: "Session"):
        self.conn, self.cursor = conn, conn.cursor()
        self.open = False
        self.deferred: list[str] = []

    def execute(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        self._before(sql)
        self.cursor.execute(sql, tuple(params) or None)
        return self.cursor.fetchall() if self.cursor.description else []

    def execute_count(self, sql: str, params: list | tuple = ()) -> int:
        self._before(sql)
        self.cursor.execute(sql, tuple(params) or None)
        return self.cursor.rowcount or 0

    def _before(self, sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb in _DDL and self.open:
            raise PipelineError(f"internal: {verb} inside a Snowflake load would commit it half done: {sql[:80]}")
        if verb not in _DDL and verb not in ("SELECT", "SHOW", "DESCRIBE") and not self.open:
            self.cursor.execute("BEGIN")
            self.open = True

    def commit(self) -> None:
        if self.open:
            self.cursor.execute("COMMIT")
            self.open = False

    def rollback(self) -> None:
        if self.open:
            self.open = False
            self.cursor.execute("ROLLBACK")

    def after_commit(self, sql: str) -> None:
        """Run ``sql`` once the transaction has ended, committed or not (dropping work tables)."""
        self.deferred.append(sql)

    def run_deferred(self) -> None:
        """Run what ``after_commit`` put off."""
        for sql in self.deferred:
            try:
                self.cursor.execute(sql)
            except Exception:  # best effort: a leftover work table is harmless, the load's outcome stands
                pass


class SnowflakeWarehouse(Warehouse[SnowflakeTransaction]):
    """Loads with ``COPY INTO … FILES = (…) MATCH_BY_COLUMN_NAME`` through dagster-snowflake's ``SnowflakeResource``."""

    config: SnowflakeConnection
    capabilities = Capabilities(
        savepoints=False,
        server_side_copy=True,
        transactional_ddl=False,
        row_level_errors=True,
        lock="after_ddl",
    )

    @contextmanager
    def transaction(self) -> Iterator[SnowflakeTransaction]:
        with ExitStack() as stack:
            try:
                conn = stack.enter_context(snowflake_resource(self.config, self._password).get_connection())
            except Exception as exc:
                raise self.connect_failed(exc) from None
            tx = SnowflakeTransaction(conn)
            try:
                yield tx
                tx.commit()
            except BaseException:
                try:
                    tx.rollback()
                except Exception:  # the session is gone: Snowflake rolls back an abandoned transaction
                    pass
                raise
            finally:
                tx.run_deferred()

    def column_type(self, field: pa.Field) -> str:
        return sql_type(field.type, "snowflake")

    def describe(self, tx: SnowflakeTransaction, target: TargetTable) -> list[tuple[str, str]]:
        sql = (
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
        )
        rows = tx.execute(sql, [target.schema, target.name])
        return [(name, f"NUMBER({p},{s})" if kind in ("NUMBER", "DECIMAL") else kind) for name, kind, p, s in rows]

    def canonical_type(self, spelling: str) -> str:
        upper = spelling.upper()
        return {"VARCHAR": "TEXT", "STRING": "TEXT", "DOUBLE": "FLOAT", "TIMESTAMPNTZ": "TIMESTAMP_NTZ"}.get(
            upper, upper
        )

    def alter_type_sql(self, target: TargetTable, field: pa.Field) -> str:
        column = self.quote(field.name)
        return f"ALTER TABLE {self.qualified(target)} ALTER COLUMN {column} SET DATA TYPE {self.column_type(field)}"

    def hold_lock(self, tx: SnowflakeTransaction, target: TargetTable) -> None:
        # no advisory locks: a DELETE holds a table's lock until the commit, so each target has a table to lock,
        # and the DELETE, the load's first write, opens its transaction
        lock = self.qualified(TargetTable(SCHEMA, f"lock_{target.schema}_{target.name}"))
        tx.execute(f"CREATE TABLE IF NOT EXISTS {lock} (held_by VARCHAR)")
        tx.execute(f"DELETE FROM {lock}")

    def drop_work_table(self, tx: SnowflakeTransaction, table: TargetTable) -> None:
        """Dropped once the transaction ends: a DROP would commit it."""
        tx.after_commit(f"DROP TABLE IF EXISTS {self.qualified(table)}")

    def copy_from_stage(self, tx: SnowflakeTransaction, job: CopyJob) -> list[FileOutcome]:
        """One ``COPY INTO`` per folder (and per 1,000 files) naming exactly the job's files; each file's result row
        becomes its outcome, checked against the rows the manifest staged."""
        folders: dict[str, list[StagedFile]] = defaultdict(list)
        for staged in job.files:
            folders[staged.uri.rsplit("/", 1)[0]].append(staged)
        outcomes: list[FileOutcome] = []
        for folder, chunk in (
            (f, group[i : i + MAX_FILES_PER_COPY])
            for f, group in folders.items()
            for i in range(0, len(group), MAX_FILES_PER_COPY)
        ):
            sql = copy_into_sql(
                self.qualified(job.table),
                folder,
                [f.uri.rsplit("/", 1)[1] for f in chunk],
                job.manifest.format,
                job.on_error,
                self._access(job.store),
            )
            rows = tx.execute(sql)
            outcomes += _outcomes(chunk, rows, job.on_error)
            if job.progress:
                job.progress.advance(sum(o.rows_loaded for o in outcomes[-len(chunk) :]))
        return outcomes

    def _access(self, store: StageStore) -> str:
        clause, secrets = stage_access(self.name, self.config, store)
        self._redacted += secrets
        return clause

    def swap_in(self, tx: SnowflakeTransaction, built: TargetTable, target: TargetTable, existed: bool) -> None:
        """Commit the table built aside, then ``SWAP WITH`` the live table: one atomic step readers never see half
        done. The ledger is written after the swap; a run that dies in between is made whole by running again."""
        tx.commit()
        if existed:
            tx.execute(f"ALTER TABLE {self.qualified(built)} SWAP WITH {self.qualified(target)}")
            tx.after_commit(f"DROP TABLE IF EXISTS {self.qualified(built)}")
        else:
            tx.execute(f"ALTER TABLE {self.qualified(built)} RENAME TO {self.qualified(target)}")


def _outcomes(files: list[StagedFile], rows: list[tuple], on_error: OnError) -> list[FileOutcome]:
    """Match COPY's result rows (file, status, rows_parsed, rows_loaded, …, first_error, …) to the files asked for."""
    by_name = {row[0].rsplit("/", 1)[-1]: row for row in rows}
    outcomes = []
    for staged in files:
        row = by_name.get(staged.uri.rsplit("/", 1)[-1])
        if row is None:
            raise PipelineError(f"{staged.uri}: COPY INTO returned no result for it (is it still in the stage?)")
        _, status, _parsed, loaded, *_rest = row
        first_error = row[6] if len(row) > 6 else None
        kind = _ON_ERROR_STATUS.get(status)
        if kind is None:
            raise PipelineError(f"{staged.uri}: COPY INTO reported {status}: {first_error or 'no error given'}")
        if kind == "loaded" and loaded != staged.rows:
            raise PipelineError(f"{staged.uri}: COPY INTO loaded {loaded} rows but the manifest lists {staged.rows}")
        if kind != "loaded" and on_error == "abort":
            raise PipelineError(f"{staged.uri}: {first_error}")
        outcomes.append(FileOutcome(staged, kind, int(loaded or 0), first_error))
    return outcomes
