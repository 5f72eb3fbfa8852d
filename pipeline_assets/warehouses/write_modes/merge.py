"""``merge``: upsert by key, the newest row winning."""

from typing import Generic

from pipeline_assets.warehouses.transaction import Tx
from pipeline_assets.warehouses.write_modes.frame import Frame, Written
from pipeline_assets.warehouses.write_modes.keyed import WorkTables, create_work_tables, upsert


class Merge(Generic[Tx]):
    """Upsert the rows of every file the ledger does not list as loaded into the target, by key: the newest staged
    row of a key (by the cursor) replaces the target's unless the target's is newer, and keys the target lacks are
    inserted. Where the manifest lists every source key (``delete_missing``), keys the source lost are deleted.

    A second run of the same files changes nothing: the ledger lists them as loaded, so they are skipped, and a row
    staged again replaces only an older version of itself."""

    rebuilds = False

    def __init__(self, frame: Frame[Tx]):
        self.frame = frame
        self.work: WorkTables | None = None

    def prepare(self) -> None:
        self.work = create_work_tables(self.frame)

    def write(self) -> Written:
        assert self.work is not None, "prepare creates the work tables"
        return upsert(self.frame, self.frame.new_files(), self.work, merge=True)
