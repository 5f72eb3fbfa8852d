"""``files:``: a table fed by files that other systems drop into an S3 prefix or a local folder (the autoloader)."""

import re
from datetime import date
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from pipeline_assets.config.base import _Model

# A files table has no ``overwrite`` for the seed's reasons: a flag that silently reprocesses every file is a
# costly hidden operation, and "overwrite" means nothing for immutable files; the two explicit recipes remain.
FILES_OVERWRITE_REFUSED = (
    "'overwrite' is not offered for files tables: a flag that silently re-reads every file is a costly hidden "
    "operation, and files are immutable, so 'overwrite' has no clear meaning; use append or merge, and when you do "
    "want a fresh table run one of the explicit recipes: `pipeline-assets files fresh-start` (drop the table, load new "
    "files only) or `pipeline-assets files reprocess` (drop the table and clear the ledger: load every file again)"
)
# Columns every files table gets: where each row came from, and that file's last-modified time (merge's default cursor).
SOURCE_FILE, SOURCE_MODIFIED = "_source_file", "_source_modified"
COLUMN_TYPES = ("string", "boolean", "int32", "int64", "float32", "float64", "date", "timestamp", "timestamptz", "json")
DECIMAL_TYPE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


class CsvOptions(_Model):
    header: bool = Field(default=True, description="the first line names the columns (else f0, f1, …)")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str | None = Field(default='"', max_length=1, description="none: fields are never quoted")
    escape_char: str | None = Field(default=None, min_length=1, max_length=1)
    null_values: list[str] = Field(default=["", "NULL", "null"], description="strings read as NULL")


class FilesTableConfig(_Model):
    """Which dropped files make the table, how they are read, and how the discovery sensor batches them."""

    pattern: str = Field(
        min_length=1, description="glob relative to the connection's url: * within a folder, ** across"
    )
    format: Literal["parquet", "csv", "jsonl"]
    csv: CsvOptions | None = None
    columns: dict[str, str] | None = Field(default=None, description="declared column types; else inferred per run")
    allow_overwrites: bool = Field(default=False, description="load a processed file again when its content changes")
    max_retries: int = Field(default=3, ge=0, description="later runs that retry a file that failed")
    snapshot_refresh: str = Field(
        default="0 3 * * *",
        pattern=r"^\S+ \S+ \S+ \S+ \S+$",
        description="cron (UTC) of the table's snapshot-refresh schedule (a full reprocess), which starts switched "
        "off: switch it on in the UI for a table that is a daily snapshot of another system",
    )
    max_files_per_run: int = Field(default=500, gt=0)
    max_bytes_per_run: int = Field(default=1 << 30, gt=0)
    partition_key_pattern: str | None = Field(
        default=None, description="regex whose group captures a YYYY-MM-DD in the key"
    )
    start_date: date | None = Field(default=None, description="first daily partition, with partition_key_pattern")
    discovery_interval_seconds: int = Field(default=30, gt=0, description="the sensor's minimum interval")
    late_arrival_seconds: int = Field(default=600, ge=0, description="look this far behind the sensor's cursor")

    @field_validator("pattern")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or "://" in value:
            raise ValueError("pattern is relative to the connection's url, like events/*.csv")
        return value

    @field_validator("partition_key_pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if compiled.groups != 1:
            raise ValueError("needs exactly one group capturing a YYYY-MM-DD date, like dt=(\\d{4}-\\d{2}-\\d{2})/")
        return value

    @field_validator("columns")
    @classmethod
    def _types(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, kind in (value or {}).items():
            if name in (SOURCE_FILE, SOURCE_MODIFIED):
                raise ValueError(f"{name} is a column every files table gets; choose another name")
            if kind not in COLUMN_TYPES and not DECIMAL_TYPE.match(kind):
                raise ValueError(
                    f"column {name!r}: unknown type {kind!r} (use {', '.join(COLUMN_TYPES)} or decimal(p,s))"
                )
        if value is not None and not value:
            raise ValueError("declare at least one column, or leave columns out to infer them")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.csv is not None and self.format != "csv":
            raise ValueError(f"csv options are for format csv (this table reads {self.format})")
        if bool(self.partition_key_pattern) != bool(self.start_date):
            raise ValueError(
                "partition_key_pattern and start_date go together (daily partitions from a date in the key)"
            )
        return self

    @property
    def csv_options(self) -> CsvOptions:
        return self.csv or CsvOptions()

    def partition_of(self, key: str) -> str | None:
        """The YYYY-MM-DD the key carries (None when it carries none, or a date before start_date)."""
        match = re.search(self.partition_key_pattern or "", key) if self.partition_key_pattern else None
        if not match:
            return None
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            return None
        return day.isoformat() if self.start_date and day >= self.start_date else None
