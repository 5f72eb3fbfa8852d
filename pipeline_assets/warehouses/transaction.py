"""An open transaction on a warehouse, and what a load did: each file's outcome and the result."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from pipeline_assets.core.manifest import StagedFile


@dataclass(frozen=True)
class FileOutcome:
    """What one COPY did with one staged file: ``loaded``, ``partially_loaded`` (bad rows dropped under
    ``on_error: continue``) or ``skipped`` (the whole file, under ``skip_file``); ``error`` is the first error."""

    file: StagedFile
    status: str
    rows_loaded: int
    error: str | None = None


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    rows_deleted: int
    files: int
    files_skipped: int  # already in the target (the ledger says so)
    seconds: float
    schema_changes: tuple[str, ...] = ()
    outcomes: tuple[FileOutcome, ...] = ()

    @property
    def files_rejected(self) -> tuple[FileOutcome, ...]:
        """Files skipped or loaded in part because of bad data (``on_error``), recorded in the ledger."""
        return tuple(o for o in self.outcomes if o.status != "loaded")


class Transaction(ABC):
    """One open transaction on a warehouse connection."""

    placeholder = "?"

    @abstractmethod
    def execute(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        """Run one statement with bound ``params``; return its rows (empty for statements without any)."""

    @abstractmethod
    def execute_count(self, sql: str, params: list | tuple = ()) -> int:
        """Run one INSERT, UPDATE or DELETE with bound ``params``; return how many rows it changed."""

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo only the block's statements if it raises (``on_error: skip_file``, where ``Capabilities.savepoints``);
        the transaction goes on."""
        self.execute("SAVEPOINT pipeline_assets_file")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK TO SAVEPOINT pipeline_assets_file")
            raise
        self.execute("RELEASE SAVEPOINT pipeline_assets_file")


Tx = TypeVar("Tx", bound=Transaction)  # a warehouse's own transaction type
