"""The SQL type each warehouse gives an Arrow type: one table with a column per dialect, and the few types whose
spelling carries parameters (decimals, timestamps, JSON). Redshift starts from PostgreSQL's and narrows it
(``redshift_type``); anything not listed is kept as text."""

from typing import Literal

import pyarrow as pa

from pipeline_assets.core.representable import Limits

Dialect = Literal["postgres", "duckdb", "snowflake"]
_COLUMN: dict[Dialect, int] = {"postgres": 0, "duckdb": 1, "snowflake": 2}

_SIMPLE: dict[pa.DataType, tuple[str, str, str]] = {
    pa.bool_(): ("boolean", "BOOLEAN", "BOOLEAN"),
    pa.int8(): ("smallint", "TINYINT", "NUMBER(38,0)"),
    pa.int16(): ("smallint", "SMALLINT", "NUMBER(38,0)"),
    pa.int32(): ("integer", "INTEGER", "NUMBER(38,0)"),
    pa.int64(): ("bigint", "BIGINT", "NUMBER(38,0)"),
    pa.uint8(): ("smallint", "UTINYINT", "NUMBER(38,0)"),
    pa.uint16(): ("integer", "USMALLINT", "NUMBER(38,0)"),
    pa.uint32(): ("bigint", "UINTEGER", "NUMBER(38,0)"),
    pa.uint64(): ("numeric(20,0)", "UBIGINT", "NUMBER(20,0)"),
    pa.float32(): ("real", "REAL", "FLOAT"),
    pa.float64(): ("double precision", "DOUBLE", "FLOAT"),
    pa.date32(): ("date", "DATE", "DATE"),
    pa.time64("us"): ("time", "TIME", "TIME"),
    pa.string(): ("text", "VARCHAR", "VARCHAR"),
    pa.large_string(): ("text", "VARCHAR", "VARCHAR"),
    pa.binary(): ("bytea", "BLOB", "BINARY"),
    pa.large_binary(): ("bytea", "BLOB", "BINARY"),
}
_TEXT = ("text", "VARCHAR", "VARCHAR")
# Snowflake keeps JSON as its text (PARSE_JSON reads it in a query)
_JSON = ("jsonb", "JSON", "VARCHAR")
_TIMESTAMP = {True: ("timestamptz", "TIMESTAMPTZ", "TIMESTAMP_TZ"), False: ("timestamp", "TIMESTAMP", "TIMESTAMP_NTZ")}


def sql_type(kind: pa.DataType, dialect: Dialect) -> str:
    """``dialect``'s column type for values of Arrow type ``kind``."""
    column = _COLUMN[dialect]
    if isinstance(kind, pa.BaseExtensionType) and kind.extension_name == "arrow.json":
        return _JSON[column]
    if pa.types.is_decimal(kind):
        if dialect == "snowflake":
            return f"NUMBER({kind.precision},{kind.scale})" if kind.precision <= 38 else "VARCHAR"
        return f"{'numeric' if dialect == 'postgres' else 'DECIMAL'}({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return _TIMESTAMP[kind.tz is not None][column]
    return _SIMPLE.get(kind, _TEXT)[column]


_LIMITS = {
    "postgres": Limits("postgres", text_holds_nul=False),
    "redshift": Limits("redshift", decimal_digits=38, text_holds_nul=False),
    "duckdb": Limits("duckdb", decimal_digits=38),
}


def limits(kind: str) -> Limits:
    """What a warehouse of ``kind`` holds: PostgreSQL's numeric takes any digits but its text no NUL; Snowflake
    keeps a decimal wider than 38 digits as its exact text (VARCHAR)."""
    return _LIMITS.get(kind, Limits(kind))
