"""Warehouses: where staged files are loaded, one module per kind behind the ``Warehouse`` base."""

from pipeline_assets.config import ConnectionConfig
from pipeline_assets.warehouses.base import Warehouse
from pipeline_assets.warehouses.duckdb import DuckDBWarehouse
from pipeline_assets.warehouses.postgres import PostgresWarehouse
from pipeline_assets.warehouses.redshift import RedshiftWarehouse
from pipeline_assets.warehouses.snowflake import SnowflakeWarehouse
from pipeline_assets.warehouses.transaction import LoadResult, TargetTable, Transaction

WAREHOUSES: dict[str, type[Warehouse]] = {
    "postgres": PostgresWarehouse,
    "duckdb": DuckDBWarehouse,
    "snowflake": SnowflakeWarehouse,
    "redshift": RedshiftWarehouse,
}


def open_warehouse(name: str, config: ConnectionConfig, password: str | None) -> Warehouse:
    return WAREHOUSES[config.kind](name, config, password)


__all__ = ["WAREHOUSES", "LoadResult", "TargetTable", "Transaction", "Warehouse", "open_warehouse"]
