"""The table a load writes to."""

from dataclasses import dataclass

# The warehouse schema of this project's own tables (the loaded-files ledger, watermarks, work tables).
BOOKKEEPING_SCHEMA = "_pipeline_assets"
# A full refresh builds ``<table>__pa_new`` beside the target and retires the old one as ``<table>__pa_old``: a
# target's name leaves room for them in a warehouse that bounds names.
BUILDING_SUFFIX, RETIRED_SUFFIX = "__pa_new", "__pa_old"


@dataclass(frozen=True)
class TargetTable:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"
