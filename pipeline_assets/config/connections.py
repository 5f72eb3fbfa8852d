"""``connections:``: the databases used as sources and warehouses, one model per ``kind``."""

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import quote

from pydantic import Field, TypeAdapter, model_validator

from pipeline_assets.config.connection_base import Connection, FileDatabase, NetworkConnection, ServerConnection
from pipeline_assets.config.redshift import RedshiftOptions
from pipeline_assets.config.snowflake import SnowflakeOptions
from pipeline_assets.config.stage import S3Config


class PostgresConnection(ServerConnection):
    """A PostgreSQL server (ADBC reads it, COPY loads it)."""

    kind: Literal["postgres"]
    default_port: ClassVar[int] = 5432

    def postgres_url(self, password: str | None) -> str:
        """A libpq URL (the ADBC driver takes one); keep it out of messages, it holds the password."""
        auth = quote(self.user, safe="") + (":" + quote(password, safe="") if password else "")
        query = f"connect_timeout={self.connect_timeout}&application_name=pipeline_assets"
        return f"postgresql://{auth}@{self.host}:{self.resolved_port}/{quote(self.database, safe='')}?{query}"


class MySQLConnection(ServerConnection):
    """A MySQL or MariaDB server, read as a source."""

    kind: Literal["mysql"]
    default_port: ClassVar[int] = 3306


class SQLiteConnection(FileDatabase):
    """A SQLite file, read as a source."""

    kind: Literal["sqlite"]


class DuckDBConnection(FileDatabase):
    """A DuckDB file, a source or a warehouse."""

    kind: Literal["duckdb"]


class SnowflakeConnection(NetworkConnection):
    """A Snowflake account: its ``snowflake:`` block says which (and the host, for a local test server)."""

    kind: Literal["snowflake"]
    host: str | None = Field(default=None, description="a host other than the account's own (a local test server)")
    snowflake: SnowflakeOptions = Field(description="account, warehouse, role, …")

    @property
    def resolved_port(self) -> int:
        return self.port or (80 if self.snowflake.protocol == "http" else 443)

    def describe(self) -> str:
        """Where the connection points, for messages (never the password)."""
        return f"snowflake {self.snowflake.account}/{self.database}"


class RedshiftConnection(ServerConnection):
    """A Redshift cluster: its ``redshift:`` block holds the IAM role COPY assumes, TLS and an SSH tunnel."""

    kind: Literal["redshift"]
    default_port: ClassVar[int] = 5439
    needs: ClassVar[dict[str, str]] = {"redshift": "redshift.iam_role (the IAM role COPY assumes to read the stage)"}
    redshift: RedshiftOptions = Field(description="IAM role, TLS, SSH tunnel")


class FilesConnection(Connection):
    """An S3 prefix or a local folder that other systems drop files into, read by the autoloader; never written."""

    kind: Literal["files"]
    needs: ClassVar[dict[str, str]] = {"url": "url (s3://bucket/prefix or a local folder)"}
    url: str = Field(description="s3://bucket/prefix or a local folder that files are dropped into")
    s3: S3Config | None = Field(default=None, description="S3 client settings for the url")

    @model_validator(mode="after")
    def _url(self) -> Self:
        if ("://" in self.url and not self.is_s3) or (self.is_s3 and not self.url.removeprefix("s3://").strip("/")):
            raise ValueError("url: use s3://bucket/prefix or a local folder")
        if self.s3 and not self.is_s3:
            raise ValueError("s3 settings need an s3:// url")
        return self

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    def describe(self) -> str:
        """Where the files are dropped, for messages."""
        return f"files {self.url}"


ConnectionConfig = Annotated[
    PostgresConnection
    | MySQLConnection
    | SQLiteConnection
    | DuckDBConnection
    | SnowflakeConnection
    | RedshiftConnection
    | FilesConnection,
    Field(discriminator="kind"),
]
_CONNECTION: TypeAdapter[ConnectionConfig] = TypeAdapter(ConnectionConfig)


def parse_connection(settings: Mapping[str, Any]) -> ConnectionConfig:
    """A connection from its settings as plain data (what a Dagster resource carries): validated into its kind."""
    return _CONNECTION.validate_python(settings)
