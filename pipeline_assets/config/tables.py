"""``tables:``: each table replicated from a source connection into a warehouse connection."""

from datetime import date
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from pipeline_assets.config.base import _Model
from pipeline_assets.config.files import FILES_OVERWRITE_REFUSED, SOURCE_MODIFIED, FilesTableConfig
from pipeline_assets.config.stage import Cleanup, PathStrategy, duration

OVERWRITE_REFUSED = (
    "'overwrite' is not offered: emptying a table and refilling it loses data when the refill fails and shows "
    "readers an empty table; use replace (a partition deleted and re-inserted in one transaction), merge (upsert by "
    "primary_key) or an explicit `sync --full-refresh` (a new table swapped in atomically)"
)


class TableConfig(_Model):
    """One table replicated from a source connection into a warehouse connection."""

    source: str = Field(description="connection the rows come from")
    table: str = Field(description="[schema.]table in the source")
    target: str = Field(description="warehouse connection the rows go to")
    target_table: str | None = Field(
        default=None, description="[schema.]table in the warehouse; default <source>.<table>"
    )
    name: str | None = Field(default=None, description="asset name; default the source table's name")
    cursor: str | None = Field(default=None, description="timestamp or date column that places a row in a partition")
    primary_key: list[str] = Field(default_factory=list)
    partitioning: Literal["daily", "incremental", "none"] = "none"
    null_cursor: Literal["fail", "include", "exclude"] = Field(
        default="fail",
        description="daily and incremental tables: rows whose cursor is NULL stop the staging run (fail), load with "
        "the first partition or, incremental, every run by key (include), or are left out and counted (exclude)",
    )
    start_date: date | None = None
    days_per_run: int | Literal["all"] = Field(
        default=31, description="daily tables: the most days one backfill run covers (`all`: one run per backfill)"
    )
    write_mode: Literal["append", "replace", "merge"] = "replace"
    lookback: str = Field(default="0s", description="incremental: re-read this far behind the watermark (late rows)")
    schema_policy: Literal["evolve", "freeze"] = "evolve"
    on_error: Literal["abort", "skip_file", "continue"] = Field(
        default="abort",
        description="a bad staged file: abort the load, skip the file, or (Snowflake) drop its bad rows",
    )
    on_unrepresentable: Literal["fail", "null", "text"] = Field(
        default="fail",
        description="a value the target cannot hold exactly (NaN, infinity, a zero date, too many digits, NUL in "
        "text): fail naming table, column and value; store NULL (counted in metadata); or stage the column as text",
    )
    delete_missing: bool = Field(
        default=False, description="incremental merge: delete target rows whose key left the source"
    )
    batch_size: int = Field(default=50_000, gt=0)
    group: str | None = None
    path_strategy: PathStrategy | None = Field(default=None, description="overrides stage.path_strategy")
    overwrite: bool | None = Field(default=None, description="overrides stage.overwrite")
    cleanup_after_load: Cleanup | None = Field(default=None, description="overrides stage.cleanup_after_load")
    files: FilesTableConfig | None = Field(default=None, description="a table fed by dropped files (source kind files)")

    @property
    def cursor_column(self) -> str:
        """The cursor column of a daily or incremental table (a ValueError for a table without one)."""
        if self.cursor is None:
            raise ValueError(f"{self.asset_name} has no cursor column")
        return self.cursor

    @property
    def first_day(self) -> date:
        """The first daily partition of a daily table (a ValueError for a table without a start date)."""
        if self.start_date is None:
            raise ValueError(f"{self.asset_name} has no start_date")
        return self.start_date

    @property
    def dropped(self) -> FilesTableConfig:
        """The ``files:`` block of a table fed by dropped files (a ValueError for a database table)."""
        if self.files is None:
            raise ValueError(f"{self.asset_name} is not a files table")
        return self.files

    @field_validator("table", "target_table")
    @classmethod
    def _qualified(cls, value: str | None) -> str | None:
        if value is not None and not (1 <= len(value.split(".")) <= 2 and all(value.split("."))):
            raise ValueError("expected table or schema.table")
        return value

    @field_validator("write_mode", mode="before")
    @classmethod
    def _no_overwrite(cls, value: object) -> object:
        if value == "overwrite":
            raise ValueError(OVERWRITE_REFUSED)
        return value

    _check_lookback = field_validator("lookback")(duration)

    @field_validator("days_per_run", mode="before")
    @classmethod
    def _days_per_run(cls, value: object) -> object:
        if value == "all" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError(f"expected a number of days (1 or more) or all, got {value!r}")

    @model_validator(mode="after")
    def _partitioning(self) -> Self:
        if self.partitioning in ("daily", "incremental") and not self.cursor:
            raise ValueError(f"{self.partitioning} partitioning needs a cursor column")
        if self.partitioning == "daily" and not self.start_date:
            raise ValueError("daily partitioning needs a start_date (YYYY-MM-DD)")
        if self.partitioning == "incremental":
            if self.write_mode == "replace":
                raise ValueError(
                    "incremental tables append or merge; replace is for daily partitions and whole reloads"
                )
            if not self.primary_key:
                raise ValueError(
                    "incremental tables need a primary_key: rows at the watermark are read again and matched by key"
                )
        if self.write_mode == "merge" and not self.primary_key:
            raise ValueError("merge needs a primary_key to match rows by")
        if self.write_mode == "merge" and not self.cursor:
            raise ValueError("merge needs a cursor column to tell the newest version of a row")
        if "null_cursor" in self.model_fields_set and self.partitioning == "none":
            raise ValueError("null_cursor is for daily and incremental tables (an unpartitioned table loads every row)")
        if self.null_cursor == "include" and self.partitioning == "incremental" and self.write_mode != "merge":
            raise ValueError(
                "null_cursor: include on an incremental table needs write_mode: merge (its NULL-cursor rows are "
                "read on every run and matched by primary_key)"
            )
        if self.delete_missing and not (self.partitioning == "incremental" and self.write_mode == "merge"):
            raise ValueError("delete_missing is for incremental tables in merge mode")
        return self

    @property
    def source_schema(self) -> str | None:
        return self.table.split(".")[0] if "." in self.table else None

    @property
    def source_name(self) -> str:
        return self.table.split(".")[-1]

    @property
    def asset_name(self) -> str:
        return self.name or self.source_name

    @property
    def group_name(self) -> str:
        return self.group or self.source

    @property
    def target_schema(self) -> str:
        return self.target_table.split(".")[0] if self.target_table and "." in self.target_table else self.source

    @property
    def target_name(self) -> str:
        return self.target_table.split(".")[-1] if self.target_table else self.asset_name

    @model_validator(mode="before")
    @classmethod
    def _files_defaults(cls, data: object) -> object:
        """A files table appends unless told otherwise, and merges newest-file-wins without a cursor column."""
        if not isinstance(data, dict) or not data.get("files"):
            return data
        if data.get("write_mode") == "overwrite":
            raise ValueError(FILES_OVERWRITE_REFUSED)
        if data.get("write_mode") == "replace":
            raise ValueError(
                "files tables append or merge: a file's rows are added once, there is no window to replace"
            )
        if data.get("partitioning", "none") != "none":
            raise ValueError(
                "files tables take their daily partitions from the object key: set files.partition_key_pattern"
            )
        defaults = {
            "write_mode": "append",
            **({"cursor": SOURCE_MODIFIED} if data.get("write_mode") == "merge" else {}),
        }
        return {**defaults, **data}
