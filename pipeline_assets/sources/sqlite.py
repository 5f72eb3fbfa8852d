"""SQLite as a source (the embedded demo's shop database)."""

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime

import pyarrow as pa

from pipeline_assets.config import SQLiteConnection
from pipeline_assets.core.schema import Column, TableSchema
from pipeline_assets.core.transience import Phase
from pipeline_assets.sources.base import Source, rows_to_batch

_AFFINITY = [
    ("INT", pa.int64()),
    ("CHAR", pa.string()),
    ("CLOB", pa.string()),
    ("TEXT", pa.string()),
    ("BLOB", pa.binary()),
    ("REAL", pa.float64()),
    ("FLOA", pa.float64()),
    ("DOUB", pa.float64()),
    ("BOOL", pa.bool_()),
    ("TIMESTAMP", pa.timestamp("us")),
    ("DATETIME", pa.timestamp("us")),
    ("DATE", pa.date32()),
    ("JSON", pa.json_(pa.string())),
]


def arrow_type(declared: str) -> pa.DataType:
    """The Arrow type for a declared SQLite column type; DECIMAL(p,s) is exact, the rest follow SQLite's affinity
    rules."""
    upper = declared.upper()
    if upper.startswith(("DECIMAL", "NUMERIC")) and "(" in upper:
        precision, _, scale = upper[upper.index("(") + 1 : upper.index(")")].partition(",")
        return pa.decimal128(int(precision), int(scale or 0))
    for marker, kind in _AFFINITY:
        if marker in upper:
            return kind
    return pa.string()


class SQLiteSource(Source[SQLiteConnection]):
    """Reads a SQLite file read-only; dates and timestamps are ISO-8601 text, as Python's sqlite3 writes them."""

    def connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(f"file:{self.config.path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise self.error("cannot open", exc, Phase.CONNECT) from None

    def discover(self, table: str) -> TableSchema:
        conn = self.connect()
        try:
            rows = conn.execute(
                'SELECT name, type, "notnull", pk FROM pragma_table_info(?)', (table.split(".")[-1],)
            ).fetchall()
        finally:
            conn.close()
        if not rows:
            raise self.error("cannot read table", LookupError(f"table {table!r} does not exist"))
        columns = tuple(
            Column(name, declared, arrow_type(declared), not notnull) for name, declared, notnull, _ in rows
        )
        return TableSchema(table, columns, tuple(r[0] for r in sorted(rows, key=lambda r: r[3]) if r[3]))

    def select_expression(self, column: Column) -> str:
        # DECIMAL has NUMERIC affinity, so SQLite may hold it as REAL; its text form is the exact value written
        if pa.types.is_decimal(column.arrow_type):
            return f"CAST({self.quote(column.name)} AS TEXT)"
        return self.quote(column.name)

    def _query_one(self, sql: str, params: list) -> tuple:
        conn = self.connect()
        try:
            return conn.execute(sql, [_sqlite_value(p) for p in params]).fetchone()
        finally:
            conn.close()

    def _execute(self, sql: str, params: list, batch_size: int, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        arrow_schema = schema.arrow_schema()
        fetch_types = [_fetch_type(field.type) for field in arrow_schema]
        conn = self.connect()
        try:
            cur = conn.execute(sql, [_sqlite_value(p) for p in params])
            while rows := cur.fetchmany(batch_size):
                yield rows_to_batch(rows, arrow_schema, fetch_types, schema.table, schema.guard)
        except sqlite3.Error as exc:
            raise self.error("query failed", exc) from None
        finally:
            conn.close()


def _fetch_type(kind: pa.DataType) -> pa.DataType:
    if (
        pa.types.is_timestamp(kind)
        or pa.types.is_date(kind)
        or pa.types.is_decimal(kind)
        or isinstance(kind, pa.BaseExtensionType)
    ):
        return pa.string()
    if pa.types.is_boolean(kind):
        return pa.int8()
    return kind


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value
