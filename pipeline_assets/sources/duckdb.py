"""DuckDB as a source (a local analytical file, or the demo)."""

from collections.abc import Iterator

import duckdb
import pyarrow as pa

from pipeline_assets.config import DuckDBConnection
from pipeline_assets.core.schema import Column, TableSchema, conform
from pipeline_assets.core.transience import Phase
from pipeline_assets.sources.base import Source


class DuckDBSource(Source[DuckDBConnection]):
    """Reads a DuckDB file read-only; DuckDB hands out Arrow batches natively, so types map one to one."""

    def connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(self.config.path, read_only=True)
        except duckdb.Error as exc:
            raise self.error("cannot open", exc, Phase.CONNECT) from None

    def discover(self, table: str) -> TableSchema:
        with self.connect() as conn:
            try:
                empty = conn.execute(f"SELECT * FROM {self.qualified(table)} LIMIT 0").to_arrow_table()
                types = {row[0]: row[1] for row in conn.execute(f"DESCRIBE {self.qualified(table)}").fetchall()}
            except duckdb.CatalogException as exc:
                raise self.error("cannot read table", exc) from None
        fields = empty.schema if empty is not None else []  # a query always has a result: None is the stub's caution
        columns = tuple(Column(f.name, types[f.name], f.type, f.nullable) for f in fields)
        return TableSchema(table, columns)

    def _query_one(self, sql: str, params: list) -> tuple:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchone() or ()

    def _execute(self, sql: str, params: list, batch_size: int, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        arrow_schema = schema.arrow_schema()
        with self.connect() as conn:
            try:
                reader = conn.execute(sql, params).to_arrow_reader(batch_size)
            except duckdb.Error as exc:
                raise self.error("query failed", exc) from None
            for batch in reader or ():
                yield conform(batch, arrow_schema, schema.table, schema.guard)
