"""Rows whose cursor is NULL lie in no partition's window and below no watermark: never lose them without a word.

``null_cursor`` says what a staging run does with them: ``fail`` (the default) stops before anything is written and
names the table, the column and the count; ``include`` reads them with the first partition of a daily table (every
run of a watermark-driven one, matched by key); ``exclude`` leaves them out and reports how many it left."""

from pipeline_assets.config import TableConfig
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.schema import TableSchema
from pipeline_assets.sources import Source

EXCLUDED_KEY = "null_cursor_rows_excluded"
INCLUDED_KEY = "null_cursor_rows_included"


def null_cursor_rows(source: Source, table: TableConfig, schema: TableSchema) -> int | None:
    """How many source rows have a NULL cursor (one ``count(*)``), None for a table without a cursor window."""
    if table.partitioning not in ("daily", "incremental"):
        return None
    (rows,) = source.aggregate(table.table, schema, ["count(*)"], cursor=table.cursor_column, null_cursor=True)
    return int(rows)


def refuse_null_cursor(table: TableConfig, rows: int | None) -> None:
    """Stop a ``null_cursor: fail`` table's staging run, in one line, when its source holds NULL-cursor rows."""
    if not rows or table.null_cursor != "fail":
        return
    where = (
        "which no partition reads; set null_cursor: include (load them with the first partition) or exclude"
        if table.partitioning == "daily"
        else "which no watermark reaches; set null_cursor: include (merge them by primary key on every run) or exclude"
    )
    raise PipelineError(f"{table.asset_name}: {rows} rows have a NULL {table.cursor_column}, {where}")


def null_cursor_metadata(table: TableConfig, rows: int | None, day: str) -> dict[str, int]:
    """What a staged materialization reports of the NULL-cursor rows: those left out (``exclude``), or those read
    with this partition (``include``: the first day of a daily table, every run of a watermark-driven one)."""
    if rows is None:
        return {}
    if table.null_cursor == "exclude":
        return {EXCLUDED_KEY: rows}
    if table.null_cursor == "include" and (table.partitioning == "incremental" or day == table.first_day.isoformat()):
        return {INCLUDED_KEY: rows}
    return {}
