"""Snowflake as a source: a partition is unloaded by Snowflake itself straight into the S3 stage
(``COPY INTO 's3://…' FROM (SELECT …)``), so no row passes through this process. Queries that need rows
here (the checks' aggregates, the key list for ``delete_missing``) stream Arrow batches through the connector."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pyarrow as pa

from pipeline_assets.config import SnowflakeConnection
from pipeline_assets.connect.snowflake import snowflake_resource, stage_access, unload_encryption
from pipeline_assets.connect.snowflake_sql import unload_sql
from pipeline_assets.core.errors import PipelineError, driver_error, first_line, redact
from pipeline_assets.core.manifest import UnloadedFile
from pipeline_assets.core.schema import Column, TableSchema, Window, conform
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.transience import Phase
from pipeline_assets.sources.base import UnloadingSource

_CATALOG = (
    "SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable FROM information_schema.columns "
    "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
)
_SIMPLE = {
    "FLOAT": pa.float64(),
    "DOUBLE": pa.float64(),
    "REAL": pa.float64(),
    "TEXT": pa.string(),
    "VARCHAR": pa.string(),
    "CHAR": pa.string(),
    "STRING": pa.string(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "TIMESTAMP_NTZ": pa.timestamp("us"),
    "TIMESTAMP_TZ": pa.timestamp("us", "UTC"),
    "TIMESTAMP_LTZ": pa.timestamp("us", "UTC"),
    "BINARY": pa.binary(),
    "VARIANT": pa.json_(pa.string()),
    "OBJECT": pa.json_(pa.string()),
    "ARRAY": pa.json_(pa.string()),
}


def arrow_type(data_type: str, precision: int | None, scale: int | None) -> pa.DataType:
    if data_type in ("NUMBER", "DECIMAL"):
        if not scale and precision is not None and precision <= 18:
            return pa.int64()
        return pa.decimal128(precision or 38, scale or 0)
    return _SIMPLE.get(data_type, pa.string())  # GEOGRAPHY, VECTOR, …: their text form


class SnowflakeSource(UnloadingSource[SnowflakeConnection]):
    """Unloads each partition into the stage with ``COPY INTO 's3://…' … DETAILED_OUTPUT = TRUE``; every file it
    reports becomes a staged file with its row count."""

    placeholder = "%s"

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """A connector session; a failure to log in is a connect-phase error (a wrong account is not retried)."""
        with ExitStack() as stack:
            try:
                conn = stack.enter_context(snowflake_resource(self.config, self._password).get_connection())
            except Exception as exc:
                raise self.error("cannot connect", exc, Phase.CONNECT) from None
            yield conn

    def discover(self, table: str) -> TableSchema:
        schema_name, _, name = table.rpartition(".")
        try:
            with self._session() as conn, conn.cursor() as cur:
                cur.execute(_CATALOG, (schema_name or "PUBLIC", name))
                rows = cur.fetchall()
        except PipelineError:
            raise
        except Exception as exc:
            raise self.error(f"cannot read the catalog for {table}", exc) from None
        if not rows:
            hint = f"; Snowflake keeps unquoted names in upper case: {table.upper()}?" if table != table.upper() else ""
            raise PipelineError(f"source {self.name!r}: no table {table} in {self.config.describe()}{hint}")
        columns = tuple(
            Column(n, f"{t}({p},{s})" if t == "NUMBER" else t, arrow_type(t, p, s), nullable == "YES")
            for n, t, p, s, nullable in rows
        )
        return TableSchema(table, columns)

    def _execute(self, sql: str, params: list, batch_size: int, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        try:
            with self._session() as conn, conn.cursor() as cur:
                cur.execute(sql, tuple(params) or None)
                for chunk in cur.fetch_arrow_batches():
                    for batch in chunk.to_batches(batch_size):
                        yield conform(_named(batch, schema), schema.arrow_schema(), schema.table, schema.guard)
        except PipelineError:
            raise
        except Exception as exc:
            raise self.error(f"cannot read {schema.table}", exc) from None

    def _query_one(self, sql: str, params: list) -> tuple:
        with self._session() as conn, conn.cursor() as cur:
            cur.execute(sql, tuple(params) or None)
            return cur.fetchone()

    def unload(
        self,
        table: str,
        schema: TableSchema,
        *,
        folder: str,
        store: StageStore,
        overwrite: bool,
        cursor: str | None = None,
        window: Window | None = None,
        limit: int | None = None,
    ) -> list[UnloadedFile]:
        """Unload the rows of ``table`` in ``window`` into ``folder`` (an ``s3://`` URI); return each file as
        Snowflake reports it (``DETAILED_OUTPUT``)."""
        query, params = self.select_sql(table, schema, cursor=cursor, window=window, limit=limit)
        access, secrets = stage_access(self.name, self.config, store)
        access = f"{access} {unload_encryption(store)}".strip()
        options = self.config.snowflake.unload
        sql = unload_sql(
            folder,
            query,
            access,
            overwrite=overwrite,
            include_query_id=options.include_query_id,
            max_file_bytes=int(options.max_file_mb * 2**20),
        )
        try:
            with self._session() as conn, conn.cursor() as cur:
                return [UnloadedFile(name, int(size), int(rows)) for name, size, rows in self._unload(cur, sql, params)]
        except PipelineError:
            raise
        except Exception as exc:
            message = redact(first_line(exc), [self._password, *secrets])
            raise driver_error(
                f"source {self.name!r} ({self.config.describe()}): cannot unload {table} into {folder}/: {message}",
                exc,
                Phase.WORK,
            ) from None

    def _unload(self, cur, sql: str, params: list) -> list[tuple]:
        """Run the unload; DETAILED_OUTPUT answers one (file name, size, row count) row per file written."""
        cur.execute(sql, tuple(params) or None)
        return cur.fetchall()


def _named(batch: pa.RecordBatch, schema: TableSchema) -> pa.RecordBatch:
    """Columns by position under the catalog's names (the connector may change their case)."""
    return pa.RecordBatch.from_arrays(batch.columns, names=[c.name for c in schema.columns])
