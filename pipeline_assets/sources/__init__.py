"""Sources: databases that rows are read from, one module per kind behind the ``Source`` interface.

Imports ``core`` and ``config`` (and ``connect`` for Snowflake), never ``stage`` or ``warehouses``. A kind's module,
and so its driver, is imported only when a connection of that kind is opened."""

from pipeline_assets.config import ConnectionConfig
from pipeline_assets.core.registry import Registry
from pipeline_assets.sources.base import Source

SOURCES: Registry[Source] = Registry(
    {
        "postgres": "pipeline_assets.sources.postgres:PostgresSource",
        "mysql": "pipeline_assets.sources.mysql:MySQLSource",
        "sqlite": "pipeline_assets.sources.sqlite:SQLiteSource",
        "duckdb": "pipeline_assets.sources.duckdb:DuckDBSource",
        "snowflake": "pipeline_assets.sources.snowflake:SnowflakeSource",
    }
)


def open_source(name: str, config: ConnectionConfig, password: str | None) -> Source:
    return SOURCES[config.kind](name, config, password)


__all__ = ["SOURCES", "Source", "open_source"]
