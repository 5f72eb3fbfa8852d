"""The configuration file's shape: connections, the stage and the tables to replicate.

Everything a user writes is validated here, at the edge; the rest of the code trusts these models.
"""

import re
from datetime import date
from typing import Literal, Self
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline_assets.config.durations import parse_duration
from pipeline_assets.errors import ConfigError, PipelineError

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Fields that hold secrets: the loader leaves their ${VAR} unexpanded so the value is read from the
# environment only when a connection is opened (and Dagster shows an EnvVar, never the value).
SECRET_FIELDS = frozenset({"password", "access_key_id", "secret_access_key"})

SOURCE_KINDS = ("postgres", "mysql", "sqlite", "duckdb")
WAREHOUSE_KINDS = ("postgres", "duckdb")
DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret_ref(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not SECRET_REF.match(value):
        raise ValueError("secrets are never written in the config file: set an environment variable and write ${VAR_NAME}")
    return value


class ConnectionConfig(_Model):
    """A database used as a source, a warehouse, or both."""

    kind: Literal["postgres", "mysql", "sqlite", "duckdb"]
    host: str | None = None
    port: int | None = Field(default=None, gt=0, lt=65536)
    user: str | None = None
    password: str | None = Field(default=None, description="${ENV_VAR} holding the password")
    database: str | None = None
    path: str | None = Field(default=None, description="database file (sqlite, duckdb)")
    connect_timeout: int = Field(default=10, gt=0)

    _check_password = field_validator("password")(_secret_ref)

    @model_validator(mode="after")
    def _required_fields(self) -> Self:
        needed = ("path",) if self.kind in ("sqlite", "duckdb") else ("host", "user", "database")
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind} connection needs {', '.join(missing)}")
        return self

    @property
    def resolved_port(self) -> int | None:
        return self.port or DEFAULT_PORTS.get(self.kind)

    def postgres_url(self, password: str | None) -> str:
        """A libpq URL for server kinds (the ADBC drivers take one); keep it out of messages, it holds the password."""
        auth = quote(self.user or "", safe="") + (":" + quote(password, safe="") if password else "")
        query = f"connect_timeout={self.connect_timeout}&application_name=pipeline_assets"
        return f"postgresql://{auth}@{self.host}:{self.resolved_port}/{quote(self.database or '', safe='')}?{query}"

    def describe(self) -> str:
        """Where the connection points, for error messages (never the password)."""
        if self.path:
            return f"{self.kind} {self.path}"
        return f"{self.kind} {self.host}:{self.resolved_port}/{self.database}"


class S3Config(_Model):
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = Field(default=None, description="${ENV_VAR}; omit to use the default AWS chain")
    secret_access_key: str | None = Field(default=None, description="${ENV_VAR}")

    _check_secrets = field_validator("access_key_id", "secret_access_key")(_secret_ref)


PathStrategy = Literal["unique", "fixed"]
Cleanup = Literal["never", "after_partition", "after_all"]


def _duration(value: str) -> str:
    try:
        parse_duration(value)
    except PipelineError:
        raise ValueError("expected a number and a unit, like 30m, 24h or 7d") from None
    return value


class StageConfig(_Model):
    """Where staged files go (``s3://bucket/prefix`` or a local folder) and how long they stay."""

    url: str = "stage"
    path_strategy: PathStrategy = Field(default="unique", description="unique: a folder per run; fixed: one per partition")
    overwrite: bool = Field(default=False, description="fixed paths: replace a partition's files (else refuse)")
    cleanup_after_load: Cleanup = "never"
    retention_days: int | None = Field(default=None, gt=0, description="S3 lifecycle expiry for the stage prefix")
    orphan_grace: str = Field(default="24h", description="age past which an unclaimed staged file is an orphan")
    delete_orphans: bool = Field(default=False, description="let the orphan sensor delete what it finds")
    format: Literal["parquet", "csv"] = "parquet"
    target_file_mb: float = Field(default=128, gt=0, description="a new file is started past this size")
    compression: Literal["snappy", "zstd", "lz4", "none"] = "snappy"
    s3: S3Config = S3Config()

    _check_grace = field_validator("orphan_grace")(_duration)

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" in value and not value.startswith("s3://"):
            raise ValueError("use s3://bucket/prefix or a local folder")
        if value.startswith("s3://") and not value.removeprefix("s3://").strip("/"):
            raise ValueError("an s3:// stage needs a bucket name")
        return value.rstrip("/")


class TableConfig(_Model):
    """One table replicated from a source connection into a warehouse connection."""

    source: str = Field(description="connection the rows come from")
    table: str = Field(description="[schema.]table in the source")
    target: str = Field(description="warehouse connection the rows go to")
    target_table: str | None = Field(default=None, description="[schema.]table in the warehouse; default <source>.<table>")
    name: str | None = Field(default=None, description="asset name; default the source table's name")
    cursor: str | None = Field(default=None, description="timestamp or date column that places a row in a partition")
    primary_key: list[str] = []
    partitioning: Literal["daily", "none"] = "none"
    start_date: date | None = None
    write_mode: Literal["append", "replace"] = "replace"
    batch_size: int = Field(default=50_000, gt=0)
    group: str | None = None
    path_strategy: PathStrategy | None = Field(default=None, description="overrides stage.path_strategy")
    overwrite: bool | None = Field(default=None, description="overrides stage.overwrite")
    cleanup_after_load: Cleanup | None = Field(default=None, description="overrides stage.cleanup_after_load")

    @field_validator("table", "target_table")
    @classmethod
    def _qualified(cls, value: str | None) -> str | None:
        if value is not None and not (1 <= len(value.split(".")) <= 2 and all(value.split("."))):
            raise ValueError("expected table or schema.table")
        return value

    @model_validator(mode="after")
    def _partitioning(self) -> Self:
        if self.partitioning == "daily":
            if not self.cursor:
                raise ValueError("daily partitioning needs a cursor column")
            if not self.start_date:
                raise ValueError("daily partitioning needs a start_date (YYYY-MM-DD)")
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


class StagePolicy(_Model):
    path_strategy: PathStrategy
    overwrite: bool
    cleanup_after_load: Cleanup


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

    @model_validator(mode="after")
    def _references(self) -> Self:
        seen: dict[tuple[str, str], int] = {}
        for i, table in enumerate(self.tables):
            for role, name, kinds in (("source", table.source, SOURCE_KINDS), ("target", table.target, WAREHOUSE_KINDS)):
                conn = self.connections.get(name)
                if conn is None:
                    raise ValueError(f"tables[{i}].{role}: unknown connection {name!r} (defined: {', '.join(self.connections)})")
                if conn.kind not in kinds:
                    raise ValueError(f"tables[{i}].{role}: a {conn.kind} connection cannot be a {role} (use {', '.join(kinds)})")
            if not re.match(NAME_PATTERN, table.asset_name):
                raise ValueError(f"tables[{i}].name: {table.asset_name!r} must be letters, digits and _")
            key = (table.source, table.asset_name)
            if key in seen:
                raise ValueError(f"tables[{i}]: table {table.asset_name!r} of {table.source!r} is also tables[{seen[key]}]; set a distinct name")
            seen[key] = i
        return self

    def policy(self, table: TableConfig) -> "StagePolicy":
        """The stage settings in force for ``table``: its own, else the stage's."""
        stage = self.stage
        return StagePolicy(
            path_strategy=table.path_strategy or stage.path_strategy,
            overwrite=stage.overwrite if table.overwrite is None else table.overwrite,
            cleanup_after_load=table.cleanup_after_load or stage.cleanup_after_load,
        )

    def table(self, name: str) -> TableConfig:
        """The table called ``name`` (its asset name, or source.name)."""
        for table in self.tables:
            if name in (table.asset_name, f"{table.source}.{table.asset_name}"):
                return table
        raise ConfigError(f"unknown table {name!r} (configured: {', '.join(t.asset_name for t in self.tables)})")
