"""The configuration file's shape: connections, the stage and the tables to replicate.

Everything a user writes is validated here, at the edge; the rest of the code trusts these models.
"""

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from pipeline_assets.config.base import (
    NAME_PATTERN,
    SECRET_FIELDS,
    SECRET_REF,
    SOURCE_KINDS,
    STAGE_READING_KINDS,
    WAREHOUSE_KINDS,
    _Model,
)
from pipeline_assets.config.connection_base import NetworkConnection
from pipeline_assets.config.connections import ConnectionConfig, FilesConnection, SnowflakeConnection
from pipeline_assets.config.files import FilesTableConfig
from pipeline_assets.config.naming import Destination, check_names
from pipeline_assets.config.stage import S3Config, StageConfig, StagePolicy
from pipeline_assets.config.tables import TableConfig
from pipeline_assets.core import layout
from pipeline_assets.core.errors import ConfigError

__all__ = ["SECRET_FIELDS", "SECRET_REF", "ProjectConfig", "S3Config", "StageConfig", "TableConfig"]


class ScheduleConfig(_Model):
    hour: int = Field(default=0, ge=0, le=23)
    minute: int = Field(default=30, ge=0, le=59)


class ProjectConfig(_Model):
    """The whole configuration file."""

    connections: dict[str, ConnectionConfig]
    stage: StageConfig = StageConfig()
    tables: list[TableConfig] = Field(min_length=1)
    schedule: ScheduleConfig = ScheduleConfig()

    @field_validator("connections")
    @classmethod
    def _connection_names(cls, value: dict[str, ConnectionConfig]) -> dict[str, ConnectionConfig]:
        for name in value:
            if not re.match(NAME_PATTERN, name) or name in ("stage", "stage_io_manager", "io_manager"):
                raise ValueError(f"connection name {name!r} must be letters, digits and _ (not a reserved name)")
        return value

    def stage_prefix(self, table: TableConfig) -> str:
        """The table's own stage folder: named by its asset name, so two tables reading one source table never share
        files."""
        source = self.connections[table.source]
        schema = table.source_schema or (source.database if isinstance(source, NetworkConnection) else "main")
        return layout.table_prefix(table.source, schema, table.asset_name)

    @model_validator(mode="after")
    def _references(self) -> Self:
        seen: dict[tuple[str, str], int] = {}
        for i, table in enumerate(self.tables):
            for role, name, kinds in (
                ("source", table.source, SOURCE_KINDS),
                ("target", table.target, WAREHOUSE_KINDS),
            ):
                conn = self.connections.get(name)
                if conn is None:
                    raise ValueError(
                        f"tables[{i}].{role}: unknown connection {name!r} (defined: {', '.join(self.connections)})"
                    )
                if conn.kind not in kinds:
                    raise ValueError(
                        f"tables[{i}].{role}: a {conn.kind} connection cannot be a {role} (use {', '.join(kinds)})"
                    )
            if not re.match(NAME_PATTERN, table.asset_name):
                raise ValueError(f"tables[{i}].name: {table.asset_name!r} must be letters, digits and _")
            key = (table.source, table.asset_name)
            if key in seen:
                raise ValueError(
                    f"tables[{i}]: table {table.asset_name!r} of {table.source!r} is also tables[{seen[key]}]; "
                    "set a distinct name"
                )
            seen[key] = i
            if not re.match(NAME_PATTERN, table.group_name):
                raise ValueError(f"tables[{i}].group: {table.group_name!r} must be letters, digits and _")
            self._check_cloud(i, table)
        check_names(
            Destination(i, t.target, self.connections[t.target].kind, t.target_schema, t.target_name)
            for i, t in enumerate(self.tables)
        )
        return self

    def _check_cloud(self, i: int, table: TableConfig) -> None:
        """What a warehouse or source that reads or writes the stage itself needs from the stage and the table."""
        source, target = self.connections[table.source], self.connections[table.target]
        for role, conn in (("source", source), ("target", target)):
            name = getattr(table, role)
            if conn.kind not in STAGE_READING_KINDS:
                continue
            if not self.stage.is_s3:
                raise ValueError(
                    f"tables[{i}].{role}: {conn.kind} connection {name!r} reads the stage itself, so "
                    f"stage.url must be s3://bucket/prefix, not the local folder {self.stage.url!r}"
                )
            if (
                isinstance(conn, SnowflakeConnection)
                and not conn.snowflake.storage_integration
                and not self.stage.s3.access_key_id
            ):
                raise ValueError(
                    f"connections.{name}: Snowflake reaches the stage bucket through a storage integration or "
                    "the stage's access keys: set snowflake.storage_integration (recommended) or "
                    "stage.s3.access_key_id and secret_access_key"
                )
        if table.on_error != "abort" and table.partitioning == "incremental":
            raise ValueError(
                f"tables[{i}].on_error: {table.on_error} would let the watermark pass the rows it left out, "
                "and they would never be read again; incremental tables abort on a bad file"
            )
        if table.on_error == "continue" and target.kind != "snowflake":
            raise ValueError(
                f"tables[{i}].on_error: continue (drop bad rows, load the rest) needs a COPY that does that, "
                f"which {target.kind} lacks; use skip_file (leave the bad file out, recorded in the ledger) or abort"
            )
        if isinstance(source, SnowflakeConnection):
            policy = self.policy(table)
            if source.snowflake.unload.include_query_id and policy.path_strategy == "fixed" and policy.overwrite:
                raise ValueError(
                    f"tables[{i}]: Snowflake refuses INCLUDE_QUERY_ID = TRUE with OVERWRITE = TRUE; set "
                    f"connections.{table.source}.snowflake.unload.include_query_id false, or overwrite false, "
                    "or path_strategy unique (a new folder per run needs neither)"
                )

    def policy(self, table: TableConfig) -> StagePolicy:
        """The stage settings in force for ``table``: its own, else the stage's."""
        stage = self.stage
        return StagePolicy(
            path_strategy=table.path_strategy or stage.path_strategy,
            overwrite=stage.overwrite if table.overwrite is None else table.overwrite,
            cleanup_after_load=table.cleanup_after_load or stage.cleanup_after_load,
        )

    def files_source(self, table: TableConfig) -> tuple[FilesTableConfig, FilesConnection]:
        """A files table's ``files:`` block and the connection its files are dropped into (validation pairs them)."""
        source = self.connections[table.source]
        if table.files is None or not isinstance(source, FilesConnection):
            raise ConfigError(f"table {table.asset_name!r} is not a table of a files connection")
        return table.files, source

    def table(self, name: str) -> TableConfig:
        """The table called ``name`` (its asset name, or source.name)."""
        for table in self.tables:
            if name in (table.asset_name, f"{table.source}.{table.asset_name}"):
                return table
        raise ConfigError(f"unknown table {name!r} (configured: {', '.join(t.asset_name for t in self.tables)})")

    @model_validator(mode="after")
    def _files_tables(self) -> Self:
        """A files block goes with a files source, and a files source needs one."""
        for i, table in enumerate(self.tables):
            is_files = self.connections[table.source].kind == "files"
            if is_files and table.files is None:
                raise ValueError(
                    f"tables[{i}]: source {table.source!r} is a files connection; add a files: block (pattern, format)"
                )
            if table.files is not None and not is_files:
                raise ValueError(
                    f"tables[{i}].files: source {table.source!r} is a {self.connections[table.source].kind} "
                    "connection; files: is for tables of a files connection"
                )
        return self
