"""``full_refresh``: the whole table built anew aside and swapped in."""

from typing import Generic

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.target import BUILDING_SUFFIX, TargetTable
from pipeline_assets.warehouses.transaction import Tx
from pipeline_assets.warehouses.write_modes.frame import Frame, Written


class FullRefresh(Generic[Tx]):
    """Build ``<table>__pa_new`` from every file of the manifest, check its row count, and swap it in for the target
    (``Warehouse.swap_in``); the partition's earlier files become ``superseded`` in the ledger. The target is not
    evolved: the new table has the staged schema.

    A second run builds and swaps again: the table ends up holding exactly the staged rows, whatever it held."""

    rebuilds = True

    def __init__(self, frame: Frame[Tx]):
        self.frame = frame
        target = frame.request.target
        self.building = TargetTable(target.schema, target.name + BUILDING_SUFFIX)

    def prepare(self) -> None:
        warehouse, tx = self.frame.warehouse, self.frame.tx
        tx.execute(f"DROP TABLE IF EXISTS {warehouse.qualified(self.building)}")
        tx.execute(warehouse.create_table_sql(self.building, self.frame.request.manifest.arrow_schema))

    def write(self) -> Written:
        frame, warehouse, tx = self.frame, self.frame.warehouse, self.frame.tx
        target, manifest = frame.request.target, frame.request.manifest
        outcomes = frame.copy(self.building, list(manifest.files))
        expected, count = sum(o.rows_loaded for o in outcomes), frame.count(self.building)
        if count != expected:
            raise PipelineError(f"{target}: {count} rows built for the refresh from {expected} staged; rolled back")
        warehouse.swap_in(tx, self.building, target, frame.existed)
        if not warehouse.capabilities.transactional_ddl:  # the swap committed: lock again for the ledger's writes
            warehouse.lock_writes(tx, target)
        frame.ledger.supersede(target, manifest.partition)
        return Written(outcomes, len(manifest.files))
