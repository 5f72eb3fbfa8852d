"""Dagster resources: the only doors to the outside world (source databases, warehouses, the stage).

Each resource carries its part of the validated configuration as plain settings, so the Dagster UI shows them as the
config file has them and secrets only as their ``${VAR}`` references; the resource validates them back into the config
model it works with. Secrets are read from the environment only when a connection or the stage is opened."""

import os
from typing import Any, Self

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import BaseModel, Field, PrivateAttr

from pipeline_assets.config import (
    ConnectionConfig,
    FilesConnection,
    NetworkConnection,
    S3Config,
    StageConfig,
    parse_connection,
    secret,
)
from pipeline_assets.core.store import StageStore
from pipeline_assets.sources import Source, open_source
from pipeline_assets.stage.local import LocalStore
from pipeline_assets.stage.s3 import S3Store
from pipeline_assets.warehouses import Warehouse, open_warehouse


def settings_of(model: BaseModel) -> dict[str, Any]:
    """A config model as Dagster config: plain data without nulls, which Dagster's config maps refuse (every setting
    that may be null defaults to null, so leaving it out changes nothing)."""
    return model.model_dump(mode="json", exclude_none=True)


class DatabaseResource(dg.ConfigurableResource):
    """A database connection used as a source, a warehouse, or both."""

    name: str = Field(description="connection name in the config file")
    connection: dict[str, Any] = Field(
        description="the connection's settings (its kind's own); the password as its ${VAR}, read when connecting"
    )
    _source: Source | None = PrivateAttr(default=None)
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    @classmethod
    def from_config(cls, name: str, config: ConnectionConfig) -> Self:
        return cls(name=name, connection=settings_of(config))

    @property
    def config(self) -> ConnectionConfig:
        return parse_connection(self.connection)

    def source(self) -> Source:
        """The connection as a source; one per run, so its steps and days share a connection."""
        if self._source is None:
            config = self.config
            self._source = open_source(self.name, config, _password(config))
        return self._source

    def warehouse(self) -> Warehouse:
        """The connection as a warehouse; one per run, so its steps and days share a connection."""
        if self._warehouse is None:
            config = self.config
            self._warehouse = open_warehouse(self.name, config, _password(config))
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
    connection: dict[str, Any] = Field(
        description="the connection's url and S3 settings; S3 keys as their ${VAR}, read when listing"
    )

    @classmethod
    def from_config(cls, name: str, config: FilesConnection) -> Self:
        return cls(name=name, connection=settings_of(config))

    @property
    def config(self) -> FilesConnection:
        return FilesConnection.model_validate(self.connection)

    def store(self) -> StageStore:
        """The drop zone behind the stage's own store interface (listing, local copies)."""
        config = self.config
        if not config.is_s3:
            return LocalStore(config.url)
        return _s3_store(config.url, config.s3 or S3Config())


def _password(config: ConnectionConfig) -> str | None:
    """The connection's password, read from the environment now (a database file has none)."""
    return secret(config.password) if isinstance(config, NetworkConnection) else None


def _s3_store(url: str, s3: S3Config, sse: dict[str, str] | None = None) -> S3Store:
    """An S3 prefix through a boto3 client made by dagster-aws' ``S3Resource``, its keys read from the environment
    now (no keys: the default AWS chain, e.g. an instance role)."""
    key_id, secret_key = secret(s3.access_key_id), secret(s3.secret_access_key)
    client = S3Resource(
        region_name=s3.region, endpoint_url=s3.endpoint_url, aws_access_key_id=key_id, aws_secret_access_key=secret_key
    ).get_client()
    keys = (key_id, secret_key) if key_id and secret_key else None
    return S3Store(client, url, spool_dir=os.environ.get("PIPELINE_ASSETS_SPOOL"), sse=sse, access_keys=keys)
