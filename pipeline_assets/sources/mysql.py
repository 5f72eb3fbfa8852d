"""MySQL and MariaDB as a source, read through PyMySQL's unbuffered (server-side) cursor."""

from collections.abc import Iterator

import pyarrow as pa
import pymysql
import pymysql.cursors

from pipeline_assets.config import MySQLConnection
from pipeline_assets.core.schema import Column, TableSchema
from pipeline_assets.core.transience import Phase
from pipeline_assets.sources.base import Source, rows_to_batch

_COLUMNS = """
SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE = 'YES', c.NUMERIC_PRECISION, c.NUMERIC_SCALE,
       c.COLUMN_KEY = 'PRI',
       EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k
               WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
                 AND k.CHECK_CLAUSE = CONCAT('json_valid(`', c.COLUMN_NAME, '`)'))
FROM information_schema.COLUMNS c
WHERE c.TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND c.TABLE_NAME = %s
ORDER BY c.ORDINAL_POSITION
"""

_INTEGERS = {
    "tinyint": (pa.int8(), pa.uint8()),
    "smallint": (pa.int16(), pa.uint16()),
    "mediumint": (pa.int32(), pa.uint32()),
    "int": (pa.int32(), pa.uint32()),
    "integer": (pa.int32(), pa.uint32()),
    "bigint": (pa.int64(), pa.uint64()),
}
_GEOMETRY = (
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
)
_NATIVE = {
    "float": pa.float32(),
    "double": pa.float64(),
    "real": pa.float64(),
    "date": pa.date32(),
    "year": pa.int16(),
    "datetime": pa.timestamp("us"),
    "timestamp": pa.timestamp("us", "UTC"),  # the session runs in UTC
    "json": pa.json_(pa.string()),
    **dict.fromkeys(("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"), pa.string()),
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"), pa.binary()),
    # MySQL's own geometry value, exact: the SRID (4 bytes, little-endian) then the standard WKB
    **dict.fromkeys(_GEOMETRY, pa.binary()),
}


def arrow_type(
    data_type: str, column_type: str, precision: int | None, scale: int | None, is_json: bool
) -> pa.DataType | None:
    """The Arrow type for a MySQL/MariaDB column; None means it is selected as text (time…)."""
    if is_json:
        return pa.json_(pa.string())
    if column_type in ("tinyint(1)", "bit(1)"):
        return pa.bool_()  # BOOLEAN is stored as tinyint(1); values other than 0/1 are refused, not squashed
    if data_type == "bit":  # selected as its unsigned number: BIT(64) needs all 64 bits
        return pa.uint64() if column_type == "bit(64)" else pa.int64()
    if data_type in _INTEGERS:
        return _INTEGERS[data_type]["unsigned" in column_type]
    if data_type == "decimal" and precision is not None:
        return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    return _NATIVE.get(data_type)


class MySQLSource(Source[MySQLConnection]):
    """Streams rows with PyMySQL's ``SSCursor`` (the server sends rows as they are fetched) in UTC."""

    quote_char = "`"
    placeholder = "%s"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._as_text: set[str] = set()

    def connect(self, cursorclass=pymysql.cursors.Cursor) -> pymysql.Connection:
        c = self.config
        try:
            return pymysql.connect(
                host=c.host,
                port=c.resolved_port,
                user=c.user,
                password=self._password or "",
                database=c.database,
                connect_timeout=c.connect_timeout,
                charset="utf8mb4",
                cursorclass=cursorclass,
                init_command="SET time_zone = '+00:00'",
            )
        except pymysql.MySQLError as exc:
            raise self.error("cannot connect", exc, Phase.CONNECT) from None

    def discover(self, table: str) -> TableSchema:
        schema, _, name = table.rpartition(".")
        with self.connect() as conn, conn.cursor() as cur:
            try:
                cur.execute(_COLUMNS, (schema or None, name))
                rows = cur.fetchall()
            except pymysql.MySQLError as exc:
                raise self.error("cannot read the catalog", exc) from None
        if not rows:
            raise self.error("cannot read table", LookupError(f"table {table!r} does not exist"))
        columns = []
        for name_, data_type, column_type, nullable, precision, scale, _, is_json in rows:
            kind = arrow_type(data_type, column_type, precision, scale, bool(is_json))
            if kind is None:
                self._as_text.add(name_)
                kind = pa.string()
            columns.append(Column(name_, column_type, kind, bool(nullable)))
        return TableSchema(table, tuple(columns), tuple(r[0] for r in rows if r[6]))

    def quote(self, identifier: str) -> str:
        # PyMySQL %-formats every query it is given arguments for, so a % in a name is doubled
        return super().quote(identifier).replace("%", "%%")

    def select_expression(self, column: Column) -> str:
        if column.source_type.startswith("bit("):
            return f"CAST({self.quote(column.name)} AS UNSIGNED)"
        return f"CAST({self.quote(column.name)} AS CHAR)" if column.name in self._as_text else self.quote(column.name)

    def _query_one(self, sql: str, params: list) -> tuple:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def _execute(self, sql: str, params: list, batch_size: int, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        arrow_schema = schema.arrow_schema()
        fetch_types = [_fetch_type(column.arrow_type) for column in schema.columns]
        with self.connect(pymysql.cursors.SSCursor) as conn, conn.cursor() as cur:
            try:
                cur.execute(sql, params)
                while rows := cur.fetchmany(batch_size):
                    yield rows_to_batch(rows, arrow_schema, fetch_types, schema.table, schema.guard)
            except pymysql.MySQLError as exc:
                raise self.error("query failed", exc) from None


def _fetch_type(kind: pa.DataType) -> pa.DataType:
    """The type PyMySQL's Python values are built into before ``conform`` checks and casts them."""
    if pa.types.is_boolean(kind):
        return pa.int8()
    if isinstance(kind, pa.BaseExtensionType):
        return kind.storage_type
    return kind
