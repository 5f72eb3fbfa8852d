"""The Snowflake statements that move files: ``COPY INTO`` a table from the stage, and ``COPY INTO`` the stage
from a query (an unload). Built in one place so the tests can hold them to their exact text."""

from pipeline_assets.core.sql import string_literal

ON_ERROR = {"abort": "ABORT_STATEMENT", "skip_file": "SKIP_FILE", "continue": "CONTINUE"}
# USE_LOGICAL_TYPE reads Parquet timestamps and decimals as such; BINARY_AS_TEXT = FALSE keeps bytes as BINARY.
_FORMATS = {
    "parquet": "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE BINARY_AS_TEXT = FALSE)",
    "csv": (
        "FILE_FORMAT = (TYPE = CSV PARSE_HEADER = TRUE FIELD_OPTIONALLY_ENCLOSED_BY = '\"' EMPTY_FIELD_AS_NULL = TRUE)"
    ),
}


def _literal(value: str) -> str:
    return string_literal(value, backslash_escapes=True)  # Snowflake reads backslashes in literals as escapes


def copy_into_sql(table: str, folder: str, names: list[str], file_format: str, on_error: str, access: str) -> str:
    """Load exactly ``names`` from ``folder`` (never a bare prefix: strays would load too)."""
    files = ", ".join(_literal(n) for n in names)
    return (
        f"COPY INTO {table} FROM {_literal(folder + '/')} {access} FILES = ({files}) {_FORMATS[file_format]} "
        f"MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE ON_ERROR = {ON_ERROR[on_error]}"
    )


def unload_sql(
    folder: str, query: str, access: str, *, overwrite: bool, include_query_id: bool, max_file_bytes: int
) -> str:
    """Unload ``query``'s rows as Parquet files into ``folder``, one result row per file (DETAILED_OUTPUT)."""
    return (
        f"COPY INTO {_literal(folder + '/')} {access} FROM ({query}) FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE "
        f"MAX_FILE_SIZE = {int(max_file_bytes)} OVERWRITE = {str(overwrite).upper()} "
        f"INCLUDE_QUERY_ID = {str(include_query_id).upper()} DETAILED_OUTPUT = TRUE"
    )
