"""Dagster resources: the only doors to the outside world (source databases, warehouses, the stage)."""

import os
from typing import Any, Self

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import BaseModel, Field, PrivateAttr

from pipeline_assets.config import ConnectionConfig, S3Config, StageConfig, secret
from pipeline_assets.config.models import SECRET_REF
from pipeline_assets.config.redshift import RedshiftOptions
from pipeline_assets.core.store import StageStore
from pipeline_assets.sources import Source, open_source
from pipeline_assets.stage.local import LocalStore
from pipeline_assets.stage.s3 import S3Store
from pipeline_assets.warehouses import Warehouse, open_warehouse


def env_var(reference: str | None, resolve: bool = False) -> str | None:
    """``${NAME}`` from the config as a Dagster EnvVar, so the UI shows the variable and never its value; or,
    with ``resolve`` (for commands that use a resource outside a Dagster run), its value."""
    if resolve:
        return secret(reference)
    return dg.EnvVar(SECRET_REF.match(reference).group(1)) if reference else None


def settings_of(model: BaseModel) -> dict[str, Any]:
    """A config model as Dagster config: plain data without nulls, which Dagster's config maps refuse (every setting
    that may be null defaults to null, so leaving it out changes nothing)."""
    return model.model_dump(mode="json", exclude_none=True)


class SshTunnelSettings(dg.Config):
    """A bastion host the connection is forwarded through; the key's passphrase stays a ``${VAR}`` reference."""

    host: str
    port: int = 22
    user: str
    private_key_path: str
    private_key_password: str | None = None


class RedshiftSettings(dg.Config):
    """A Redshift connection's own settings: the IAM role COPY assumes, TLS, an optional SSH tunnel."""

    iam_role: str
    sslmode: str = "require"
    ssh_tunnel: SshTunnelSettings | None = None


class DatabaseResource(dg.ConfigurableResource):
    """A database connection used as a source, a warehouse, or both. The password comes from an environment variable."""

    name: str = Field(description="connection name in the config file")
    kind: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    path: str | None = None
    connect_timeout: int = 10
    snowflake: dict[str, Any] | None = Field(default=None, description="kind snowflake: account, warehouse, role, …")
    redshift: RedshiftSettings | None = None  # typed, unlike snowflake's map: it carries a secret as an EnvVar
    _source: Source | None = PrivateAttr(default=None)
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    @classmethod
    def from_config(cls, name: str, config: ConnectionConfig, resolve: bool = False) -> "DatabaseResource":
        fields = config.model_dump(exclude={"password", "snowflake", "url", "s3"})  # url, s3: files connections only
        if config.snowflake:  # Dagster's config maps hold no nulls
            fields["snowflake"] = config.snowflake.model_dump(exclude_none=True)
        return cls(name=name, password=env_var(config.password, resolve), **fields)

    def connection_config(self) -> ConnectionConfig:
        return ConnectionConfig(
            kind=self.kind,
            host=self.host,
            port=self.port,
            user=self.user,
            database=self.database,
            path=self.path,
            connect_timeout=self.connect_timeout,
            snowflake=self.snowflake,
            redshift=RedshiftOptions.model_validate(self.redshift.model_dump()) if self.redshift else None,
        )

    def source(self) -> Source:
        """The connection as a source; one per run, so its steps and days share a connection."""
        if self._source is None:
            self._source = open_source(self.name, self.connection_config(), self.password)
        return self._source

    def warehouse(self) -> Warehouse:
        """The connection as a warehouse; one per run, so its steps and days share a connection."""
        if self._warehouse is None:
            self._warehouse = open_warehouse(self.name, self.connection_config(), self.password)
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for opened in (self._source, self._warehouse):
            if opened is not None:
                opened.close()


class StageResource(dg.ConfigurableResource):
    """The stage: a local folder or an S3 prefix where extracted batches land as Parquet or CSV files."""

    settings: dict[str, Any] = Field(
        description="the config file's stage: settings; S3 keys as their ${VAR}, read when the stage is opened"
    )

    @classmethod
    def from_config(cls, config: StageConfig) -> Self:
        return cls(settings=settings_of(config))

    @property
    def config(self) -> StageConfig:
        return StageConfig.model_validate(self.settings)

    def store(self) -> StageStore:
        config = self.config
        if not config.is_s3:
            return LocalStore(config.url)
        return _s3_store(config.url, config.s3, sse=config.s3.sse())


class FilesResource(dg.ConfigurableResource):
    """A place other systems drop files into (an S3 prefix or a local folder), read by the autoloader; never written."""

    name: str = Field(description="connection name in the config file")
    url: str
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    @classmethod
    def from_config(cls, name: str, config: ConnectionConfig, resolve: bool = False) -> "FilesResource":
        s3 = config.s3 or S3Config()
        return cls(
            name=name,
            url=config.url,
            s3_endpoint_url=s3.endpoint_url,
            s3_region=s3.region,
            s3_access_key_id=env_var(s3.access_key_id, resolve),
            s3_secret_access_key=env_var(s3.secret_access_key, resolve),
        )

    def store(self) -> StageStore:
        """The drop zone behind the stage's own store interface (listing, local copies)."""
        if not self.url.startswith("s3://"):
            return LocalStore(self.url)
        client = _s3_client(self.s3_region, self.s3_endpoint_url, self.s3_access_key_id, self.s3_secret_access_key)
        return S3Store(client, self.url, spool_dir=os.environ.get("PIPELINE_ASSETS_SPOOL"))


def _s3_client(region: str, endpoint_url: str | None, key_id: str | None, secret: str | None):
    """A boto3 S3 client made by dagster-aws' ``S3Resource`` (no keys: the default AWS chain, e.g. an instance role)."""
    return S3Resource(
        region_name=region, endpoint_url=endpoint_url, aws_access_key_id=key_id, aws_secret_access_key=secret
    ).get_client()


def _s3_store(url: str, s3: S3Config, sse: dict[str, str] | None = None) -> S3Store:
    """An S3 prefix through a boto3 client made by dagster-aws' ``S3Resource``, its keys read from the environment
    now (no keys: the default AWS chain, e.g. an instance role)."""
    key_id, secret_key = secret(s3.access_key_id), secret(s3.secret_access_key)
    client = S3Resource(
        region_name=s3.region, endpoint_url=s3.endpoint_url, aws_access_key_id=key_id, aws_secret_access_key=secret_key
    ).get_client()
    keys = (key_id, secret_key) if key_id and secret_key else None
    return S3Store(client, url, spool_dir=os.environ.get("PIPELINE_ASSETS_SPOOL"), sse=sse, access_keys=keys)
