"""``connections:``: the databases used as sources and warehouses."""

from typing import Literal, Self
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from pipeline_assets.config.base import DEFAULT_PORTS, _Model, _secret_ref
from pipeline_assets.config.redshift import RedshiftOptions, redshift_problem
from pipeline_assets.config.snowflake import SnowflakeOptions
from pipeline_assets.config.stage import S3Config


class ConnectionConfig(_Model):
    """A database used as a source, a warehouse, or both."""

    kind: Literal["postgres", "mysql", "sqlite", "duckdb", "snowflake", "redshift", "files"]
    host: str | None = None
    port: int | None = Field(default=None, gt=0, lt=65536)
    user: str | None = None
    password: str | None = Field(default=None, description="${ENV_VAR} holding the password")
    database: str | None = None
    path: str | None = Field(default=None, description="database file (sqlite, duckdb)")
    connect_timeout: int = Field(default=10, gt=0)
    snowflake: SnowflakeOptions | None = Field(default=None, description="kind snowflake: account, warehouse, role, …")
    redshift: RedshiftOptions | None = Field(default=None, description="kind redshift: IAM role, TLS, SSH tunnel")
    url: str | None = Field(
        default=None, description="files: s3://bucket/prefix or a local folder that files are dropped into"
    )
    s3: S3Config | None = Field(default=None, description="files: S3 client settings for the url")

    _check_password = field_validator("password")(_secret_ref)

    @model_validator(mode="after")
    def _required_fields(self) -> Self:
        if self.kind == "files" or self.url or self.s3:
            return self._files_fields()
        needed = {"sqlite": ("path",), "duckdb": ("path",), "snowflake": ("snowflake", "user", "database")}
        missing = [name for name in needed.get(self.kind, ("host", "user", "database")) if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind} connection needs {', '.join(missing)}")
        if self.snowflake is not None and self.kind != "snowflake":
            raise ValueError(f"snowflake: options are for snowflake connections, not {self.kind}")
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
        if self.kind == "files":
            return f"files {self.url}"
        if self.path:
            return f"{self.kind} {self.path}"
        if self.snowflake:
            return f"snowflake {self.snowflake.account}/{self.database}"
        return f"{self.kind} {self.host}:{self.resolved_port}/{self.database}"

    @model_validator(mode="after")
    def _redshift_options(self) -> Self:
        problem = redshift_problem(self.kind, self.redshift)
        if problem:
            raise ValueError(problem)
        return self

    def _files_fields(self) -> Self:
        if self.kind != "files":
            raise ValueError(f"url and s3 are for files connections, not {self.kind}")
        if not self.url:
            raise ValueError("a files connection needs url (s3://bucket/prefix or a local folder)")
        if ("://" in self.url and not self.url.startswith("s3://")) or (
            self.url.startswith("s3://") and not self.url[5:].strip("/")
        ):
            raise ValueError("url: use s3://bucket/prefix or a local folder")
        extra = [name for name in ("host", "user", "password", "database", "path") if getattr(self, name)]
        if extra:
            raise ValueError(f"a files connection takes url and s3, not {', '.join(extra)}")
        if self.s3 and not self.url.startswith("s3://"):
            raise ValueError("s3 settings need an s3:// url")
        return self
