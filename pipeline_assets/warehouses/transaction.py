"""What a load works with: the target table, an open transaction, and the result."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.target import TargetTable

ON_ERROR = ("abort", "skip_file", "continue")


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


class ClientCopyTransaction(Transaction):
    """A transaction of a warehouse loaded through this process, file by file (PostgreSQL, DuckDB); warehouses whose
    COPY reads the stage itself (Snowflake, Redshift) override ``Warehouse.copy_files`` instead."""

    @abstractmethod
    def copy_file(self, target: TargetTable, path: Path, file_format: str, schema: pa.Schema, uri: str) -> int:
        """Bulk-copy one staged file (a local ``path``; ``uri`` names it in errors) into ``target``; return the rows."""

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo only the block's statements if it raises (``on_error: skip_file``); the transaction goes on."""
        self.execute("SAVEPOINT pipeline_assets_file")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK TO SAVEPOINT pipeline_assets_file")
            raise
        self.execute("RELEASE SAVEPOINT pipeline_assets_file")
