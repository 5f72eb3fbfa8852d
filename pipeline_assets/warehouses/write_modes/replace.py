"""``replace``: the manifest's window (or the whole table) replaced by the staged rows."""

from typing import Generic

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.warehouses.transaction import Tx
from pipeline_assets.warehouses.write_modes.frame import Frame, Written


class Replace(Generic[Tx]):
    """Delete the target's rows in the manifest's window (every row when it has none), insert every file, and check
    that the window then holds exactly the rows loaded.

    A second run of the same partition leaves the table as the first left it: the window's rows are replaced again,
    and the partition's earlier files become ``superseded`` in the ledger."""

    rebuilds = False

    def __init__(self, frame: Frame[Tx]):
        self.frame = frame

    def prepare(self) -> None:
        """Nothing to create: the rows go straight into the target."""

    def write(self) -> Written:
        frame, request = self.frame, self.frame.request
        target, manifest, cursor = request.target, request.manifest, request.cursor
        kind = manifest.arrow_schema.field(cursor).type if manifest.window and cursor else None
        where, params = frame.warehouse.window_where(target, manifest.window, cursor, kind, frame.tx.placeholder)
        deleted = frame.tx.execute_count(f"DELETE FROM {frame.warehouse.qualified(target)}{where}", params)
        frame.ledger.supersede(target, manifest.partition)
        outcomes = frame.copy(target, list(manifest.files))
        expected = sum(o.rows_loaded for o in outcomes)
        count = frame.count(target, where, params)
        if count != expected:
            raise PipelineError(f"{target}: {count} rows in the window after loading {expected}; rolled back")
        return Written(outcomes, len(manifest.files), deleted)
