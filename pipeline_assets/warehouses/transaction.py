"""What a load works with: the target table, an open transaction, and the result."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa


@dataclass(frozen=True)
class TargetTable:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    rows_deleted: int
    files: int
    files_skipped: int
    seconds: float
    schema_changes: tuple[str, ...] = ()


class Transaction(ABC):
    """One open transaction on a warehouse connection."""

    placeholder = "?"

    @abstractmethod
    def execute(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        """Run one statement with bound ``params``; return its rows (empty for statements without any)."""

    @abstractmethod
    def execute_count(self, sql: str, params: list | tuple = ()) -> int:
        """Run one INSERT, UPDATE or DELETE with bound ``params``; return how many rows it changed."""

    @abstractmethod
    def copy_file(self, target: TargetTable, path: Path, file_format: str, schema: pa.Schema, uri: str) -> int:
        """Bulk-copy one staged file (a local ``path``; ``uri`` names it in errors) into ``target``; return the rows."""
