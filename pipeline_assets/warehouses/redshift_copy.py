"""The text Redshift's COPY reads: a manifest naming exactly the files a load was given, and the statement.

COPY takes no bound parameters, so the few values it holds (the manifest's URI, the role's ARN) are written as
SQL string literals with their quotes doubled; identifiers are quoted as everywhere else."""

import json

import pyarrow as pa

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.sql import string_literal
from pipeline_assets.core.target import TargetTable

# How RollingWriter writes CSV: a header line, strings in double quotes, NULL as an empty unquoted field.
CSV_OPTIONS = "FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto' EMPTYASNULL"

# Last error of the failed COPY's session (the aborted transaction's backend), in one row.
LOAD_ERROR_SQL = (
    "SELECT trim(filename), line_number, trim(colname), trim(err_reason) FROM stl_load_errors"
    " WHERE session = %s ORDER BY starttime DESC, query DESC LIMIT 1"
)


def copy_manifest(files: list[StagedFile]) -> bytes:
    """A Redshift COPY manifest listing exactly ``files``, each mandatory (a missing one fails the COPY rather than
    loading less); ``content_length`` is required for Parquet."""
    entries = [{"url": f.uri, "mandatory": True, "meta": {"content_length": f.bytes}} for f in files]
    return json.dumps({"entries": entries}, indent=2).encode()


def copy_statement(table: str, manifest_uri: str, iam_role: str, file_format: str) -> str:
    """``COPY <table> FROM '<manifest>' IAM_ROLE '<arn>' <format> MANIFEST`` (``table`` already quoted)."""
    options = "FORMAT AS PARQUET" if file_format == "parquet" else CSV_OPTIONS
    return f"COPY {table} FROM {string_literal(manifest_uri)} IAM_ROLE {string_literal(iam_role)} {options} MANIFEST"


def check_column_order(target: TargetTable, columns: list[str], schema: pa.Schema) -> None:
    """Redshift's Parquet COPY fills columns by position and takes no column list: the target's columns must be
    the staged ones, in the same order, or values would land in the wrong columns."""
    if columns != schema.names:
        raise PipelineError(
            f"{target}: columns ({', '.join(columns)}) differ from the staged files' ({', '.join(schema.names)}) in "
            "order or number; Redshift's COPY matches them by position: run a full refresh to rebuild the table"
        )


def describe_load_error(target: TargetTable, row: tuple | None, driver_message: str) -> str:
    """One line from the STL_LOAD_ERRORS row of the failed COPY, or the driver's message without one."""
    if row is None:
        return f"{target}: COPY failed: {driver_message}"
    filename, line, column, reason = row
    return f"{target}: COPY failed on {filename} line {line}, column {column or '-'}: {reason}"
