"""PostgreSQL as a warehouse: binary COPY through ADBC, streamed file by file, in one transaction."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from pipeline_assets.config import ConnectionConfig, PostgresConnection
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.reader import open_staged
from pipeline_assets.core.reuse import IdleConnection
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.base import Warehouse
from pipeline_assets.warehouses.contract import Capabilities, CopyJob
from pipeline_assets.warehouses.transaction import Transaction
from pipeline_assets.warehouses.types import sql_type

# Arrow types the binary COPY writer cannot send as they are, and what they travel as instead.
_INGEST_AS = {
    pa.int8(): pa.int16(),
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
}


class PostgresTransaction(Transaction):
    placeholder = "$?"  # replaced by $1, $2… in ``execute``

    def __init__(self, conn: adbc.Connection):
        self.conn = conn
        self.cursor = conn.cursor()

    def execute(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        for number in range(1, len(params) + 1):
            sql = sql.replace("$?", f"${number}", 1)
        self.cursor.execute(sql, params or None)
        return self.cursor.fetchall() if self.cursor.description else []

    def execute_count(self, sql: str, params: list | tuple = ()) -> int:
        # ADBC reports -1 affected rows for statements with parameters; the server counts instead
        return self.execute(f"WITH changed AS ({sql} RETURNING 1) SELECT count(*) FROM changed", params)[0][0]


class PostgresWarehouse(Warehouse[PostgresTransaction]):
    """Creates tables from the staged schema and loads them with ``COPY … FROM STDIN (FORMAT binary)``."""

    config: PostgresConnection
    capabilities = Capabilities(
        savepoints=True,
        server_side_copy=False,
        transactional_ddl=True,
        row_level_errors=False,
        lock="before_ddl",
        widening=(("smallint", "integer", "bigint"), ("real", "double precision")),
    )

    def __init__(self, name: str, config: ConnectionConfig, password: str | None):
        super().__init__(name, config, password)
        self._connections = IdleConnection(self.connect)

    def close(self) -> None:
        self._connections.close()

    def connect(self) -> adbc.Connection:
        try:
            return adbc.connect(self.config.postgres_url(self._password), autocommit=False)
        except adbc.Error as exc:
            raise self.connect_failed(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self._connections.use() as conn:
            tx = PostgresTransaction(conn)
            try:
                yield tx
                conn.commit()
            except BaseException:
                _rollback(conn)
                raise
            finally:
                tx.cursor.close()

    def column_type(self, field: pa.Field) -> str:
        return sql_type(field.type, "postgres")

    def hold_lock(self, tx: PostgresTransaction, target: TargetTable) -> None:
        # two merges into one table under READ COMMITTED would each miss the other's rows and duplicate keys
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($?))", [f"pipeline_assets:{target}"])

    def copy_file(self, tx: PostgresTransaction, job: CopyJob, staged: StagedFile, path: Path) -> int:
        reader = open_staged(path, job.manifest.format, job.manifest.arrow_schema, staged.uri)
        schema = pa.schema(pa.field(f.name, _INGEST_AS.get(f.type, f.type), f.nullable) for f in reader.schema)
        if schema != reader.schema:
            reader = pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in reader))
        return tx.cursor.adbc_ingest(job.table.name, reader, mode="append", db_schema_name=job.table.schema)

    def describe(self, tx: PostgresTransaction, target: TargetTable) -> list[tuple[str, str]]:
        sql = (
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($?)"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        )
        return tx.execute(sql, [self.qualified(target)])

    def canonical_type(self, spelling: str) -> str:
        return _ALIASES.get(spelling.lower(), spelling.lower())


_ALIASES = {
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
}


def _rollback(conn: adbc.Connection) -> None:
    """Roll back, unless the connection is gone (then the server has rolled back already)."""
    try:
        conn.rollback()
    except adbc.Error:
        pass
