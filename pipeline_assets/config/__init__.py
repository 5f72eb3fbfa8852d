"""Configuration: the YAML file's models and its loader."""

from pipeline_assets.config.connection_base import FileDatabase, NetworkConnection, ServerConnection
from pipeline_assets.config.connections import (
    ConnectionConfig,
    DuckDBConnection,
    FilesConnection,
    MySQLConnection,
    PostgresConnection,
    RedshiftConnection,
    SnowflakeConnection,
    SQLiteConnection,
    parse_connection,
)
from pipeline_assets.config.loader import CONFIG_ENV_VAR, load_config, parse_config, secret
from pipeline_assets.config.models import ProjectConfig, S3Config, StageConfig, TableConfig

__all__ = [
    "CONFIG_ENV_VAR",
    "ConnectionConfig",
    "DuckDBConnection",
    "FileDatabase",
    "FilesConnection",
    "MySQLConnection",
    "NetworkConnection",
    "PostgresConnection",
    "ProjectConfig",
    "RedshiftConnection",
    "S3Config",
    "SQLiteConnection",
    "ServerConnection",
    "SnowflakeConnection",
    "StageConfig",
    "TableConfig",
    "load_config",
    "parse_config",
    "parse_connection",
    "secret",
]
