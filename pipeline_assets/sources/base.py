"""The Source interface: discover a table's schema, then stream its rows as Arrow record batches."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Generic, TypeVar

import pyarrow as pa

from pipeline_assets.config.connection_base import Connection
from pipeline_assets.core.errors import PipelineError, driver_error, first_line, redact
from pipeline_assets.core.manifest import UnloadedFile
from pipeline_assets.core.representable import Guard, salvage
from pipeline_assets.core.schema import Column, TableSchema, Window, conform
from pipeline_assets.core.sql import quote_identifier
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.transience import Phase

ConfigT = TypeVar("ConfigT", bound=Connection)


class Source(ABC, Generic[ConfigT]):
    """A database that rows are read from.

    Subclasses implement catalog discovery and a streaming cursor; the SQL shape (quoted identifiers,
    a half-open window on the cursor column, bound values, an optional LIMIT) is built here once.
    A source that can write files straight into the stage (Snowflake's unload) is an ``UnloadingSource``.
    """

    quote_char = '"'
    placeholder = "?"

    def __init__(self, name: str, config: ConfigT, password: str | None):
        self.name = name
        self.config = config
        self._password = password

    def close(self) -> None:
        """Close what the source keeps open between queries (nothing, unless a source keeps a connection)."""

    @abstractmethod
    def discover(self, table: str) -> TableSchema:
        """The columns of ``table`` ([schema.]name) from the source catalog; PipelineError if missing."""

    @abstractmethod
    def _execute(self, sql: str, params: list, batch_size: int, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        """Run ``sql`` with bound ``params`` through a server-side cursor, yielding batches that
        ``conform`` to ``schema``."""

    def select_expression(self, column: Column) -> str:
        """How ``column`` is selected; a subclass casts types its driver cannot return faithfully."""
        return self.quote(column.name)

    def parameter(self, index: int, column: Column) -> str:
        """The SQL that stands for the ``index``-th bound value, compared with ``column``."""
        return self.placeholder

    def read(
        self,
        table: str,
        schema: TableSchema,
        *,
        cursor: str | None = None,
        window: Window | None = None,
        batch_size: int = 50_000,
        limit: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the rows of ``table`` whose cursor lies in ``window`` (all rows when no window)."""
        sql, params = self.select_sql(table, schema, cursor=cursor, window=window, limit=limit)
        return self._execute(sql, params, batch_size, schema)

    def select_sql(
        self,
        table: str,
        schema: TableSchema,
        *,
        cursor: str | None = None,
        window: Window | None = None,
        limit: int | None = None,
    ) -> tuple[str, list]:
        """The query (and its bound values) for the rows of ``table`` in ``window``."""
        columns = ", ".join(f"{self.select_expression(c)} AS {self.quote(c.name)}" for c in schema.columns)
        where, params = self._where(table, schema, cursor, window)
        sql = f"SELECT {columns} FROM {self.qualified(table)}{where}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    def aggregate(
        self,
        table: str,
        schema: TableSchema,
        expressions: list[str],
        *,
        cursor: str | None = None,
        window: Window | None = None,
        null_cursor: bool = False,
    ) -> tuple:
        """One row of aggregate ``expressions`` (already quoted SQL) over the rows in ``window``, or over the rows
        whose ``cursor`` is NULL when ``null_cursor``."""
        where, params = self._where(table, schema, cursor, window, null_cursor)
        try:
            return self._query_one(f"SELECT {', '.join(expressions)} FROM {self.qualified(table)}{where}", params)
        except PipelineError:
            raise
        except Exception as exc:  # each driver's own error hierarchy
            raise self.error("aggregate query failed", exc) from None

    @abstractmethod
    def _query_one(self, sql: str, params: list) -> tuple:
        """Run a query that returns one small row."""

    def _where(
        self, table: str, schema: TableSchema, cursor: str | None, window: Window | None, null_cursor: bool = False
    ) -> tuple[str, list]:
        """The ``WHERE`` clause (and bound values) for the rows in ``window`` (with the NULL-cursor rows when the
        window takes them), or only the rows whose ``cursor`` is NULL when ``null_cursor``."""
        if cursor is not None and null_cursor:  # schema.column names an unknown column, with the table's columns
            return f" WHERE {self.quote(schema.column(cursor).name)} IS NULL", []
        if window is None or cursor is None:
            return "", []
        column = schema.column(cursor)
        params = list(window.bounds_for(column.arrow_type, f"{table}.{cursor} ({column.source_type})"))
        low, high = self.parameter(0, column), self.parameter(1, column)
        within = f"{self.quote(cursor)} >= {low} AND {self.quote(cursor)} < {high}"
        if window.nulls:
            return f" WHERE ({within} OR {self.quote(cursor)} IS NULL)", params
        return f" WHERE {within}", params

    def quote(self, identifier: str) -> str:
        return quote_identifier(identifier, self.quote_char)

    def qualified(self, table: str) -> str:
        return ".".join(self.quote(part) for part in table.split("."))

    def error(self, action: str, exc: BaseException, phase: Phase = Phase.WORK) -> PipelineError:
        """A one-line error naming this source, with the password scrubbed from the driver's text; ``phase`` is
        ``CONNECT`` where the source was opening its connection (a refused connection is then a wrong address)."""
        message = redact(first_line(exc), [self._password])
        return driver_error(f"source {self.name!r} ({self.config.describe()}): {action}: {message}", exc, phase)


def rows_to_batch(
    rows: list[tuple], schema: pa.Schema, fetch_types: list[pa.DataType], table: str, guard: Guard | None = None
) -> pa.RecordBatch:
    """Columns of Python values (as a DB-API driver returns them) into a batch that conforms to ``schema``; values
    that will not convert go by ``guard``'s policy when there is one."""
    arrays = []
    for field, values, kind in zip(schema, zip(*rows, strict=True), fetch_types, strict=True):
        try:
            arrays.append(pa.array(values, kind))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            if guard is None:
                raise PipelineError(f"{table}.{field.name}: value does not fit {kind}: {first_line(exc)}") from None
            arrays.append(salvage(values, kind, guard, field.name))
    return conform(pa.RecordBatch.from_arrays(arrays, names=schema.names), schema, table, guard)


class UnloadingSource(Source[ConfigT]):
    """A source that writes a window's rows as files straight into the stage (Snowflake's ``COPY INTO`` a location);
    the staged asset then records those files instead of writing batches."""

    @abstractmethod
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
        """Unload the rows of ``table`` in ``window`` into ``folder`` (an ``s3://`` URI); return each file written."""
