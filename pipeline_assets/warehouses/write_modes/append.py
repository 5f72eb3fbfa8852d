"""``append``: add the rows of the files the target does not hold yet."""

from typing import Generic

from pipeline_assets.warehouses.transaction import Tx
from pipeline_assets.warehouses.write_modes.frame import Frame, Written
from pipeline_assets.warehouses.write_modes.keyed import WorkTables, create_work_tables, upsert


class Append(Generic[Tx]):
    """Insert the rows of every file the ledger does not list as loaded into the target. With keys, only rows whose
    key the target lacks are inserted (the newest of each key, by the cursor).

    A second run of the same files adds nothing: the ledger lists them as loaded, so they are skipped; with keys,
    rows staged again by a later run (an incremental table's lookback) add nothing either."""

    rebuilds = False

    def __init__(self, frame: Frame[Tx]):
        self.frame = frame
        self.work: WorkTables | None = None

    def prepare(self) -> None:
        if self.frame.request.keys:
            self.work = create_work_tables(self.frame)

    def write(self) -> Written:
        files = self.frame.new_files()
        if self.work is not None:
            return upsert(self.frame, files, self.work, merge=False)
        return Written(self.frame.copy(self.frame.request.target, files), len(files))
