"""Sources: databases that rows are read from, each behind the same ``Source`` interface."""

from pipeline_assets.config import ConnectionConfig
from pipeline_assets.sources.base import Source
from pipeline_assets.sources.duckdb import DuckDBSource
from pipeline_assets.sources.mysql import MySQLSource
from pipeline_assets.sources.postgres import PostgresSource
from pipeline_assets.sources.snowflake import SnowflakeSource
from pipeline_assets.sources.sqlite import SQLiteSource

SOURCES: dict[str, type[Source]] = {
    "postgres": PostgresSource,
    "mysql": MySQLSource,
    "sqlite": SQLiteSource,
    "duckdb": DuckDBSource,
    "snowflake": SnowflakeSource,
}


def open_source(name: str, config: ConnectionConfig, password: str | None) -> Source:
    return SOURCES[config.kind](name, config, password)


__all__ = ["SOURCES", "Source", "open_source"]
