"""What a write mode works with (``Frame``: the load in progress) and gives back (``Written``), and its protocol."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.contract import LoadRequest
from pipeline_assets.warehouses.ledger import IN_TARGET, Ledger
from pipeline_assets.warehouses.transaction import FileOutcome, Tx

if TYPE_CHECKING:  # the warehouse base imports the write modes
    from pipeline_assets.warehouses.base import Warehouse


@dataclass(frozen=True)
class Written:
    """What a write mode did: each copied file's outcome, how many files it copied (the others the target held
    already), the target rows it deleted, and, where not every copied row is inserted (a keyed load), the rows that
    were."""

    outcomes: list[FileOutcome]
    files: int
    deleted: int = 0
    inserted: int | None = None


@dataclass(frozen=True)
class Frame(Generic[Tx]):
    """A load in progress as its write mode sees it: the warehouse, its open transaction, the request, the ledger
    (in that transaction) and whether the target existed when the load began."""

    warehouse: "Warehouse[Tx]"
    tx: Tx
    request: LoadRequest
    ledger: Ledger
    existed: bool

    def copy(self, table: TargetTable, files: list[StagedFile]) -> list[FileOutcome]:
        """Copy ``files`` of the request's manifest into ``table`` (see ``Warehouse.copy_files``)."""
        return self.warehouse.copy_files(self.tx, self.request.copy(table, files))

    def count(self, table: TargetTable, where: str = "", params: list | None = None) -> int:
        """The rows of ``table`` (that match ``where``)."""
        (count,) = self.tx.execute(f"SELECT count(*) FROM {self.warehouse.qualified(table)}{where}", params or [])[0]
        return count

    def new_files(self) -> list[StagedFile]:
        """The manifest's files whose rows the target does not hold yet, as the ledger says."""
        target, manifest = self.request.target, self.request.manifest
        if not self.existed and self.ledger.records(target, statuses=IN_TARGET):
            raise PipelineError(
                f"{target} does not exist but the ledger lists files loaded into it; run `pipeline-assets "
                f"ledger clear` for the table to load them again"
            )
        done = self.ledger.in_target(target, manifest.files)
        return [f for f in manifest.files if (f.uri, f.etag) not in done]


class WriteMode(Protocol):
    """One way a load's rows reach its target, made for one ``Frame``. The frame creates and evolves the target
    first, unless the mode ``rebuilds`` it; then it calls ``prepare`` (the mode's DDL: on Snowflake DDL commits, so
    it comes before the writes lock) and ``write`` (the copies and writes, after the lock)."""

    rebuilds: bool

    def prepare(self) -> None:
        """Create what the mode writes through (work tables, a table built aside)."""

    def write(self) -> Written:
        """Copy the files and write the rows; return what was done."""
