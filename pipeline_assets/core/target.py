"""The table a load writes to."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetTable:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


# The warehouse schema of this project's own tables (the loaded-files ledger, watermarks, work tables).
BOOKKEEPING_SCHEMA = "_pipeline_assets"
