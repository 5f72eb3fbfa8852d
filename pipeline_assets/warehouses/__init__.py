"""Warehouses: where staged files are loaded, one module per kind behind the ``Warehouse`` contract (what each
can do is its ``Capabilities``; a load is asked for with a ``LoadRequest``).

Imports ``core`` and ``config`` (and ``connect`` for Snowflake), never ``sources`` or ``stage``: staged files reach a
warehouse as a ``Manifest`` and a ``StageStore``. A kind's module, and so its driver, is imported only when a
connection of that kind is opened."""

from pipeline_assets.config import ConnectionConfig
from pipeline_assets.core.registry import Registry
from pipeline_assets.warehouses.base import Warehouse
from pipeline_assets.warehouses.contract import Capabilities, LoadRequest
from pipeline_assets.warehouses.transaction import LoadResult, Transaction

WAREHOUSES: Registry[Warehouse] = Registry(
    {
        "postgres": "pipeline_assets.warehouses.postgres:PostgresWarehouse",
        "duckdb": "pipeline_assets.warehouses.duckdb:DuckDBWarehouse",
        "snowflake": "pipeline_assets.warehouses.snowflake:SnowflakeWarehouse",
        "redshift": "pipeline_assets.warehouses.redshift:RedshiftWarehouse",
    }
)


def open_warehouse(name: str, config: ConnectionConfig, password: str | None) -> Warehouse:
    return WAREHOUSES[config.kind](name, config, password)


__all__ = ["WAREHOUSES", "Capabilities", "LoadRequest", "LoadResult", "Transaction", "Warehouse", "open_warehouse"]
