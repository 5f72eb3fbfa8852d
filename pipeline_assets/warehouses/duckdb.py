"""DuckDB as a warehouse (the embedded default): staged batches streamed in through Arrow."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline_assets.config import DuckDBConnection
from pipeline_assets.core.errors import PipelineError, TransientError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.reader import open_staged
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.base import Warehouse
from pipeline_assets.warehouses.contract import Capabilities, CopyJob
from pipeline_assets.warehouses.transaction import Transaction
from pipeline_assets.warehouses.types import sql_type

LOCK_WAIT_SECONDS = 120


class DuckDBTransaction(Transaction):
    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn = conn

    def execute(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        result = self.conn.execute(sql, list(params))
        return result.fetchall() if result.description else []

    def execute_count(self, sql: str, params: list | tuple = ()) -> int:
        # DuckDB answers an INSERT, UPDATE or DELETE with one row holding the count of rows it changed
        rows = self.execute(sql, params)
        return rows[0][0] if rows else 0


class DuckDBWarehouse(Warehouse[DuckDBTransaction]):
    """A DuckDB file; one writer at a time, so a load waits (up to two minutes) for another to finish."""

    config: DuckDBConnection
    # resolved without case, quoted or not, while the catalog keeps the case a name was created in: a schema made
    # as "Sales" is listed so when a table is created in "sales"
    caseless_names = True
    capabilities = Capabilities(
        savepoints=False,
        server_side_copy=False,
        transactional_ddl=True,
        row_level_errors=False,
        lock="none",  # a file has one writer
        widening=(
            ("TINYINT", "SMALLINT", "INTEGER", "BIGINT"),
            ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"),
            ("FLOAT", "DOUBLE"),
        ),
    )

    def connect(self) -> duckdb.DuckDBPyConnection:
        Path(self.config.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return duckdb.connect(self.config.path)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise PipelineError(f"cannot open {self.config.path}: {str(exc).splitlines()[0]}") from None
                if time.monotonic() > deadline:
                    raise TransientError(
                        f"{self.config.path} stayed locked by another writer for {LOCK_WAIT_SECONDS} s"
                    ) from None
                time.sleep(0.5)

    @contextmanager
    def transaction(self) -> Iterator[DuckDBTransaction]:
        conn = self.connect()
        try:
            conn.execute("BEGIN TRANSACTION")
            yield DuckDBTransaction(conn)
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the transaction never began, or is already gone
            raise
        finally:
            conn.close()

    def column_type(self, field: pa.Field) -> str:
        return sql_type(field.type, "duckdb")

    def copy_file(self, tx: DuckDBTransaction, job: CopyJob, staged: StagedFile, path: Path) -> int:
        """Parquet through DuckDB's own reader; CSV as the typed Arrow stream (CSV carries no types)."""
        insert = f"INSERT INTO {self.qualified(job.table)} BY NAME SELECT * FROM"
        if job.manifest.format == "parquet":
            return _count(tx.conn.execute(f"{insert} read_parquet(?)", [str(path)]))
        rows = open_staged(path, job.manifest.format, job.manifest.arrow_schema, staged.uri)
        tx.conn.register("pipeline_assets_incoming", rows)
        try:
            return _count(tx.conn.execute(f"{insert} pipeline_assets_incoming"))
        finally:
            tx.conn.unregister("pipeline_assets_incoming")

    def describe(self, tx: DuckDBTransaction, target: TargetTable) -> list[tuple[str, str]]:
        sql = f"SELECT column_name, data_type FROM information_schema.columns WHERE {self.catalog_match('?')}"
        return tx.execute(sql + " ORDER BY ordinal_position", [target.schema, target.name])

    def canonical_type(self, spelling: str) -> str:
        upper = spelling.upper()
        return {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "REAL": "FLOAT"}.get(upper, upper)


def _count(result: duckdb.DuckDBPyConnection) -> int:
    """The count of rows an INSERT answers with (its one row)."""
    row = result.fetchone()
    return row[0] if row else 0
