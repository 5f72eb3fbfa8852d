"""The Snowflake statements that move files: ``COPY INTO`` a table from the stage, and ``COPY INTO`` the stage
from a query (an unload). Built in one place so the tests can hold them to their exact text."""

import pyarrow as pa

ON_ERROR = {"abort": "ABORT_STATEMENT", "skip_file": "SKIP_FILE", "continue": "CONTINUE"}
# USE_LOGICAL_TYPE reads Parquet timestamps and decimals as such; BINARY_AS_TEXT = FALSE keeps bytes as BINARY.
_FORMATS = {
    "parquet": "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE BINARY_AS_TEXT = FALSE)",
    "csv": (
        "FILE_FORMAT = (TYPE = CSV PARSE_HEADER = TRUE FIELD_OPTIONALLY_ENCLOSED_BY = '\"' EMPTY_FIELD_AS_NULL = TRUE)"
    ),
}


def literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def copy_into_sql(table: str, folder: str, names: list[str], file_format: str, on_error: str, access: str) -> str:
    """Load exactly ``names`` from ``folder`` (never a bare prefix: strays would load too)."""
    files = ", ".join(literal(n) for n in names)
    return (
        f"COPY INTO {table} FROM {literal(folder + '/')} {access} FILES = ({files}) {_FORMATS[file_format]} "
        f"MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE ON_ERROR = {ON_ERROR[on_error]}"
    )


def unload_sql(
    folder: str, query: str, access: str, *, overwrite: bool, include_query_id: bool, max_file_bytes: int
) -> str:
    """Unload ``query``'s rows as Parquet files into ``folder``, one result row per file (DETAILED_OUTPUT)."""
    return (
        f"COPY INTO {literal(folder + '/')} {access} FROM ({query}) FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE "
        f"MAX_FILE_SIZE = {int(max_file_bytes)} OVERWRITE = {str(overwrite).upper()} "
        f"INCLUDE_QUERY_ID = {str(include_query_id).upper()} DETAILED_OUTPUT = TRUE"
    )


def snowflake_type(kind: pa.DataType) -> str:
    if pa.types.is_decimal(kind):
        return f"NUMBER({kind.precision},{kind.scale})" if kind.precision <= 38 else "VARCHAR"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP_TZ" if kind.tz else "TIMESTAMP_NTZ"
    if pa.types.is_integer(kind):
        return "NUMBER(20,0)" if kind == pa.uint64() else "NUMBER(38,0)"
    simple = {
        pa.bool_(): "BOOLEAN",
        pa.float32(): "FLOAT",
        pa.float64(): "FLOAT",
        pa.date32(): "DATE",
        pa.time64("us"): "TIME",
        pa.binary(): "BINARY",
        pa.large_binary(): "BINARY",
    }
    return simple.get(kind, "VARCHAR")  # strings, and JSON kept as its text (PARSE_JSON reads it)
