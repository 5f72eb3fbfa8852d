"""PostgreSQL (and Aurora PostgreSQL) as a source, read through ADBC's binary COPY stream."""

from collections.abc import Iterator

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from pipeline_assets.config import PostgresConnection
from pipeline_assets.core.reuse import IdleConnection
from pipeline_assets.core.schema import Column, TableSchema, conform
from pipeline_assets.core.transience import Phase
from pipeline_assets.sources.base import Source

_CATALOG = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, a.atttypmod, NOT a.attnotnull,
       COALESCE(a.attnum = ANY (i.indkey), false)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_NATIVE = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", "UTC"),
    "time": pa.time64("us"),
    "bytea": pa.binary(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "citext": pa.string(),
}
_UNCONSTRAINED_NUMERIC = pa.decimal128(38, 9)
_MONEY = pa.decimal128(19, 2)  # a 64-bit count of cents (lc_monetary with 2 fractional digits, as in C and en_US)


def arrow_type(typname: str, typmod: int) -> tuple[pa.DataType, bool]:
    """The Arrow type for a PostgreSQL type, and whether it must be selected as text first."""
    if typname in _NATIVE:
        return _NATIVE[typname], False
    if typname == "money":
        return _MONEY, True
    if typname == "numeric":
        if typmod < 0:
            return _UNCONSTRAINED_NUMERIC, True
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0x7FF
        if scale > 0x3FF:  # PostgreSQL 15's negative scale (11 bits, two's complement): whole numbers, wider
            precision, scale = precision + 0x800 - scale, 0
        return (pa.decimal128(precision, scale) if precision <= 38 else pa.string()), True
    if typname in ("json", "jsonb"):
        return pa.json_(pa.string()), True
    return pa.string(), True  # uuid, interval, arrays, enums, ...: their text form


class PostgresSource(Source[PostgresConnection]):
    """Reads with ``COPY (SELECT …) TO STDOUT (FORMAT binary)`` under ADBC, a batch at a time.

    ADBC materializes a whole result when a statement has bound parameters, so the window's bounds
    are bound into session settings with ``set_config($1, …)`` and the query reads them back with
    ``current_setting``: values stay parameters and the result still streams.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._as_text: set[str] = set()
        self._connections = IdleConnection(self.connect)

    def close(self) -> None:
        self._connections.close()

    def connect(self) -> adbc.Connection:
        try:
            return adbc.connect(self.config.postgres_url(self._password), autocommit=True)
        except adbc.Error as exc:
            raise self.error("cannot connect", exc, Phase.CONNECT) from None

    def discover(self, table: str) -> TableSchema:
        schema, _, name = table.rpartition(".")
        with self._connections.use() as conn, conn.cursor() as cur:
            try:
                cur.execute(_CATALOG, (schema or None, name))
                rows = cur.fetchall()
            except adbc.Error as exc:
                raise self.error("cannot read the catalog", exc) from None
        if not rows:
            raise self.error("cannot read table", LookupError(f"table {table!r} does not exist"))
        columns = []
        for attname, formatted, typname, typmod, nullable, _ in rows:
            kind, as_text = arrow_type(typname, typmod)
            if as_text:
                self._as_text.add(attname)
            columns.append(Column(attname, formatted, kind, nullable))
        return TableSchema(table, tuple(columns), tuple(r[0] for r in rows if r[5]))

    def select_expression(self, column: Column) -> str:
        if column.source_type == "money":  # money's text carries the currency sign and grouping of lc_monetary
            return f"{self.quote(column.name)}::numeric::text"
        return f"{self.quote(column.name)}::text" if column.name in self._as_text else self.quote(column.name)

    def parameter(self, index: int, column: Column) -> str:
        return f"CAST(current_setting('pipeline_assets.p{index}') AS {column.source_type})"

    def _bind(self, cur, params: list) -> None:
        if params:
            settings = ", ".join(f"set_config('pipeline_assets.p{i}', ${i + 1}, false)" for i in range(len(params)))
            cur.execute(f"SELECT {settings}", [value.isoformat() for value in params])

    def _query_one(self, sql: str, params: list) -> tuple:
        with self._connections.use() as conn, conn.cursor() as cur:
            self._bind(cur, params)
            cur.execute(sql)
            return cur.fetchone()

    def _execute(self, sql: str, params: list, batch_size: int, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        arrow_schema = schema.arrow_schema()
        with self._connections.use() as conn, conn.cursor() as cur:
            try:
                self._bind(cur, params)
                cur.execute(sql)
                reader = cur.fetch_record_batch()
            except adbc.Error as exc:
                raise self.error("query failed", exc) from None
            for batch in reader:
                yield conform(batch, arrow_schema, schema.table, schema.guard)
